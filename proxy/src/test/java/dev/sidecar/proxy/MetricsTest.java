package dev.sidecar.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sidecar.testkit.Await;
import dev.sidecar.testkit.Closer;
import dev.sidecar.testkit.HttpUpstream;
import dev.sidecar.testkit.RawH2;
import dev.sidecar.testkit.TcpUpstream;
import dev.sidecar.testkit.TestCertificates;
import dev.sidecar.testkit.TestCertificates.KeyFormat;
import dev.sidecar.testkit.TestCertificates.PemPair;
import dev.sidecar.testkit.Traffic;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every metric family the proxy exports, read from {@code /stats/prometheus} after real traffic
 * that should have moved it: TCP and HTTP listeners, HTTP outcomes (each status class, retries,
 * timeouts, rate limits, sheds, resets, HTTP/2), clusters (connections, failures, health checks,
 * ejections, circuit breakers, requests, pools), TLS, the access log, and the process.
 */
class MetricsTest {
    private final Closer closer = new Closer();

    @TempDir
    Path dir;

    @AfterEach
    void tearDown() throws Exception {
        closer.close();
    }

    /** The sum of every sample of {@code name} whose labels contain each of {@code labels} (e.g. {@code listener="web"}). */
    private static double value(String scrape, String name, String... labels) {
        double sum = 0;
        boolean found = false;
        for (String line : scrape.split("\n")) {
            if (line.startsWith("#") || !(line.startsWith(name + "{") || line.startsWith(name + " "))) {
                continue;
            }
            boolean all = true;
            for (String l : labels) {
                all &= line.contains(l);
            }
            if (all) {
                found = true;
                sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        assertTrue(found, "no sample of " + name + " with " + List.of(labels));
        return sum;
    }

    private static void positive(String scrape, String name, String... labels) {
        double v = value(scrape, name, labels);
        assertTrue(v > 0, name + " " + List.of(labels) + " = " + v);
    }

    @Test
    void every_family_moves_with_real_traffic() throws Exception {
        TcpUpstream echo = closer.add(TcpUpstream.echo());
        HttpUpstream web = closer.add(new HttpUpstream("a"));
        TestCertificates.Authority ca = TestCertificates.authority("metrics CA");
        PemPair cert = ca.issue("proxy").ip("127.0.0.1").build().write(dir, "server", KeyFormat.PKCS8);
        int refusing = TcpUpstream.refusingPort();
        Sidecar p = closer.add(Sidecar.start(ConfigLoader.parse("""
                admin: { address: 127.0.0.1:0 }
                listeners:
                  - { name: tcp, address: 127.0.0.1:0, cluster: echo }
                  - { name: tiny, address: 127.0.0.1:0, cluster: echo, max_connections: 1 }
                  - { name: dead, address: 127.0.0.1:0, cluster: dead, max_connect_attempts: 1 }
                  - name: web
                    address: 127.0.0.1:0
                    protocol: http
                    access_log: { path: %s }
                    route_config:
                      virtual_hosts:
                        - name: all
                          domains: ["*"]
                          routes:
                            - match: { prefix: /retry/ }
                              route: { cluster: app, prefix_rewrite: /, retry_policy: { retry_on: "5xx", num_retries: 1 } }
                            - { match: { prefix: /slow/ }, route: { cluster: app, prefix_rewrite: /, timeout: 200ms } }
                            - { match: { prefix: /big/ }, route: { cluster: app, prefix_rewrite: /, timeout: 300ms } }
                            - { match: { prefix: /limited }, route: { cluster: app }, rate_limit: { max_tokens: 1, tokens_per_fill: 1, fill_interval: 1h } }
                            - { match: { prefix: /one/ }, route: { cluster: one, prefix_rewrite: / } }
                            - { match: { prefix: / }, route: { cluster: app } }
                  - name: secure
                    address: 127.0.0.1:0
                    protocol: http
                    cluster: app
                    tls: { certificates: [{ cert_chain_file: %s, private_key_file: %s }] }
                clusters:
                  - name: echo
                    endpoints: [{ address: %s }]
                  - name: dead
                    outlier_detection: { consecutive_gateway_failure: 2, base_ejection_time: 30s, max_ejection_percent: 100 }
                    endpoints: [{ address: 127.0.0.1:%d }]
                  - name: app
                    health_checks: [{ interval: 100ms, timeout: 1s, unhealthy_threshold: 2, healthy_threshold: 1, tcp_health_check: {} }]
                    endpoints: [{ address: %s }, { address: 127.0.0.1:%d }]
                  - name: one
                    circuit_breakers: { max_requests: 1 }
                    endpoints: [{ address: %s }]
                """.formatted(dir.resolve("access.log"), cert.cert(), cert.key(), echo.address(), refusing, web.address(), refusing,
                web.address()))));
        Await.until("the refusing endpoint of app fails its health checks", () -> p.clusters().get("app").snapshot().healthyEndpoints() == 1);

        // TCP: echo traffic, a refused connection, upstream failures that eject
        assertTrue(Traffic.echo(p.listenerPort("tcp"), 10_000, 2).exact());
        try (Socket held = Traffic.connect(p.listenerPort("tiny"))) {
            Await.until("the first connection is in", () -> p.listenerStats("tiny").active() == 1);
            try (Socket refused = Traffic.connect(p.listenerPort("tiny"))) {
                Await.until("the second connection is refused", () -> Traffic.closedByPeer(refused));
            }
        }
        for (int i = 0; i < 3; i++) {
            try (Socket s = Traffic.connect(p.listenerPort("dead"))) {
                Await.until("the failed connection closes", () -> Traffic.closedByPeer(s));
            }
        }

        // HTTP: every outcome once or more
        int port = p.listenerPort("web");
        HttpClient h1 = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        for (int i = 0; i < 5; i++) {
            assertEquals(200, HttpProxyTest.get(port, "/ok").statusCode());
        }
        assertEquals(404, HttpProxyTest.get(port, "/status/404").statusCode());
        assertEquals(503, HttpProxyTest.get(port, "/retry/status/503").statusCode());
        assertEquals(504, HttpProxyTest.get(port, "/slow/delay/2000").statusCode());
        assertEquals(200, HttpProxyTest.get(port, "/limited").statusCode());
        assertEquals(429, HttpProxyTest.get(port, "/limited").statusCode());
        CompletableFuture<HttpResponse<String>> holding = h1.sendAsync(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/one/delay/1000")).build(), HttpResponse.BodyHandlers.ofString());
        Await.until("a request holds the only slot", () -> p.clusters().get("one").activeRequests() == 1);
        assertEquals(503, HttpProxyTest.get(port, "/one/x").statusCode(), "shed by max_requests");
        assertEquals(200, holding.get().statusCode());
        try (Socket s = new Socket("127.0.0.1", port)) {
            // a response that has begun and cannot finish in the route timeout, to a client that does not read: a reset
            s.getOutputStream().write("GET /big/bytes/200000000 HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
            Await.until("the reset", () -> p.httpListenerStats("web").resets() > 0);
        }
        try (RawH2 h2 = new RawH2(port)) {
            h2.get(1, "/h2");
            assertEquals(200, h2.awaitStatus(1, Duration.ofSeconds(10)));
        }
        HttpClient tls = HttpClient.newBuilder().sslContext(ca.clientContext(null)).build();
        assertEquals(200, tls.send(HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + p.listenerPort("secure") + "/tls")).build(),
                HttpResponse.BodyHandlers.ofString()).statusCode());
        System.gc(); // so the collection counters have one at least
        Await.until("the access log written", () -> p.scrape().contains("sidecar_access_log_written_total")
                && value(p.scrape(), "sidecar_access_log_written_total") > 0);

        String m = p.scrape();
        List<String> checked = new ArrayList<>();
        // listeners
        for (String l : List.of("tcp", "web")) {
            positive(m, "sidecar_listener_connections_accepted_total", "listener=\"" + l + "\"");
            positive(m, "sidecar_listener_received_bytes_total", "listener=\"" + l + "\"");
            positive(m, "sidecar_listener_sent_bytes_total", "listener=\"" + l + "\"");
        }
        value(m, "sidecar_listener_connections_active", "listener=\"web\"");
        positive(m, "sidecar_listener_connections_refused_total", "listener=\"tiny\"");
        positive(m, "sidecar_listener_upstream_failures_total", "listener=\"dead\"");
        // HTTP
        for (String c : List.of("2xx", "4xx", "5xx")) {
            positive(m, "sidecar_http_responses_total", "listener=\"web\"", "status_class=\"" + c + "\"");
        }
        positive(m, "sidecar_http_request_duration_seconds_count", "listener=\"web\"");
        positive(m, "sidecar_http_request_duration_seconds_bucket", "listener=\"web\"", "le=\"0.025\"");
        value(m, "sidecar_http_requests_active", "listener=\"web\"");
        positive(m, "sidecar_http_retries_total", "listener=\"web\"");
        positive(m, "sidecar_http_timeouts_total", "listener=\"web\"");
        positive(m, "sidecar_http_rate_limited_total", "listener=\"web\"");
        positive(m, "sidecar_http_shed_total", "listener=\"web\"");
        positive(m, "sidecar_http_resets_total", "listener=\"web\"");
        positive(m, "sidecar_http_connections_h2_total", "listener=\"web\"");
        // clusters
        positive(m, "sidecar_cluster_connections_total", "cluster=\"echo\"");
        value(m, "sidecar_cluster_connections_active", "cluster=\"echo\"");
        positive(m, "sidecar_cluster_connect_failures_total", "cluster=\"dead\"");
        assertEquals(2, value(m, "sidecar_cluster_endpoints", "cluster=\"app\""));
        assertEquals(1, value(m, "sidecar_cluster_endpoints_healthy", "cluster=\"app\""));
        value(m, "sidecar_cluster_panic", "cluster=\"app\"");
        positive(m, "sidecar_cluster_health_check_passes_total", "cluster=\"app\"");
        positive(m, "sidecar_cluster_health_check_failures_total", "cluster=\"app\"");
        positive(m, "sidecar_cluster_outlier_ejections_total", "cluster=\"dead\"");
        positive(m, "sidecar_cluster_circuit_breaker_overflows_total", "cluster=\"one\"");
        positive(m, "sidecar_cluster_requests_total", "cluster=\"app\"");
        value(m, "sidecar_cluster_requests_active", "cluster=\"app\"");
        value(m, "sidecar_cluster_requests_pending", "cluster=\"app\"");
        positive(m, "sidecar_cluster_pool_idle", "cluster=\"app\"");
        // TLS
        positive(m, "sidecar_listener_tls_handshakes_total", "listener=\"secure\"");
        value(m, "sidecar_listener_tls_handshakes_resumed_total", "listener=\"secure\"");
        value(m, "sidecar_listener_tls_handshake_failures_total", "listener=\"secure\"");
        value(m, "sidecar_listener_tls_reloads_total", "listener=\"secure\"");
        value(m, "sidecar_listener_tls_reload_failures_total", "listener=\"secure\"");
        positive(m, "sidecar_listener_tls_certificate_expiry_seconds", "listener=\"secure\"");
        // access log and process
        positive(m, "sidecar_access_log_written_total");
        value(m, "sidecar_access_log_dropped_total");
        positive(m, "sidecar_buffer_direct_used_bytes");
        value(m, "sidecar_buffer_heap_used_bytes");
        value(m, "sidecar_event_loop_pending_tasks");
        positive(m, "jvm_memory_used_bytes", "area=\"heap\"");
        positive(m, "jvm_gc_collection_seconds_count");
        value(m, "jvm_gc_collection_seconds_sum");
        positive(m, "jvm_threads_live_threads");
        positive(m, "process_uptime_seconds");
    }
}
