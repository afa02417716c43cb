package dev.sidecar.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sidecar.testkit.Await;
import dev.sidecar.testkit.Closer;
import dev.sidecar.testkit.TcpUpstream;
import dev.sidecar.testkit.Traffic;
import dev.sidecar.upstream.Cluster;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The L4 proxy end to end: the real listener on real loopback sockets, in-process. */
class TcpProxyTest {
    private static final long MiB = 1024 * 1024;

    private final Closer closer = new Closer();

    @AfterEach
    void tearDown() throws Exception {
        closer.close();
    }

    private <T extends AutoCloseable> T track(T resource) {
        return closer.add(resource);
    }

    private Sidecar proxy(String listenerExtra, String clusterExtra, String... endpoints) {
        return proxyOn("auto", listenerExtra, clusterExtra, endpoints);
    }

    private Sidecar proxyOn(String transport, String listenerExtra, String clusterExtra, String... endpoints) {
        StringBuilder yaml = new StringBuilder("server: { transport: " + transport + " }\n");
        yaml.append("""
                admin: { address: 127.0.0.1:0 }
                listeners:
                  - name: in
                    address: 127.0.0.1:0
                    cluster: up
                """);
        listenerExtra.lines().forEach(l -> yaml.append("    ").append(l).append('\n'));
        yaml.append("""
                clusters:
                  - name: up
                """);
        clusterExtra.lines().forEach(l -> yaml.append("    ").append(l).append('\n'));
        yaml.append("    endpoints:\n");
        for (String e : endpoints) {
            yaml.append("      - address: ").append(e).append('\n');
        }
        return track(Sidecar.start(ConfigLoader.parse(yaml.toString())));
    }

    private static int port(Sidecar s) {
        return s.listenerPort("in");
    }

    @Test
    void echoes_100_MiB_byte_exact() {
        TcpUpstream echo = track(TcpUpstream.echo());
        Sidecar proxy = proxy("", "", echo.address());

        Traffic.EchoResult r = Traffic.echo(port(proxy), 100 * MiB, 1);

        assertEquals(100 * MiB, r.receivedBytes());
        assertTrue(r.exact(), "the bytes that came back differ from those sent: " + r);
    }

    @Test
    void echoes_100_MiB_over_50_concurrent_connections_byte_exact() throws Exception {
        TcpUpstream echo1 = track(TcpUpstream.echo());
        TcpUpstream echo2 = track(TcpUpstream.echo());
        Sidecar proxy = proxy("", "lb_policy: round_robin", echo1.address(), echo2.address());
        int connections = 50;
        ExecutorService pool = Executors.newFixedThreadPool(connections);
        try {
            List<Future<Traffic.EchoResult>> results = new ArrayList<>();
            for (int i = 0; i < connections; i++) {
                long seed = i;
                results.add(pool.submit(() -> Traffic.echo(port(proxy), 2 * MiB, seed)));
            }
            for (Future<Traffic.EchoResult> f : results) {
                Traffic.EchoResult r = f.get();
                assertTrue(r.exact(), "connection corrupted: " + r);
            }
        } finally {
            pool.shutdownNow();
        }
        assertEquals(25, echo1.accepted());
        assertEquals(25, echo2.accepted());
        Cluster cluster = proxy.clusters().get("up");
        Await.until("upstream connections to close", () -> cluster.activeConnections() == 0);
        assertEquals(connections, cluster.connections());
    }

