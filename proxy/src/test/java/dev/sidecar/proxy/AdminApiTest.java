package dev.sidecar.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sidecar.testkit.Await;
import dev.sidecar.testkit.ProxyProcess;
import dev.sidecar.testkit.TcpUpstream;
import dev.sidecar.testkit.Traffic;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AdminApiTest {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private static final ObjectMapper JSON = new ObjectMapper();

    private Sidecar proxy;
    private TcpUpstream up;
    private final Level savedLevel = Logger.getLogger("").getLevel();

    @AfterEach
    void tearDown() {
        Logger.getLogger("").setLevel(savedLevel);
        if (proxy != null) {
            proxy.close();
        }
        if (up != null) {
            up.close();
        }
    }

    private Sidecar start() {
        up = TcpUpstream.echo();
        proxy = Sidecar.start(ConfigLoader.parse("""
                admin: { address: 127.0.0.1:0 }
                listeners: [{ name: in, address: 127.0.0.1:0, cluster: up }]
                clusters:
                  - name: up
                    lb_policy: least_request
                    endpoints: [{ address: %s, weight: 3 }, { address: 127.0.0.1:%d, priority: 1 }]
                """.formatted(up.address(), TcpUpstream.refusingPort())));
        return proxy;
    }

    private static HttpResponse<String> call(int port, String method, String path) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .method(method, HttpRequest.BodyPublishers.noBody()).timeout(Duration.ofSeconds(5)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void clusters_listeners_and_config_dump_describe_the_running_proxy() throws Exception {
        Sidecar p = start();
        try (Socket s = Traffic.connect(p.listenerPort("in"))) {
            s.getOutputStream().write(1);
            assertEquals(1, s.getInputStream().read());

            JsonNode clusters = JSON.readTree(call(p.adminPort(), "GET", "/clusters").body()).get("clusters");
            JsonNode c = clusters.get(0);
            assertEquals("up", c.get("name").asText());
            assertEquals("least_request", c.get("lb_policy").asText());
            JsonNode ep = c.get("endpoints").get(0);
            assertEquals(up.address(), ep.get("address").asText());
            assertEquals(3, ep.get("weight").asInt());
            assertEquals(true, ep.get("healthy").asBoolean());
            assertEquals(1, ep.get("active_connections").asInt());
            assertEquals(1, ep.get("active_requests").asInt());
            assertEquals(1, c.get("endpoints").get(1).get("priority").asInt());

            JsonNode l = JSON.readTree(call(p.adminPort(), "GET", "/listeners").body()).get("listeners").get(0);
            assertEquals("in", l.get("name").asText());
            assertEquals("127.0.0.1:" + p.listenerPort("in"), l.get("address").asText());
            assertEquals(1, l.get("active_connections").asInt());
            assertEquals(1, l.get("received_bytes_total").asInt());
        }
        JsonNode dump = JSON.readTree(call(p.adminPort(), "GET", "/config_dump").body());
        JsonNode cluster = dump.get("static_config").get("clusters").get(0);
        assertEquals("least_request", cluster.get("lb_policy").asText());
        assertEquals("5s", cluster.get("connect_timeout").asText());
        assertEquals(up.address(), cluster.get("endpoints").get(0).get("address").asText());
        assertEquals("30s", dump.get("static_config").get("server").get("drain_timeout").asText());
    }

    @Test
    void process_metrics_are_exported() throws Exception {
        Sidecar p = start();
        String metrics = call(p.adminPort(), "GET", "/stats/prometheus").body();
        for (String family : new String[] {"jvm_memory_used_bytes", "jvm_threads_live_threads", "process_uptime_seconds",
                "sidecar_event_loop_pending_tasks", "sidecar_buffer_direct_used_bytes", "sidecar_cluster_endpoints_healthy"}) {
            assertTrue(metrics.contains(family), family + " missing from:\n" + metrics);
        }
    }

    @Test
    void healthcheck_fail_turns_ready_off_without_stopping_traffic() throws Exception {
        Sidecar p = start();
        assertEquals(200, call(p.adminPort(), "GET", "/ready").statusCode());
        assertEquals(200, call(p.adminPort(), "POST", "/healthcheck/fail").statusCode());
        HttpResponse<String> ready = call(p.adminPort(), "GET", "/ready");
        assertEquals(503, ready.statusCode());
        assertTrue(ready.body().contains("failed by /healthcheck/fail"), ready.body());
        try (Socket s = Traffic.connect(p.listenerPort("in"))) {
            s.getOutputStream().write(9);
            assertEquals(9, s.getInputStream().read(), "traffic still flows");
        }
        assertEquals(200, call(p.adminPort(), "POST", "/healthcheck/ok").statusCode());
        assertEquals(200, call(p.adminPort(), "GET", "/ready").statusCode());
    }

    @Test
    void logging_level_can_be_read_and_set() throws Exception {
        Sidecar p = start();
        assertEquals(200, call(p.adminPort(), "POST", "/logging?level=debug").statusCode());
        assertEquals("debug", JSON.readTree(call(p.adminPort(), "GET", "/logging").body()).get("level").asText());
        assertEquals(Level.FINE, Logger.getLogger("").getLevel());
        HttpResponse<String> bad = call(p.adminPort(), "POST", "/logging?level=loud");
        assertEquals(400, bad.statusCode());
        assertTrue(bad.body().contains("'loud' is not one of error, warn, info, debug, trace"), bad.body());
        assertEquals(400, call(p.adminPort(), "POST", "/logging").statusCode());
    }

    @Test
    void wrong_methods_and_paths_get_4xx_with_a_reason() throws Exception {
        Sidecar p = start();
        HttpResponse<String> r = call(p.adminPort(), "GET", "/drain");
        assertEquals(405, r.statusCode());
        assertEquals("POST", r.headers().firstValue("allow").orElse(""));
        assertEquals(405, call(p.adminPort(), "DELETE", "/clusters").statusCode());
        assertTrue(call(p.adminPort(), "GET", "/nope").body().contains("no admin endpoint /nope"));
    }

    @TempDir
    Path dir;

    @Test
    void post_drain_drains_and_the_process_exits_0() throws Exception {
        try (TcpUpstream echo = TcpUpstream.echo();
             ProxyProcess process = ProxyProcess.run(dir, """
                     server: { drain_timeout: 10s, workers: 1 }
                     admin: { address: 127.0.0.1:0 }
                     listeners: [{ name: in, address: 127.0.0.1:0, cluster: up }]
                     clusters: [{ name: up, endpoints: [{ address: %s }] }]
                     """.formatted(echo.address()))) {
            Socket open = Traffic.connect(process.listenerPort("in"));
            open.getOutputStream().write(5);
            assertEquals(5, open.getInputStream().read());
            assertEquals(202, call(process.adminPort(), "POST", "/drain").statusCode());
            Await.until("/ready to say draining", () -> {
                try {
                    return call(process.adminPort(), "GET", "/ready").statusCode() == 503;
                } catch (Exception e) {
                    return false;
                }
            });
            open.getOutputStream().write(6);
            assertEquals(6, open.getInputStream().read(), "the open connection works during the drain");
            // a preStop hook posts /drain, then the kubelet sends SIGTERM: the drain goes on
            process.terminate();
            open.getOutputStream().write(7);
            assertEquals(7, open.getInputStream().read(), "SIGTERM after /drain does not cut the drain short");
            open.close();
            assertEquals(0, process.waitForExit(Duration.ofSeconds(15)));
            assertTrue(process.output().contains("admin: drain requested"), process.output());
        }
    }
}
