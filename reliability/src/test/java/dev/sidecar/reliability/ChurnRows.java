package dev.sidecar.reliability;

import dev.sidecar.testkit.HttpUpstream;
import dev.sidecar.testkit.ProxyProcess;
import dev.sidecar.testkit.XdsServer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Endpoint churn through the control plane: every 200 ms an EDS update replaces part of the
 * cluster's endpoints (six upstreams, a random three to five of them in each version) while
 * idempotent GETs run at a fixed rate with retries on; every one of them must be answered 200.
 * {@code -Dscorecard.churn.seconds=60} runs it for the full minute (default 15 s).
 */
final class ChurnRows {
    private static final int RATE = 100;
    private static final long STEP_MILLIS = 200;

    private ChurnRows() {}

    static List<ScorecardTest.Row> run(Path dir) throws Exception {
        int seconds = Integer.getInteger("scorecard.churn.seconds", 15);
        List<HttpUpstream> ups = new ArrayList<>();
        try (XdsServer xds = new XdsServer()) {
            for (int i = 0; i < 6; i++) {
                ups.add(new HttpUpstream("u" + i));
            }
            List<Integer> ports = ups.stream().map(HttpUpstream::port).toList();
            xds.set("1", List.of(XdsResources.edsCluster("churn")), List.of(XdsResources.endpoints("churn", ports.subList(0, 3))),
                    List.of(XdsResources.httpListener("churn", "churn-routes")), List.of(XdsResources.routes("churn-routes", "churn")));
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
                SplittableRandom random = new SplittableRandom(42);
                int versions = 1;
                Probes.Load load;
                try (Probes.Traffic traffic = new Probes.Traffic(url, RATE, s -> s == 200)) {
                    long start = System.nanoTime();
                    long end = start + seconds * 1_000_000_000L;
                    for (long next = start + STEP_MILLIS * 1_000_000; next < end; next += STEP_MILLIS * 1_000_000) {
                        while (System.nanoTime() < next) {
                            java.util.concurrent.locks.LockSupport.parkNanos(next - System.nanoTime());
                        }
                        List<Integer> set = new ArrayList<>(ports);
                        int keep = 3 + random.nextInt(3);
                        while (set.size() > keep) {
                            set.remove(random.nextInt(set.size()));
                        }
                        versions++;
                        xds.set(String.valueOf(versions), List.of(XdsResources.edsCluster("churn")), List.of(XdsResources.endpoints("churn", set)),
                                List.of(XdsResources.httpListener("churn", "churn-routes")), List.of(XdsResources.routes("churn-routes", "churn")));
                    }
                    load = traffic.stop();
                }
                int served = ups.stream().mapToInt(HttpUpstream::requestCount).sum();
                List<ScorecardTest.Row> rows = new ArrayList<>();
                rows.add(new ScorecardTest.Row("endpoint churn via EDS every 200 ms for " + seconds + " s (" + versions
                        + " versions; -Dscorecard.churn.seconds=60 for the full run), retries on: lost idempotent requests",
                        load.describe() + ", " + served + " reached the upstreams", "0", load.failed() == 0 && load.sent() >= RATE * seconds / 2));
                int inFlight = Probes.activeRequests(proxy);
                rows.add(new ScorecardTest.Row("endpoint churn: requests left in flight afterwards", String.valueOf(inFlight), "0", inFlight == 0));
                return rows;
            }
        } finally {
            ups.forEach(HttpUpstream::close);
        }
    }
}
