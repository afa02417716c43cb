package dev.sidecar.config;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The semantic rules of a {@link ProxyConfig}: ranges, names, references between sections.
 * Works on records, so a config from YAML and one translated from xDS are held to the same
 * rules. Every error is collected, not just the first, each with its field path.
 */
final class ConfigValidator {
    /** Names end up in metric labels and admin URLs: keep them printable and short. */
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");

    private final List<ConfigError> errors = new ArrayList<>();

    private ConfigValidator() {}

    static List<ConfigError> validate(ProxyConfig config) {
        ConfigValidator v = new ConfigValidator();
        v.server("server", config.server());
        v.port("admin.address", config.admin().address(), 0);
        Set<String> clusterNames = v.clusters(config.clusters());
        v.listeners(config.listeners(), clusterNames);
        return List.copyOf(v.errors);
    }

    private void error(String path, String message) {
        errors.add(new ConfigError(path, message));
    }

    private void server(String path, ServerConfig server) {
        if (server.workers() < 0 || server.workers() > 1024) {
            error(path + ".workers", server.workers() + " is out of range 0..1024 (0 means one per core)");
        }
        positive(path + ".drain_timeout", server.drainTimeout(), true);
    }

    private Set<String> clusters(List<ClusterConfig> clusters) {
        Set<String> names = new HashSet<>();
        for (int i = 0; i < clusters.size(); i++) {
            ClusterConfig c = clusters.get(i);
            String path = "clusters[" + i + "]";
            name(path + ".name", c.name());
            if (!names.add(c.name())) {
                error(path + ".name", "duplicate cluster name '" + c.name() + "'");
            }
            positive(path + ".connect_timeout", c.connectTimeout(), false);
            Map<HostPort, Integer> seen = new HashMap<>();
            for (int j = 0; j < c.endpoints().size(); j++) {
                EndpointConfig e = c.endpoints().get(j);
                String ep = path + ".endpoints[" + j + "]";
                port(ep + ".address", e.address(), 1);
                if (e.weight() < 1 || e.weight() > EndpointConfig.MAX_WEIGHT) {
                    error(ep + ".weight", e.weight() + " is out of range 1.." + EndpointConfig.MAX_WEIGHT);
                }
                Integer first = seen.putIfAbsent(e.address(), j);
                if (first != null) {
                    error(ep + ".address", e.address() + " is already endpoints[" + first + "]");
                }
            }
        }
        return names;
    }

    private void listeners(List<ListenerConfig> listeners, Set<String> clusterNames) {
        Set<String> names = new HashSet<>();
        Map<HostPort, Integer> addresses = new HashMap<>();
        for (int i = 0; i < listeners.size(); i++) {
            ListenerConfig l = listeners.get(i);
            String path = "listeners[" + i + "]";
            name(path + ".name", l.name());
            if (!names.add(l.name())) {
                error(path + ".name", "duplicate listener name '" + l.name() + "'");
            }
            port(path + ".address", l.address(), 0);
            if (l.address().port() != 0) {
                Integer first = addresses.putIfAbsent(l.address(), i);
                if (first != null) {
                    error(path + ".address", l.address() + " is already the address of listeners[" + first + "]");
                }
            }
            if (l.cluster().isEmpty()) {
                error(path + ".cluster", "is required");
            } else if (!clusterNames.contains(l.cluster())) {
                error(path + ".cluster", "no cluster named '" + l.cluster() + "'" + known(clusterNames));
            }
            if (l.maxConnections() < 1 || l.maxConnections() > 10_000_000) {
                error(path + ".max_connections", l.maxConnections() + " is out of range 1..10000000");
            }
            positive(path + ".idle_timeout", l.idleTimeout(), false);
            if (l.maxConnectAttempts() < 1 || l.maxConnectAttempts() > 16) {
                error(path + ".max_connect_attempts", l.maxConnectAttempts() + " is out of range 1..16");
            }
        }
    }

    private static String known(Set<String> names) {
        return names.isEmpty() ? " (no clusters are defined)" : " (defined: " + String.join(", ", names.stream().sorted().toList()) + ")";
    }

    private void name(String path, String name) {
        if (!NAME.matcher(name).matches()) {
            error(path, "'" + name + "' is not a valid name: use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit");
        }
    }

    private void port(String path, HostPort address, int min) {
        if (address.port() < min || address.port() > 65535) {
            error(path, "port " + address.port() + " is out of range " + min + "..65535");
        }
    }

    private void positive(String path, Duration d, boolean zeroAllowed) {
        if (d.isNegative() || (!zeroAllowed && d.isZero())) {
            error(path, "must be " + (zeroAllowed ? "zero or more" : "more than zero"));
        }
    }
}
