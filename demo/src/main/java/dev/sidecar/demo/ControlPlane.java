package dev.sidecar.demo;

import com.google.protobuf.Any;
import com.google.protobuf.UInt32Value;
import io.envoyproxy.controlplane.cache.v3.SimpleCache;
import io.envoyproxy.controlplane.cache.v3.Snapshot;
import io.envoyproxy.controlplane.server.V3DiscoveryServer;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.AggregatedConfigSource;
import io.envoyproxy.envoy.config.core.v3.ConfigSource;
import io.envoyproxy.envoy.config.core.v3.HealthStatus;
import io.envoyproxy.envoy.config.core.v3.Http2ProtocolOptions;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.endpoint.v3.Endpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LbEndpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import io.envoyproxy.envoy.config.listener.v3.Filter;
import io.envoyproxy.envoy.config.listener.v3.FilterChain;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.Route;
import io.envoyproxy.envoy.config.route.v3.RouteAction;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.config.route.v3.RouteMatch;
import io.envoyproxy.envoy.config.route.v3.VirtualHost;
import io.envoyproxy.envoy.extensions.filters.http.router.v3.Router;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.Rds;
import io.envoyproxy.envoy.extensions.upstreams.http.v3.HttpProtocolOptions;
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.okhttp.OkHttpServerBuilder;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The demo's xDS control plane: java-control-plane's {@link SimpleCache} and
 * {@link V3DiscoveryServer} (ADS, state of the world and delta) on 127.0.0.1, over grpc-java's
 * OkHttp server transport (one Netty on the class path). It serves one HTTP listener, its routes
 * (gRPC calls to {@code sidecar.demo.Greeter} to the cluster "greeter", everything else to
 * "web"), the two EDS clusters, and their endpoints, which move every interval along
 * {@link EndpointSchedule}. Listener, routes and clusters stay at version 1; only the endpoints
 * change, as they would when pods come and go.
 */
final class ControlPlane implements AutoCloseable {
    static final String LISTENER = "web";
    static final String ROUTES = "demo-routes";
    static final String WEB = "web";
    static final String GREETER = "greeter";
    private static final String GROUP = "demo";
    private static final ConfigSource ADS = ConfigSource.newBuilder().setAds(AggregatedConfigSource.getDefaultInstance()).build();
    private static final Logger log = LoggerFactory.getLogger(ControlPlane.class);

