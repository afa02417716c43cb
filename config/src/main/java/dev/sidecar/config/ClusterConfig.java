package dev.sidecar.config;

import static java.util.Objects.requireNonNull;

import java.time.Duration;
import java.util.List;

/** A named set of upstream endpoints and how to balance and reach them. */
public record ClusterConfig(String name, LbPolicy lbPolicy, Duration connectTimeout, List<EndpointConfig> endpoints) {
    public static final LbPolicy DEFAULT_LB_POLICY = LbPolicy.ROUND_ROBIN;
    /** Envoy's default; long enough for a loaded host, short enough to fail over quickly. */
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(5);

    public ClusterConfig {
        requireNonNull(name, "name");
        requireNonNull(lbPolicy, "lbPolicy");
        requireNonNull(connectTimeout, "connectTimeout");
        endpoints = List.copyOf(endpoints);
    }

    public ClusterConfig withEndpoints(List<EndpointConfig> endpoints) {
        return new ClusterConfig(name, lbPolicy, connectTimeout, endpoints);
    }
}
