package dev.sidecar.reliability;

import dev.sidecar.testkit.H2Attacks;
import dev.sidecar.testkit.HttpUpstream;
import dev.sidecar.testkit.ProxyProcess;
import dev.sidecar.testkit.RawH2;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The HTTP/2 attack classes of {@link H2Attacks} against the real proxy process, each repeated on
 * new connections for a few seconds (a new one as soon as the proxy has closed the last), while
 * a good HTTP/2 client on a connection of its own sends 50 requests a second: its p99 under each
 * attack against its p99 without one, every attacker connection ended by the proxy (the HPACK
 * bomb: every bomb refused), and the proxy's direct memory bounded throughout.
 */
final class H2AttackRows {
    /** How long each attack class runs, against the proxy and against the sink. */
    private static final Duration ATTACK = Duration.ofSeconds(2);
    /**
     * 50 requests a second: at 100 a stall of a second would put more streams in flight than the
     * proxy's max_concurrent_streams (100), and the streams it then refuses would count as failures of the proxy.
     */
    private static final int RATE = 50;
    /** As Http2AttackTest's bound: a fraction of what one unbounded flood would take. */
    private static final long MEMORY_BOUND = 64L << 20;

    private H2AttackRows() {}

    private record Kind(String name, H2Attacks.Attack attack, int rounds, boolean reads) {}

    private static final List<Kind> KINDS = List.of(
            new Kind("Rapid Reset", H2Attacks::rapidReset, 5_000, true),
            new Kind("MadeYouReset", H2Attacks::madeYouReset, 5_000, true),
            new Kind("CONTINUATION flood", H2Attacks::continuationFlood, 5_000, true),
            new Kind("HPACK bomb", H2Attacks::hpackBomb, 1, true),
            new Kind("SETTINGS flood, never read", H2Attacks::settingsFlood, 4_000_000, false),
            new Kind("PING flood, never read", H2Attacks::pingFlood, 4_000_000, false),
            new Kind("empty DATA flood", H2Attacks::emptyDataFlood, 5_000, true));

    static List<ScorecardTest.Row> run(Path dir) throws Exception {
        List<ScorecardTest.Row> rows = new ArrayList<>();
        // the attacks' requests go to an upstream of their own, so that what reaches it (a Rapid
        // Reset's streams before the proxy's limit) does not queue ahead of the good answers on
        // one upstream thread
        try (HttpUpstream up = new HttpUpstream("up");
             HttpUpstream attacked = new HttpUpstream("attacked");
             ProxyProcess proxy = ProxyProcess.run(dir, List.of(), List.of(ScorecardTest.LATENCY_LEAK_DETECTION), """
                     admin: { address: 127.0.0.1:0 }
                     listeners:
                       - name: web
                         address: 127.0.0.1:0
                         protocol: http
                         route_config:
                           virtual_hosts:
                             - name: all
                               domains: ["*"]
                               routes:
                                 - { match: { prefix: /good }, route: { cluster: app } }
                                 - { match: { prefix: / }, route: { cluster: attacked } }
                     clusters:
                       - { name: app, endpoints: [{ address: %s }] }
                       - { name: attacked, endpoints: [{ address: %s }] }
                     """.formatted(up.address(), attacked.address()));
             HttpUpstream sink = new HttpUpstream("sink");
             GoodClient good = GoodClient.http2(proxy.listenerPort("web"), "/good", RATE)) {
            int port = proxy.listenerPort("web");
            int sinkPort = sink.port();
            // the proxy's code for each attack compiled before anything is measured, as in a
            // process that has been running: one connection of each
            good.start();
            for (Kind k : KINDS) {
                once(port, k, null, true);
            }
            for (Kind k : KINDS) {
                List<String> tries = new ArrayList<>();
                boolean fast = false;
                boolean contained = true;
                for (int attempt = 0; attempt < ScorecardTest.LATENCY_ATTEMPTS && !fast; attempt++) {
                    // baseline: the same attack, from the same process, against the upstreams' HTTP/2
                    // server (Netty's codec with its defaults, in this process): the attacker's CPU and a
                    // server's answer to it weigh on both sides, and the comparison isolates the proxy
                    good.measure();
                    attack(k, sinkPort, proxy, false);
                    GoodClient.Latencies baseline = good.measure();
                    int forwardedBefore = attacked.requestCount();
                    int connectionsBefore = attacked.connections();
                    Outcome o = attack(k, port, proxy, true);
                    int forwarded = attacked.requestCount() - forwardedBefore;
                    int upstreamConnections = attacked.connections() - connectionsBefore;
                    GoodClient.Latencies under = good.measure();
                    fast = ScorecardTest.withinLatencyTarget(under.p99(), baseline.p99()) && under.allAnswered() && baseline.allAnswered();
                    // closing the attackers and bounding memory are no matter of noise: every attempt
                    contained &= o.connections() > 0 && o.ended() == o.connections() && o.peakDirect() < MEMORY_BOUND;
                    tries.add(String.format("%s vs %s; %d/%d; %d MiB; upstream: %d connections, %d whole requests", under.describe(),
                            baseline.describe(), o.ended(), o.connections(), Math.round(o.peakDirect() / (1 << 20)), upstreamConnections, forwarded));
                }
                String ended = k.name().equals("HPACK bomb") ? "refused" : "closed by the proxy";
                rows.add(new ScorecardTest.Row("h2 " + k.name() + ": good client (HTTP/2, own connection, 50 req/s) p99 under attack vs baseline"
                        + " (the attack on a plain h2 server); attacker connections " + ended + "; peak direct memory",
                        String.join("; then ", tries), ScorecardTest.LATENCY_TARGET + ", all answered; all; < 64 MiB", fast && contained));
            }
        }
        return rows;
    }

