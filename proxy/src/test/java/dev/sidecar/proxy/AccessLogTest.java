package dev.sidecar.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sidecar.testkit.Await;
import dev.sidecar.testkit.HttpUpstream;
import dev.sidecar.testkit.TcpUpstream;
import dev.sidecar.testkit.Traffic;
import java.io.IOException;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AccessLogTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private static List<JsonNode> lines(Path file) {
        try {
            if (!Files.exists(file)) {
                return List.of();
            }
            List<JsonNode> out = new ArrayList<>();
            for (String line : Files.readAllLines(file)) {
                out.add(JSON.readTree(line));
            }
            return out;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void each_connection_gets_one_json_line_with_bytes_endpoint_and_flags() throws Exception {
        Path file = dir.resolve("access.log");
        try (TcpUpstream echo = TcpUpstream.echo();
             Sidecar proxy = Sidecar.start(ConfigLoader.parse("""
                     admin: { address: 127.0.0.1:0 }
                     listeners:
                       - { name: in, address: 127.0.0.1:0, cluster: up, access_log: { path: %s } }
                       - { name: dead, address: 127.0.0.1:0, cluster: none, max_connect_attempts: 1, access_log: { path: %s } }
                     clusters:
                       - { name: up, endpoints: [{ address: %s }] }
                       - { name: none, endpoints: [{ address: 127.0.0.1:%d }] }
                     """.formatted(file, file, echo.address(), TcpUpstream.refusingPort())))) {
            Traffic.EchoResult r = Traffic.echo(proxy.listenerPort("in"), 1000, 1);
            assertTrue(r.exact());
            try (Socket s = Traffic.connect(proxy.listenerPort("dead"))) {
                Await.until("the failed connection to close", () -> Traffic.closedByPeer(s));
            }
            Await.until("two lines", () -> lines(file).size() == 2);
            JsonNode ok = lines(file).stream().filter(n -> n.get("listener").asText().equals("in")).findFirst().orElseThrow();
            assertEquals(1000, ok.get("bytes_received").asInt());
            assertEquals(1000, ok.get("bytes_sent").asInt());
            assertEquals(echo.address(), ok.get("upstream").asText());
            assertEquals("-", ok.get("flags").asText());
            assertTrue(ok.get("downstream").asText().startsWith("127.0.0.1:"));
            JsonNode failed = lines(file).stream().filter(n -> n.get("listener").asText().equals("dead")).findFirst().orElseThrow();
            assertEquals("UF", failed.get("flags").asText());
            assertEquals(0, failed.get("bytes_sent").asInt());
            assertTrue(proxy.scrape().contains("sidecar_access_log_written_total"));
        }
    }

    @Test
    void each_http_request_gets_one_json_line_with_method_path_status_bytes_upstream_and_flags() throws Exception {
        Path file = dir.resolve("http.log");
        try (HttpUpstream up = new HttpUpstream("a");
             Sidecar proxy = Sidecar.start(ConfigLoader.parse("""
                     admin: { address: 127.0.0.1:0 }
                     listeners:
                       - name: web
                         address: 127.0.0.1:0
                         protocol: http
                         access_log: { path: %s }
                         route_config:
                           virtual_hosts:
                             - name: all
                               domains: ["*"]
                               routes:
                                 - { match: { prefix: /app/ }, route: { cluster: app, prefix_rewrite: / } }
                                 - { match: { prefix: /down/ }, route: { cluster: down } }
                     clusters:
                       - { name: app, endpoints: [{ address: %s }] }
                       - { name: down, endpoints: [{ address: 127.0.0.1:%d }] }
                     """.formatted(file, up.address(), TcpUpstream.refusingPort())))) {
            int port = proxy.listenerPort("web");
            String answer = HttpProxyTest.raw(port, "POST /app/echo?q=1 HTTP/1.1\r\nHost: api.local\r\nUser-Agent: probe/1\r\n"
                    + "x-request-id: rid-7\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
            assertTrue(answer.startsWith("HTTP/1.1 200"), answer);
            assertEquals(404, HttpProxyTest.hget(port, "api.local", "/nowhere").statusCode());
            assertEquals(503, HttpProxyTest.hget(port, "api.local", "/down/x").statusCode());
            Await.until("three lines", () -> lines(file).size() == 3);
            List<JsonNode> all = lines(file);
            JsonNode ok = all.stream().filter(n -> n.get("status").asInt() == 200).findFirst().orElseThrow();
            assertEquals("web", ok.get("listener").asText());
            assertEquals("HTTP/1.1", ok.get("protocol").asText());
            assertEquals("POST", ok.get("method").asText());
            assertEquals("api.local", ok.get("authority").asText());
            assertEquals("/app/echo?q=1", ok.get("path").asText(), "the path as the client sent it, before the rewrite");
            assertEquals(5, ok.get("bytes_received").asInt());
            assertEquals(5, ok.get("bytes_sent").asInt());
            assertEquals("app", ok.get("cluster").asText());
            assertEquals(up.address(), ok.get("upstream").asText());
            assertEquals(1, ok.get("attempts").asInt());
            assertEquals("rid-7", ok.get("request_id").asText());
            assertEquals("probe/1", ok.get("user_agent").asText());
            assertEquals("-", ok.get("flags").asText());
            assertTrue(ok.get("downstream").asText().startsWith("127.0.0.1:"));
            assertTrue(ok.get("duration_ms").asDouble() >= 0);
            JsonNode noRoute = all.stream().filter(n -> n.get("status").asInt() == 404).findFirst().orElseThrow();
            assertEquals("NR", noRoute.get("flags").asText());
            assertTrue(noRoute.get("cluster").isNull());
            JsonNode refused = all.stream().filter(n -> n.get("status").asInt() == 503).findFirst().orElseThrow();
            assertEquals("UF", refused.get("flags").asText());
            assertEquals(3, refused.get("attempts").asInt(), "the first try and two connect failovers");
        }
    }

    @Test
    void a_writer_that_cannot_keep_up_drops_lines_instead_of_blocking_traffic() throws Exception {
        // A FIFO nobody reads: the writer thread blocks opening it, so the queue (size 2) fills.
        Path fifo = dir.resolve("stuck.fifo");
        assertEquals(0, new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor());
        try (TcpUpstream echo = TcpUpstream.echo();
             Sidecar proxy = Sidecar.start(ConfigLoader.parse("""
                     admin: { address: 127.0.0.1:0 }
                     listeners: [{ name: in, address: 127.0.0.1:0, cluster: up, access_log: { path: %s, queue_size: 2 } }]
                     clusters: [{ name: up, endpoints: [{ address: %s }] }]
                     """.formatted(fifo, echo.address())))) {
            for (int i = 0; i < 50; i++) {
                try (Socket s = Traffic.connect(proxy.listenerPort("in"))) {
                    s.getOutputStream().write(i);
                    assertEquals(i, s.getInputStream().read(), "traffic is not slowed by the stuck log");
                }
            }
            Await.until("drops to be counted", () -> proxy.scrape().contains("sidecar_access_log_dropped_total{path=\"" + fifo + "\"} 48.0"));
            // A reader unblocks the writer: the two queued lines then arrive.
            java.util.concurrent.CompletableFuture<Long> lines = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                try (var reader = new java.io.BufferedReader(new java.io.InputStreamReader(Files.newInputStream(fifo)))) {
                    return reader.lines().limit(2).count();
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            assertEquals(2L, lines.get(10, java.util.concurrent.TimeUnit.SECONDS));
        }
    }
}
