package dev.sidecar.testkit;

import io.envoyproxy.controlplane.cache.v3.SimpleCache;
import io.envoyproxy.controlplane.cache.v3.Snapshot;
import io.envoyproxy.controlplane.server.DiscoveryServerCallbacks;
import io.envoyproxy.controlplane.server.V3DiscoveryServer;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.okhttp.OkHttpServerBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A real xDS control plane for tests: java-control-plane's {@link SimpleCache} behind its
 * {@link V3DiscoveryServer} (ADS), on 127.0.0.1 and an ephemeral port, over grpc-java's OkHttp
 * server transport (one Netty on the class path). Every proxy gets the same snapshot, whatever
 * its node. Every DiscoveryRequest it receives is kept, so a test can assert on ACKs and on a
 * NACK's error_detail; on the incremental (delta) stream, every request and every response sent.
 *
 * <p>{@link #stop()} and {@link #restart()} take the server away and bring it back on the same
 * port with the same snapshot.
 */
public final class XdsServer implements AutoCloseable {
    private static final String GROUP = "all";

    private final SimpleCache<String> cache = new SimpleCache<>(node -> GROUP);
    private final List<DiscoveryRequest> requests = new CopyOnWriteArrayList<>();
    private final List<DeltaDiscoveryRequest> deltaRequests = new CopyOnWriteArrayList<>();
    private final List<DeltaDiscoveryResponse> deltaResponses = new CopyOnWriteArrayList<>();
    private final V3DiscoveryServer discovery;
    private Server server;
    private final io.grpc.ServerCredentials credentials;

    private static io.grpc.ServerCredentials tlsCredentials(java.nio.file.Path chain, java.nio.file.Path key) {
        try {
            return io.grpc.TlsServerCredentials.create(chain.toFile(), key.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
    private int port;

    public XdsServer() {
        this(null);
    }

    /**
     * Behind TLS with this certificate chain and key (PEM files), when {@code tls} is given as
     * {@code [chain, key]}; cleartext when null.
     */
    public XdsServer(java.nio.file.Path[] tls) {
        this.credentials = tls == null ? InsecureServerCredentials.create() : tlsCredentials(tls[0], tls[1]);
        discovery = new V3DiscoveryServer(new DiscoveryServerCallbacks() {
            @Override
            public void onV3StreamRequest(long streamId, DiscoveryRequest request) {
                requests.add(request);
            }

            @Override
            public void onV3StreamDeltaRequest(long streamId, DeltaDiscoveryRequest request) {
                deltaRequests.add(request);
            }

            @Override
            public void onV3StreamDeltaResponse(long streamId, DeltaDiscoveryRequest request, DeltaDiscoveryResponse response) {
                deltaResponses.add(response);
            }
        }, cache);
        cache.setSnapshot(GROUP, Snapshot.createEmpty("0"));
        server = bind(0);
        port = server.getPort();
    }

    private Server bind(int p) {
        try {
            return OkHttpServerBuilder.forPort(new InetSocketAddress(InetAddress.getLoopbackAddress(), p), credentials)
                    .addService(discovery.getAggregatedDiscoveryServiceImpl())
                    .build()
                    .start();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public int port() {
        return port;
    }

    /** {@code 127.0.0.1:port}, as {@code control_plane.address}. */
    public String address() {
        return "127.0.0.1:" + port;
    }

    /** Serves these resources, as version {@code version}, to every proxy from now on. */
    public void set(String version, List<Cluster> clusters, List<ClusterLoadAssignment> endpoints, List<Listener> listeners,
                    List<RouteConfiguration> routes) {
        cache.setSnapshot(GROUP, Snapshot.create(clusters, endpoints, listeners, routes, List.of(), version));
    }

    /** Every DiscoveryRequest received so far, oldest first. */
    public List<DiscoveryRequest> requests() {
        return List.copyOf(requests);
    }

    /** Every DeltaDiscoveryRequest received so far, oldest first. */
    public List<DeltaDiscoveryRequest> deltaRequests() {
        return List.copyOf(deltaRequests);
    }

    /** Every DeltaDiscoveryResponse sent so far, oldest first. */
    public List<DeltaDiscoveryResponse> deltaResponses() {
        return List.copyOf(deltaResponses);
    }

    /** Waits up to {@code timeout} for a delta request that {@code test} accepts, and returns it. */
    public DeltaDiscoveryRequest awaitDeltaRequest(Predicate<DeltaDiscoveryRequest> test, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            for (DeltaDiscoveryRequest r : deltaRequests) {
                if (test.test(r)) {
                    return r;
                }
            }
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("no matching DeltaDiscoveryRequest within " + timeout + "; received: " + deltaRequests);
            }
            java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
        }
    }

    /** Waits up to {@code timeout} for a request that {@code test} accepts, and returns it. */
    public DiscoveryRequest awaitRequest(Predicate<DiscoveryRequest> test, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            for (DiscoveryRequest r : requests) {
                if (test.test(r)) {
                    return r;
                }
            }
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("no matching DiscoveryRequest within " + timeout + "; received: " + requests);
            }
            java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
        }
    }

    /** Stops serving: open streams are cut, new connections refused. */
    public void stop() {
        server.shutdownNow();
        try {
            server.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Serves again on the same port, with the snapshot it had. */
    public void restart() {
        server = bind(port);
    }

    @Override
    public void close() {
        stop();
    }
}
