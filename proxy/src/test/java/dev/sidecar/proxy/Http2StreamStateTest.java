package dev.sidecar.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sidecar.testkit.Closer;
import dev.sidecar.testkit.HttpUpstream;
import dev.sidecar.testkit.RawH2;
import dev.sidecar.testkit.TestCertificates;
import dev.sidecar.testkit.TestCertificates.KeyFormat;
import dev.sidecar.testkit.TestCertificates.PemPair;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Predicate;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * RFC 9113 section 5.1's stream states on an HTTP listener, frame by frame from a raw client:
 * the HEADERS frames that are errors (a stream error on a half-closed (remote) stream, a
 * connection error on a stream closed by END_STREAM both ways or on a skipped stream id) and
 * the ones that are not (trailers, also below the highest stream, CONTINUATION, PRIORITY,
 * WINDOW_UPDATE and RST_STREAM on ended streams, late frames on streams a reset closed), over
 * prior knowledge, an h2c upgrade and TLS. The parameter {@code chunk} sends the frames in
 * writes of that many bytes (0: all at once), so the proxy reads frame headers split anywhere.
 */
class Http2StreamStateTest {
    private static final Duration WAIT = Duration.ofSeconds(10);
    /** Long enough to be waited on for a frame that must not come; only a failing run waits it out. */
    private static final Duration QUIET = Duration.ofMillis(500);
    private static final int CANCEL = 0x8;
    private final Closer closer = new Closer();
    private HttpUpstream up;
    private int port;

    @TempDir
    Path dir;

    @BeforeEach
    void setUp() {
        up = closer.add(new HttpUpstream("a"));
        port = listener(closer.add(Sidecar.start(ConfigLoader.parse(config("")))));
    }

    private String config(String tls) {
        return """
                admin: { address: 127.0.0.1:0 }
                listeners:
                  - name: web
                    address: 127.0.0.1:0
                    protocol: http
                    cluster: app
                %s
                clusters:
                  - { name: app, endpoints: [{ address: %s }] }
                """.formatted(tls, up.address());
    }

    private static int listener(Sidecar proxy) {
        return proxy.listenerPort("web");
    }

    @AfterEach
    void tearDown() throws Exception {
        closer.close();
    }

    private static void send(RawH2 c, int chunk) throws IOException {
        if (chunk == 0) {
            c.flush();
        } else {
            c.flush(chunk);
        }
    }

    /**
     * A raw client whose waits decode every response head they pass over, in order (the
     * client's HPACK state must see every block), keeping each stream's status.
     */
    private static final class Conn implements AutoCloseable {
        final RawH2 c;
        final Map<Integer, Integer> statuses = new TreeMap<>();

        Conn(RawH2 c) {
            this.c = c;
        }

        RawH2.Frame await(Predicate<RawH2.Frame> match, Duration limit) throws InterruptedException {
            return c.await(f -> {
                if (f.type() == RawH2.HEADERS && !statuses.containsKey(f.stream())) {
                    statuses.put(f.stream(), c.status(f));
                }
                return match.test(f);
            }, limit);
        }

        int status(int stream) throws InterruptedException {
            if (!statuses.containsKey(stream)) {
                await(f -> f.type() == RawH2.HEADERS && f.stream() == stream, WAIT);
            }
            return statuses.getOrDefault(stream, -1);
        }

        RawH2.Frame rst(int stream) throws InterruptedException {
            return await(f -> f.type() == RawH2.RST_STREAM && f.stream() == stream, WAIT);
        }

        /** Waits for the last frame of the response on {@code stream} (END_STREAM); then the stream has closed on the proxy too. */
        void end(int stream) throws InterruptedException {
            assertNotNull(await(f -> f.stream() == stream && (f.type() == RawH2.HEADERS || f.type() == RawH2.DATA)
                    && (f.flags() & RawH2.END_STREAM) != 0, WAIT), "the response on stream " + stream + " ended");
        }

