package dev.sidecar.upstream;

import static java.util.Objects.requireNonNull;

import dev.sidecar.config.ClusterConfig;
import java.util.List;

/**
 * One immutable version of a cluster: its config, its endpoints and the balancer built over
 * them. The data plane reads {@link Cluster#snapshot()} once per connection and works on that.
 */
public record ClusterSnapshot(ClusterConfig config, List<Endpoint> endpoints, LoadBalancer balancer) {
    public ClusterSnapshot {
        requireNonNull(config, "config");
        endpoints = List.copyOf(endpoints);
        requireNonNull(balancer, "balancer");
    }

    public Endpoint pick(PickContext context) {
        return balancer.pick(context);
    }
}
