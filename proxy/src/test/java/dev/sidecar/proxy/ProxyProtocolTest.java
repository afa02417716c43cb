package dev.sidecar.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sidecar.testkit.Await;
import dev.sidecar.testkit.Closer;
import dev.sidecar.testkit.HttpUpstream;
import dev.sidecar.testkit.ProxyProcess;
import dev.sidecar.testkit.ProxyProtocolUpstream;
import dev.sidecar.testkit.TcpUpstream;
import dev.sidecar.testkit.TestCertificates;
import dev.sidecar.testkit.Traffic;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The PROXY protocol through the real proxy process, both ways: listeners with
 * {@code proxy_protocol: true} take the client address from the header (access log,
 * x-forwarded-for) and refuse connections without one; clusters with {@code proxy_protocol: v1|v2}
 * send the downstream client's address to an upstream that decodes it with Netty's own decoder.
 */
class ProxyProtocolTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final byte[] V2_SIGNATURE = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

    private final Closer closer = new Closer();

    @TempDir
    Path dir;

    @AfterEach
    void tearDown() throws Exception {
        closer.close();
    }

    private ProxyProcess run(String yaml) {
        return closer.add(ProxyProcess.run(dir, yaml));
    }

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
            throw new UncheckedIOException(e);
        }
    }

    private static JsonNode awaitLine(Path file, int count) {
        Await.until(count + " access log line(s) in " + file, () -> lines(file).size() >= count);
        return lines(file).get(count - 1);
    }

    private static String scrape(ProxyProcess p) throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient().send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + p.adminPort() + "/stats/prometheus")).build(),
                HttpResponse.BodyHandlers.ofString());
        return r.body();
    }

    private static double counter(ProxyProcess p, String name, String listener) throws Exception {
        for (String line : scrape(p).split("\n")) {
            if (line.startsWith(name + "{") && line.contains("listener=\"" + listener + "\"")) {
                return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        throw new AssertionError("no " + name + " for listener " + listener + " in:\n" + scrape(p));
    }

    /** A v2 header: PROXY over TCP, IPv4 or IPv6 by the addresses' length. */
    private static byte[] v2(InetAddress src, int srcPort, InetAddress dst, int dstPort) {
        byte[] s = src.getAddress();
        byte[] d = dst.getAddress();
        ByteBuffer b = ByteBuffer.allocate(16 + s.length * 2 + 4);
        b.put(V2_SIGNATURE).put((byte) 0x21).put((byte) (s.length == 4 ? 0x11 : 0x21)).putShort((short) (s.length * 2 + 4));
        b.put(s).put(d).putShort((short) srcPort).putShort((short) dstPort);
        return b.array();
    }

    /** A v2 LOCAL header: the connection is the sender's own, so its socket addresses stand. */
    private static byte[] v2Local() {
        ByteBuffer b = ByteBuffer.allocate(16);
        b.put(V2_SIGNATURE).put((byte) 0x20).put((byte) 0x00).putShort((short) 0);
        return b.array();
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    /** Sends one HTTP/1.1 request on {@code s} (after whatever was written before) and reads the response body. */
    private static String get(Socket s, String path, String... headers) throws IOException {
        StringBuilder req = new StringBuilder("GET " + path + " HTTP/1.1\r\nHost: test\r\n");
        for (String h : headers) {
            req.append(h).append("\r\n");
        }
        s.getOutputStream().write(ascii(req.append("\r\n").toString()));
        s.getOutputStream().flush();
        InputStream in = s.getInputStream();
        String status = line(in);
        assertTrue(status.startsWith("HTTP/1.1 200"), status);
        int length = -1;
        for (String h; !(h = line(in)).isEmpty(); ) {
            if (h.toLowerCase().startsWith("content-length:")) {
                length = Integer.parseInt(h.substring(15).trim());
            }
        }
        assertTrue(length >= 0, "a Content-Length");
        return new String(in.readNBytes(length), StandardCharsets.US_ASCII);
    }

    private static String line(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        for (int c; (c = in.read()) != '\n'; ) {
            if (c < 0) {
                throw new IOException("connection closed mid-line: '" + b + "'");
            }
            if (c != '\r') {
                b.write(c);
            }
        }
        return b.toString(StandardCharsets.US_ASCII);
    }

    private static byte[] echo(Socket s, byte[] payload) throws IOException {
        s.getOutputStream().write(payload);
        s.getOutputStream().flush();
        return s.getInputStream().readNBytes(payload.length);
    }

    // ---- listeners that require the header ----

    @Test
    void curl_sends_v1_to_an_http_listener_and_a_connection_without_the_header_is_refused() throws Exception {
        CurlTest.curlPresent();
        Path log = dir.resolve("web.log");
        HttpUpstream up = closer.add(new HttpUpstream("app"));
        ProxyProcess p = run("""
                admin: { address: 127.0.0.1:0 }
                listeners:
                  - { name: web, address: 127.0.0.1:0, protocol: http, cluster: app, proxy_protocol: true, access_log: { path: %s } }
                clusters: [{ name: app, endpoints: [{ address: %s }] }]
                """.formatted(log, up.address()));
        String url = "http://127.0.0.1:" + p.listenerPort("web") + "/hello";

        CurlTest.Result ok = CurlTest.curl("--haproxy-protocol", "-o", "/dev/null", "-w", "%{http_code} %{local_port}", url);
        assertEquals(0, ok.exit(), ok.out());
        String[] codeAndPort = ok.out().trim().split(" ");
        assertEquals("200", codeAndPort[0], ok.out());
        assertEquals("127.0.0.1:" + codeAndPort[1], awaitLine(log, 1).get("downstream").asText(),
                "curl's header names its own address and port");
        assertEquals("127.0.0.1", up.received().get(0).header("x-forwarded-for"));

        CurlTest.Result plain = CurlTest.curl("-o", "/dev/null", "-w", "%{http_code}", url);
        assertNotEquals(0, plain.exit(), "a request without a PROXY header gets no response: " + plain.out());
        assertEquals(1, up.requestCount(), "and never reaches the upstream");
        Await.until("the refusal to be counted", () -> {
            try {
                return counter(p, "sidecar_listener_proxy_protocol_rejected_total", "web") == 1;
            } catch (Exception e) {
                return false;
            }
        });

        CurlTest.Result again = CurlTest.curl("--haproxy-protocol", "-o", "/dev/null", "-w", "%{http_code}", url);
        assertEquals("200", again.out().trim(), "the next connection with a header works");
        assertEquals(2, up.requestCount());
    }

    @Test
    void the_header_address_replaces_the_socket_address_in_x_forwarded_for_and_the_access_log() throws Exception {
        Path log = dir.resolve("web.log");
        HttpUpstream up = closer.add(new HttpUpstream("app"));
        ProxyProcess p = run("""
                admin: { address: 127.0.0.1:0 }
                listeners:
                  - { name: web, address: 127.0.0.1:0, protocol: http, cluster: app, proxy_protocol: true, access_log: { path: %s } }
                clusters: [{ name: app, endpoints: [{ address: %s }] }]
                """.formatted(log, up.address()));
        try (Socket s = Traffic.connect(p.listenerPort("web"))) {
            // header and request in one write: what follows the header in the same read is the request
            s.getOutputStream().write(ascii("PROXY TCP4 203.0.113.7 192.0.2.1 4321 80\r\n"));
            get(s, "/one", "X-Forwarded-For: 10.0.0.1");
            get(s, "/two");
        }
        assertEquals("10.0.0.1, 203.0.113.7", up.received().get(0).header("x-forwarded-for"));
        assertEquals("203.0.113.7", up.received().get(1).header("x-forwarded-for"));
        assertEquals("203.0.113.7:4321", awaitLine(log, 1).get("downstream").asText());
        assertEquals("203.0.113.7:4321", awaitLine(log, 2).get("downstream").asText());
    }

    @Test
    void tcp_listener_takes_a_v2_header_ipv6_too_and_local_keeps_the_socket_address() throws Exception {
        Path log = dir.resolve("tcp.log");
        TcpUpstream echo = closer.add(TcpUpstream.echo());
        ProxyProcess p = run("""
                admin: { address: 127.0.0.1:0 }
                listeners:
                  - { name: in, address: 127.0.0.1:0, cluster: up, proxy_protocol: true, access_log: { path: %s } }
                clusters: [{ name: up, endpoints: [{ address: %s }] }]
                """.formatted(log, echo.address()));
        int port = p.listenerPort("in");
        byte[] payload = ascii("hello through a v2 header");
        try (Socket s = Traffic.connect(port)) {
            ByteArrayOutputStream first = new ByteArrayOutputStream();
            first.write(v2(InetAddress.getByName("2001:db8::7"), 5555, InetAddress.getByName("2001:db8::1"), 443));
            first.write(payload, 0, 5); // the first bytes of the stream come in the header's segment
            s.getOutputStream().write(first.toByteArray());
            s.getOutputStream().write(payload, 5, payload.length - 5);
            assertEquals(new String(payload, StandardCharsets.US_ASCII),
                    new String(s.getInputStream().readNBytes(payload.length), StandardCharsets.US_ASCII));
        }
        assertEquals("[2001:db8:0:0:0:0:0:7]:5555", awaitLine(log, 1).get("downstream").asText(), "as the access log writes IPv6");

        int localPort;
        try (Socket s = Traffic.connect(port)) {
            s.getOutputStream().write(v2Local());
            assertEquals("x", new String(echo(s, ascii("x")), StandardCharsets.US_ASCII));
            localPort = s.getLocalPort();
        }
        // logged when the connection closes
        assertEquals("127.0.0.1:" + localPort, awaitLine(log, 2).get("downstream").asText(), "LOCAL: the socket's own address");
    }

    @Test
    void a_connection_without_a_header_is_closed_and_the_next_valid_one_works() throws Exception {
        TcpUpstream echo = closer.add(TcpUpstream.echo());
        ProxyProcess p = run("""
                admin: { address: 127.0.0.1:0 }
                listeners:
                  - { name: in, address: 127.0.0.1:0, cluster: up, proxy_protocol: true }
                  - { name: slow, address: 127.0.0.1:0, cluster: up, proxy_protocol: true, idle_timeout: 300ms }
                clusters: [{ name: up, endpoints: [{ address: %s }] }]
                """.formatted(echo.address()));
        int port = p.listenerPort("in");
        try (Socket s = Traffic.connect(port)) {
            s.getOutputStream().write(ascii("hello\r\n"));
            Await.until("the connection without a header to be closed", () -> Traffic.closedByPeer(s));
        }
        try (Socket s = Traffic.connect(port)) {
            s.getOutputStream().write(ascii("PROXY TCP4 198.51.100.3 192.0.2.1 1000 9000\r\n"));
            assertEquals("ok", new String(echo(s, ascii("ok")), StandardCharsets.US_ASCII));
        }
        try (Socket s = Traffic.connect(port)) {
            s.getOutputStream().write(ascii("PROXY TCP4 not-an-address 192.0.2.1 1000 9000\r\n"));
            Await.until("a malformed header to close the connection", () -> Traffic.closedByPeer(s));
        }
        try (Socket s = Traffic.connect(p.listenerPort("slow"))) {
            s.getOutputStream().write(ascii("PROXY TCP4 198.51")); // and then nothing
            Await.until("a header that never ends to be cut off by the listener's timeout", () -> Traffic.closedByPeer(s));
        }
        assertEquals(2, echo.bytesRead(), "only the valid connection reached the upstream");
        assertEquals(2, counter(p, "sidecar_listener_proxy_protocol_rejected_total", "in"));
        assertEquals(1, counter(p, "sidecar_listener_proxy_protocol_rejected_total", "slow"));
    }

    @Test
    void curl_sends_the_header_before_the_tls_client_hello() throws Exception {
        CurlTest.curlPresent();
        TestCertificates.Authority ca = TestCertificates.authority("proxy protocol test CA");
        Path caFile = ca.write(dir.resolve("ca.pem"));
        TestCertificates.PemPair server = ca.issue("proxy").dns("localhost").build().write(dir, "server", TestCertificates.KeyFormat.PKCS8);
        Path log = dir.resolve("https.log");
        HttpUpstream up = closer.add(new HttpUpstream("app"));
        ProxyProcess p = run("""
                admin: { address: 127.0.0.1:0 }
                listeners:
                  - name: web
                    address: 127.0.0.1:0
                    protocol: http
                    cluster: app
                    proxy_protocol: true
                    access_log: { path: %s }
                    tls: { certificates: [{ cert_chain_file: %s, private_key_file: %s }] }
                clusters: [{ name: app, endpoints: [{ address: %s }] }]
                """.formatted(log, server.cert(), server.key(), up.address()));
        int port = p.listenerPort("web");
        CurlTest.Result r = CurlTest.curl("--haproxy-protocol", "--cacert", caFile.toString(), "--resolve", "localhost:" + port + ":127.0.0.1",
                "-o", "/dev/null", "-w", "%{http_code} %{local_port}", "https://localhost:" + port + "/");
        assertEquals(0, r.exit(), r.out());
        String[] codeAndPort = r.out().trim().split(" ");
        assertEquals("200", codeAndPort[0]);
        assertEquals("127.0.0.1:" + codeAndPort[1], awaitLine(log, 1).get("downstream").asText());
        CurlTest.Result noHeader = CurlTest.curl("--cacert", caFile.toString(), "--resolve", "localhost:" + port + ":127.0.0.1",
                "https://localhost:" + port + "/");
        assertNotEquals(0, noHeader.exit(), "a ClientHello without a PROXY header first is refused");
    }

    @Test
    void source_ip_hashing_uses_the_header_address() throws Exception {
        TcpUpstream a = closer.add(TcpUpstream.echo());
        TcpUpstream b = closer.add(TcpUpstream.echo());
        ProxyProcess p = run("""
                admin: { address: 127.0.0.1:0 }
                listeners:
                  - { name: in, address: 127.0.0.1:0, cluster: up, proxy_protocol: true, hash_policy: [{ source_ip: true }] }
                clusters: [{ name: up, lb_policy: ring_hash, endpoints: [{ address: %s }, { address: %s }] }]
                """.formatted(a.address(), b.address()));
        int port = p.listenerPort("in");
        // every socket comes from 127.0.0.1; only the headers' addresses differ
        for (int i = 1; i <= 20; i++) {
            try (Socket s = Traffic.connect(port)) {
                s.getOutputStream().write(ascii("PROXY TCP4 198.51.100." + i + " 192.0.2.1 1000 9000\r\n"));
                assertEquals("z", new String(echo(s, ascii("z")), StandardCharsets.US_ASCII));
            }
        }
        assertTrue(a.accepted() > 0 && b.accepted() > 0, "20 client addresses spread over both endpoints: " + a.accepted() + " / " + b.accepted());
        int beforeA = a.accepted();
        int beforeB = b.accepted();
        for (int i = 0; i < 5; i++) {
            try (Socket s = Traffic.connect(port)) {
                s.getOutputStream().write(ascii("PROXY TCP4 198.51.100.77 192.0.2.1 " + (2000 + i) + " 9000\r\n"));
                assertEquals("z", new String(echo(s, ascii("z")), StandardCharsets.US_ASCII));
            }
        }
        assertTrue(a.accepted() - beforeA == 5 || b.accepted() - beforeB == 5, "one client address, one endpoint: "
                + (a.accepted() - beforeA) + " / " + (b.accepted() - beforeB));
    }

    // ---- clusters that send the header ----

    @Test
    void tcp_clusters_send_v1_and_v2_with_the_client_address() throws Exception {
        ProxyProtocolUpstream up1 = closer.add(ProxyProtocolUpstream.tcp());
        ProxyProtocolUpstream up2 = closer.add(ProxyProtocolUpstream.tcp());
        ProxyProcess p = run("""
                admin: { address: 127.0.0.1:0 }
                listeners:
                  - { name: one, address: 127.0.0.1:0, cluster: v1 }
                  - { name: two, address: 127.0.0.1:0, cluster: v2 }
                  - { name: relayed, address: 127.0.0.1:0, cluster: v2, proxy_protocol: true }
                clusters:
                  - { name: v1, proxy_protocol: v1, endpoints: [{ address: %s }] }
                  - { name: v2, proxy_protocol: v2, endpoints: [{ address: %s }] }
                """.formatted(up1.address(), up2.address()));
        try (Socket s = Traffic.connect(p.listenerPort("one"))) {
            assertEquals("abc", new String(echo(s, ascii("abc")), StandardCharsets.US_ASCII));
            ProxyProtocolUpstream.Header h = up1.headers().get(0);
            assertEquals("V1", h.version());
            assertEquals("PROXY", h.command());
            assertEquals("TCP4", h.protocol());
            assertEquals("127.0.0.1:" + s.getLocalPort(), h.sourceAddress());
            assertEquals(p.listenerPort("one"), h.destinationPort());
        }
        try (Socket s = Traffic.connect(p.listenerPort("two"))) {
            assertEquals("def", new String(echo(s, ascii("def")), StandardCharsets.US_ASCII));
            ProxyProtocolUpstream.Header h = up2.headers().get(0);
            assertEquals("V2", h.version());
            assertEquals("PROXY", h.command());
            assertEquals("127.0.0.1:" + s.getLocalPort(), h.sourceAddress());
            assertEquals("127.0.0.1", h.destination());
            assertEquals(p.listenerPort("two"), h.destinationPort());
        }
        // a header in, a header out: the client the first one named is passed on
        try (Socket s = Traffic.connect(p.listenerPort("relayed"))) {
            s.getOutputStream().write(ascii("PROXY TCP6 2001:db8::9 2001:db8::1 7777 443\r\n"));
            assertEquals("ghi", new String(echo(s, ascii("ghi")), StandardCharsets.US_ASCII));
            ProxyProtocolUpstream.Header h = up2.headers().get(1);
            assertEquals("TCP6", h.protocol());
            assertEquals("2001:db8:0:0:0:0:0:9", h.source());
            assertEquals(7777, h.sourcePort());
            assertEquals(443, h.destinationPort());
        }
        assertEquals(0, up1.invalid() + up2.invalid());
    }

    @Test
    void http_cluster_connections_carry_one_downstream_client_each() throws Exception {
        ProxyProtocolUpstream up = closer.add(ProxyProtocolUpstream.http());
        ProxyProcess p = run("""
                admin: { address: 127.0.0.1:0 }
                listeners:
                  - { name: web, address: 127.0.0.1:0, protocol: http, cluster: app }
                  - { name: behind_lb, address: 127.0.0.1:0, protocol: http, cluster: app, proxy_protocol: true }
                clusters: [{ name: app, proxy_protocol: v2, endpoints: [{ address: %s }] }]
                """.formatted(up.address()));
        try (Socket a = Traffic.connect(p.listenerPort("web")); Socket b = Traffic.connect(p.listenerPort("web"))) {
            for (int i = 0; i < 3; i++) {
                assertEquals("source=127.0.0.1:" + a.getLocalPort(), get(a, "/a" + i));
                assertEquals("source=127.0.0.1:" + b.getLocalPort(), get(b, "/b" + i));
            }
        }
        assertEquals(2, up.headers().size(), "one upstream connection per downstream connection, reused for its requests: " + up.headers());
        try (Socket c = Traffic.connect(p.listenerPort("behind_lb"))) {
            c.getOutputStream().write(ascii("PROXY TCP4 203.0.113.50 192.0.2.1 6000 80\r\n"));
            assertEquals("source=203.0.113.50:6000", get(c, "/c"));
        }
        // a pooled connection of a closed downstream connection is not handed to the next client
        try (Socket d = Traffic.connect(p.listenerPort("web"))) {
            assertEquals("source=127.0.0.1:" + d.getLocalPort(), get(d, "/d"));
        }
        assertEquals(0, up.invalid());
    }

    @Test
    void health_checks_send_local_in_v2_and_unknown_in_v1() throws Exception {
        ProxyProtocolUpstream up1 = closer.add(ProxyProtocolUpstream.tcp());
        ProxyProtocolUpstream up2 = closer.add(ProxyProtocolUpstream.http());
        run("""
                admin: { address: 127.0.0.1:0 }
                listeners: [{ name: in, address: 127.0.0.1:0, cluster: v1 }]
                clusters:
                  - name: v1
                    proxy_protocol: v1
                    endpoints: [{ address: %s }]
                    health_checks: [{ interval: 100ms, timeout: 2s, tcp_health_check: {} }]
                  - name: v2
                    proxy_protocol: v2
                    endpoints: [{ address: %s }]
                    health_checks: [{ interval: 100ms, timeout: 2s, http_health_check: { path: /healthz } }]
                """.formatted(up1.address(), up2.address()));
        Await.until("a v1 health check", () -> !up1.headers().isEmpty());
        Await.until("a v2 health check", () -> !up2.headers().isEmpty());
        ProxyProtocolUpstream.Header h1 = up1.headers().get(0);
        assertEquals("V1", h1.version());
        assertEquals("UNKNOWN", h1.protocol());
        ProxyProtocolUpstream.Header h2 = up2.headers().get(0);
        assertEquals("V2", h2.version());
        assertEquals("LOCAL", h2.command());
        assertEquals(0, up1.invalid() + up2.invalid());
    }
}
