package dev.sidecar.config;

import static java.util.Objects.requireNonNull;

/** One upstream address of a cluster and its share of the traffic. */
public record EndpointConfig(HostPort address, int weight) {
    public static final int DEFAULT_WEIGHT = 1;
    /** Large enough for any real split, small enough that weight sums never overflow an int. */
    public static final int MAX_WEIGHT = 65_535;

    public EndpointConfig {
        requireNonNull(address, "address");
    }

    public static EndpointConfig of(HostPort address) {
        return new EndpointConfig(address, DEFAULT_WEIGHT);
    }
}
