package dev.sidecar.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sidecar.testkit.Await;
import dev.sidecar.testkit.ProxyProcess;
import dev.sidecar.testkit.TcpUpstream;
import dev.sidecar.testkit.Traffic;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The real process: command line, exit codes, signals, admin. */
class ProcessTest {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @TempDir
    Path dir;

    private static String config(String upstream, String drainTimeout) {
        return """
                server: { drain_timeout: %s, workers: 1 }
                admin: { address: 127.0.0.1:0 }
                listeners:
                  - { name: in, address: 127.0.0.1:0, cluster: up }
                clusters:
                  - { name: up, endpoints: [{ address: %s }] }
                """.formatted(drainTimeout, upstream);
    }

    private static HttpResponse<String> get(int port, String path) {
        try {
            return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(5)).build(),
                    HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    private static int statusOrMinusOne(int port, String path) {
        try {
            return get(port, path).statusCode();
        } catch (java.io.UncheckedIOException e) {
            return -1;
        }
    }

    @Test
    void leak_detection_and_netty_jfr_events_are_off_unless_asked_for() {
        String asked = System.getProperty("io.netty.leakDetection.level");
        String jfr = System.getProperty("io.netty.jfr.enabled");
        try {
            System.clearProperty("io.netty.leakDetection.level");
            System.clearProperty("io.netty.jfr.enabled");
            Main.nettyDefaults();
            assertEquals("disabled", System.getProperty("io.netty.leakDetection.level"));
            assertEquals("false", System.getProperty("io.netty.jfr.enabled"));
            System.setProperty("io.netty.leakDetection.level", "simple");
            System.setProperty("io.netty.jfr.enabled", "true");
            Main.nettyDefaults();
            assertEquals("simple", System.getProperty("io.netty.leakDetection.level"));
            assertEquals("true", System.getProperty("io.netty.jfr.enabled"));
        } finally {
            restore("io.netty.leakDetection.level", asked);
            restore("io.netty.jfr.enabled", jfr);
        }
    }

    private static void restore(String name, String value) {
        if (value == null) {
            System.clearProperty(name);
        } else {
            System.setProperty(name, value);
        }
    }

    @Test
    void sigterm_drains_open_connections_and_exits_0() throws Exception {
        try (TcpUpstream echo = TcpUpstream.echo();
             ProxyProcess proxy = ProxyProcess.run(dir, config(echo.address(), "20s"))) {
            int port = proxy.listenerPort("in");
            assertEquals(200, get(proxy.adminPort(), "/ready").statusCode());
            try (Socket open = Traffic.connect(port)) {
                open.getOutputStream().write('a');
                assertEquals('a', open.getInputStream().read());

                proxy.terminate();

                Await.until("/ready to answer 503", () -> statusOrMinusOne(proxy.adminPort(), "/ready") == 503);
                assertEquals("draining\n", get(proxy.adminPort(), "/ready").body());
                Await.until("the listener to stop accepting", () -> refused(port));
                // the open connection keeps working during the drain window
                for (int i = 0; i < 3; i++) {
                    open.getOutputStream().write('b' + i);
                    assertEquals('b' + i, open.getInputStream().read());
                }
                assertTrue(proxy.isAlive(), "the proxy must wait for the open connection");
            }
            // the last connection closed: the drain ends well before its 20 s timeout
            assertEquals(0, proxy.waitForExit(Duration.ofSeconds(15)));
            assertTrue(proxy.output().contains("drained"), proxy.output());
        }
    }

    @Test
    void a_drain_timeout_closes_what_is_left_and_still_exits_0() throws Exception {
        try (TcpUpstream silent = TcpUpstream.neverReads();
             ProxyProcess proxy = ProxyProcess.run(dir, config(silent.address(), "300ms"));
             Socket open = Traffic.connect(proxy.listenerPort("in"))) {
            Await.until("the upstream connection", () -> silent.openConnections() == 1);
            proxy.terminate();
            assertEquals(0, proxy.waitForExit(Duration.ofSeconds(15)));
            assertTrue(Traffic.closedByPeer(open), "the held connection is closed at the drain timeout");
            assertTrue(proxy.output().contains("drain timeout: closed 1 connection"), proxy.output());
        }
    }

    @Test
    void post_quitquitquit_drains_like_sigterm_and_exits_0() throws Exception {
        try (TcpUpstream echo = TcpUpstream.echo();
             ProxyProcess proxy = ProxyProcess.run(dir, config(echo.address(), "20s"))) {
            int port = proxy.listenerPort("in");
            assertEquals(405, get(proxy.adminPort(), "/quitquitquit").statusCode(), "GET must not stop the proxy");
            try (Socket open = Traffic.connect(port)) {
                open.getOutputStream().write('a');
                assertEquals('a', open.getInputStream().read());

                HttpResponse<String> quit = post(proxy.adminPort(), "/quitquitquit");
                assertEquals(202, quit.statusCode(), quit.body());

                Await.until("the listener to stop accepting", () -> refused(port));
                assertEquals(503, statusOrMinusOne(proxy.adminPort(), "/ready"));
                open.getOutputStream().write('b');
                assertEquals('b', open.getInputStream().read(), "the open connection is served during the drain");
                assertTrue(proxy.isAlive(), "the proxy must wait for the open connection");
            }
            assertEquals(0, proxy.waitForExit(Duration.ofSeconds(15)));
            assertTrue(proxy.output().contains("drained"), proxy.output());
        }
    }

    @Test
    void exit_when_idle_waits_for_a_first_connection_then_exits_0_after_the_last_closes() throws Exception {
        String yaml = config("%s", "20s").replace("workers: 1", "workers: 1, exit_when_idle: 300ms");
        try (TcpUpstream echo = TcpUpstream.echo();
             ProxyProcess proxy = ProxyProcess.run(dir, yaml.formatted(echo.address()))) {
            // Before its first connection the application may still be starting: no exit, however
            // long that takes. Observed for three idle periods.
            long readyAt = System.nanoTime();
            Await.until("three idle periods", () -> !proxy.isAlive() || System.nanoTime() - readyAt > 900_000_000L);
            assertTrue(proxy.isAlive(), "no exit before a first connection:\n" + proxy.output());
            try (Socket open = Traffic.connect(proxy.listenerPort("in"))) {
                open.getOutputStream().write('a');
                assertEquals('a', open.getInputStream().read());
                // an open connection, even a quiet one, keeps the proxy up past the idle time
                long openedAt = System.nanoTime();
                Await.until("three idle periods", () -> !proxy.isAlive() || System.nanoTime() - openedAt > 900_000_000L);
                open.getOutputStream().write('b');
                assertEquals('b', open.getInputStream().read());
                assertTrue(proxy.isAlive(), proxy.output());
            }
            assertEquals(0, proxy.waitForExit(Duration.ofSeconds(15)));
            assertTrue(proxy.output().contains("(server.exit_when_idle): stopping"), proxy.output());
        }
    }

    private static HttpResponse<String> post(int port, String path) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(5))
                .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static boolean refused(int port) {
        try (Socket s = new Socket("127.0.0.1", port)) {
            return false;
        } catch (IOException e) {
            return true;
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"io_uring", "epoll", "nio"})
    void each_transport_proxies_and_says_so_in_the_start_log(String transport) throws Exception {
        try (TcpUpstream echo = TcpUpstream.echo();
             ProxyProcess proxy = ProxyProcess.run(dir, config(echo.address(), "1s"), "--transport", transport)) {
            assertTrue(proxy.output().contains("transport " + transport + ","), proxy.output());
            Traffic.EchoResult r = Traffic.echo(proxy.listenerPort("in"), 8L * 1024 * 1024, 3);
            assertTrue(r.exact(), r.toString());
            String metrics = get(proxy.adminPort(), "/stats/prometheus").body();
            assertTrue(metrics.contains("sidecar_listener_received_bytes_total{listener=\"in\"} 8388608.0"), metrics);
            assertTrue(metrics.contains("sidecar_cluster_connections_total{cluster=\"up\"} 1.0"), metrics);
            proxy.terminate();
            assertEquals(0, proxy.waitForExit(Duration.ofSeconds(15)));
        }
    }