    private final SimpleCache<String> cache = new SimpleCache<>(node -> GROUP);
    private final Server server;
    private final int listenerPort;
    private final int[] httpPorts;
    private final int[] grpcPorts;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "demo-control-plane");
        t.setDaemon(true);
        return t;
    });
    private long version; // on the timer thread after the first publish

    /**
     * Serves on {@code port} (0: any free one) the listener on {@code listenerPort} and the
     * instances on {@code httpPorts} and {@code grpcPorts} (instance i at index i - 1),
     * starting with the schedule's first step as version 1.
     */
    ControlPlane(int port, int listenerPort, int[] httpPorts, int[] grpcPorts) throws IOException {
        this.listenerPort = listenerPort;
        this.httpPorts = httpPorts.clone();
        this.grpcPorts = grpcPorts.clone();
        publish(1);
        server = OkHttpServerBuilder.forPort(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), InsecureServerCredentials.create())
                .addService(new V3DiscoveryServer(cache).getAggregatedDiscoveryServiceImpl())
                .build()
                .start();
    }

    int port() {
        return server.getPort();
    }

    /** From now on, the next step of the schedule every {@code interval}. */
    void moveEvery(Duration interval) {
        long ms = interval.toMillis();
        timer.scheduleAtFixedRate(() -> publish(version + 1), ms, ms, TimeUnit.MILLISECONDS);
    }

    private void publish(long next) {
        EndpointSchedule.Step step = EndpointSchedule.at(next);
        List<ClusterLoadAssignment> endpoints = List.of(assignment(WEB, step, httpPorts), assignment(GREETER, step, grpcPorts));
        cache.setSnapshot(GROUP, Snapshot.create(
                List.of(cluster(WEB, false), cluster(GREETER, true)), "1",
                endpoints, Long.toString(next),
                List.of(listener()), "1",
                List.of(routes()), "1",
                List.of(), "1"));
        version = next;
        log.info("xds: version " + next + ": endpoints now " + describe(step));
    }

    /** {@code 127.0.0.1:7002, :7003 (gRPC :7012, :7013)}, the unhealthy one marked. */
    private String describe(EndpointSchedule.Step step) {
        StringBuilder http = new StringBuilder();
        StringBuilder grpc = new StringBuilder();
        for (int instance : step.instances()) {
            String mark = instance == step.unhealthy() ? " UNHEALTHY" : "";
            http.append(http.length() == 0 ? "127.0.0.1:" : ", :").append(httpPorts[instance - 1]).append(mark);
            grpc.append(grpc.length() == 0 ? "gRPC :" : ", :").append(grpcPorts[instance - 1]).append(mark);
        }
        String s = http + " (" + grpc + ")";
        if (step.unhealthy() != 0) {
            s += ": instance " + step.unhealthy() + " is reported unhealthy, the proxy sends it nothing";
        }
        return s;
    }

    private static ClusterLoadAssignment assignment(String cluster, EndpointSchedule.Step step, int[] ports) {
        LocalityLbEndpoints.Builder locality = LocalityLbEndpoints.newBuilder();
        for (int instance : step.instances()) {
            locality.addLbEndpoints(LbEndpoint.newBuilder()
                    .setEndpoint(Endpoint.newBuilder().setAddress(address(ports[instance - 1])))
                    .setLoadBalancingWeight(UInt32Value.of(1))
                    .setHealthStatus(instance == step.unhealthy() ? HealthStatus.UNHEALTHY : HealthStatus.HEALTHY));
        }
        return ClusterLoadAssignment.newBuilder().setClusterName(cluster).addEndpoints(locality).build();
    }

    /** An EDS cluster, round robin; {@code h2c}: HTTP/2 with prior knowledge to its endpoints, as gRPC needs. */
    private static Cluster cluster(String name, boolean h2c) {
        Cluster.Builder c = Cluster.newBuilder().setName(name).setType(Cluster.DiscoveryType.EDS)
                .setEdsClusterConfig(Cluster.EdsClusterConfig.newBuilder().setEdsConfig(ADS))
                .setLbPolicy(Cluster.LbPolicy.ROUND_ROBIN)
                .setConnectTimeout(com.google.protobuf.Duration.newBuilder().setSeconds(1));
        if (h2c) {
            c.putTypedExtensionProtocolOptions("envoy.extensions.upstreams.http.v3.HttpProtocolOptions", Any.pack(
                    HttpProtocolOptions.newBuilder().setExplicitHttpConfig(HttpProtocolOptions.ExplicitHttpConfig.newBuilder()
                            .setHttp2ProtocolOptions(Http2ProtocolOptions.getDefaultInstance())).build()));
        }
        return c.build();
    }

    private Listener listener() {
        HttpConnectionManager hcm = HttpConnectionManager.newBuilder().setStatPrefix(LISTENER)
                .setRds(Rds.newBuilder().setRouteConfigName(ROUTES).setConfigSource(ADS))
                .addHttpFilters(HttpFilter.newBuilder().setName("envoy.filters.http.router").setTypedConfig(Any.pack(Router.getDefaultInstance())))
                .build();
        return Listener.newBuilder().setName(LISTENER).setAddress(address(listenerPort))
                .addFilterChains(FilterChain.newBuilder().addFilters(Filter.newBuilder()
                        .setName("envoy.filters.network.http_connection_manager").setTypedConfig(Any.pack(hcm))))
                .build();
    }

    private static RouteConfiguration routes() {
        List<Route> routes = new ArrayList<>();
        routes.add(Route.newBuilder().setMatch(RouteMatch.newBuilder().setPrefix("/" + GreeterInstance.SERVICE + "/"))
                .setRoute(RouteAction.newBuilder().setCluster(GREETER)).build());
        routes.add(Route.newBuilder().setMatch(RouteMatch.newBuilder().setPrefix("/"))
                .setRoute(RouteAction.newBuilder().setCluster(WEB)).build());
        return RouteConfiguration.newBuilder().setName(ROUTES)
                .addVirtualHosts(VirtualHost.newBuilder().setName("demo").addDomains("*").addAllRoutes(routes))
                .build();
    }

    private static Address address(int port) {
        return Address.newBuilder().setSocketAddress(SocketAddress.newBuilder().setAddress("127.0.0.1").setPortValue(port)).build();
    }

    @Override
    public void close() {
        timer.shutdownNow();
        server.shutdownNow();
        try {
            server.awaitTermination(5, TimeUnit.SECONDS);
            timer.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
