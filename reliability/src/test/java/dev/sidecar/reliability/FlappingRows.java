package dev.sidecar.reliability;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import dev.sidecar.testkit.HttpUpstream;
import dev.sidecar.testkit.ProxyProcess;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Upstream flapping: one of two endpoints goes down and up every second (its health check and
 * its answers both fail while down), with active HTTP health checks every 200 ms and two
 * retries on 5xx. Requests at a fixed rate must all succeed (a failure would be one that
 * exhausted its retries), the flapping endpoint must be seen leaving and coming back on
 * /clusters, and afterwards nothing is left in flight and the upstream connections are back
 * at their level before the flapping.
 */
final class FlappingRows {
    private static final int RATE = 50;
    private static final long FLAP_MILLIS = 1000;
    private static final int FLAPS = 8;

    private FlappingRows() {}

    static List<ScorecardTest.Row> run(Path dir) throws Exception {
        List<ScorecardTest.Row> rows = new ArrayList<>();
        AtomicBoolean up = new AtomicBoolean(true);
        HttpServer flappy = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 128);
        flappy.setExecutor(Executors.newFixedThreadPool(4, r -> {
            Thread t = new Thread(r, "flappy");
            t.setDaemon(true);
            return t;
        }));
        flappy.createContext("/", exchange -> {
            byte[] body = (up.get() ? "flappy" : "down").getBytes(StandardCharsets.UTF_8);
            exchange.getRequestBody().readAllBytes();
            exchange.sendResponseHeaders(up.get() ? 200 : 503, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        });
        flappy.start();
        String flappyAddress = "127.0.0.1:" + flappy.getAddress().getPort();
        try (HttpUpstream steady = new HttpUpstream("steady");
             ProxyProcess proxy = ProxyProcess.run(dir, """
                     admin: { address: 127.0.0.1:0 }
                     listeners:
                       - name: flap
                         address: 127.0.0.1:0
                         protocol: http
                         route_config:
                           virtual_hosts:
                             - name: all
                               domains: ["*"]
                               routes:
                                 - match: { prefix: / }
                                   route: { cluster: flapping, timeout: 5s, retry_policy: { retry_on: "5xx,reset,connect-failure", num_retries: 2 } }
                     clusters:
                       - name: flapping
                         lb_policy: round_robin
                         health_checks:
                           - { interval: 200ms, timeout: 1s, unhealthy_threshold: 1, healthy_threshold: 1, no_traffic_interval: 200ms,
                               http_health_check: { path: /health } }
                         endpoints: [{ address: %s }, { address: %s }]
                     """.formatted(steady.address(), flappyAddress))) {
            String url = "http://127.0.0.1:" + proxy.listenerPort("flap") + "/req";
            dev.sidecar.testkit.Await.until("both endpoints healthy", java.time.Duration.ofSeconds(20),
                    () -> healthy(proxy, flappyAddress) == Boolean.TRUE && healthy(proxy, steady.address()) == Boolean.TRUE);
            try (Probes.Traffic warm = new Probes.Traffic(url, RATE, s -> s == 200)) {
                java.util.concurrent.locks.LockSupport.parkNanos(2_000_000_000L); // warm-up at the same rate, to fill the pools
                warm.stop();
            }
            int baseline = upstreamConnections(proxy);
            int ejections = 0;
            int returns = 0;
            Boolean last = true;
            Probes.Load load;
            try (Probes.Traffic traffic = new Probes.Traffic(url, RATE, s -> s == 200)) {
                long start = System.nanoTime();
                for (int flip = 1; flip <= FLAPS; flip++) {
                    long flipAt = start + flip * FLAP_MILLIS * 1_000_000;
                    while (System.nanoTime() < flipAt) {
                        Boolean h = healthy(proxy, flappyAddress);
                        if (last == Boolean.TRUE && h == Boolean.FALSE) {
                            ejections++;
                        } else if (last == Boolean.FALSE && h == Boolean.TRUE) {
                            returns++;
                        }
                        last = h == null ? last : h;
                        java.util.concurrent.locks.LockSupport.parkNanos(30_000_000); // /clusters sampling pace
                    }
                    up.set(!up.get());
                }
                up.set(true);
                load = traffic.stop();
            }
            dev.sidecar.testkit.Await.until("the flapping endpoint back", java.time.Duration.ofSeconds(10),
                    () -> healthy(proxy, flappyAddress) == Boolean.TRUE);
            int inFlight = Probes.activeRequests(proxy);
            int after = upstreamConnections(proxy);
            rows.add(new ScorecardTest.Row("upstream flapping every 1 s, HTTP health checks every 200 ms, 2 retries: failed requests at "
                    + RATE + "/s", load.describe(), "0", load.failed() == 0 && load.sent() > 0));
            rows.add(new ScorecardTest.Row("upstream flapping: endpoint ejected / re-added on /clusters", ejections + " / " + returns,
                    ">= 2 / >= 2", ejections >= 2 && returns >= 2));
            rows.add(new ScorecardTest.Row("upstream flapping: requests in flight, upstream connections before / after", inFlight + ", "
                    + baseline + " / " + after, "0, after <= before + 2", inFlight == 0 && after <= baseline + 2));
        } finally {
            flappy.stop(0);
        }
        return rows;
    }

    /** The endpoint's health on /clusters; null when it is not listed or the admin API did not answer. */
    private static Boolean healthy(ProxyProcess proxy, String address) {
        try {
            for (JsonNode e : Probes.endpoints(proxy, "flapping")) {
                if (e.get("address").asText().equals(address)) {
                    return e.get("healthy").asBoolean();
                }
            }
            return null;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    private static int upstreamConnections(ProxyProcess proxy) throws IOException, InterruptedException {
        int n = 0;
        for (JsonNode e : Probes.endpoints(proxy, "flapping")) {
            n += e.get("active_connections").asInt();
        }
        return n;
    }
}
