package dev.sidecar.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sidecar.testkit.Closer;
import dev.sidecar.testkit.H2Attacks;
import dev.sidecar.testkit.HttpUpstream;
import dev.sidecar.testkit.RawH2;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The HTTP/2 attack classes, each sent frame by frame as an attacker would: the connection is
 * ended (GOAWAY ENHANCE_YOUR_CALM where the protocol has it) with the proxy's buffer memory
 * bounded, while a well-behaved client on another connection keeps getting answers.
 */
class Http2AttackTest {
    /** Far above what any limit below lets through; the attacks stop by themselves at this count. */
    private static final int ROUNDS = 5_000;
    private static final long MEMORY_BOUND = 64L << 20;
    private final Closer closer = new Closer();
    private HttpUpstream up;
    private Sidecar proxy;
    private int port;

    @BeforeEach
    void setUp() {
        up = closer.add(new HttpUpstream("a"));
        proxy = closer.add(Sidecar.start(ConfigLoader.parse("""
                admin: { address: 127.0.0.1:0 }
                listeners: [{ name: web, address: 127.0.0.1:0, protocol: http, cluster: app }]
                clusters:
                  - { name: app, upstream_protocol: h2c, endpoints: [{ address: %s }] }
                """.formatted(up.address()))));
        port = proxy.listenerPort("web");
    }

    @AfterEach
    void tearDown() throws Exception {
        closer.close();
    }

    interface Attack {
        void run(RawH2 attacker) throws Exception;
    }

    /** A well-behaved client on its own connection: one request after another until stopped, each must be answered. */
    private final class GoodClient {
        final AtomicBoolean attacking = new AtomicBoolean(true);
        final AtomicInteger served = new AtomicInteger();
        final AtomicLong peakMemory = new AtomicLong();
        final CompletableFuture<Void> done = CompletableFuture.runAsync(() -> {
            try (RawH2 client = new RawH2(port)) {
                for (int stream = 1; attacking.get() || served.get() < 3; stream += 2) {
                    client.get(stream, "/good");
                    assertEquals(200, client.awaitStatus(stream, Duration.ofSeconds(10)), "the good client is answered");
                    served.incrementAndGet();
                    peakMemory.accumulateAndGet(proxy.usedDirectMemory(), Math::max);
                }
            } catch (IOException | InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });

        /** Stops it and checks it was served throughout, with the proxy's buffer memory bounded. */
        void finish() throws Exception {
            attacking.set(false);
            done.get(30, TimeUnit.SECONDS);
            assertTrue(served.get() >= 3, "good requests served: " + served.get());
            assertTrue(peakMemory.get() < MEMORY_BOUND, "buffer memory stays bounded: " + peakMemory.get());
        }
    }

    /**
     * Runs the attack on its own connection while a good client sends requests one after another
     * on another; returns the attacker's connection for the caller's checks once it has ended.
     */
    private RawH2 underAttack(Attack attack) throws Exception {
        GoodClient good = new GoodClient();
        RawH2 attacker = closer.add(new RawH2(port));
        try {
            attack.run(attacker);
            attacker.flush();
        } catch (IOException e) {
            // the proxy closed the connection while the attack was still writing
        }
        assertTrue(attacker.awaitClosed(Duration.ofSeconds(20)), "the proxy closes the attacker's connection");
        good.finish();
        return attacker;
    }

    private static void assertCalm(RawH2 attacker) {
        RawH2.Frame goAway = attacker.goAway();
        assertNotNull(goAway, "a GOAWAY before the close");
        assertEquals(RawH2.ENHANCE_YOUR_CALM, goAway.errorCode());
    }

