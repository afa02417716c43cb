package dev.sidecar.config;

import static java.util.Objects.requireNonNull;

import java.util.List;
import java.util.Optional;

/** Everything the proxy runs on: one immutable, validated value. */
public record ProxyConfig(ServerConfig server, AdminConfig admin, List<ListenerConfig> listeners, List<ClusterConfig> clusters) {
    public ProxyConfig {
        requireNonNull(server, "server");
        requireNonNull(admin, "admin");
        listeners = List.copyOf(listeners);
        clusters = List.copyOf(clusters);
    }

    public Optional<ClusterConfig> cluster(String name) {
        return clusters.stream().filter(c -> c.name().equals(name)).findFirst();
    }

    public ProxyConfig withServer(ServerConfig server) {
        return new ProxyConfig(server, admin, listeners, clusters);
    }

    public ProxyConfig withAdmin(AdminConfig admin) {
        return new ProxyConfig(server, admin, listeners, clusters);
    }

    /** Checks the rules no single field can check alone; an empty list means the config is usable. */
    public List<ConfigError> validate() {
        return ConfigValidator.validate(this);
    }
}
