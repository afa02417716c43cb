package dev.sidecar.config;

/**
 * An endpoint's health as its source reports it: Envoy's {@code health_status} of an EDS
 * {@code LbEndpoint}, or the same key in the static config. Only HEALTHY, UNKNOWN and DEGRADED
 * endpoints get new traffic (Envoy's rule); the proxy's own checks and outlier detection still
 * apply on top.
 */
public enum HealthStatus {
    UNKNOWN("unknown"),
    HEALTHY("healthy"),
    UNHEALTHY("unhealthy"),
    DRAINING("draining"),
    TIMEOUT("timeout"),
    DEGRADED("degraded");

    private final String configName;

    HealthStatus(String configName) {
        this.configName = configName;
    }

    public String configName() {
        return configName;
    }

    /** Whether an endpoint reported with this status may get new connections or requests. */
    public boolean routable() {
        return this == UNKNOWN || this == HEALTHY || this == DEGRADED;
    }
}