    @Test
    void streams_reset_in_the_read_that_opened_them_cost_no_upstream_connection() throws Exception {
        HttpUpstream h1 = closer.add(new HttpUpstream("h1"));
        Sidecar p = closer.add(Sidecar.start(ConfigLoader.parse("""
                server: { workers: 1 }
                listeners: [{ name: web, address: 127.0.0.1:0, protocol: http, cluster: app }]
                clusters: [{ name: app, endpoints: [{ address: %s }] }]
                """.formatted(h1.address()))));
        int rounds = 60; // well below the reset limit (MadeYouReset counts each reset twice), so every round counts
        RawH2 rapid = closer.add(new RawH2(p.listenerPort("web")));
        H2Attacks.rapidReset(rapid, rounds);
        RawH2 madeYou = closer.add(new RawH2(p.listenerPort("web")));
        H2Attacks.madeYouReset(madeYou, rounds);
        // a request after them on each connection: once it is answered, both floods have been read
        for (RawH2 c : List.of(rapid, madeYou)) {
            c.headers(2 * rounds + 1, RawH2.END_STREAM | RawH2.END_HEADERS, c.requestBlock("GET", "/after"));
            c.flush();
            assertEquals(200, c.awaitStatus(2 * rounds + 1, Duration.ofSeconds(10)), "goaway " + c.goAway() + " on " + (c == rapid ? "rapid" : "madeYou"));
        }
        // each round's HEADERS and reset arrive in one write; only a pair split between two reads
        // can start a request (each an HTTP/1.1 connection here), against one per round before
        assertTrue(h1.connections() <= 2 + rounds / 10, "upstream connections: " + h1.connections());
    }

    @Test
    void rapid_reset_streams_opened_and_cancelled_at_once_end_the_connection() throws Exception {
        RawH2 attacker = underAttack(a -> H2Attacks.rapidReset(a, ROUNDS));
        assertCalm(attacker);
        assertTrue(up.requestCount() <= 300, "requests that reached the upstream stay near the reset limit: " + up.requestCount());
    }

    @Test
    void made_you_reset_frames_that_make_the_proxy_reset_streams_end_the_connection() throws Exception {
        RawH2 attacker = underAttack(a -> H2Attacks.madeYouReset(a, ROUNDS));
        assertCalm(attacker);
    }

    @Test
    void a_continuation_flood_ends_the_connection() throws Exception {
        RawH2 attacker = underAttack(a -> H2Attacks.continuationFlood(a, ROUNDS));
        assertNotNull(attacker.goAway(), "a GOAWAY before the close");
        assertEquals(0, up.requestCount() - countGood(), "the endless header block never became a request");
    }

    @Test
    void consecutive_empty_data_frames_end_the_connection() throws Exception {
        RawH2 attacker = underAttack(a -> H2Attacks.emptyDataFlood(a, ROUNDS));
        assertCalm(attacker);
    }

    @Test
    void a_settings_flood_from_a_client_that_does_not_read_ends_the_connection() throws Exception {
        floodWithoutReading(H2Attacks::settingsFlood);
    }

    @Test
    void a_ping_flood_from_a_client_that_does_not_read_ends_the_connection() throws Exception {
        floodWithoutReading(H2Attacks::pingFlood);
    }

    /**
     * Each frame obliges an acknowledgement; a client that never reads them makes them queue. The
     * proxy stops at its queued-control-frame limit instead of buffering without end.
     */
    private void floodWithoutReading(H2Attacks.Attack flood) throws Exception {
        GoodClient good = new GoodClient();
        boolean ended;
        try (RawH2 attacker = new RawH2(port, 4096)) {
            ended = H2Attacks.runUntilClosed(attacker, flood, 4_000_000, Duration.ofSeconds(20));
        }
        good.finish();
        assertTrue(ended, "the proxy ended the connection of a client that sent up to 4,000,000 frames and read none");
    }

    @Test
    void an_hpack_bomb_is_refused_without_expanding_past_the_header_list_limit() throws Exception {
        RawH2 attacker = closer.add(new RawH2(port));
        H2Attacks.hpackBomb(attacker, 1);
        RawH2.Frame answer = attacker.await(f -> f.stream() == 1 || f.type() == RawH2.GOAWAY, Duration.ofSeconds(10));
        assertNotNull(answer, "the proxy answers the stream or the connection");
        assertEquals(0, up.requestCount(), "nothing reached the upstream");
        try (RawH2 good = new RawH2(port)) {
            good.get(1, "/good");
            assertEquals(200, good.awaitStatus(1, Duration.ofSeconds(10)));
        }
    }

