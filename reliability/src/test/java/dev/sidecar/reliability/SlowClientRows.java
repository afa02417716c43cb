package dev.sidecar.reliability;

import dev.sidecar.testkit.HttpUpstream;
import dev.sidecar.testkit.ProxyProcess;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * slowhttptest's slow headers (Slowloris), slow body (R-U-Dead-Yet) and slow read, 500
 * connections each, against a listener with short timeouts, while a good client sends 100
 * HTTP/1.1 requests a second to another listener: every slow connection is reaped by a timeout,
 * and the good client's requests all succeed with p99 within the scorecard's latency target of
 * its baseline.
 *
 * <p>The baseline is measured while the same slowhttptest command runs against a sink (a plain
 * HTTP server that is not the proxy), so the attack tool's own CPU, and that of a server
 * answering it, weigh on both sides on a small machine, and the comparison isolates what the
 * attack costs the proxy. The latency is measured on a second run of each attack: the first, the
 * reaping row's, has the proxy's code for it compiled by the JIT, as in a process that has been
 * running. The attack's
 * upstream is not the good client's, so its bodies do not queue ahead of the good answers on
 * one upstream thread.
 */
final class SlowClientRows {
    static final String SLOWHTTPTEST = "/usr/bin/slowhttptest";
    private static final int RATE = 100;

    private SlowClientRows() {}

    private record Mode(String name, String flag, String path, List<String> extra) {}

    private static final List<Mode> MODES = List.of(
            new Mode("slow headers (Slowloris)", "-H", "/", List.of()),
            new Mode("slow body (R-U-Dead-Yet)", "-B", "/echo", List.of("-s", "100000")),
            new Mode("slow read", "-X", "/bytes/20000000", List.of("-w", "512", "-y", "1024", "-n", "1", "-z", "32", "-k", "1")));

