package dev.sidecar.config;

import static java.util.Objects.requireNonNull;

import java.util.List;
import java.util.Optional;

/**
 * Everything the proxy runs on: one immutable, validated value.
 *
 * @param controlPlane the xDS control plane that adds listeners and clusters to these; null for none
 */
public record ProxyConfig(ServerConfig server, AdminConfig admin, List<ListenerConfig> listeners, List<ClusterConfig> clusters,
                          ControlPlaneConfig controlPlane) {
    public ProxyConfig {
        requireNonNull(server, "server");
        requireNonNull(admin, "admin");
        listeners = List.copyOf(listeners);
        clusters = List.copyOf(clusters);
    }

    /** A config without a control plane. */
    public ProxyConfig(ServerConfig server, AdminConfig admin, List<ListenerConfig> listeners, List<ClusterConfig> clusters) {
        this(server, admin, listeners, clusters, null);
    }

    public Optional<ClusterConfig> cluster(String name) {
        return clusters.stream().filter(c -> c.name().equals(name)).findFirst();
    }

    public ProxyConfig withServer(ServerConfig server) {
        return new ProxyConfig(server, admin, listeners, clusters, controlPlane);
    }

    public ProxyConfig withAdmin(AdminConfig admin) {
        return new ProxyConfig(server, admin, listeners, clusters, controlPlane);
    }

    public ProxyConfig withControlPlane(ControlPlaneConfig controlPlane) {
        return new ProxyConfig(server, admin, listeners, clusters, controlPlane);
    }

    /** The same settings with other listeners and clusters (e.g. static ones merged with xDS ones). */
    public ProxyConfig withResources(List<ListenerConfig> listeners, List<ClusterConfig> clusters) {
        return new ProxyConfig(server, admin, listeners, clusters, controlPlane);
    }

    /** Checks the rules no single field can check alone; an empty list means the config is usable. */
    public List<ConfigError> validate() {
        return ConfigValidator.validate(this);
    }
}