    @Test
    void h2_requests_that_would_change_meaning_in_an_h1_downgrade_are_refused() throws Exception {
        try (RawH2 c = new RawH2(port)) {
            c.headers(1, RawH2.END_STREAM | RawH2.END_HEADERS, c.requestBlock("GET", "/host-differs", "host", "other.local"));
            c.flush();
            RawH2.Frame differs = c.await(f -> f.stream() == 1, Duration.ofSeconds(10));
            assertNotNull(differs);
            assertTrue(differs.type() == RawH2.RST_STREAM ? differs.errorCode() == 1 : c.status(differs) == 400,
                    "Host naming another authority than :authority: a stream error or 400");

            c.headers(3, RawH2.END_STREAM | RawH2.END_HEADERS, c.requestBlock("GET", "/host-same", "host", "raw.local"));
            c.flush();
            assertEquals(200, c.awaitStatus(3, Duration.ofSeconds(10)), "a Host equal to :authority is fine");

            c.headers(5, RawH2.END_STREAM | RawH2.END_HEADERS, c.requestBlock("GET", "/conn", "connection", "keep-alive"));
            c.flush();
            RawH2.Frame refused = c.await(f -> f.stream() == 5, Duration.ofSeconds(10));
            assertNotNull(refused);
            assertEquals(RawH2.RST_STREAM, refused.type(), "a connection-specific header is malformed in HTTP/2");
            assertEquals(1, refused.errorCode(), "PROTOCOL_ERROR");

            c.headers(7, RawH2.END_HEADERS, c.requestBlock("POST", "/echo", "content-length", "10"));
            c.frame(RawH2.DATA, RawH2.END_STREAM, 7, new byte[5]);
            c.flush();
            RawH2.Frame shortBody = c.await(f -> f.stream() == 7 && f.type() == RawH2.RST_STREAM, Duration.ofSeconds(10));
            assertNotNull(shortBody, "DATA shorter than content-length resets the stream");
        }
        assertTrue(up.received().stream().noneMatch(r -> r.uri().equals("/host-differs") || r.uri().equals("/conn")),
                "malformed requests never reach the upstream");
        assertTrue(up.received().stream().noneMatch(r -> r.uri().equals("/echo") && r.bodyLength() == 10), "no 10-byte body was made up");
    }

    @Test
    void the_proxy_advertises_its_stream_limit_and_windows_and_refuses_streams_beyond_the_limit() throws Exception {
        // streams held open against an upstream that never accepts: no upstream holds half a request
        dev.sidecar.testkit.TcpUpstream hole = closer.add(dev.sidecar.testkit.TcpUpstream.blackHole());
        Sidecar held = closer.add(Sidecar.start(ConfigLoader.parse("""
                admin: { address: 127.0.0.1:0 }
                listeners: [{ name: web, address: 127.0.0.1:0, protocol: http, cluster: hole }]
                clusters:
                  - { name: hole, upstream_protocol: h2c, connect_timeout: 30s, endpoints: [{ address: %s }] }
                """.formatted(hole.address()))));
        try (RawH2 c = new RawH2(held.listenerPort("web"))) {
            RawH2.Frame settings = c.await(f -> f.type() == RawH2.SETTINGS && (f.flags() & RawH2.ACK) == 0, Duration.ofSeconds(10));
            assertNotNull(settings);
            java.util.Map<Integer, Long> values = new java.util.HashMap<>();
            for (int i = 0; i + 6 <= settings.payload().length; i += 6) {
                int id = ((settings.payload()[i] & 0xff) << 8) | (settings.payload()[i + 1] & 0xff);
                long v = 0;
                for (int k = 2; k < 6; k++) {
                    v = (v << 8) | (settings.payload()[i + k] & 0xff);
                }
                values.put(id, v);
            }
            assertEquals(100L, values.get(0x3), "SETTINGS_MAX_CONCURRENT_STREAMS: http.max_concurrent_streams");
            assertEquals(65_536L, values.get(0x4), "SETTINGS_INITIAL_WINDOW_SIZE: http.initial_stream_window");
            assertEquals(61_440L, values.get(0x6), "SETTINGS_MAX_HEADER_LIST_SIZE: http.max_header_list_size");
            RawH2.Frame window = c.await(f -> f.type() == RawH2.WINDOW_UPDATE && f.stream() == 0, Duration.ofSeconds(10));
            assertNotNull(window, "the connection window grows to http.initial_connection_window");
            int increment = new java.math.BigInteger(1, window.payload()).intValue() & 0x7fffffff;
            assertTrue(65_535 + increment >= 1024 * 1024, "the connection window reaches 1 MiB: +" + increment);

            // 100 streams held open (their bodies never end); the 101st is refused
            byte[] block = c.requestBlock("POST", "/echo");
            for (int i = 0, stream = 1; i < 101; i++, stream += 2) {
                c.headers(stream, RawH2.END_HEADERS, block);
            }
            c.flush();
            RawH2.Frame refused = c.await(f -> f.type() == RawH2.RST_STREAM, Duration.ofSeconds(10));
            assertNotNull(refused, "a stream beyond max_concurrent_streams is reset");
            assertEquals(201, refused.stream());
            assertEquals(0x7, refused.errorCode(), "REFUSED_STREAM");
        }
    }

