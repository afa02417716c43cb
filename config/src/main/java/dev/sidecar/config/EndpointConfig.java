package dev.sidecar.config;

import static java.util.Objects.requireNonNull;

/**
 * One upstream address of a cluster, its share of the traffic, its priority level (0 is the
 * highest; lower levels take traffic as the higher ones lose health), and the health its source
 * reports for it.
 */
public record EndpointConfig(HostPort address, int weight, int priority, HealthStatus healthStatus) {
    public static final int DEFAULT_WEIGHT = 1;
    /** Large enough for any real split, small enough that weight sums never overflow an int. */
    public static final int MAX_WEIGHT = 65_535;
    public static final int MAX_PRIORITY = 127;

    public EndpointConfig {
        requireNonNull(address, "address");
        requireNonNull(healthStatus, "healthStatus");
    }

    public static EndpointConfig of(HostPort address) {
        return new EndpointConfig(address, DEFAULT_WEIGHT, 0, HealthStatus.UNKNOWN);
    }
}
