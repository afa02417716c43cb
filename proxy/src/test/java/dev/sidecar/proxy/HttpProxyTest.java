package dev.sidecar.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sidecar.testkit.Await;
import dev.sidecar.testkit.Closer;
import dev.sidecar.testkit.HttpUpstream;
import dev.sidecar.testkit.TcpUpstream;
import io.netty.channel.Channel;
import io.netty.channel.group.ChannelGroup;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.lang.ref.WeakReference;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** HTTP listeners through the real proxy on real sockets: proxying, translation, routing, resilience. */
class HttpProxyTest {
    private static final HttpClient H1 = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();
    private final Closer closer = new Closer();

    @AfterEach
    void tearDown() throws Exception {
        closer.close();
    }

    private Sidecar start(String yaml) {
        return closer.add(Sidecar.start(ConfigLoader.parse("admin: { address: 127.0.0.1:0 }\n" + yaml)));
    }

    private HttpUpstream upstream(String name) {
        return closer.add(new HttpUpstream(name));
    }

    static HttpResponse<String> get(int port, String path, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(10));
        for (int i = 0; i < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        return H1.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** Sends raw bytes, returns everything the proxy answers until it closes (or 5 s pass). */
    static String raw(int port, String request) throws Exception {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(5000);
            s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
            s.getOutputStream().flush();
            return readAll(s.getInputStream());
        }
    }