    /**
     * A client that uploads as fast as its windows let it, to an upstream that never reads: the
     * proxy gives the client's window back only as its upstream connection takes the bytes, so
     * the upload stops at what the kernel buffers and one window hold, and the proxy's memory
     * with it. Giving the window back on arrival instead would let the client send without end,
     * into the upstream connection's outbound buffer.
     */
    @Test
    void an_upload_to_an_upstream_that_never_reads_is_held_by_the_stream_window() throws Exception {
        dev.sidecar.testkit.TcpUpstream stuck = closer.add(dev.sidecar.testkit.TcpUpstream.neverReads());
        Sidecar held = closer.add(Sidecar.start(ConfigLoader.parse("""
                admin: { address: 127.0.0.1:0 }
                listeners: [{ name: web, address: 127.0.0.1:0, protocol: http, cluster: stuck, http: { route_timeout: 0s } }]
                clusters:
                  - { name: stuck, endpoints: [{ address: %s }] }
                """.formatted(stuck.address()))));
        long before = held.usedDirectMemory();
        long peak = before;
        long sent = 0;
        long limit = 256L << 20;
        byte[] chunk = new byte[16 * 1024];
        try (RawH2 c = new RawH2(held.listenerPort("web"))) {
            c.headers(1, RawH2.END_HEADERS, c.requestBlock("POST", "/upload"));
            long streamWindow = 65_535; // the default: this client does not acknowledge the proxy's SETTINGS
            long connectionWindow = 65_535;
            int seen = 0;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            long quietSince = System.nanoTime();
            while (sent < limit && System.nanoTime() < deadline) {
                List<RawH2.Frame> frames = c.received();
                for (; seen < frames.size(); seen++) {
                    RawH2.Frame f = frames.get(seen);
                    if (f.type() == RawH2.WINDOW_UPDATE) {
                        long increment = new java.math.BigInteger(1, f.payload()).longValue() & 0x7fffffffL;
                        if (f.stream() == 0) {
                            connectionWindow += increment;
                        } else if (f.stream() == 1) {
                            streamWindow += increment;
                        }
                        quietSince = System.nanoTime();
                    }
                    assertTrue(f.type() != RawH2.RST_STREAM && f.type() != RawH2.GOAWAY, () -> "the upload was cut off: " + f.type() + " " + f.errorCode() + " after " + frames.stream().map(x -> x.type() + "/" + x.stream() + "/" + x.payload().length).toList());
                }
                long credit = Math.min(streamWindow, connectionWindow) - sent;
                if (credit >= chunk.length) {
                    c.frame(RawH2.DATA, 0, 1, chunk);
                    c.flush();
                    sent += chunk.length;
                    continue;
                }
                peak = Math.max(peak, held.usedDirectMemory());
                if (System.nanoTime() - quietSince > TimeUnit.SECONDS.toNanos(2)) {
                    break; // no window given back for 2 s: the upload is held
                }
                java.util.concurrent.locks.LockSupport.parkNanos(10_000_000);
            }
        }
        assertTrue(sent < 64L << 20, "the client sent " + sent + " bytes to an upstream that reads none");
        assertTrue(peak - before < 16L << 20, "proxy direct memory grew by " + (peak - before) + " bytes");
        assertTrue(sent >= 65_536, "the first window was taken: " + sent);
    }

    private int countGood() {
        return (int) up.received().stream().filter(r -> r.uri().equals("/good")).count();
    }
}
