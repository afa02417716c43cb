package dev.sidecar.testkit;

import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.okhttp.OkHttpServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * A real grpc-java {@code grpc.health.v1.Health} service on 127.0.0.1 and an ephemeral port,
 * speaking cleartext HTTP/2 with prior knowledge: the peer that a {@code grpc_health_check}
 * must satisfy. It uses the OkHttp server transport on purpose: grpc-netty would put a second
 * Netty (or, shaded, a second copy) on the class path, which {@code NettyVersionTest} forbids.
 *
 * <p>As grpc-java's own service does, the empty service name ("the server as a whole") starts
 * SERVING and any name never given a status is answered with {@code NOT_FOUND}.
 */
public final class GrpcHealthServer implements AutoCloseable {
    private final HealthStatusManager health = new HealthStatusManager();
    private final Server server;

    public GrpcHealthServer() {
        InetSocketAddress bind = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
        try {
            server = OkHttpServerBuilder.forPort(bind, InsecureServerCredentials.create())
                    .directExecutor() // the health service never blocks; no thread pool to leak
                    .addService(health.getHealthService())
                    .build()
                    .start();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public int port() {
        return server.getPort();
    }

    /** {@code 127.0.0.1:port}, as an endpoint address in the config. */
    public String address() {
        return "127.0.0.1:" + port();
    }

    /** What {@code Check} answers for {@code service} from now on: SERVING or NOT_SERVING. */
    public void setStatus(String service, boolean serving) {
        health.setStatus(service, serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
    }

    @Override
    public void close() {
        health.enterTerminalState();
        server.shutdownNow();
        try {
            server.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