        void goAway(int code, int lastStream) {
            assertTrue(c.awaitClosed(WAIT), "the proxy closes the connection");
            RawH2.Frame goAway = c.goAway();
            assertNotNull(goAway, "a GOAWAY before the close");
            assertEquals(code, goAway.errorCode(), "GOAWAY's error code");
            int last = ((goAway.payload()[0] & 0x7f) << 24) | ((goAway.payload()[1] & 0xff) << 16)
                    | ((goAway.payload()[2] & 0xff) << 8) | (goAway.payload()[3] & 0xff);
            assertEquals(lastStream, last, "GOAWAY's last stream id");
        }

        /** A request on {@code stream} is answered 200 on this connection, which has had no GOAWAY. */
        void serves(int stream) throws Exception {
            c.get(stream, "/after");
            assertEquals(200, status(stream), "the connection still serves");
            assertNull(c.goAway(), "no GOAWAY");
        }

        @Override
        public void close() throws IOException {
            c.close();
        }
    }

    // ---- the errors ----

    /** Stream 1 half-closed (remote), then HEADERS on it: RST_STREAM STREAM_CLOSED, the connection (and its HPACK state) carry on. */
    private static void headersOnHalfClosed(Conn k, int chunk) throws Exception {
        RawH2 c = k.c;
        c.headers(1, RawH2.END_STREAM | RawH2.END_HEADERS, c.requestBlock("GET", "/delay/2000"));
        // adds x-new to the client's HPACK table: a proxy that skipped this block would fail to decode stream 3's
        c.headers(1, RawH2.END_STREAM | RawH2.END_HEADERS, c.requestBlock("GET", "/again", "x-new", "v1"));
        send(c, chunk);
        RawH2.Frame rst = k.rst(1);
        assertNotNull(rst, "RST_STREAM on stream 1");
        assertEquals(RawH2.STREAM_CLOSED, rst.errorCode());
        c.headers(3, RawH2.END_STREAM | RawH2.END_HEADERS, c.requestBlock("GET", "/three", "x-new", "v1"));
        send(c, chunk);
        assertEquals(200, k.status(3), "stream 3, whose block refers to the reset block's table entry");
        assertNull(c.goAway());
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 7})
    void headers_on_a_half_closed_remote_stream_is_a_stream_error_stream_closed(int chunk) throws Exception {
        try (Conn k = new Conn(new RawH2(port))) {
            RawH2 c = k.c;
            headersOnHalfClosed(k, chunk);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 7})
    void headers_on_a_stream_closed_by_end_stream_both_ways_is_a_connection_error_stream_closed(int chunk) throws Exception {
        try (Conn k = new Conn(new RawH2(port))) {
            RawH2 c = k.c;
            c.headers(1, RawH2.END_STREAM | RawH2.END_HEADERS, c.requestBlock("GET", "/one"));
            send(c, chunk);
            k.end(1);
            c.headers(1, RawH2.END_STREAM | RawH2.END_HEADERS, c.requestBlock("GET", "/one"));
            send(c, chunk);
            k.goAway(RawH2.STREAM_CLOSED, 1);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 7})
    void headers_opening_a_stream_below_the_highest_is_a_connection_error_protocol_error(int chunk) throws Exception {
        try (Conn k = new Conn(new RawH2(port))) {
            RawH2 c = k.c;
            c.headers(5, RawH2.END_STREAM | RawH2.END_HEADERS, c.requestBlock("GET", "/delay/1000"));
            c.headers(3, RawH2.END_STREAM | RawH2.END_HEADERS, c.requestBlock("GET", "/three"));
            send(c, chunk);
            k.goAway(RawH2.PROTOCOL_ERROR, 5);
        }
    }

    /** The resets this provokes count towards max_resets_per_window (200 per 30 s) like any the client causes (MadeYouReset). */
    @Test
    void provoked_resets_count_towards_the_reset_limit() throws Exception {
        try (Conn k = new Conn(new RawH2(port))) {
            RawH2 c = k.c;
            byte[] block = c.requestBlock("GET", "/delay/5000");
            int rounds = 0;
            for (int stream = 1; rounds < 400 && c.goAway() == null; rounds++, stream += 2) {
                c.headers(stream, RawH2.END_STREAM | RawH2.END_HEADERS, block);
                c.headers(stream, RawH2.END_STREAM | RawH2.END_HEADERS, block);
                try {
                    c.flush();
                } catch (IOException e) {
                    break; // the proxy closed the connection while this was still writing
                }
                if (k.rst(stream) == null) {
                    break;
                }
            }
            assertTrue(c.awaitClosed(WAIT), "the connection ends after " + rounds + " rounds");
            assertNotNull(c.goAway());
            assertEquals(RawH2.ENHANCE_YOUR_CALM, c.goAway().errorCode());
            assertTrue(rounds > 150 && rounds <= 202, "ended near the limit of 200: " + rounds);
        }
    }

    @Test
    void a_stream_id_below_the_tracked_window_gets_the_codecs_stream_error() throws Exception {
        try (Conn k = new Conn(new RawH2(port))) {
            RawH2 c = k.c;
            int far = 3 + 2 * 1024; // stream 1 and the skipped 3 fall out of the last 1,024 client ids
            c.get(far, "/far");
            assertEquals(200, k.status(far));
            c.get(3, "/old");
            RawH2.Frame rst = k.rst(3);
            assertNotNull(rst, "a stream error for the untracked id");
            assertEquals(RawH2.STREAM_CLOSED, rst.errorCode());
            k.serves(far + 2);
            c.get(far - 2, "/skipped"); // skipped, and inside the window
            k.goAway(RawH2.PROTOCOL_ERROR, far + 2);
        }
    }

    // ---- what stays legal ----

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 7})
    void trailers_and_continuation_on_open_streams_below_the_highest_are_served(int chunk) throws Exception {
        try (Conn k = new Conn(new RawH2(port))) {
            RawH2 c = k.c;
            c.headers(1, RawH2.END_HEADERS, c.requestBlock("POST", "/echo"));
            c.frame(RawH2.DATA, 0, 1, "abc".getBytes(StandardCharsets.US_ASCII));
            // stream 3 opens with HEADERS + CONTINUATION, then stream 5
            byte[] block = c.requestBlock("POST", "/echo", "x-long", "y".repeat(40));
            c.headers(3, 0, Arrays.copyOfRange(block, 0, block.length / 2));
            c.frame(RawH2.CONTINUATION, RawH2.END_HEADERS, 3, Arrays.copyOfRange(block, block.length / 2, block.length));
            c.headers(5, RawH2.END_HEADERS, c.requestBlock("POST", "/echo"));
            // trailers on 1 and 3, below the highest (5); stream 3's in HEADERS + CONTINUATION
            c.headers(1, RawH2.END_STREAM | RawH2.END_HEADERS, RawH2.literalBlock(List.<String[]>of(new String[] {"x-trailer", "one"})));
            byte[] trailers = RawH2.literalBlock(List.of(new String[] {"x-trailer", "three"}, new String[] {"x-more", "3"}));
            c.headers(3, RawH2.END_STREAM, Arrays.copyOfRange(trailers, 0, 5));
            c.frame(RawH2.CONTINUATION, RawH2.END_HEADERS, 3, Arrays.copyOfRange(trailers, 5, trailers.length));
            c.frame(RawH2.DATA, RawH2.END_STREAM, 5, "five".getBytes(StandardCharsets.US_ASCII));
            send(c, chunk);
            for (int stream : new int[] {1, 3, 5}) {
                assertEquals(200, k.status(stream), "stream " + stream + ", received: " + c.received());
            }
            k.serves(7);
            assertTrue(c.received().stream().noneMatch(f -> f.type() == RawH2.RST_STREAM), "no stream was reset: " + c.received());
            assertEquals(List.of(0, 3, 4), up.received().stream().filter(r -> r.uri().equals("/echo"))
                    .map(HttpUpstream.Received::bodyLength).sorted().toList(), "the request bodies went upstream");
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1})
    void priority_window_update_and_rst_stream_on_ended_and_closed_streams_are_no_error(int chunk) throws Exception {
        try (Conn k = new Conn(new RawH2(port))) {
            RawH2 c = k.c;
            c.headers(1, RawH2.END_STREAM | RawH2.END_HEADERS, c.requestBlock("GET", "/delay/300"));
            // half-closed (remote): PRIORITY and WINDOW_UPDATE are allowed
            c.frame(RawH2.PRIORITY, 0, 1, new byte[] {0, 0, 0, 0, 15});
            c.windowUpdate(1, 1000);
            send(c, chunk);
            k.end(1);
            // closed: PRIORITY, WINDOW_UPDATE and RST_STREAM are ignored
            c.frame(RawH2.PRIORITY, 0, 1, new byte[] {0, 0, 0, 0, 15});
            c.windowUpdate(1, 1000);
            c.rst(1, CANCEL);
            // half-closed (remote) stream 3 cancelled by the client: HEADERS after that is a stream error
            c.headers(3, RawH2.END_STREAM | RawH2.END_HEADERS, c.requestBlock("GET", "/delay/2000"));
            c.rst(3, CANCEL);
            c.headers(3, RawH2.END_STREAM | RawH2.END_HEADERS, c.requestBlock("GET", "/again"));
            send(c, chunk);
            RawH2.Frame rst = k.rst(3);
            assertNotNull(rst, "HEADERS after the client's RST_STREAM: a stream error");
            assertEquals(RawH2.STREAM_CLOSED, rst.errorCode());
            k.serves(5);
        }
    }

    @Test
    void late_frames_on_a_stream_the_proxy_reset_are_no_connection_error() throws Exception {
        try (Conn k = new Conn(new RawH2(port))) {
            RawH2 c = k.c;
            // no :path: the proxy resets stream 1 with PROTOCOL_ERROR
            c.headers(1, RawH2.END_STREAM | RawH2.END_HEADERS, RawH2.literalBlock(List.of(
                    new String[] {":method", "GET"}, new String[] {":scheme", "http"}, new String[] {":authority", "x"})));
            c.flush();
            RawH2.Frame rst = k.rst(1);
            assertNotNull(rst);
            assertEquals(RawH2.PROTOCOL_ERROR, rst.errorCode());
            c.headers(1, RawH2.END_STREAM | RawH2.END_HEADERS, c.requestBlock("GET", "/late"));
            c.frame(RawH2.DATA, RawH2.END_STREAM, 1, new byte[] {1});
            c.flush();
            // a stream error or nothing (RFC 9113 5.1, closed: frames after a RST_STREAM the endpoint sent are ignored)
            assertNull(k.await(f -> f.type() == RawH2.GOAWAY, QUIET), "no connection error");
            k.serves(3);
            assertTrue(up.received().stream().noneMatch(r -> r.uri().equals("/late")), "the late HEADERS went nowhere");
        }
    }

    @Test
    void a_host_naming_another_authority_a_value_with_crlf_or_a_path_with_a_space_resets_only_its_stream() throws Exception {
        try (Conn k = new Conn(new RawH2(port))) {
            RawH2 c = k.c;
            c.headers(1, RawH2.END_STREAM | RawH2.END_HEADERS, RawH2.literalBlock(List.of(new String[] {":method", "GET"},
                    new String[] {":scheme", "http"}, new String[] {":path", "/other-host"}, new String[] {":authority", "x"},
                    new String[] {"host", "elsewhere"})));
            c.headers(3, RawH2.END_STREAM | RawH2.END_HEADERS, RawH2.literalBlock(List.of(new String[] {":method", "GET"},
                    new String[] {":scheme", "http"}, new String[] {":path", "/crlf"}, new String[] {":authority", "x"},
                    new String[] {"x-a", "1\r\nx-injected: 2"})));
            c.headers(5, RawH2.END_STREAM | RawH2.END_HEADERS, RawH2.literalBlock(List.of(new String[] {":method", "GET"},
                    new String[] {":scheme", "http"}, new String[] {":path", "/a b"}, new String[] {":authority", "x"})));
            c.flush();
            assertEquals(RawH2.PROTOCOL_ERROR, k.rst(1).errorCode());
            assertEquals(RawH2.PROTOCOL_ERROR, k.rst(3).errorCode());
            assertEquals(RawH2.PROTOCOL_ERROR, k.rst(5).errorCode(), "a path with a space");
            k.serves(7);
            assertTrue(up.received().stream().noneMatch(r -> r.uri().equals("/other-host") || r.uri().equals("/crlf")
                    || r.uri().startsWith("/a ")), "none went upstream");
        }
    }

    // ---- h2c upgrade and TLS ----

    /** An h2c upgrade of GET {@code path}; returns the client once the 101 has been read. */
    private Conn upgrade(String path) throws IOException {
        Socket s = new Socket();
        s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
        s.setSoTimeout(10_000);
        s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                + "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABk\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        InputStream in = s.getInputStream();
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        while (!head.toString(StandardCharsets.US_ASCII).endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0 || head.size() > 4096) {
                throw new IOException("no 101: " + head);
            }
            head.write(b);
        }
        assertTrue(head.toString(StandardCharsets.US_ASCII).startsWith("HTTP/1.1 101"), head.toString(StandardCharsets.US_ASCII));
        s.setSoTimeout(0);
        return closer.add(new Conn(RawH2.over(s)));
    }

    @Test
    void after_an_h2c_upgrade_stream_1_is_half_closed_remote() throws Exception {
        Conn k = upgrade("/delay/2000");
        RawH2 c = k.c;
        c.headers(1, RawH2.END_STREAM | RawH2.END_HEADERS, c.requestBlock("GET", "/again"));
        c.flush();
        RawH2.Frame rst = k.rst(1);
        assertNotNull(rst, "HEADERS on the upgraded stream, which the request ended: a stream error");
        assertEquals(RawH2.STREAM_CLOSED, rst.errorCode());
        k.serves(3);
        k.end(3);
        c.get(3, "/again");
        k.goAway(RawH2.STREAM_CLOSED, 3);
    }

    @Test
    void an_upgraded_request_is_answered_and_its_closed_stream_is_closed() throws Exception {
        Conn k = upgrade("/one");
        RawH2 c = k.c;
        k.end(1);
        c.get(1, "/again");
        k.goAway(RawH2.STREAM_CLOSED, 1);
    }

    @Test
    void over_tls_with_alpn_h2_the_same_answers() throws Exception {
        TestCertificates.Authority ca = TestCertificates.authority("stream state CA");
        PemPair cert = ca.issue("proxy").ip("127.0.0.1").build().write(dir, "server", KeyFormat.PKCS8);
        int tlsPort = listener(closer.add(Sidecar.start(ConfigLoader.parse(config("""
                    tls:
                      certificates: [{ cert_chain_file: %s, private_key_file: %s }]
                      alpn: [h2, http/1.1]
                """.formatted(cert.cert(), cert.key()))))));
        for (int connection = 0; connection < 2; connection++) {
            SSLSocket s = (SSLSocket) ca.clientContext(null).getSocketFactory().createSocket();
            SSLParameters p = s.getSSLParameters();
            p.setApplicationProtocols(new String[] {"h2"});
            s.setSSLParameters(p);
            s.connect(new InetSocketAddress("127.0.0.1", tlsPort), 5000);
            s.startHandshake();
            assertEquals("h2", s.getApplicationProtocol());
            Conn k = closer.add(new Conn(RawH2.over(s)));
            RawH2 c = k.c;
            if (connection == 0) {
                headersOnHalfClosed(k, 0);
            } else {
                c.get(7, "/seven");
                c.get(5, "/five");
                k.goAway(RawH2.PROTOCOL_ERROR, 7);
            }
        }
    }
}
