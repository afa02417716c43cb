package dev.sidecar.config;

/** How a cluster picks an endpoint for a new connection or request. */
public enum LbPolicy {
    ROUND_ROBIN("round_robin"),
    LEAST_CONNECTION("least_connection"),
    RANDOM("random"),
    LEAST_REQUEST("least_request"),
    PEAK_EWMA("peak_ewma"),
    RING_HASH("ring_hash"),
    MAGLEV("maglev");

    private final String configName;

    LbPolicy(String configName) {
        this.configName = configName;
    }

    /** The name used in the YAML. */
    public String configName() {
        return configName;
    }
}
