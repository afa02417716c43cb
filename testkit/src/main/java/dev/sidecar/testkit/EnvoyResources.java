package dev.sidecar.testkit;

import com.google.protobuf.Any;
import com.google.protobuf.UInt32Value;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.AggregatedConfigSource;
import io.envoyproxy.envoy.config.core.v3.ConfigSource;
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
import io.envoyproxy.envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy;

/** Envoy v3 resources as a control plane would send them, for the xDS tests ({@link XdsServer#set}). */
public final class EnvoyResources {
    private EnvoyResources() {}

    public static final ConfigSource ADS = ConfigSource.newBuilder().setAds(AggregatedConfigSource.getDefaultInstance()).build();

    public static Cluster edsCluster(String name) {
        return Cluster.newBuilder().setName(name).setType(Cluster.DiscoveryType.EDS)
                .setEdsClusterConfig(Cluster.EdsClusterConfig.newBuilder().setEdsConfig(ADS))
                .setConnectTimeout(com.google.protobuf.Duration.newBuilder().setSeconds(1))
                .build();
    }

    public static ClusterLoadAssignment endpoints(String cluster, int... ports) {
        LocalityLbEndpoints.Builder l = LocalityLbEndpoints.newBuilder();
        for (int port : ports) {
            l.addLbEndpoints(LbEndpoint.newBuilder().setEndpoint(Endpoint.newBuilder().setAddress(address(port)))
                    .setLoadBalancingWeight(UInt32Value.of(1)));
        }
        return ClusterLoadAssignment.newBuilder().setClusterName(cluster).addEndpoints(l).build();
    }

    /**
     * {@code cluster}'s endpoints: the real ones ({@code ports} on 127.0.0.1) at priority 0 and
     * {@code others} addresses on 127.0.x.y, port 9, at priority 1, a third each HEALTHY, UNHEALTHY
     * and DRAINING. Nothing listens there; since priority 0 is wholly healthy it takes all the
     * traffic (Envoy's priority spill-over), so the others are part of the set without being
     * picked. {@code shift} moves the others' addresses, so two calls with different shifts
     * share all but {@code shift} of them.
     */
    public static ClusterLoadAssignment largeAssignment(String cluster, int others, int shift, int... ports) {
        LocalityLbEndpoints.Builder real = LocalityLbEndpoints.newBuilder();
        for (int port : ports) {
            real.addLbEndpoints(LbEndpoint.newBuilder().setEndpoint(Endpoint.newBuilder().setAddress(address(port)))
                    .setHealthStatus(io.envoyproxy.envoy.config.core.v3.HealthStatus.HEALTHY));
        }
        LocalityLbEndpoints.Builder spare = LocalityLbEndpoints.newBuilder().setPriority(1);
        io.envoyproxy.envoy.config.core.v3.HealthStatus[] statuses = {io.envoyproxy.envoy.config.core.v3.HealthStatus.HEALTHY,
                io.envoyproxy.envoy.config.core.v3.HealthStatus.UNHEALTHY, io.envoyproxy.envoy.config.core.v3.HealthStatus.DRAINING};
        for (int i = shift; i < others + shift; i++) {
            String host = "127.0." + (1 + i / 250) + "." + (1 + i % 250);
            spare.addLbEndpoints(LbEndpoint.newBuilder()
                    .setEndpoint(Endpoint.newBuilder().setAddress(Address.newBuilder()
                            .setSocketAddress(SocketAddress.newBuilder().setAddress(host).setPortValue(9))))
                    .setHealthStatus(statuses[i % 3]));
        }
        return ClusterLoadAssignment.newBuilder().setClusterName(cluster).addEndpoints(real).addEndpoints(spare).build();
    }

    public static Address address(int port) {
        return Address.newBuilder().setSocketAddress(SocketAddress.newBuilder().setAddress("127.0.0.1").setPortValue(port)).build();
    }

    public static Listener tcpListener(String name, String cluster) {
        TcpProxy t = TcpProxy.newBuilder().setStatPrefix(name).setCluster(cluster).build();
        return Listener.newBuilder().setName(name).setAddress(address(0))
                .addFilterChains(FilterChain.newBuilder().addFilters(Filter.newBuilder().setName("envoy.filters.network.tcp_proxy")
                        .setTypedConfig(Any.pack(t))))
                .build();
    }

    public static Listener httpListener(String name, String routeConfigName) {
        HttpConnectionManager h = HttpConnectionManager.newBuilder().setStatPrefix(name)
                .setRds(Rds.newBuilder().setRouteConfigName(routeConfigName).setConfigSource(ADS))
                .addHttpFilters(HttpFilter.newBuilder().setName("envoy.filters.http.router").setTypedConfig(Any.pack(Router.getDefaultInstance())))
                .build();
        return Listener.newBuilder().setName(name).setAddress(address(0))
                .addFilterChains(FilterChain.newBuilder().addFilters(Filter.newBuilder().setName("envoy.filters.network.http_connection_manager")
                        .setTypedConfig(Any.pack(h))))
                .build();
    }

    /** Every request to {@code cluster}, except those whose path starts with {@code prefix}, which go to {@code other}. */
    public static RouteConfiguration routes(String name, String cluster, String prefix, String other) {
        VirtualHost.Builder vh = VirtualHost.newBuilder().setName("all").addDomains("*");
        if (prefix != null) {
            vh.addRoutes(Route.newBuilder().setMatch(RouteMatch.newBuilder().setPrefix(prefix))
                    .setRoute(RouteAction.newBuilder().setCluster(other)));
        }
        vh.addRoutes(Route.newBuilder().setMatch(RouteMatch.newBuilder().setPrefix("/")).setRoute(RouteAction.newBuilder().setCluster(cluster)));
        return RouteConfiguration.newBuilder().setName(name).addVirtualHosts(vh).build();
    }
}
