package dev.sidecar.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sidecar.config.HealthCheckConfig;
import dev.sidecar.config.HostPort;
import dev.sidecar.testkit.GrpcHealthServer;
import dev.sidecar.testkit.TcpUpstream;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** grpc_health_check against a real grpc-java health service, and against peers that are not one. */
class GrpcProbeTest {
    private static final Duration TIMEOUT = Duration.ofMillis(500);
    /** Far above TIMEOUT: a probe that has not reported by then never will. */
    private static final long WAIT_SECONDS = 10;

    private static EventLoopGroup loops;
    /** How often each probe reported; checked once the event loop is gone and nothing can report again. */
    private static final List<AtomicInteger> reports = new CopyOnWriteArrayList<>();

    @BeforeAll
    static void start() {
        loops = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    }

    @AfterAll
    static void stop() throws InterruptedException {
        assertTrue(loops.shutdownGracefully(0, 5, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS));
        for (AtomicInteger count : reports) {
            assertEquals(1, count.get(), "a probe reports exactly once");
        }
    }

    @Test
    void serving_passes() throws Exception {
        try (GrpcHealthServer server = new GrpcHealthServer()) {
            server.setStatus("api", true);
            assertTrue(probe(server.port(), "api"));
        }
    }

    @Test
    void the_empty_name_asks_about_the_whole_server() throws Exception {
        try (GrpcHealthServer server = new GrpcHealthServer()) {
            assertTrue(probe(server.port(), ""));
        }
    }

    @Test
    void not_serving_fails() throws Exception {
        try (GrpcHealthServer server = new GrpcHealthServer()) {
            server.setStatus("api", false);
            assertFalse(probe(server.port(), "api"));
        }
    }

    @Test
    void an_unknown_service_fails() throws Exception {
        try (GrpcHealthServer server = new GrpcHealthServer()) {
            server.setStatus("api", true);
            assertFalse(probe(server.port(), "billing")); // grpc-java answers NOT_FOUND, trailers-only
        }
    }

    @Test
    void a_long_service_name_takes_a_two_byte_length() throws Exception {
        String name = "svc-" + "x".repeat(200); // > 127 bytes: the varint length needs two bytes
        try (GrpcHealthServer server = new GrpcHealthServer()) {
            server.setStatus(name, true);
            assertTrue(probe(server.port(), name));
        }
    }

    @Test
    void nothing_listening_fails() throws Exception {
        assertFalse(probe(TcpUpstream.refusingPort(), "api"));
    }

    @Test
    void a_peer_that_never_answers_fails_within_the_timeout() throws Exception {
        try (TcpUpstream silent = TcpUpstream.neverReads()) {
            long start = System.nanoTime();
            assertFalse(probe(silent.port(), "api"));
            long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertTrue(tookMillis >= TIMEOUT.toMillis() - 50, "failed before the timeout: " + tookMillis + " ms");
            assertTrue(tookMillis < TIMEOUT.toMillis() + 2000, "took " + tookMillis + " ms");
        }
    }

    @Test
    void a_peer_that_does_not_speak_http2_fails() throws Exception {
        try (TcpUpstream echo = TcpUpstream.echo()) {
            assertFalse(probe(echo.port(), "api")); // our own preface echoed back is not a SETTINGS frame
        }
    }

    private static boolean probe(int port, String service) throws Exception {
        HealthCheckConfig check = HealthCheckConfig.builder(new HealthCheckConfig.Grpc(service)).timeout(TIMEOUT).build();
        CompletableFuture<Boolean> verdict = new CompletableFuture<>();
        AtomicInteger count = new AtomicInteger();
        reports.add(count);
        GrpcProbe.run(loops, new Dialer(NioSocketChannel::new, io.netty.resolver.DefaultAddressResolverGroup.INSTANCE), Endpoint.of(HostPort.parse("127.0.0.1:" + port)), check, null, passed -> {
            count.incrementAndGet();
            verdict.complete(passed);
        });
        return verdict.get(WAIT_SECONDS, TimeUnit.SECONDS);
    }
}
