package dev.sidecar.config;

import static java.util.Objects.requireNonNull;

/** The admin listener: readiness, metrics and (later) the rest of the admin API. */
public record AdminConfig(HostPort address) {
    public static final AdminConfig DEFAULT = new AdminConfig(new HostPort("127.0.0.1", 9901));

    public AdminConfig {
        requireNonNull(address, "address");
    }
}
