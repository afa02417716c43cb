package dev.sidecar.reliability;

import com.google.protobuf.UInt32Value;
import io.envoyproxy.envoy.config.route.v3.RetryPolicy;
import io.envoyproxy.envoy.config.route.v3.Route;
import io.envoyproxy.envoy.config.route.v3.RouteAction;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.config.route.v3.RouteMatch;
import io.envoyproxy.envoy.config.route.v3.VirtualHost;

/**
 * The routes of the scorecard's xDS rows; their listener, EDS cluster and endpoints are the
 * testkit's {@link dev.sidecar.testkit.EnvoyResources}.
 */
final class XdsResources {
    private XdsResources() {}

    /** Every request to {@code cluster}, retried up to three times on connect failure, reset, refused stream or 5xx. */
    static RouteConfiguration routes(String name, String cluster) {
        RouteAction action = RouteAction.newBuilder().setCluster(cluster)
                .setRetryPolicy(RetryPolicy.newBuilder().setRetryOn("connect-failure,reset,refused-stream,5xx").setNumRetries(UInt32Value.of(3)))
                .build();
        VirtualHost vh = VirtualHost.newBuilder().setName("all").addDomains("*")
                .addRoutes(Route.newBuilder().setMatch(RouteMatch.newBuilder().setPrefix("/")).setRoute(action))
                .build();
        return RouteConfiguration.newBuilder().setName(name).addVirtualHosts(vh).build();
    }
}
