package dev.sidecar.reliability;

import dev.sidecar.testkit.EnvoyResources;
import dev.sidecar.testkit.HttpUpstream;
import dev.sidecar.testkit.ProxyProcess;
import dev.sidecar.testkit.XdsServer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Endpoint churn through the control plane: every 200 ms an EDS update brings a new endpoint
 * and drops the oldest of three, whose server stops 1 s after the proxy has dropped it (a
 * rolling replacement with a preStop delay), while idempotent GETs run at a fixed rate with
 * retries on; every one of them must be answered 200.
 *
 * <p>Harsher variants lose requests, for reasons outside the data plane: an endpoint that stops
 * before the proxy has applied its removal is, to the proxy, a live endpoint failing, and once
 * every endpoint it knows of has stopped (the first updates take several hundred milliseconds
 * to apply on a busy 2-core machine) nothing is left to retry on; and an endpoint killed with
 * requests in flight resets them all at once, and retries beyond the cluster's
 * {@code circuit_breakers.max_retries} (3 at a time, Envoy's default) are refused.
 * {@code -Dscorecard.churn.seconds=60} runs it for the full minute (default 15 s).
 */
final class ChurnRows {
    private static final int RATE = 100;
    private static final long STEP_MILLIS = 200;
    private static final long STOP_AFTER_DROP_MILLIS = 1000;

    private ChurnRows() {}

    static List<ScorecardTest.Row> run(Path dir) throws Exception {
        int seconds = Integer.getInteger("scorecard.churn.seconds", 15);
        java.util.ArrayDeque<HttpUpstream> live = new java.util.ArrayDeque<>();
        // one task per removal, side by side, so a slow close never delays the next one
        java.util.concurrent.ExecutorService closer = java.util.concurrent.Executors.newFixedThreadPool(8);
        java.util.concurrent.atomic.AtomicInteger served = new java.util.concurrent.atomic.AtomicInteger();
        try (XdsServer xds = new XdsServer()) {
            int next = 0;
            for (; next < 3; next++) {
                live.add(new HttpUpstream("u" + next));
            }
            publish(xds, "1", live);
            try (ProxyProcess proxy = Probes.start(dir, """
                    admin: { address: 127.0.0.1:0 }
                    control_plane: { address: %s, node: { id: scorecard } }
                    """.formatted(xds.address()), "listener churn listening on")) {
                String url = "http://127.0.0.1:" + proxy.listenerPort("churn") + "/churn";
                dev.sidecar.testkit.Await.until("the first request served", java.time.Duration.ofSeconds(20), () -> {
                    try {
                        return Probes.get(url).statusCode() == 200;
                    } catch (Exception e) {
                        return false;
                    }
                });
                int versions = 1;
                List<Long> lags = java.util.Collections.synchronizedList(new ArrayList<>());
                Probes.Load load;
                try (Probes.Traffic traffic = new Probes.Traffic(url, RATE, s -> s == 200)) {
                    long start = System.nanoTime();
                    long end = start + seconds * 1_000_000_000L;
                    for (long at = start + STEP_MILLIS * 1_000_000; at < end; at += STEP_MILLIS * 1_000_000) {
                        while (System.nanoTime() < at) {
                            java.util.concurrent.locks.LockSupport.parkNanos(at - System.nanoTime());
                        }
                        // a new endpoint comes, the oldest leaves EDS
                        live.add(new HttpUpstream("u" + next++));
                        HttpUpstream gone = live.poll();
                        versions++;
                        publish(xds, String.valueOf(versions), live);
                        long removedAt = System.nanoTime();
                        int goneAt = gone.port();
                        closer.execute(() -> {
                            // the endpoint stops 1 s after the proxy has dropped it, as a pod with
                            // a preStop delay does: requests sent before the drop have finished by
                            // then, and it is gone for good, so whatever still reaches it (a stale
                            // pick, a pooled connection) is refused or reset
                            try {
                                dev.sidecar.testkit.Await.until("the endpoint dropped", java.time.Duration.ofSeconds(10), () -> {
                                    try {
                                        return Probes.endpoints(proxy, "churn").stream()
                                                .noneMatch(e -> e.get("address").asText().endsWith(":" + goneAt));
                                    } catch (Exception e) {
                                        return false;
                                    }
                                });
                                lags.add((System.nanoTime() - removedAt) / 1_000_000);
                            } catch (AssertionError e) {
                                lags.add(-1L);
                            }
                            java.util.concurrent.locks.LockSupport.parkNanos(STOP_AFTER_DROP_MILLIS * 1_000_000);
                            served.addAndGet(gone.requestCount());
                            gone.close();
                        });
                    }
                    load = traffic.stop();
                }
                closer.shutdown();
                closer.awaitTermination(60, java.util.concurrent.TimeUnit.SECONDS);
                int reached = served.get() + live.stream().mapToInt(HttpUpstream::requestCount).sum();
                List<ScorecardTest.Row> rows = new ArrayList<>();
                rows.add(new ScorecardTest.Row("endpoint churn via EDS every 200 ms for " + seconds + " s (" + versions
                        + " versions, each removed endpoint stopped 1 s after the proxy dropped it; -Dscorecard.churn.seconds=60 for "
                        + "the full run), retries on: lost idempotent requests", load.describe() + ", " + reached + " reached the upstreams",
                        "0", load.failed() == 0 && load.sent() >= RATE * seconds / 2));
                long[] sorted = lags.stream().mapToLong(Long::longValue).sorted().toArray();
                boolean allDropped = sorted.length > 0 && sorted[0] >= 0;
                rows.add(new ScorecardTest.Row("endpoint churn: EDS removal to the endpoint gone from /clusters (as polled), median / max",
                        sorted.length == 0 ? "none measured" : sorted[sorted.length / 2] + " / " + sorted[sorted.length - 1] + " ms ("
                        + sorted.length + " removals" + (allDropped ? ")" : ", some never dropped)"), "every removal applied within 10 s",
                        allDropped));
                int inFlight = Probes.activeRequests(proxy);
                rows.add(new ScorecardTest.Row("endpoint churn: requests left in flight afterwards", String.valueOf(inFlight), "0", inFlight == 0));
                return rows;
            }
        } finally {
            closer.shutdownNow();
            live.forEach(HttpUpstream::close);
        }
    }

    private static void publish(XdsServer xds, String version, java.util.Collection<HttpUpstream> live) {
        xds.set(version, List.of(EnvoyResources.edsCluster("churn")),
                List.of(EnvoyResources.endpoints("churn", live.stream().mapToInt(HttpUpstream::port).toArray())),
                List.of(EnvoyResources.httpListener("churn", "churn-routes")), List.of(XdsResources.routes("churn-routes", "churn")));
    }
}