    @Test
    void upload_to_a_slow_upstream_keeps_proxy_memory_bounded() throws Exception {
        // 512 MiB against a reader of 256 MiB/s: the client can write far faster than that, so
        // without backpressure the proxy would queue hundreds of MiB.
        TcpUpstream slow = track(TcpUpstream.throttledSink(256 * MiB));
        Sidecar proxy = proxy("", "", slow.address());
        long total = 512 * MiB;
        long before = proxy.usedDirectMemory();
        AtomicLong peak = new AtomicLong();

        try (Socket client = Traffic.connect(port(proxy))) {
            CompletableFuture<long[]> upload = CompletableFuture.supplyAsync(() -> {
                try {
                    return Traffic.write(client.getOutputStream(), total, 7);
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            Await.until("the upstream to read 512 MiB", Duration.ofSeconds(60), () -> {
                peak.accumulateAndGet(proxy.usedDirectMemory(), Math::max);
                return slow.bytesRead() == total;
            });
            upload.join();
        }

        long growth = peak.get() - before;
        // Per direction the relay holds one read batch plus the 64 KiB high water mark; the
        // allocator rounds that up to its chunks. 16 MiB is generous for that and far below
        // what buffering the upload (hundreds of MiB) would take.
        assertTrue(growth < 16 * MiB, "proxy direct memory grew by " + growth + " bytes during a 512 MiB upload");
    }

    /**
     * A client that sends and half-closes at once, before the proxy has its upstream: epoll reads
     * such a socket on EPOLLRDHUP even though no read was asked for, so the bytes and the end of
     * input arrive before the relay exists and must be held, then replayed in order.
     */
    @ParameterizedTest
    @ValueSource(strings = {"io_uring", "epoll", "nio"})
    void clients_that_send_and_close_at_once_are_served_on_every_transport(String transport) {
        TcpUpstream echo = track(TcpUpstream.echo());
        Sidecar proxy = proxyOn(transport, "", "", echo.address());
        for (int i = 0; i < 300; i++) {
            Traffic.EchoResult r = Traffic.echo(port(proxy), 1 + i * 7, i);
            assertTrue(r.exact(), transport + " connection " + i + ": " + r);
        }
    }

    /** Host-name endpoints go through the non-blocking resolver (here: /etc/hosts) on every transport. */
    @ParameterizedTest
    @ValueSource(strings = {"io_uring", "epoll", "nio"})
    void a_host_name_endpoint_is_resolved_and_reached(String transport) {
        TcpUpstream echo = track(TcpUpstream.echo());
        Sidecar proxy = proxyOn(transport, "max_connect_attempts: 1", "", "localhost:" + echo.port());
        assertTrue(proxy.clusters().get("up").snapshot().endpoints().get(0).socketAddress().isUnresolved(), "a name, left for the resolver");
        for (int i = 0; i < 3; i++) {
            assertTrue(Traffic.echo(port(proxy), 100, i).exact());
        }
    }

    @Test
    void client_half_close_still_gets_the_whole_reply() throws Exception {
        TcpUpstream echo = track(TcpUpstream.echo());
        Sidecar proxy = proxy("", "", echo.address());
        try (Socket s = Traffic.connect(port(proxy))) {
            s.getOutputStream().write("ping".getBytes(StandardCharsets.US_ASCII));
            s.shutdownOutput();
            byte[] reply = s.getInputStream().readAllBytes(); // until the upstream's FIN comes through
            assertEquals("ping", new String(reply, StandardCharsets.US_ASCII));
        }
    }

    @Test
    void upstream_half_close_lets_the_client_keep_sending() throws Exception {
        // The upstream greets, closes its sending side, then reads everything the client sends.
        CompletableFuture<String> heard = new CompletableFuture<>();
        TcpUpstream greeter = track(TcpUpstream.custom("greeter", (socket, u) -> {
            OutputStream out = socket.getOutputStream();
            out.write("hello".getBytes(StandardCharsets.US_ASCII));
            socket.shutdownOutput();
            heard.complete(new String(socket.getInputStream().readAllBytes(), StandardCharsets.US_ASCII));
            socket.close();
        }));
        Sidecar proxy = proxy("", "", greeter.address());
        try (Socket s = Traffic.connect(port(proxy))) {
            InputStream in = s.getInputStream();
            assertEquals("hello", new String(in.readAllBytes(), StandardCharsets.US_ASCII), "greeting, then EOF");
            s.getOutputStream().write("still here".getBytes(StandardCharsets.US_ASCII));
            s.shutdownOutput();
            assertEquals("still here", heard.get(10, java.util.concurrent.TimeUnit.SECONDS));
        }
        Await.until("both sides to be closed", () -> proxy.activeConnections() == 0);
    }

    @Test
    void idle_connections_are_closed() {
        TcpUpstream echo = track(TcpUpstream.echo());
        Sidecar proxy = proxy("idle_timeout: 300ms", "", echo.address());
        try (Socket s = Traffic.connect(port(proxy))) {
            Await.until("the upstream connection", () -> echo.openConnections() == 1);
            Await.until("the idle connection to be closed", Duration.ofSeconds(10), () -> Traffic.closedByPeer(s));
            Await.until("the upstream side to be closed", () -> echo.openConnections() == 0);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void max_connections_refuses_the_extra_connection() throws Exception {
        TcpUpstream echo = track(TcpUpstream.echo());
        Sidecar proxy = proxy("max_connections: 2", "", echo.address());
        try (Socket a = Traffic.connect(port(proxy)); Socket b = Traffic.connect(port(proxy))) {
            Await.until("two upstream connections", () -> echo.openConnections() == 2);
            try (Socket c = Traffic.connect(port(proxy))) {
                Await.until("the third connection to be closed", () -> Traffic.closedByPeer(c));
            }
            // The first two still work.
            a.getOutputStream().write('x');
            assertEquals('x', a.getInputStream().read());
            b.getOutputStream().write('y');
            assertEquals('y', b.getInputStream().read());
        }
        assertEquals(1, proxy.listenerStats("in").refused());
        assertEquals(2, echo.accepted());
    }

    @Test
    void connect_timeout_to_a_black_hole_closes_the_client() {
        TcpUpstream hole = track(TcpUpstream.blackHole());
        Sidecar proxy = proxy("max_connect_attempts: 1", "connect_timeout: 200ms", hole.address());
        try (Socket s = Traffic.connect(port(proxy))) {
            Await.until("the client to be closed after the connect timeout", Duration.ofSeconds(10), () -> Traffic.closedByPeer(s));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        Cluster cluster = proxy.clusters().get("up");
        assertEquals(1, cluster.connectFailures());
        assertEquals(0, cluster.activeConnections());
        assertEquals(1, proxy.listenerStats("in").upstreamFailures());
    }

    @Test
    void fails_over_past_a_refusing_endpoint() throws Exception {
        TcpUpstream echo = track(TcpUpstream.echo());
        int refusing = TcpUpstream.refusingPort();
        Sidecar proxy = proxy("", "lb_policy: round_robin", "127.0.0.1:" + refusing, echo.address());
        for (int i = 0; i < 10; i++) {
            try (Socket s = Traffic.connect(port(proxy))) {
                s.getOutputStream().write(i);
                assertEquals(i, s.getInputStream().read(), "connection " + i + " should reach the echo endpoint");
            }
        }
        assertEquals(10, echo.accepted());
        assertTrue(proxy.clusters().get("up").connectFailures() >= 5, "round robin sends every other first attempt to the refusing port");
    }

    @Test
    void least_connection_spreads_20_long_lived_connections_within_one() throws Exception {
        TcpUpstream a = track(TcpUpstream.neverReads());
        TcpUpstream b = track(TcpUpstream.neverReads());
        Sidecar proxy = proxy("", "lb_policy: least_connection", a.address(), b.address());
        List<Socket> clients = new ArrayList<>();
        try {
            for (int i = 0; i < 20; i++) {
                clients.add(Traffic.connect(port(proxy)));
                int expected = i + 1;
                // one at a time, so each pick sees the previous connection counted
                Await.until("connection " + expected + " upstream", () -> a.accepted() + b.accepted() == expected);
            }
            assertTrue(Math.abs(a.accepted() - b.accepted()) <= 1, "spread " + a.accepted() + " vs " + b.accepted());
        } finally {
            for (Socket s : clients) {
                s.close();
            }
        }
    }

    @Test
    void an_upstream_reset_closes_the_client_promptly() {
        TcpUpstream reset = track(TcpUpstream.resetting());
        Sidecar proxy = proxy("max_connect_attempts: 1", "", reset.address());
        try (Socket s = Traffic.connect(port(proxy))) {
            Await.until("the client to be closed", () -> Traffic.closedByPeer(s));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        Await.until("no connections left", () -> proxy.activeConnections() == 0 && proxy.clusters().get("up").activeConnections() == 0);
    }

    @Test
    void a_client_reset_closes_the_upstream_promptly() throws Exception {
        TcpUpstream echo = track(TcpUpstream.echo());
        Sidecar proxy = proxy("", "", echo.address());
        Socket s = Traffic.connect(port(proxy));
        Await.until("the upstream connection", () -> echo.openConnections() == 1);
        s.setSoLinger(true, 0);
        s.close();
        Await.until("the upstream connection to be closed", () -> echo.openConnections() == 0);
        Await.until("no connections left", () -> proxy.activeConnections() == 0);
    }
}
