package dev.sidecar.upstream;

import static java.util.Objects.requireNonNull;

import dev.sidecar.config.ClusterConfig;
import java.util.List;

/**
 * One immutable version of a cluster: its config, its endpoints, and the balancer built over
 * them and their health at the time. The data plane reads {@link Cluster#snapshot()} once per
 * connection (or request) and works on that.
 *
 * @param healthyEndpoints how many endpoints were healthy when the snapshot was built
 * @param panic true when too few were healthy and the balancer ignores health
 */
public record ClusterSnapshot(ClusterConfig config, List<Endpoint> endpoints, LoadBalancer balancer, int healthyEndpoints,
                              boolean panic) {
    public ClusterSnapshot {
        requireNonNull(config, "config");
        endpoints = List.copyOf(endpoints);
        requireNonNull(balancer, "balancer");
    }

    public Endpoint pick(PickContext context) {
        return balancer.pick(context);
    }
}
