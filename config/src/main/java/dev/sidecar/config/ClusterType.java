package dev.sidecar.config;

/** Where a cluster's endpoints come from (Envoy's cluster {@code type}). */
public enum ClusterType {
    /** The endpoints listed in the config (host names resolved at connect time, or every dns_refresh_rate). */
    STATIC("static"),
    /**
     * No list: each connection goes to the address it was originally sent to before an iptables
     * REDIRECT brought it to a listener with {@code original_destination: true}.
     */
    ORIGINAL_DST("original_dst");

    private final String configName;

    ClusterType(String configName) {
        this.configName = configName;
    }

    public String configName() {
        return configName;
    }
}