    static List<ScorecardTest.Row> run(Path dir) throws Exception {
        List<ScorecardTest.Row> rows = new ArrayList<>();
        if (!new java.io.File(SLOWHTTPTEST).canExecute()) {
            // CI installs it (.ci/run); elsewhere the scorecard says what it could not run
            if (System.getenv("CI") != null) {
                rows.add(new ScorecardTest.Row("slow clients", "slowhttptest missing", "installed by .ci/run", false));
            } else {
                System.out.println("  slow clients: skipped, slowhttptest is not installed (apt-get install slowhttptest)");
            }
            return rows;
        }
        try (HttpUpstream up = new HttpUpstream("up");
             HttpUpstream attacked = new HttpUpstream("attacked");
             HttpUpstream sink = new HttpUpstream("sink");
             ProxyProcess proxy = ProxyProcess.run(dir, List.of(), List.of(ScorecardTest.LATENCY_LEAK_DETECTION), """
                     admin: { address: 127.0.0.1:0 }
                     listeners:
                       - { name: web, address: 127.0.0.1:0, protocol: http, cluster: app }
                       - name: slow
                         address: 127.0.0.1:0
                         protocol: http
                         cluster: attacked
                         http: { request_headers_timeout: 2s, stream_idle_timeout: 3s, route_timeout: 4s }
                     clusters:
                       - { name: app, endpoints: [{ address: %s }] }
                       - { name: attacked, endpoints: [{ address: %s }] }
                     """.formatted(up.address(), attacked.address()));
             GoodClient good = GoodClient.http1(URI.create("http://127.0.0.1:" + proxy.listenerPort("web") + "/good"), RATE)) {
            String slowUrl = "http://127.0.0.1:" + proxy.listenerPort("slow");
            good.start();
            for (Mode m : MODES) {
                // first the attack at full scale, for the reaping row; it also has the proxy's code
                // for this attack compiled before the latency is measured, as in a process that has
                // been running (cold, the C2 compiler took half of the proxy's CPU in the attack's
                // first seconds, and the slow-body p99 fell 260 -> 106 -> 49 ms over three runs)
                long acceptedBefore = listenerCount(proxy, "slow", "accepted_total");
                Process attack = slowhttptest(dir, m, slowUrl, 500, 14);
                // the proxy's own count: every slow connection gone well before the attack ends (it
                // opens all 500 in about 2 s; the longest timeout is 4 s, the lingering close 1 s)
                int peak = 0;
                long t0 = System.nanoTime();
                while (System.nanoTime() - t0 < TimeUnit.MILLISECONDS.toNanos(9000) && attack.isAlive()) {
                    peak = Math.max(peak, activeConnections(proxy, "slow"));
                    java.util.concurrent.locks.LockSupport.parkNanos(100_000_000); // sampling pace
                }
                int left = activeConnections(proxy, "slow");
                boolean finished = attack.waitFor(60, TimeUnit.SECONDS);
                if (!finished) {
                    attack.destroyForcibly();
                }
                // the attack reached the proxy at scale (its accepts, not the peak: how many are open
                // at once depends on how fast a busy machine lets slowhttptest open them) and was reaped
                long accepted = listenerCount(proxy, "slow", "accepted_total") - acceptedBefore;
                boolean reaped = finished && accepted >= 450 && left <= 5;
                rows.add(new ScorecardTest.Row(m.name() + ", 500 connections: accepted / open at the peak / still open 9 s in",
                        accepted + " / " + peak + " / " + left, ">= 450 / - / <= 5", reaped));

                List<String> tries = new ArrayList<>();
                boolean fast = false;
                for (int attempt = 0; attempt < ScorecardTest.LATENCY_ATTEMPTS && !fast; attempt++) {
                    // baseline: the same attack against the sink, 3 s of the good client
                    Process toSink = slowhttptest(dir, m, "http://" + sink.address(), 500, 6);
                    good.measure();
                    java.util.concurrent.locks.LockSupport.parkNanos(3_000_000_000L); // the baseline's length: 300 requests
                    GoodClient.Latencies baseline = good.measure();
                    toSink.destroy();
                    toSink.waitFor(10, TimeUnit.SECONDS);
                    // under attack: its first 4 s, which hold the opening of all 500 connections (about
                    // 2 s) and their timeouts (2 s to 4 s after each opened)
                    Process again = slowhttptest(dir, m, slowUrl, 500, 14);
                    good.measure();
                    java.util.concurrent.locks.LockSupport.parkNanos(4_000_000_000L); // the window's length: 400 requests
                    GoodClient.Latencies under = good.measure();
                    again.destroy();
                    again.waitFor(10, TimeUnit.SECONDS);
                    dev.sidecar.testkit.Await.until("the slow listener's connections closed", java.time.Duration.ofSeconds(15),
                            () -> {
                                try {
                                    return activeConnections(proxy, "slow") <= 5;
                                } catch (Exception e) {
                                    return false; // asked again on the next round
                                }
                            });
                    fast = ScorecardTest.withinLatencyTarget(under.p99(), baseline.p99()) && under.allAnswered() && baseline.allAnswered();
                    tries.add(under.describe() + " vs " + baseline.describe());
                }
                rows.add(new ScorecardTest.Row(m.name() + ": good client (HTTP/1.1, 100 req/s) p99 under attack vs baseline (the attack on a sink)",
                        String.join("; then ", tries), ScorecardTest.LATENCY_TARGET + ", all answered", fast));
            }
        }
        return rows;
    }

    /** slowhttptest in {@code mode} against {@code url}, {@code connections} of them at 250 a second, for {@code seconds} at most. */
    private static Process slowhttptest(Path dir, Mode mode, String url, int connections, int seconds) throws java.io.IOException {
        List<String> cmd = new ArrayList<>(List.of(SLOWHTTPTEST, mode.flag(), "-c", String.valueOf(connections), "-r", "250", "-i", "1",
                "-l", String.valueOf(seconds), "-p", "3", "-o", dir.resolve("slow" + mode.flag().substring(1)).toString(), "-u", url + mode.path()));
        cmd.addAll(mode.extra());
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    }

    /** The listener's open client connections, from the admin API. */
    private static int activeConnections(ProxyProcess proxy, String listener) throws Exception {
        return (int) listenerCount(proxy, listener, "active_connections");
    }

    /** A number from the listener's entry in the admin API's {@code /listeners}. */
    private static long listenerCount(ProxyProcess proxy, String listener, String field) throws Exception {
        for (com.fasterxml.jackson.databind.JsonNode l : Probes.admin(proxy, "/listeners").get("listeners")) {
            if (l.get("name").asText().equals(listener)) {
                return l.get(field).asLong();
            }
        }
        throw new AssertionError("no listener " + listener);
    }
}
