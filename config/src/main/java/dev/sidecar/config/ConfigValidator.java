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
            lbSettings(path, c);
            for (int h = 0; h < c.healthChecks().size(); h++) {
                healthCheck(path + ".health_checks[" + h + "]", c.healthChecks().get(h));
            }
            c.outlierDetectionIfEnabled().ifPresent(o -> outlierDetection(path + ".outlier_detection", o));
            circuitBreakers(path + ".circuit_breakers", c.circuitBreakers());
            Map<HostPort, Integer> seen = new HashMap<>();
            for (int j = 0; j < c.endpoints().size(); j++) {
                EndpointConfig e = c.endpoints().get(j);
                String ep = path + ".endpoints[" + j + "]";
                port(ep + ".address", e.address(), 1);
                range(ep + ".weight", e.weight(), 1, EndpointConfig.MAX_WEIGHT);
                range(ep + ".priority", e.priority(), 0, EndpointConfig.MAX_PRIORITY);
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
            if (l.protocol() == ListenerProtocol.HTTP && l.routeConfig() != null) {
                if (!l.cluster().isEmpty()) {
                    error(path + ".cluster", "an http listener has either cluster or route_config, not both");
                }
            } else if (l.cluster().isEmpty()) {
                error(path + ".cluster", l.protocol() == ListenerProtocol.HTTP ? "is required (or a route_config)" : "is required");
            } else if (!clusterNames.contains(l.cluster())) {
                error(path + ".cluster", "no cluster named '" + l.cluster() + "'" + known(clusterNames));
            }
            range(path + ".max_connections", l.maxConnections(), 1, 10_000_000);
            positive(path + ".idle_timeout", l.idleTimeout(), false);
            range(path + ".max_connect_attempts", l.maxConnectAttempts(), 1, 16);
            if (l.accessLog() != null) {
                if (l.accessLog().path().isBlank()) {
                    error(path + ".access_log.path", "is required (a file, or /dev/stdout)");
                }
                range(path + ".access_log.queue_size", l.accessLog().queueSize(), 1, 1_000_000);
            }
            for (int h = 0; h < l.hashPolicy().size(); h++) {
                HashPolicy p = l.hashPolicy().get(h);
                if (l.protocol() == ListenerProtocol.TCP && !(p instanceof HashPolicy.SourceIp)) {
                    error(path + ".hash_policy[" + h + "]", "a tcp listener can hash only on source_ip");
                }
            }
        }
    }

    private void lbSettings(String path, ClusterConfig c) {
        LbSettings s = c.lbSettings();
        range(path + ".least_request_lb_config.choice_count", s.choiceCount(), 2, 100);
        if (s.maglevTableSize() < 2 || s.maglevTableSize() > MAX_MAGLEV_TABLE || !isPrime(s.maglevTableSize())) {
            error(path + ".maglev_lb_config.table_size", s.maglevTableSize() + " must be a prime no larger than " + MAX_MAGLEV_TABLE
                    + " (e.g. 65537, 131071, 1000003)");
        }
        if (s.minimumRingSize() < 1 || s.minimumRingSize() > MAX_RING) {
            error(path + ".ring_hash_lb_config.minimum_ring_size", s.minimumRingSize() + " is out of range 1.." + MAX_RING);
        }
        if (s.maximumRingSize() < s.minimumRingSize() || s.maximumRingSize() > MAX_RING) {
            error(path + ".ring_hash_lb_config.maximum_ring_size", s.maximumRingSize() + " must be between minimum_ring_size ("
                    + s.minimumRingSize() + ") and " + MAX_RING);
        }
        if (s.hashBalanceFactor() != 0 && (s.hashBalanceFactor() < 100 || s.hashBalanceFactor() > 100_000)) {
            error(path + ".ring_hash_lb_config.hash_balance_factor", s.hashBalanceFactor()
                    + " must be 0 (off) or a percentage of the mean load of at least 100");
        }
        range(path + ".common_lb_config.healthy_panic_threshold", s.healthyPanicThreshold(), 0, 100);
    }

    /** Envoy's bounds: a larger Maglev table or ring costs memory with no gain in spread. */
    static final int MAX_MAGLEV_TABLE = 5_000_011;
    static final long MAX_RING = 8L * 1024 * 1024;

    static boolean isPrime(int n) {
        if (n < 2) {
            return false;
        }
        for (int d = 2; (long) d * d <= n; d++) {
            if (n % d == 0) {
                return false;
            }
        }
        return true;
    }

    private void healthCheck(String path, HealthCheckConfig h) {
        positive(path + ".timeout", h.timeout(), false);
        positive(path + ".interval", h.interval(), false);
        positive(path + ".interval_jitter", h.intervalJitter(), true);
        positive(path + ".initial_jitter", h.initialJitter(), true);
        positive(path + ".unhealthy_interval", h.unhealthyInterval(), false);
        positive(path + ".no_traffic_interval", h.noTrafficInterval(), false);
        range(path + ".unhealthy_threshold", h.unhealthyThreshold(), 1, 1000);
        range(path + ".healthy_threshold", h.healthyThreshold(), 1, 1000);
        if (h.kind() instanceof HealthCheckConfig.Http http) {
            if (!http.path().startsWith("/")) {
                error(path + ".http_health_check.path", "'" + http.path() + "' must start with '/'");
            }
            if (http.expectedStatuses().isEmpty()) {
                error(path + ".http_health_check.expected_statuses", "is empty, so no probe could ever pass; leave it out for 200-399");
            }
            for (int i = 0; i < http.expectedStatuses().size(); i++) {
                HealthCheckConfig.StatusRange r = http.expectedStatuses().get(i);
                if (r.from() < 100 || r.to() > 599 || r.from() > r.to()) {
                    error(path + ".http_health_check.expected_statuses[" + i + "]", r.from() + "-" + r.to()
                            + " is not a range of HTTP statuses within 100-599");
                }
            }
        }
    }

    private void outlierDetection(String path, OutlierDetectionConfig o) {
        range(path + ".consecutive_gateway_failure", o.consecutiveGatewayFailure(), 1, 1000);
        positive(path + ".base_ejection_time", o.baseEjectionTime(), false);
        if (o.maxEjectionTime().compareTo(o.baseEjectionTime()) < 0) {
            error(path + ".max_ejection_time", "must be at least base_ejection_time (" + Durations.format(o.baseEjectionTime()) + ")");
        }
        range(path + ".max_ejection_percent", o.maxEjectionPercent(), 0, 100);
    }

    private void circuitBreakers(String path, CircuitBreakersConfig c) {
        range(path + ".max_connections", c.maxConnections(), 1, 10_000_000);
        range(path + ".max_pending_requests", c.maxPendingRequests(), 1, 10_000_000);
        range(path + ".max_requests", c.maxRequests(), 1, 10_000_000);
        range(path + ".max_retries", c.maxRetries(), 0, 10_000_000);
    }

    private void range(String path, long value, long min, long max) {
        if (value < min || value > max) {
            error(path, value + " is out of range " + min + ".." + max);
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