    @Test
    void admin_answers_unknown_paths_and_methods_with_4xx() throws Exception {
        try (TcpUpstream echo = TcpUpstream.echo(); ProxyProcess proxy = ProxyProcess.run(dir, config(echo.address(), "1s"))) {
            assertEquals(200, get(proxy.adminPort(), "/healthz").statusCode());
            assertEquals(404, get(proxy.adminPort(), "/nope").statusCode());
            HttpResponse<String> post = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + proxy.adminPort() + "/ready"))
                    .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(405, post.statusCode());
        }
    }

    @Test
    void validate_prints_every_error_and_exits_1() throws Exception {
        Path bad = Files.writeString(dir.resolve("bad.yaml"), """
                listeners:
                  - { name: in, address: 127.0.0.1:70000, cluster: missing, idle_timout: 1s }
                """);
        try (ProxyProcess p = ProxyProcess.start("validate", "-c", bad.toString())) {
            assertEquals(1, p.waitForExit(Duration.ofSeconds(30)));
            String out = p.output();
            assertTrue(out.contains("invalid config (3 errors)"), out);
            assertTrue(out.contains("listeners[0].address: port 70000 is out of range 0..65535"), out);
            assertTrue(out.contains("listeners[0].cluster: no cluster named 'missing' (no clusters are defined)"), out);
            assertTrue(out.contains("listeners[0].idle_timout: unknown field; did you mean 'idle_timeout'?"), out);
        }
    }

    @Test
    void validate_accepts_the_example_and_run_refuses_a_bad_file() throws Exception {
        try (ProxyProcess p = ProxyProcess.start("validate", "-c", Path.of("..", "examples", "sidecar.yaml").toString())) {
            assertEquals(0, p.waitForExit(Duration.ofSeconds(30)));
            assertTrue(p.output().contains("valid (1 listener, 1 cluster)"), p.output());
        }
        Path bad = Files.writeString(dir.resolve("bad.yaml"), "listeners: 3\n");
        try (ProxyProcess p = ProxyProcess.start("run", "-c", bad.toString())) {
            assertEquals(1, p.waitForExit(Duration.ofSeconds(30)));
            assertTrue(p.output().contains("listeners: must be a list, not 3"), p.output());
        }
    }

    @Test
    void run_exits_1_when_its_port_is_taken() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            Path f = Files.writeString(dir.resolve("c.yaml"), """
                    admin: { address: 127.0.0.1:0 }
                    listeners: [{ name: in, address: 127.0.0.1:%d, cluster: up }]
                    clusters: [{ name: up, endpoints: [{ address: 127.0.0.1:9 }] }]
                    """.formatted(taken.getLocalPort()));
            try (ProxyProcess p = ProxyProcess.start("run", "-c", f.toString())) {
                assertEquals(1, p.waitForExit(Duration.ofSeconds(30)));
                assertTrue(p.output().contains("listener in: cannot listen on 127.0.0.1:" + taken.getLocalPort()), p.output());
            }
        }
    }

    /** A client that floods SETTINGS and never reads is closed without a log line of its own (Netty's is at info, with a stack trace). */
    @Test
    void a_control_frame_flood_is_closed_without_a_log_line() throws Exception {
        Path file = Files.writeString(dir.resolve("c.yaml"), """
                admin: { address: 127.0.0.1:0 }
                listeners: [{ name: web, address: 127.0.0.1:0, protocol: http, cluster: up }]
                clusters: [{ name: up, endpoints: [{ address: 127.0.0.1:9 }] }]
                """);
        try (ProxyProcess p = ProxyProcess.start("run", "-c", file.toString())) {
            Await.until("the ready line", () -> p.output().contains("ready"));
            String before = p.output();
            try (dev.sidecar.testkit.RawH2 flood = new dev.sidecar.testkit.RawH2(p.listenerPort("web"), 4096)) {
                assertTrue(dev.sidecar.testkit.H2Attacks.runUntilClosed(flood, dev.sidecar.testkit.H2Attacks::settingsFlood, 200_000,
                        Duration.ofSeconds(10)), "the flood was closed");
            }
            String after = p.output().substring(before.length());
            assertTrue(!after.contains("control frames") && !after.contains("Exception"), "logged:\n" + after);
            p.terminate();
            assertEquals(0, p.waitForExit(Duration.ofSeconds(15)));
        }
    }

    @Test
    void json_logs_are_one_object_per_line() throws Exception {
        Path file = Files.writeString(dir.resolve("c.yaml"), """
                admin: { address: 127.0.0.1:0 }
                listeners: [{ name: in, address: 127.0.0.1:0, cluster: up }]
                clusters: [{ name: up, endpoints: [{ address: 127.0.0.1:9 }] }]
                """);
        try (ProxyProcess p = ProxyProcess.start("run", "-c", file.toString(), "--log-format", "json")) {
            Await.until("the ready line", () -> p.output().contains("\"message\":\"ready\""));
            com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
            for (String line : p.output().split("\n")) {
                com.fasterxml.jackson.databind.JsonNode n = json.readTree(line);
                assertTrue(n.has("time") && n.has("level") && n.has("logger") && n.has("message"), line);
            }
            p.terminate();
            assertEquals(0, p.waitForExit(Duration.ofSeconds(15)));
        }
        try (ProxyProcess p = ProxyProcess.start("run", "-c", file.toString(), "--log-format", "xml")) {
            assertEquals(2, p.waitForExit(Duration.ofSeconds(30)));
            assertTrue(p.output().contains("--log-format: 'xml' is not one of text | json"), p.output());
        }
    }

    @Test
    void usage_errors_exit_2_and_version_exits_0() {
        try (ProxyProcess p = ProxyProcess.start("run")) {
            assertEquals(2, p.waitForExit(Duration.ofSeconds(30)));
            assertTrue(p.output().contains("Missing required option: '--config=FILE'"), p.output());
        }
        try (ProxyProcess p = ProxyProcess.start("frobnicate")) {
            assertEquals(2, p.waitForExit(Duration.ofSeconds(30)));
        }
        try (ProxyProcess p = ProxyProcess.start("version")) {
            assertEquals(0, p.waitForExit(Duration.ofSeconds(30)));
            assertTrue(p.output().contains("netty 4.2."), p.output());
        }
    }

    @Test
    void a_process_that_never_gets_ready_fails_the_helper_loudly() {
        // guards the helper itself: a config error must not look like a hang
        AssertionError e = assertThrows(AssertionError.class, () -> ProxyProcess.run(dir, "listeners: nope\n"));
        assertTrue(e.getMessage().contains("exited with 1"), e.getMessage());
    }
}