    /** What an attack window did: connections opened, those the proxy ended, the proxy's peak direct memory meanwhile. */
    private record Outcome(int connections, int ended, double peakDirect) {}

    /**
     * {@code k} for {@link #ATTACK}, a new connection to {@code port} as soon as the last has
     * ended, while the proxy's direct memory is sampled. Against the plain server
     * ({@code awaitClose} false) the attacker does not wait for the server to end a connection,
     * which it may never do, but closes it after its frames and opens the next: the attacker
     * then keeps as busy as against the proxy, whose limits end each connection within moments.
     */
    private static Outcome attack(Kind k, int port, ProxyProcess proxy, boolean awaitClose) throws Exception {
        AtomicReference<RawH2> current = new AtomicReference<>();
        AtomicBoolean cutOff = new AtomicBoolean();
        int[] counts = new int[2];
        CompletableFuture<Void> attacker = CompletableFuture.runAsync(() -> {
            while (!cutOff.get()) {
                boolean ended = once(port, k, current, awaitClose);
                if (cutOff.get()) {
                    break; // cut off by the window's end, not ended by the server: not counted
                }
                counts[0]++;
                if (ended) {
                    counts[1]++;
                }
            }
        });
        double peak = 0;
        long end = System.nanoTime() + ATTACK.toNanos();
        while (System.nanoTime() < end) {
            peak = Math.max(peak, Probes.metric(proxy, "sidecar_buffer_direct_used_bytes"));
            java.util.concurrent.locks.LockSupport.parkNanos(200_000_000); // sampling pace
        }
        // the connection still running is cut off (a sink never ends one)
        cutOff.set(true);
        RawH2 last = current.get();
        if (last != null) {
            last.close();
        }
        attacker.get(30, TimeUnit.SECONDS);
        return new Outcome(counts[0], counts[1], peak);
    }

    /**
     * One attacker connection: true when the proxy ended it within 10 s (for the HPACK bomb,
     * which a server may refuse per stream: when the bomb was refused and never answered 200).
     */
    private static boolean once(int port, Kind k, AtomicReference<RawH2> current, boolean awaitClose) {
        try (RawH2 a = k.reads() ? new RawH2(port) : new RawH2(port, 4096)) {
            if (current != null) {
                current.set(a);
            }
            if (k.name().equals("HPACK bomb")) {
                k.attack().run(a, k.rounds());
                RawH2.Frame f = a.await(x -> x.stream() == 1 || x.type() == RawH2.GOAWAY, Duration.ofSeconds(awaitClose ? 2 : 0));
                return f != null && (f.type() != RawH2.HEADERS || a.status(f) >= 400);
            }
            return H2Attacks.runUntilClosed(a, k.attack(), k.rounds(), awaitClose ? Duration.ofSeconds(10) : Duration.ZERO);
        } catch (IOException e) {
            return false; // could not connect, or cut off
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }
}