    /** Everything until the peer closes, as ISO-8859-1; {@code <timeout>} appended if the socket's read timeout hit first. */
    static String readAll(InputStream in) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buf = new byte[8192];
        try {
            for (int n; (n = in.read(buf)) > 0; ) {
                out.write(buf, 0, n);
            }
        } catch (java.net.SocketTimeoutException e) {
            out.write("<timeout>".getBytes(StandardCharsets.ISO_8859_1));
        }
        return out.toString(StandardCharsets.ISO_8859_1);
    }

    /** A response read off a raw HTTP/1.1 exchange (the JDK client will not send a Host of our choosing). */
    record Resp(int statusCode, Map<String, String> headers, String body) {
        String header(String name) {
            return headers.get(name.toLowerCase());
        }
    }

    static Resp hget(int port, String host, String path, String... headers) throws Exception {
        StringBuilder req = new StringBuilder("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n");
        for (int i = 0; i < headers.length; i += 2) {
            req.append(headers[i]).append(": ").append(headers[i + 1]).append("\r\n");
        }
        String answer = raw(port, req.append("\r\n").toString());
        int end = answer.indexOf("\r\n\r\n");
        String[] lines = answer.substring(0, end).split("\r\n");
        Map<String, String> h = new HashMap<>();
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            h.put(lines[i].substring(0, colon).trim().toLowerCase(), lines[i].substring(colon + 1).trim());
        }
        return new Resp(Integer.parseInt(lines[0].split(" ")[1]), h, answer.substring(end + 4));
    }

    /** An HTTP listener "web" on {@code transport} in front of {@code up}. */
    private Sidecar startOn(String transport, HttpUpstream up) {
        return start("server: { transport: " + transport + " }\n"
                + "listeners: [{ name: web, address: 127.0.0.1:0, protocol: http, cluster: app }]\nclusters:\n"
                + oneCluster("app", up.address()));
    }

    private static String oneCluster(String cluster, String... endpoints) {
        StringBuilder sb = new StringBuilder("  - name: " + cluster + "\n    endpoints:\n");
        for (String e : endpoints) {
            sb.append("      - { address: ").append(e).append(" }\n");
        }
        return sb.toString();
    }

    @Test
    void http1_requests_are_proxied_on_kept_alive_connections_with_forwarding_headers_and_without_hop_by_hop_ones() throws Exception {
        HttpUpstream up = upstream("a");
        Sidecar p = start("""
                listeners: [{ name: web, address: 127.0.0.1:0, protocol: http, cluster: app }]
                clusters:
                """ + oneCluster("app", up.address()));
        int port = p.listenerPort("web");
        for (int i = 0; i < 3; i++) {
            HttpResponse<String> r = get(port, "/hello?x=" + i, "x-request-id", "req-" + i);
            assertEquals(200, r.statusCode());
            assertEquals("a", r.body());
            assertEquals("h1", r.headers().firstValue("x-upstream-protocol").orElseThrow());
        }
        assertEquals(3, up.requestCount());
        assertEquals(1, up.connections(), "the three requests share one pooled upstream connection");
        HttpUpstream.Received first = up.received().get(0);
        assertEquals("/hello?x=0", first.uri());
        assertEquals("127.0.0.1", first.header("x-forwarded-for"));
        assertEquals("http", first.header("x-forwarded-proto"));
        assertEquals("req-0", first.header("x-request-id"));
        assertTrue(first.header("traceparent").matches("00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]"), first.header("traceparent"));

        String answer = raw(port, "GET /hop HTTP/1.1\r\nHost: x\r\nConnection: close, x-secret\r\nx-secret: 1\r\nKeep-Alive: 5\r\n"
                + "Proxy-Connection: keep-alive\r\nTE: trailers, deflate\r\nx-forwarded-for: 10.0.0.1\r\nx-http2-path: /evil\r\n\r\n");
        assertTrue(answer.startsWith("HTTP/1.1 200"), answer);
        assertTrue(answer.toLowerCase().contains("connection: close"), answer);
        HttpUpstream.Received hop = up.received().get(3);
        assertNull(hop.header("x-secret"));
        assertNull(hop.header("keep-alive"));
        assertNull(hop.header("proxy-connection"));
        assertNull(hop.header("x-http2-path"));
        assertEquals("trailers", hop.header("te"));
        assertEquals("10.0.0.1, 127.0.0.1", hop.header("x-forwarded-for"));
        assertNotNull(hop.header("x-request-id"), "created when missing");
    }

    @Test
    void routes_by_domain_header_query_and_path_with_rewrites_redirects_direct_responses_and_header_changes() throws Exception {
        HttpUpstream a = upstream("a");
        HttpUpstream b = upstream("b");
        Sidecar p = start("""
                listeners:
                  - name: web
                    address: 127.0.0.1:0
                    protocol: http
                    route_config:
                      virtual_hosts:
                        - name: api
                          domains: ["api.local", "*.api.local"]
                          response_headers_to_add: [{ header: { key: x-vhost, value: api } }]
                          routes:
                            - match: { prefix: /v2/, headers: [{ name: x-canary, exact: "1" }] }
                              route: { cluster: b }
                            - match: { path: /exact, query_parameters: [{ name: debug, exact: "on" }] }
                              route: { cluster: b }
                            - match: { safe_regex: "/items/[0-9]+" }
                              route: { cluster: b, prefix_rewrite: /things/ }
                            - match: { prefix: /old/ }
                              redirect: { prefix_rewrite: /new/, response_code: 308 }
                            - match: { prefix: /teapot }
                              direct_response: { status: 418, body: "short and stout" }
                            - match: { prefix: /rewrite/ }
                              route: { cluster: b, prefix_rewrite: /r/, host_rewrite: internal.b }
                              request_headers_to_add: [{ header: { key: x-added, value: "yes" } }]
                              request_headers_to_remove: [x-drop]
                              response_headers_to_remove: [x-upstream-protocol]
                            - match: { prefix: / }
                              route: { cluster: a }
                        - name: other
                          domains: ["other.*"]
                          routes: [{ match: { prefix: / }, route: { cluster: b } }]
                clusters:
                """ + oneCluster("a", a.address()) + oneCluster("b", b.address()));
        int port = p.listenerPort("web");
        assertEquals("b", hget(port, "api.local", "/v2/x", "x-canary", "1").body());
        assertEquals("a", hget(port, "api.local", "/v2/x", "x-canary", "2").body());
        assertEquals("a", hget(port, "api.local", "/v2/x").body());
        assertEquals("b", hget(port, "api.local", "/exact?debug=on").body());
        assertEquals("a", hget(port, "api.local", "/exact?debug=off").body());
        assertEquals("a", hget(port, "api.local", "/exact/more?debug=on").body());
        assertEquals("b", hget(port, "other.example:8080", "/x").body());
        assertEquals("a", hget(port, "eu.api.local", "/x").body());
        assertEquals(404, hget(port, "unknown.example", "/x").statusCode(), "no virtual host matches and none is *");

        Resp items = hget(port, "api.local", "/items/42");
        assertEquals("b", items.body());
        assertEquals("api", items.header("x-vhost"));
        Resp redirect = hget(port, "api.local:9000", "/old/page?q=1");
        assertEquals(308, redirect.statusCode());
        assertEquals("http://api.local:9000/new/page?q=1", redirect.header("location"));
        Resp teapot = hget(port, "api.local", "/teapot");
        assertEquals(418, teapot.statusCode());
        assertEquals("short and stout\n", teapot.body());

        Resp rw = hget(port, "api.local", "/rewrite/deep/path?k=v", "x-drop", "1");
        assertNull(rw.header("x-upstream-protocol"), "removed from the response");
        HttpUpstream.Received seen = b.received().get(b.received().size() - 1);
        assertEquals("/r/deep/path?k=v", seen.uri());
        assertEquals("internal.b", seen.header("host"));
        assertEquals("yes", seen.header("x-added"));
        assertNull(seen.header("x-drop"));
    }

    @Test
    void weighted_clusters_hold_their_split_over_ten_thousand_requests() throws Exception {
        HttpUpstream a = upstream("a");
        HttpUpstream b = upstream("b");
        Sidecar p = start("""
                listeners:
                  - name: web
                    address: 127.0.0.1:0
                    protocol: http
                    route_config:
                      virtual_hosts:
                        - name: all
                          domains: ["*"]
                          routes:
                            - match: { prefix: / }
                              route: { weighted_clusters: [{ name: a, weight: 90 }, { name: b, weight: 10 }] }
                clusters:
                """ + oneCluster("a", a.address()) + oneCluster("b", b.address()));
        int port = p.listenerPort("web");
        int n = 10_000;
        List<CompletableFuture<HttpResponse<Void>>> batch = new java.util.ArrayList<>();
        for (int i = 0; i < n; i++) {
            batch.add(H1.sendAsync(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/w")).build(),
                    HttpResponse.BodyHandlers.discarding()));
            if (batch.size() == 32) {
                batch.forEach(CompletableFuture::join);
                batch.clear();
            }
        }
        batch.forEach(CompletableFuture::join);
        double shareB = b.requestCount() / (double) n;
        assertEquals(n, a.requestCount() + b.requestCount());
        assertTrue(Math.abs(shareB - 0.10) <= 0.03 * 0.10 * 10, "b got " + shareB); // within 3 points of 10 %
    }

    @Test
    void http1_client_to_h2c_upstream_and_back_carries_bodies_and_trailers() throws Exception {
        HttpUpstream up = upstream("h2");
        Sidecar p = start("""
                server: { workers: 1 }   # one event loop, so one pool: the test counts its connections
                listeners: [{ name: web, address: 127.0.0.1:0, protocol: http, cluster: app }]
                clusters:
                  - name: app
                    upstream_protocol: h2c
                    endpoints: [{ address: %s }]
                """.formatted(up.address()));
        int port = p.listenerPort("web");
        HttpResponse<String> r = H1.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/echo"))
                .POST(HttpRequest.BodyPublishers.ofString("x".repeat(100_000))).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode());
        assertEquals(100_000, r.body().length());
        assertEquals("h2", r.headers().firstValue("x-upstream-protocol").orElseThrow());
        String trailers = raw(port, "GET /trailers HTTP/1.1\r\nHost: x\r\nTE: trailers\r\nConnection: close\r\n\r\n");
        assertTrue(trailers.contains("transfer-encoding: chunked"), trailers);
        assertTrue(trailers.contains("x-trailer: done"), trailers);
        for (int i = 0; i < 20; i++) {
            assertEquals(200, get(port, "/n" + i).statusCode());
        }
        assertEquals(1, up.connections(), "requests share one multiplexed connection");
    }

    @Test
    void pooled_upstream_connections_close_after_the_pool_idle_timeout_and_new_ones_open_after() throws Exception {
        HttpUpstream h1 = upstream("h1");
        HttpUpstream h2 = upstream("h2");
        Sidecar p = start("""
                server: { workers: 1 }
                listeners:
                  - name: web
                    address: 127.0.0.1:0
                    protocol: http
                    route_config:
                      virtual_hosts:
                        - name: all
                          domains: ["*"]
                          routes:
                            - { match: { prefix: /h2 }, route: { cluster: multiplexed } }
                            - { match: { prefix: / }, route: { cluster: pooled } }
                clusters:
                  - name: pooled
                    http_pool: { idle_timeout: 400ms }
                    endpoints: [{ address: %s }]
                  - name: multiplexed
                    upstream_protocol: h2c
                    http_pool: { idle_timeout: 400ms }
                    endpoints: [{ address: %s }]
                """.formatted(h1.address(), h2.address()));
        int port = p.listenerPort("web");
        for (int round = 1; round <= 2; round++) {
            // several requests at once, so the pool holds several idle connections that expire together
            List<CompletableFuture<HttpResponse<String>>> batch = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                batch.add(H1.sendAsync(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/r" + i)).build(),
                        HttpResponse.BodyHandlers.ofString()));
            }
            batch.forEach(f -> assertEquals(200, f.join().statusCode()));
            assertEquals(200, get(port, "/h2/x").statusCode());
            assertTrue(h1.openConnections() >= 1 && h2.openConnections() == 1);
            Await.until("idle HTTP/1.1 connections closed", () -> h1.openConnections() == 0);
            Await.until("the idle HTTP/2 connection closed", () -> h2.openConnections() == 0);
            assertEquals(0, p.clusters().get("pooled").poolIdle(), "round " + round);
        }
        assertEquals(2, h2.connections(), "one HTTP/2 connection per round");
    }

    @Test
    void a_keep_alive_request_gets_its_whole_route_timeout_after_an_earlier_request_armed_the_timer() throws Exception {
        HttpUpstream up = upstream("up");
        Sidecar p = start("""
                server: { workers: 1 }
                listeners:
                  - name: web
                    address: 127.0.0.1:0
                    protocol: http
                    route_config:
                      virtual_hosts:
                        - { name: all, domains: ["*"], routes: [{ match: { prefix: / }, route: { cluster: app, timeout: 600ms } }] }
                clusters: [{ name: app, endpoints: [{ address: %s }] }]
                """.formatted(up.address()));
        int port = p.listenerPort("web");
        try (java.net.Socket s = new java.net.Socket("127.0.0.1", port)) {
            s.setSoTimeout(10_000);
            java.io.InputStream in = s.getInputStream();
            // the first request leaves the connection's timer set for 600 ms after it began
            s.getOutputStream().write("GET /delay/300 HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            assertTrue(readHead(in).startsWith("HTTP/1.1 200"));
            // the second starts about 300 ms in: that timer fires half-way through its 600 ms
            long start = System.nanoTime();
            s.getOutputStream().write("GET /delay/5000 HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            String second = readHead(in);
            long elapsedMs = (System.nanoTime() - start) / 1_000_000;
            assertTrue(second.startsWith("HTTP/1.1 504"), second);
            assertTrue(elapsedMs >= 600, "timed out after " + elapsedMs + " ms, before its own 600 ms");
        }
        assertEquals(1, p.httpListenerStats("web").accepted(), "both requests on one connection");
    }

    @Test
    void http2_streams_each_get_their_whole_route_timeout_from_the_connections_one_timer() throws Exception {
        HttpUpstream up = upstream("up");
        Sidecar p = start("""
                server: { workers: 1 }
                listeners:
                  - name: web
                    address: 127.0.0.1:0
                    protocol: http
                    route_config:
                      virtual_hosts:
                        - name: all
                          domains: ["*"]
                          routes:
                            - { match: { prefix: /delay/4000 }, route: { cluster: app, timeout: 200ms } }
                            - { match: { prefix: / }, route: { cluster: app, timeout: 1500ms } }
                clusters: [{ name: app, endpoints: [{ address: %s }] }]
                """.formatted(up.address()));
        Duration wait = Duration.ofSeconds(10);
        try (dev.sidecar.testkit.RawH2 c = new dev.sidecar.testkit.RawH2(p.listenerPort("web"))) {
            // stream 1 leaves the connection's timer due 1,500 ms after it began
            c.get(1, "/delay/100");
            assertEquals(200, c.awaitStatus(1, wait));
            // stream 3 starts about 100 ms later: that timer comes due before stream 3's own 1,500 ms
            long start = System.nanoTime();
            c.get(3, "/delay/5000");
            // stream 5 needs the timer sooner than it is due: it is brought forward
            c.get(5, "/delay/4000");
            assertEquals(504, c.awaitStatus(5, wait));
            long fifth = (System.nanoTime() - start) / 1_000_000;
            assertTrue(fifth >= 200 && fifth < 1_000, "stream 5 timed out after " + fifth + " ms, not its 200 ms");
            assertEquals(504, c.awaitStatus(3, wait));
            long third = (System.nanoTime() - start) / 1_000_000;
            assertTrue(third >= 1_500, "stream 3 timed out after " + third + " ms, before its own 1,500 ms");
        }
        assertEquals(2, p.httpListenerStats("web").timeouts());
    }

    @Test
    void an_http2_request_body_read_in_parts_before_its_upstream_connects_goes_up_whole_and_in_order() throws Exception {
        HttpUpstream up = upstream("up");
        Sidecar p = start("""
                listeners: [{ name: web, address: 127.0.0.1:0, protocol: http, cluster: app }]
                clusters:
                """ + oneCluster("app", up.address()));
        Duration wait = Duration.ofSeconds(10);
        try (dev.sidecar.testkit.RawH2 c = new dev.sidecar.testkit.RawH2(p.listenerPort("web"))) {
            for (int stream = 1; stream <= 3; stream += 2) {
                // head and body in one write: the parts wait for the exchange, then for the upstream
                c.headers(stream, dev.sidecar.testkit.RawH2.END_HEADERS, c.requestBlock("POST", "/echo"));
                String[] parts = {"first-", "second-", "third"};
                for (int i = 0; i < parts.length; i++) {
                    c.frame(dev.sidecar.testkit.RawH2.DATA, i == parts.length - 1 ? dev.sidecar.testkit.RawH2.END_STREAM : 0,
                            stream, (parts[i] + stream).getBytes(StandardCharsets.US_ASCII));
                }
                c.flush();
                assertEquals(200, c.awaitStatus(stream, wait));
                StringBuilder body = new StringBuilder();
                int id = stream;
                for (dev.sidecar.testkit.RawH2.Frame f; (f = c.await(x -> x.type() == dev.sidecar.testkit.RawH2.DATA && x.stream() == id, wait)) != null; ) {
                    body.append(new String(f.payload(), StandardCharsets.US_ASCII));
                    if ((f.flags() & dev.sidecar.testkit.RawH2.END_STREAM) != 0) {
                        break;
                    }
                }
                assertEquals("first-" + stream + "second-" + stream + "third" + stream, body.toString());
            }
        }
    }

    /** Reads a response head and its Content-Length body; returns the head. */
    private static String readHead(java.io.InputStream in) throws java.io.IOException {
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                throw new java.io.IOException("closed after " + head);
            }
            head.append((char) b);
        }
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?i)content-length: *(\\d+)").matcher(head);
        if (m.find()) {
            in.readNBytes(Integer.parseInt(m.group(1)));
        }
        return head.toString();
    }

    @Test
    void retries_go_to_another_endpoint_and_timeouts_answer_504() throws Exception {
        HttpUpstream good = upstream("good");
        Sidecar p = start("""
                listeners:
                  - name: web
                    address: 127.0.0.1:0
                    protocol: http
                    route_config:
                      virtual_hosts:
                        - name: all
                          domains: ["*"]
                          routes:
                            - match: { prefix: /slow }
                              route: { cluster: only, timeout: 300ms, prefix_rewrite: / }
                            - match: { prefix: /again/ }
                              route:
                                cluster: only
                                prefix_rewrite: /
                                retry_policy: { retry_on: "5xx", num_retries: 2, retry_back_off: { base_interval: 1ms } }
                            - match: { prefix: /try }
                              route:
                                cluster: only
                                prefix_rewrite: /
                                retry_policy: { retry_on: "5xx", num_retries: 1, per_try_timeout: 200ms }
                            - match: { prefix: / }
                              route:
                                cluster: app
                                retry_policy: { retry_on: "connect-failure,5xx", num_retries: 2 }
                clusters:
                  - name: app
                    lb_policy: round_robin
                    endpoints: [{ address: %s }, { address: 127.0.0.1:%d }]
                  - name: only
                    endpoints: [{ address: %s }]
                """.formatted(good.address(), TcpUpstream.refusingPort(), good.address()));
        int port = p.listenerPort("web");
        for (int i = 0; i < 10; i++) {
            assertEquals(200, get(port, "/ok").statusCode(), "a refused connect is retried on the other endpoint");
        }
        assertTrue(p.clusters().get("app").connectFailures() >= 4, "half the first picks hit the refusing endpoint and failed over");
        long seen = good.requestCount();
        HttpResponse<String> unavailable = get(port, "/again/status/503");
        assertEquals(503, unavailable.statusCode(), "the last attempt's answer");
        assertEquals(seen + 3, good.requestCount(), "one try and two retries");
        assertEquals(2, p.httpListenerStats("web").retries());
        HttpResponse<String> slow = get(port, "/slowdelay/3000");
        assertEquals(504, slow.statusCode());
        long before = good.requestCount();
        HttpResponse<String> perTry = get(port, "/trydelay/1000");
        assertEquals(504, perTry.statusCode(), "per-try timeout, then the retry times out too (or finds no endpoint)");
        assertTrue(p.httpListenerStats("web").timeouts() >= 2);
        assertTrue(good.requestCount() > before);
    }

    @Test
    void circuit_breaker_sheds_with_503_and_rate_limit_answers_429() throws Exception {
        HttpUpstream up = upstream("a");
        Sidecar p = start("""
                listeners:
                  - name: web
                    address: 127.0.0.1:0
                    protocol: http
                    route_config:
                      virtual_hosts:
                        - name: all
                          domains: ["*"]
                          routes:
                            - match: { prefix: /limited }
                              route: { cluster: app }
                              rate_limit: { max_tokens: 2, tokens_per_fill: 1, fill_interval: 1h }
                            - match: { prefix: / }
                              route: { cluster: app }
                clusters:
                  - name: app
                    circuit_breakers: { max_requests: 1 }
                    endpoints: [{ address: %s }]
                """.formatted(up.address()));
        int port = p.listenerPort("web");
        assertEquals(200, get(port, "/limited").statusCode());
        assertEquals(200, get(port, "/limited").statusCode());
        assertEquals(429, get(port, "/limited").statusCode());

        CompletableFuture<HttpResponse<String>> slow = H1.sendAsync(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/delay/1500")).build(), HttpResponse.BodyHandlers.ofString());
        Await.until("the slow request is in flight", () -> p.clusters().get("app").activeRequests() == 1);
        HttpResponse<String> shed = get(port, "/x");
        assertEquals(503, shed.statusCode());
        assertEquals("true", shed.headers().firstValue("x-sidecar-overloaded").orElseThrow());
        assertEquals(200, slow.get().statusCode());
        assertEquals(1, p.httpListenerStats("web").shed());
    }

    @Test
    void a_stream_with_no_bytes_either_way_for_the_stream_idle_timeout_ends() throws Exception {
        HttpUpstream up = upstream("a");
        Sidecar p = start("""
                listeners:
                  - name: web
                    address: 127.0.0.1:0
                    protocol: http
                    cluster: app
                    http: { stream_idle_timeout: 300ms, route_timeout: 0s }
                clusters:
                """ + oneCluster("app", up.address()));
        int port = p.listenerPort("web");
        assertEquals(504, get(port, "/delay/3000").statusCode());
        assertEquals(200, get(port, "/delay/50").statusCode());
        assertEquals(1, p.httpListenerStats("web").timeouts());
    }

    /** Each answered 400 (and closed), and the upstream never sees a request. */
    @Test
    void request_smuggling_shapes_are_refused_and_never_forwarded() throws Exception {
        HttpUpstream up = upstream("a");
        Sidecar p = start("""
                listeners: [{ name: web, address: 127.0.0.1:0, protocol: http, cluster: app }]
                clusters:
                """ + oneCluster("app", up.address()));
        int port = p.listenerPort("web");
        Map<String, String> cases = new HashMap<>();
        cases.put("CL and TE", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
        cases.put("differing CL", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde");
        cases.put("duplicate CL", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nabcd");
        cases.put("bad chunk size", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n");
        cases.put("obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nx-a: 1\r\n continued\r\n\r\n");
        cases.put("space before colon", "GET / HTTP/1.1\r\nHost: x\r\nx-a : 1\r\n\r\n");
        cases.put("bare LF", "GET / HTTP/1.1\nHost: x\n\n");
        cases.put("TE not chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked, identity\r\n\r\n0\r\n\r\n");
        cases.put("two TE headers", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n");
        cases.put("no Host", "GET / HTTP/1.1\r\n\r\n");
        cases.put("two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
        cases.put("signed CL", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +4\r\n\r\nabcd");
        for (Map.Entry<String, String> c : cases.entrySet()) {
            String answer = raw(port, c.getValue());
            assertTrue(answer.startsWith("HTTP/1.1 400"), c.getKey() + ": " + answer);
            assertTrue(!answer.endsWith("<timeout>"), c.getKey() + ": the connection must be closed");
        }
        assertEquals(0, up.requestCount(), "nothing reached the upstream: " + up.received());
        assertTrue(raw(port, "GET /" + "a".repeat(9000) + " HTTP/1.1\r\nHost: x\r\n\r\n").startsWith("HTTP/1.1 414"));
        StringBuilder many = new StringBuilder("GET / HTTP/1.1\r\nHost: x\r\n");
        for (int i = 0; i < 101; i++) {
            many.append("x-h").append(i).append(": v\r\n");
        }
        assertTrue(raw(port, many + "\r\n").startsWith("HTTP/1.1 431"));
        assertTrue(raw(port, "GET / HTTP/1.1\r\nHost: x\r\nx-big: " + "v".repeat(70_000) + "\r\n\r\n").startsWith("HTTP/1.1 431"));
        assertEquals(0, up.requestCount());
    }

    @Test
    void hash_policies_keep_a_key_on_one_endpoint_and_a_generated_cookie_makes_sessions_sticky() throws Exception {
        HttpUpstream a = upstream("a");
        HttpUpstream b = upstream("b");
        HttpUpstream c = upstream("c");
        Sidecar p = start("""
                listeners:
                  - name: web
                    address: 127.0.0.1:0
                    protocol: http
                    route_config:
                      virtual_hosts:
                        - name: all
                          domains: ["*"]
                          routes:
                            - match: { prefix: /user/ }
                              route: { cluster: app, hash_policy: [{ header: x-user }] }
                            - match: { prefix: / }
                              route: { cluster: app, hash_policy: [{ cookie: { name: sticky, ttl: 3600s, path: / } }] }
                clusters:
                  - { name: app, lb_policy: ring_hash, endpoints: [{ address: %s }, { address: %s }, { address: %s }] }
                """.formatted(a.address(), b.address(), c.address()));
        int port = p.listenerPort("web");
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (int user = 0; user < 30; user++) {
            String first = get(port, "/user/x", "x-user", "u" + user).body();
            for (int i = 0; i < 3; i++) {
                assertEquals(first, get(port, "/user/x", "x-user", "u" + user).body(), "one user, one endpoint");
            }
            seen.add(first);
        }
        assertEquals(3, seen.size(), "different users spread over the endpoints");

        Resp fresh = hget(port, "x", "/session");
        String setCookie = fresh.header("set-cookie");
        assertNotNull(setCookie, "a client without the cookie is given one");
        assertTrue(setCookie.matches("sticky=[0-9a-f]+; Max-Age=3600; Path=/; HttpOnly"), setCookie);
        String cookie = setCookie.substring(0, setCookie.indexOf(';'));
        for (int i = 0; i < 20; i++) {
            Resp again = hget(port, "x", "/session", "Cookie", cookie);
            assertEquals(fresh.body(), again.body(), "the cookie keeps the session on its endpoint");
            assertNull(again.header("set-cookie"), "a client with the cookie is not given another");
        }
    }

    @Test
    void requests_waiting_for_an_upstream_connection_beyond_max_pending_requests_are_shed() throws Exception {
        TcpUpstream hole = closer.add(TcpUpstream.blackHole());
        Sidecar p = start("""
                listeners: [{ name: web, address: 127.0.0.1:0, protocol: http, cluster: app }]
                clusters:
                  - name: app
                    connect_timeout: 1s
                    circuit_breakers: { max_pending_requests: 2 }
                    endpoints: [{ address: %s }]
                """.formatted(hole.address()));
        int port = p.listenerPort("web");
        List<CompletableFuture<HttpResponse<String>>> waiting = List.of(
                H1.sendAsync(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/1")).build(), HttpResponse.BodyHandlers.ofString()),
                H1.sendAsync(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/2")).build(), HttpResponse.BodyHandlers.ofString()));
        Await.until("two requests wait for a connection", () -> p.clusters().get("app").pendingRequests() == 2);
        HttpResponse<String> shed = get(port, "/3");
        assertEquals(503, shed.statusCode());
        assertEquals("true", shed.headers().firstValue("x-sidecar-overloaded").orElseThrow());
        assertTrue(shed.body().contains("max_pending_requests"), shed.body());
        for (CompletableFuture<HttpResponse<String>> w : waiting) {
            assertEquals(503, w.get(20, java.util.concurrent.TimeUnit.SECONDS).statusCode(), "the connect times out");
        }
        assertEquals(0, p.clusters().get("app").pendingRequests());
    }

    @Test
    void drain_lets_requests_in_flight_finish_with_connection_close_on_http1_and_goaway_on_http2() throws Exception {
        HttpUpstream up = upstream("a");
        Sidecar p = start("""
                listeners: [{ name: web, address: 127.0.0.1:0, protocol: http, cluster: app }]
                clusters:
                """ + oneCluster("app", up.address()));
        int port = p.listenerPort("web");
        try (Socket h1 = new Socket("127.0.0.1", port); dev.sidecar.testkit.RawH2 h2 = new dev.sidecar.testkit.RawH2(port)) {
            h1.setSoTimeout(10_000);
            h1.getOutputStream().write("GET /delay/800 HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
            h2.get(1, "/delay/800");
            Await.until("both requests reach the upstream", () -> up.requestCount() == 2);

            CompletableFuture<Integer> drain = CompletableFuture.supplyAsync(() -> p.drain(Duration.ofSeconds(4)));
            assertTrue(h2.awaitClosed(Duration.ofSeconds(10)), "the HTTP/2 connection closes once its stream is done");
            List<dev.sidecar.testkit.RawH2.Frame> frames = h2.received();
            dev.sidecar.testkit.RawH2.Frame goAway = frames.stream().filter(f -> f.type() == dev.sidecar.testkit.RawH2.GOAWAY).findFirst().orElse(null);
            assertNotNull(goAway, "HTTP/2 clients are told to go away before the close");
            assertEquals(0, goAway.errorCode(), "NO_ERROR");
            dev.sidecar.testkit.RawH2.Frame headers = frames.stream().filter(f -> f.type() == dev.sidecar.testkit.RawH2.HEADERS && f.stream() == 1)
                    .findFirst().orElseThrow();
            assertEquals(200, h2.status(headers), "the stream in flight finishes");

            InputStream in = h1.getInputStream();
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            byte[] buf = new byte[4096];
            for (int n; (n = in.read(buf)) > 0; ) {
                out.write(buf, 0, n);
            }
            String answer = out.toString(StandardCharsets.ISO_8859_1);
            assertTrue(answer.startsWith("HTTP/1.1 200"), "the HTTP/1.1 request in flight finishes: " + answer);
            assertTrue(answer.toLowerCase().contains("connection: close"), answer);
            assertEquals(0, drain.get(15, java.util.concurrent.TimeUnit.SECONDS), "no connection had to be cut");
        }
    }

    @Test
    void retries_in_flight_stay_within_the_cluster_budget() throws Exception {
        HttpUpstream up = upstream("a");
        Sidecar p = start("""
                listeners:
                  - name: web
                    address: 127.0.0.1:0
                    protocol: http
                    route_config:
                      virtual_hosts:
                        - name: all
                          domains: ["*"]
                          routes:
                            - match: { prefix: / }
                              route:
                                cluster: app
                                retry_policy: { retry_on: "5xx", num_retries: 1, retry_back_off: { base_interval: 1ms } }
                clusters:
                  - name: app
                    circuit_breakers: { max_retries: 1 }
                    endpoints: [{ address: %s }]
                """.formatted(up.address()));
        int port = p.listenerPort("web");
        List<CompletableFuture<HttpResponse<String>>> calls = new java.util.ArrayList<>();
        for (int i = 0; i < 8; i++) {
            calls.add(H1.sendAsync(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/delay/400?status=503")).build(),
                    HttpResponse.BodyHandlers.ofString()));
        }
        for (CompletableFuture<HttpResponse<String>> c : calls) {
            assertEquals(503, c.get(20, java.util.concurrent.TimeUnit.SECONDS).statusCode());
        }
        assertEquals(1, p.httpListenerStats("web").retries(), "eight failures at once, one retry in flight allowed");
        assertEquals(9, up.requestCount());
        assertTrue(p.clusters().get("app").overflows() >= 7, "the retries refused count as overflows");
    }

    /** True when the peer closes {@code s} within {@code millis} (a read returns EOF or fails); false when the read times out. */
    private static boolean closedWithin(Socket s, int millis) throws Exception {
        s.setSoTimeout(millis);
        try {
            return s.getInputStream().read() < 0;
        } catch (java.net.SocketTimeoutException e) {
            return false;
        } catch (java.io.IOException e) {
            return true;
        }
    }

    @Test
    void clients_that_do_not_finish_their_headers_in_time_are_closed_even_trickling_and_between_keep_alive_requests() throws Exception {
        HttpUpstream up = upstream("a");
        Sidecar p = start("""
                listeners: [{ name: web, address: 127.0.0.1:0, protocol: http, cluster: app, http: { request_headers_timeout: 500ms } }]
                clusters:
                """ + oneCluster("app", up.address()));
        int port = p.listenerPort("web");
        // slowloris: a byte of headers every 100 ms, never the end of them
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(10_000);
            long start = System.nanoTime();
            java.io.OutputStream out = s.getOutputStream();
            out.write("GET / HTTP/1.1\r\nHost: x\r\n".getBytes(StandardCharsets.ISO_8859_1));
            boolean closed = false;
            for (int i = 0; i < 100 && !closed; i++) {
                try {
                    out.write('x');
                    out.flush();
                    closed = closedWithin(s, 100); // the trickle's pace: a byte per 100 ms unless the proxy closes first
                } catch (java.io.IOException e) {
                    closed = true;
                }
            }
            assertTrue(closed, "the trickling client is closed");
            assertTrue(System.nanoTime() - start < Duration.ofSeconds(5).toNanos(), "within the timeout, not when it gives up");
        }
        assertEquals(0, up.requestCount(), "nothing half-received was forwarded");
        // keep-alive: a request is served, then the quiet connection is closed after the timeout
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write("GET /one HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
            String answer = readAll(s.getInputStream()); // the response, then the end when the proxy closes
            assertTrue(answer.startsWith("HTTP/1.1 200"), answer);
            assertTrue(!answer.contains("<timeout>"), "closed by the proxy: " + answer);
        }
        assertEquals(1, up.requestCount());
    }

    @Test
    void an_upstream_response_head_beyond_64_kib_is_a_502_not_a_crash() throws Exception {
        TcpUpstream huge = closer.add(TcpUpstream.custom("huge-head", (socket, u) -> {
            socket.getInputStream().read(new byte[4096]);
            String head = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n" + ("X-Big: " + "a".repeat(1000) + "\r\n").repeat(80) + "\r\nok";
            socket.getOutputStream().write(head.getBytes(StandardCharsets.ISO_8859_1));
            socket.getOutputStream().flush();
        }));
        HttpUpstream fine = upstream("fine");
        Sidecar p = start("""
                listeners:
                  - name: web
                    address: 127.0.0.1:0
                    protocol: http
                    route_config:
                      virtual_hosts:
                        - name: all
                          domains: ["*"]
                          routes:
                            - { match: { prefix: /huge }, route: { cluster: huge } }
                            - { match: { prefix: / }, route: { cluster: fine } }
                clusters:
                """ + oneCluster("huge", huge.address()) + oneCluster("fine", fine.address()));
        int port = p.listenerPort("web");
        int status = get(port, "/huge").statusCode();
        assertTrue(status == 502 || status == 503, "a gateway error, got " + status);
        assertEquals(200, get(port, "/ok").statusCode(), "the proxy goes on serving");
    }

    @Test
    void a_closed_client_connection_is_not_held_until_the_listener_idle_timeout() throws Exception {
        HttpUpstream up = upstream("a");
        Sidecar p = start("""
                listeners: [{ name: web, address: 127.0.0.1:0, protocol: http, cluster: app, idle_timeout: 1h }]
                clusters:
                """ + oneCluster("app", up.address()));
        int port = p.listenerPort("web");
        WeakReference<Channel> proxySide;
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write("GET /a HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
            byte[] head = new byte[12];
            assertEquals(12, s.getInputStream().readNBytes(head, 0, 12));
            assertEquals("HTTP/1.1 200", new String(head, StandardCharsets.ISO_8859_1));
            ChannelGroup open = p.httpConnections("web");
            assertEquals(1, open.size());
            proxySide = new WeakReference<>(open.iterator().next());
        }
        Await.until("the proxy's side of the connection closed", () -> p.activeConnections() == 0);
        // a pending timer that still holds the connection would keep it reachable for the hour
        Await.until("the closed connection collected", () -> {
            System.gc();
            return proxySide.get() == null;
        });
    }

    /**
     * Requests on one kept-alive connection, bodies arriving in parts, on both transports: epoll
     * flushes an upstream request once the event loop is done with its turn's I/O rather than at
     * once (io_uring submits the turn's writes together anyway), and every part still goes up,
     * whole and in order, on the one pooled upstream connection.
     */
    @ParameterizedTest
    @ValueSource(strings = {"epoll", "io_uring"})
    void kept_alive_requests_with_bodies_in_parts_reach_the_upstream_whole_on_either_transport(String transport) throws Exception {
        HttpUpstream up = upstream("a");
        Sidecar p = startOn(transport, up);
        try (Socket s = new Socket("127.0.0.1", p.listenerPort("web"))) {
            s.setSoTimeout(10_000);
            java.io.OutputStream out = s.getOutputStream();
            InputStream in = new java.io.BufferedInputStream(s.getInputStream());
            out.write("GET /one HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
            assertEquals("200 a", readResponse(in));
            out.write("POST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello".getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            out.write("world".getBytes(StandardCharsets.ISO_8859_1));
            assertEquals("200 a", readResponse(in));
            out.write("POST /three HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n".getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            out.write("4\r\ndefg\r\n0\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
            assertEquals("200 a", readResponse(in));
        }
        assertEquals(List.of("/one 0", "/two 10", "/three 7"),
                up.received().stream().map(r -> r.uri() + " " + r.bodyLength()).toList());
        assertEquals(1, up.connections(), "the three requests share one pooled upstream connection");
    }

    /**
     * A request pipelined behind another, its body in the same read: it waits, decoded, until
     * the first is answered, then takes the upstream connection the first gave back, and its
     * body, fed from the wait, must go up as well as its head, though the client sends nothing
     * more to prompt a flush.
     */
    @ParameterizedTest
    @ValueSource(strings = {"epoll", "io_uring"})
    void a_pipelined_request_with_its_body_behind_another_reaches_the_upstream_whole(String transport) throws Exception {
        HttpUpstream up = upstream("a");
        Sidecar p = startOn(transport, up);
        try (Socket s = new Socket("127.0.0.1", p.listenerPort("web"))) {
            s.setSoTimeout(5_000);
            java.io.OutputStream out = s.getOutputStream();
            InputStream in = new java.io.BufferedInputStream(s.getInputStream());
            // a pooled upstream connection first, so the pipelined request finds one idle
            out.write("GET /warm HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
            assertEquals("200 a", readResponse(in));
            out.write(("GET /one HTTP/1.1\r\nHost: x\r\n\r\n"
                    + "POST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello").getBytes(StandardCharsets.ISO_8859_1));
            assertEquals("200 a", readResponse(in));
            assertEquals("200 a", readResponse(in));
        }
        assertEquals(List.of("/warm 0", "/one 0", "/two 5"),
                up.received().stream().map(r -> r.uri() + " " + r.bodyLength()).toList());
    }

    /**
     * Only a connection's first request may upgrade it to h2c. One pipelined behind another is
     * answered as HTTP/1.1, in order (switching there would put a 101 ahead of the earlier
     * request's response and leave that response to a pipeline that no longer speaks HTTP/1.1).
     * A first request asking for the upgrade with an expectation the proxy does not meet gets
     * 417 and the connection closes behind it, as after any refusal: the body it announced is
     * never read as the next request.
     */
    @Test
    void an_h2c_upgrade_is_taken_only_on_the_first_request_and_an_unmet_expectation_on_it_is_refused_and_closed() throws Exception {
        HttpUpstream up = upstream("a");
        Sidecar p = start("""
                listeners: [{ name: web, address: 127.0.0.1:0, protocol: http, cluster: app }]
                clusters:
                """ + oneCluster("app", up.address()));
        String upgrade = "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABk\r\nConnection: Upgrade, HTTP2-Settings\r\n";
        try (Socket s = new Socket("127.0.0.1", p.listenerPort("web"))) {
            s.setSoTimeout(5_000);
            InputStream in = new java.io.BufferedInputStream(s.getInputStream());
            s.getOutputStream().write(("GET /one HTTP/1.1\r\nHost: x\r\n\r\n"
                    + "GET /two HTTP/1.1\r\nHost: x\r\n" + upgrade + "\r\n"
                    + "GET /three HTTP/1.1\r\nHost: x\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
            assertEquals("200 a", readResponse(in));
            assertEquals("200 a", readResponse(in));
            assertEquals("200 a", readResponse(in));
        }
        String body = "GET /five HTTP/1.1\r\nHost: x\r\n\r\n";
        String refused = raw(p.listenerPort("web"), "POST /four HTTP/1.1\r\nHost: x\r\n" + upgrade
                + "Expect: 200-ok\r\nContent-Length: " + body.length() + "\r\n\r\n" + body + body);
        assertTrue(refused.startsWith("HTTP/1.1 417"), refused);
        assertTrue(!refused.endsWith("<timeout>"), "the connection must be closed: " + refused);
        assertTrue(!refused.contains("200"), "nothing is served after the refusal: " + refused);
        assertEquals(List.of("/one", "/two", "/three"), up.received().stream().map(r -> r.uri()).toList());
    }

    /**
     * An h2c upgrade request's body is held before the switch, up to {@code http.buffer_limit}:
     * one declared larger, or sent chunked past it, is answered 413 and the connection closed,
     * whether or not the client waits for 100 Continue. What follows on the connection is
     * neither served nor read as a next request.
     */
    @Test
    void an_h2c_upgrade_with_a_body_over_the_buffer_limit_is_refused_413_and_closed() throws Exception {
        HttpUpstream up = upstream("a");
        Sidecar p = start("""
                listeners: [{ name: web, address: 127.0.0.1:0, protocol: http, cluster: app, http: { buffer_limit: 1024 } }]
                clusters:
                """ + oneCluster("app", up.address()));
        String upgrade = "POST /up HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABk\r\n"
                + "Connection: Upgrade, HTTP2-Settings\r\n";
        String next = "GET /next HTTP/1.1\r\nHost: x\r\n\r\n";
        String chunk = "800\r\n" + "x".repeat(0x800) + "\r\n";
        for (String request : List.of(
                upgrade + "Content-Length: 999999999\r\n\r\n" + next,
                upgrade + "Expect: 100-continue\r\nContent-Length: 999999999\r\n\r\n" + next,
                upgrade + "Transfer-Encoding: chunked\r\n\r\n" + chunk + "0\r\n\r\n" + next)) {
            String refused = raw(p.listenerPort("web"), request);
            assertTrue(refused.startsWith("HTTP/1.1 413"), refused);
            assertTrue(!refused.endsWith("<timeout>"), "the connection must be closed: " + refused);
            assertTrue(!refused.contains("200"), "nothing is served after the refusal: " + refused);
        }
        assertEquals(200, hget(p.listenerPort("web"), "x", "/after").statusCode());
        assertEquals(List.of("/after"), up.received().stream().map(r -> r.uri()).toList());
    }

    /** One response with a Content-Length off a kept-alive connection: its status code and body. */
    private static String readResponse(InputStream in) throws Exception {
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
            int c = in.read();
            assertTrue(c >= 0, "the response head: " + head);
            head.append((char) c);
        }
        String h = head.toString();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?i)content-length: (\\d+)").matcher(h);
        assertTrue(m.find(), h);
        byte[] body = in.readNBytes(Integer.parseInt(m.group(1)));
        return h.substring(9, 12) + " " + new String(body, StandardCharsets.ISO_8859_1);
    }

    /**
     * A response far larger than the buffers between the upstream and a client that does not
     * read: the proxy stops reading the upstream (so the upstream stops producing) rather than
     * holding the response, and carries it on to the last byte once the client reads. On epoll a
     * pause is a change of the socket's read interest, on io_uring a receive not armed again.
     */
    @ParameterizedTest
    @ValueSource(strings = {"epoll", "io_uring"})
    void a_response_to_a_client_that_stops_reading_waits_in_the_upstream_not_in_the_proxy(String transport) throws Exception {
        HttpUpstream up = upstream("a");
        Sidecar p = startOn(transport, up);
        long size = 256L << 20;
        try (Socket s = new Socket()) {
            s.setReceiveBufferSize(64 * 1024);
            s.connect(new java.net.InetSocketAddress("127.0.0.1", p.listenerPort("web")));
            s.setSoTimeout(10_000);
            s.getOutputStream().write(("GET /bytes/" + size + " HTTP/1.1\r\nHost: x\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
            // the upstream makes its body only as fast as its connection takes it: it stops when
            // every buffer on the way is full, and the proxy's own is bounded by its watermark
            long[] last = {-1, System.nanoTime()};
            Await.until("the upstream stalled", Duration.ofSeconds(20), () -> {
                long now = up.bytesProduced();
                if (now != last[0]) {
                    last[0] = now;
                    last[1] = System.nanoTime();
                    return false;
                }
                return now > 0 && System.nanoTime() - last[1] > 300_000_000L;
            });
            long stalledAt = up.bytesProduced();
            assertTrue(stalledAt < size / 2, "the proxy read " + stalledAt + " B of a response nobody was reading");

            InputStream in = new java.io.BufferedInputStream(s.getInputStream());
            StringBuilder head = new StringBuilder();
            while (!head.toString().endsWith("\r\n\r\n")) {
                int c = in.read();
                assertTrue(c >= 0, "the response head: " + head);
                head.append((char) c);
            }
            assertTrue(head.toString().startsWith("HTTP/1.1 200"), head.toString());
            assertTrue(head.toString().toLowerCase().contains("content-length: " + size), head.toString());
            byte[] buf = new byte[256 * 1024];
            long body = 0;
            for (int n; body < size && (n = in.read(buf)) > 0; ) {
                body += n;
            }
            assertEquals(size, body, "the whole body, after the pause");
        }
        assertEquals(200, get(p.listenerPort("web"), "/ok").statusCode());
    }
}
