package dev.sidecar.proxy;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeType;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.sidecar.config.AccessLogConfig;
import dev.sidecar.config.AdminConfig;
import dev.sidecar.config.ClusterConfig;
import dev.sidecar.config.ConfigError;
import dev.sidecar.config.ConfigException;
import dev.sidecar.config.Durations;
import dev.sidecar.config.CircuitBreakersConfig;
import dev.sidecar.config.EndpointConfig;
import dev.sidecar.config.HashPolicy;
import dev.sidecar.config.HealthCheckConfig;
import dev.sidecar.config.HealthStatus;
import dev.sidecar.config.LbSettings;
import dev.sidecar.config.OutlierDetectionConfig;
import dev.sidecar.config.HostPort;
import dev.sidecar.config.LbPolicy;
import dev.sidecar.config.ListenerConfig;
import dev.sidecar.config.ListenerProtocol;
import dev.sidecar.config.ProxyConfig;
import dev.sidecar.config.ServerConfig;
import dev.sidecar.config.TransportChoice;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Function;

/**
 * Reads the YAML config into {@link ProxyConfig}. Two passes, both collecting every error with
 * its path: this class checks shape (unknown or duplicate keys, types, durations, addresses,
 * enum values); {@link ProxyConfig#validate()} then checks meaning (ranges, names, references).
 * A semantic error on a field that already failed to parse is not repeated.
 */
public final class ConfigLoader {
    private static final YAMLMapper MAPPER = YAMLMapper.builder(new YAMLFactory())
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .build();

    private final List<ConfigError> errors = new ArrayList<>();

    private ConfigLoader() {}

    /** Loads and validates {@code file}; throws {@link ConfigException} with every problem found. */
    public static ProxyConfig load(Path file) {
        String text;
        try {
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new ConfigException(List.of(new ConfigError("", "config file " + file + " does not exist")));
        } catch (IOException e) {
            throw new ConfigException(List.of(new ConfigError("", "cannot read config file " + file + ": " + e.getMessage())));
        }
        return parse(text);
    }

    /** Parses and validates YAML text. */
    public static ProxyConfig parse(String yaml) {
        JsonNode root;
        try {
            root = MAPPER.readTree(yaml);
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            String where = at == null ? "" : "line " + at.getLineNr() + ", column " + at.getColumnNr() + ": ";
            throw new ConfigException(List.of(new ConfigError("", "not valid YAML: " + where + e.getOriginalMessage())));
        }
        ConfigLoader loader = new ConfigLoader();
        ProxyConfig config = loader.root(root == null || root.isMissingNode() ? MAPPER.createObjectNode() : root);
        List<ConfigError> all = new ArrayList<>(loader.errors);
        for (ConfigError semantic : config.validate()) {
            if (all.stream().noneMatch(e -> covers(e.path(), semantic.path()))) {
                all.add(semantic);
            }
        }
        if (!all.isEmpty()) {
            throw new ConfigException(all);
        }
        return config;
    }

    private static boolean covers(String reported, String path) {
        return path.equals(reported) || path.startsWith(reported + ".") || path.startsWith(reported + "[");
    }

    private ProxyConfig root(JsonNode root) {
        if (!object(root, "")) {
            return new ProxyConfig(ServerConfig.DEFAULT, AdminConfig.DEFAULT, List.of(), List.of());
        }
        knownKeys(root, "", "server", "admin", "listeners", "clusters");
        ServerConfig server = server(root.get("server"), "server");
        AdminConfig admin = admin(root.get("admin"), "admin");
        List<ListenerConfig> listeners = list(root.get("listeners"), "listeners", this::listener);
        List<ClusterConfig> clusters = list(root.get("clusters"), "clusters", this::cluster);
        return new ProxyConfig(server, admin, listeners, clusters);
    }

    private ServerConfig server(JsonNode node, String path) {
        if (node == null || !object(node, path)) {
            return ServerConfig.DEFAULT;
        }
        knownKeys(node, path, "workers", "transport", "drain_timeout");
        int workers = 0;
        JsonNode w = node.get("workers");
        if (w != null && !(w.isTextual() && w.asText().equals("auto"))) {
            workers = integer(node, "workers", path, 0);
        }
        TransportChoice transport = choice(node, "transport", path, TransportChoice.values(), TransportChoice::configName, TransportChoice.AUTO);
        Duration drain = duration(node, "drain_timeout", path, ServerConfig.DEFAULT_DRAIN_TIMEOUT);
        return new ServerConfig(workers, transport, drain);
    }

    private AdminConfig admin(JsonNode node, String path) {
        if (node == null || !object(node, path)) {
            return AdminConfig.DEFAULT;
        }
        knownKeys(node, path, "address");
        return new AdminConfig(address(node, "address", path, AdminConfig.DEFAULT.address()));
    }

    private ListenerConfig listener(JsonNode node, String path) {
        knownKeys(node, path, "name", "address", "protocol", "cluster", "max_connections", "idle_timeout", "max_connect_attempts",
                "hash_policy", "access_log");
        AccessLogConfig accessLog = null;
        JsonNode al = section(node, "access_log", path);
        if (al != null) {
            String p = join(path, "access_log");
            knownKeys(al, p, "path", "queue_size");
            accessLog = new AccessLogConfig(requiredString(al, "path", p), integer(al, "queue_size", p, AccessLogConfig.DEFAULT_QUEUE_SIZE));
        }
        return ListenerConfig.builder(requiredString(node, "name", path), address(node, "address", path, null), requiredString(node, "cluster", path))
                .protocol(choice(node, "protocol", path, ListenerProtocol.values(), ListenerProtocol::configName, ListenerProtocol.TCP))
                .maxConnections(integer(node, "max_connections", path, ListenerConfig.DEFAULT_MAX_CONNECTIONS))
                .idleTimeout(duration(node, "idle_timeout", path, ListenerConfig.DEFAULT_IDLE_TIMEOUT))
                .maxConnectAttempts(integer(node, "max_connect_attempts", path, ListenerConfig.DEFAULT_MAX_CONNECT_ATTEMPTS))
                .hashPolicy(list(node.get("hash_policy"), path + ".hash_policy", this::hashPolicy))
                .accessLog(accessLog)
                .build();
    }

    /** One of {@code source_ip: true}, {@code header: NAME}, {@code cookie: NAME | {name, ttl, path}}, {@code query_parameter: NAME}, {@code path: true}. */
    private HashPolicy hashPolicy(JsonNode node, String path) {
        knownKeys(node, path, "source_ip", "header", "cookie", "query_parameter", "path");
        if (node.size() != 1) {
            error(path, "must have exactly one of source_ip, header, cookie, query_parameter, path");
            return new HashPolicy.SourceIp();
        }
        String kind = node.fieldNames().next();
        String p = join(path, kind);
        JsonNode v = node.get(kind);
        return switch (kind) {
            case "source_ip" -> {
                flagTrue(v, p);
                yield new HashPolicy.SourceIp();
            }
            case "path" -> {
                flagTrue(v, p);
                yield new HashPolicy.Path();
            }
            case "header" -> new HashPolicy.Header(requiredString(node, kind, path));
            case "query_parameter" -> new HashPolicy.QueryParameter(requiredString(node, kind, path));
            case "cookie" -> {
                if (v.isTextual()) {
                    yield new HashPolicy.Cookie(v.asText(), null, null);
                }
                if (!object(v, p)) {
                    yield new HashPolicy.Cookie("", null, null);
                }
                knownKeys(v, p, "name", "ttl", "path");
                yield new HashPolicy.Cookie(requiredString(v, "name", p), duration(v, "ttl", p, null),
                        v.hasNonNull("path") ? requiredString(v, "path", p) : null);
            }
            default -> new HashPolicy.SourceIp(); // unknown keys were reported above
        };
    }

    private void flagTrue(JsonNode v, String path) {
        if (!v.isBoolean() || !v.booleanValue()) {
            error(path, "must be true (or leave the entry out)");
        }
    }

    private ClusterConfig cluster(JsonNode node, String path) {
        knownKeys(node, path, "name", "lb_policy", "connect_timeout", "endpoints", "least_request_lb_config", "maglev_lb_config",
                "ring_hash_lb_config", "common_lb_config", "health_checks", "outlier_detection", "circuit_breakers");
        LbSettings lb = LbSettings.DEFAULT;
        JsonNode n;
        if ((n = section(node, "least_request_lb_config", path)) != null) {
            String p = join(path, "least_request_lb_config");
            knownKeys(n, p, "choice_count");
            lb = lb.withChoiceCount(integer(n, "choice_count", p, lb.choiceCount()));
        }
        if ((n = section(node, "maglev_lb_config", path)) != null) {
            String p = join(path, "maglev_lb_config");
            knownKeys(n, p, "table_size");
            lb = lb.withMaglevTableSize(integer(n, "table_size", p, lb.maglevTableSize()));
        }
        if ((n = section(node, "ring_hash_lb_config", path)) != null) {
            String p = join(path, "ring_hash_lb_config");
            knownKeys(n, p, "minimum_ring_size", "maximum_ring_size", "hash_balance_factor");
            lb = lb.withRing(longValue(n, "minimum_ring_size", p, lb.minimumRingSize()),
                    longValue(n, "maximum_ring_size", p, lb.maximumRingSize()),
                    integer(n, "hash_balance_factor", p, lb.hashBalanceFactor()));
        }
        if ((n = section(node, "common_lb_config", path)) != null) {
            String p = join(path, "common_lb_config");
            knownKeys(n, p, "healthy_panic_threshold");
            lb = lb.withHealthyPanicThreshold(integer(n, "healthy_panic_threshold", p, lb.healthyPanicThreshold()));
        }
        OutlierDetectionConfig outlier = null;
        if ((n = section(node, "outlier_detection", path)) != null) {
            String p = join(path, "outlier_detection");
            knownKeys(n, p, "consecutive_gateway_failure", "base_ejection_time", "max_ejection_time", "max_ejection_percent");
            outlier = new OutlierDetectionConfig(
                    integer(n, "consecutive_gateway_failure", p, OutlierDetectionConfig.DEFAULT_CONSECUTIVE_GATEWAY_FAILURE),
                    duration(n, "base_ejection_time", p, OutlierDetectionConfig.DEFAULT_BASE_EJECTION_TIME),
                    duration(n, "max_ejection_time", p, OutlierDetectionConfig.DEFAULT_MAX_EJECTION_TIME),
                    integer(n, "max_ejection_percent", p, OutlierDetectionConfig.DEFAULT_MAX_EJECTION_PERCENT));
        }
        CircuitBreakersConfig breakers = CircuitBreakersConfig.DEFAULT;
        if ((n = section(node, "circuit_breakers", path)) != null) {
            String p = join(path, "circuit_breakers");
            knownKeys(n, p, "max_connections", "max_pending_requests", "max_requests", "max_retries");
            breakers = new CircuitBreakersConfig(
                    integer(n, "max_connections", p, breakers.maxConnections()),
                    integer(n, "max_pending_requests", p, breakers.maxPendingRequests()),
                    integer(n, "max_requests", p, breakers.maxRequests()),
                    integer(n, "max_retries", p, breakers.maxRetries()));
        }
        return ClusterConfig.builder(requiredString(node, "name", path))
                .lbPolicy(choice(node, "lb_policy", path, LbPolicy.values(), LbPolicy::configName, ClusterConfig.DEFAULT_LB_POLICY))
                .connectTimeout(duration(node, "connect_timeout", path, ClusterConfig.DEFAULT_CONNECT_TIMEOUT))
                .endpoints(list(node.get("endpoints"), path + ".endpoints", this::endpoint))
                .lbSettings(lb)
                .healthChecks(list(node.get("health_checks"), path + ".health_checks", this::healthCheck))
                .outlierDetection(outlier)
                .circuitBreakers(breakers)
                .build();
    }

    private HealthCheckConfig healthCheck(JsonNode node, String path) {
        knownKeys(node, path, "timeout", "interval", "interval_jitter", "initial_jitter", "unhealthy_interval", "no_traffic_interval",
                "unhealthy_threshold", "healthy_threshold", "initially_healthy", "tcp_health_check", "http_health_check", "grpc_health_check");
        List<String> kinds = new ArrayList<>();
        for (String k : List.of("tcp_health_check", "http_health_check", "grpc_health_check")) {
            if (node.has(k)) {
                kinds.add(k);
            }
        }
        HealthCheckConfig.Kind kind = HealthCheckConfig.Tcp.connectOnly();
        if (kinds.size() != 1) {
            error(path, "must have exactly one of tcp_health_check, http_health_check, grpc_health_check"
                    + (kinds.isEmpty() ? "" : " (found " + String.join(", ", kinds) + ")"));
        } else {
            String k = kinds.get(0);
            String p = join(path, k);
            JsonNode v = node.get(k);
            if (v.isNull()) {
                v = MAPPER.createObjectNode();
            }
            if (object(v, p)) {
                kind = switch (k) {
                    case "tcp_health_check" -> {
                        knownKeys(v, p, "send", "receive");
                        yield new HealthCheckConfig.Tcp(optionalString(v, "send", p).getBytes(StandardCharsets.UTF_8),
                                optionalString(v, "receive", p).getBytes(StandardCharsets.UTF_8));
                    }
                    case "http_health_check" -> {
                        knownKeys(v, p, "path", "host", "expected_statuses");
                        yield new HealthCheckConfig.Http(requiredString(v, "path", p), optionalString(v, "host", p),
                                v.has("expected_statuses") ? list(v.get("expected_statuses"), p + ".expected_statuses", this::statusRange, false)
                                        : List.of(new HealthCheckConfig.StatusRange(200, 399)));
                    }
                    default -> {
                        knownKeys(v, p, "service_name");
                        yield new HealthCheckConfig.Grpc(optionalString(v, "service_name", p));
                    }
                };
            }
        }
        HealthCheckConfig.Builder b = HealthCheckConfig.builder(kind)
                .timeout(duration(node, "timeout", path, HealthCheckConfig.DEFAULT_TIMEOUT))
                .interval(duration(node, "interval", path, HealthCheckConfig.DEFAULT_INTERVAL))
                .intervalJitter(duration(node, "interval_jitter", path, Duration.ZERO))
                .initialJitter(duration(node, "initial_jitter", path, Duration.ZERO))
                .noTrafficInterval(duration(node, "no_traffic_interval", path, HealthCheckConfig.DEFAULT_NO_TRAFFIC_INTERVAL))
                .unhealthyThreshold(integer(node, "unhealthy_threshold", path, HealthCheckConfig.DEFAULT_UNHEALTHY_THRESHOLD))
                .healthyThreshold(integer(node, "healthy_threshold", path, HealthCheckConfig.DEFAULT_HEALTHY_THRESHOLD))
                .initiallyHealthy(bool(node, "initially_healthy", path, false));
        Duration unhealthyInterval = duration(node, "unhealthy_interval", path, null);
        if (unhealthyInterval != null) {
            b.unhealthyInterval(unhealthyInterval);
        }
        return b.build();
    }

    /** {@code 200-399} or {@code 204}. */
    private HealthCheckConfig.StatusRange statusRange(JsonNode node, String path) {
        if (node.isIntegralNumber() && node.canConvertToInt()) {
            return new HealthCheckConfig.StatusRange(node.intValue(), node.intValue());
        }
        if (node.isTextual()) {
            String t = node.asText().strip();
            int dash = t.indexOf('-');
            try {
                return dash < 0 ? new HealthCheckConfig.StatusRange(Integer.parseInt(t), Integer.parseInt(t))
                        : new HealthCheckConfig.StatusRange(Integer.parseInt(t.substring(0, dash).strip()),
                                Integer.parseInt(t.substring(dash + 1).strip()));
            } catch (NumberFormatException e) {
                // reported below
            }
        }
        error(path, describe(node) + " is not a status or a range such as 200-399");
        return new HealthCheckConfig.StatusRange(200, 399);
    }

    private EndpointConfig endpoint(JsonNode node, String path) {
        knownKeys(node, path, "address", "weight", "priority", "health_status");
        return new EndpointConfig(address(node, "address", path, null), integer(node, "weight", path, EndpointConfig.DEFAULT_WEIGHT),
                integer(node, "priority", path, 0),
                choice(node, "health_status", path, HealthStatus.values(), HealthStatus::configName, HealthStatus.UNKNOWN));
    }

    /** A nested mapping, or null when absent (an error when it is not a mapping). */
    private JsonNode section(JsonNode parent, String key, String path) {
        JsonNode n = parent.get(key);
        if (n == null || n.isNull()) {
            return null;
        }
        return object(n, join(path, key)) ? n : null;
    }

    // ---- field readers: each reports its own error and returns a harmless value ----

    private <T> List<T> list(JsonNode node, String path, ItemReader<T> item) {
        return list(node, path, item, true);
    }

    private <T> List<T> list(JsonNode node, String path, ItemReader<T> item, boolean itemsAreMappings) {
        if (node == null || node.isNull()) {
            return List.of();
        }
        if (!node.isArray()) {
            error(path, "must be a list, not " + describe(node));
            return List.of();
        }
        List<T> out = new ArrayList<>();
        for (int i = 0; i < node.size(); i++) {
            String p = path + "[" + i + "]";
            if (!itemsAreMappings || object(node.get(i), p)) {
                out.add(item.read(node.get(i), p));
            }
        }
        return out;
    }

    @FunctionalInterface
    private interface ItemReader<T> {
        T read(JsonNode node, String path);
    }

    private boolean object(JsonNode node, String path) {
        if (node.isObject()) {
            return true;
        }
        error(path, "must be a mapping of keys to values, not " + describe(node));
        return false;
    }

    private void knownKeys(JsonNode node, String path, String... known) {
        Set<String> allowed = new LinkedHashSet<>(Arrays.asList(known));
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String key = it.next();
            if (!allowed.contains(key)) {
                String hint = closest(key, allowed);
                error(join(path, key), "unknown field" + (hint == null ? "" : "; did you mean '" + hint + "'?")
                        + " (known: " + String.join(", ", allowed) + ")");
            }
        }
    }

    private String requiredString(JsonNode parent, String key, String path) {
        JsonNode node = parent.get(key);
        if (node == null || node.isNull()) {
            error(join(path, key), "is required");
            return "";
        }
        if (!node.isTextual()) {
            error(join(path, key), "must be a string, not " + describe(node));
            return "";
        }
        return node.asText();
    }

    private String optionalString(JsonNode parent, String key, String path) {
        JsonNode node = parent.get(key);
        if (node == null || node.isNull()) {
            return "";
        }
        return requiredString(parent, key, path);
    }

    private boolean bool(JsonNode parent, String key, String path, boolean dflt) {
        JsonNode node = parent.get(key);
        if (node == null || node.isNull()) {
            return dflt;
        }
        if (!node.isBoolean()) {
            error(join(path, key), "must be true or false, not " + describe(node));
            return dflt;
        }
        return node.booleanValue();
    }

    private long longValue(JsonNode parent, String key, String path, long dflt) {
        JsonNode node = parent.get(key);
        if (node == null || node.isNull()) {
            return dflt;
        }
        if (!node.isIntegralNumber() || !node.canConvertToLong()) {
            error(join(path, key), "must be a whole number, not " + describe(node));
            return dflt;
        }
        return node.longValue();
    }

    private int integer(JsonNode parent, String key, String path, int dflt) {
        JsonNode node = parent.get(key);
        if (node == null || node.isNull()) {
            return dflt;
        }
        if (!node.isIntegralNumber() || !node.canConvertToInt()) {
            error(join(path, key), "must be a whole number, not " + describe(node));
            return dflt;
        }
        return node.intValue();
    }

    private Duration duration(JsonNode parent, String key, String path, Duration dflt) {
        JsonNode node = parent.get(key);
        if (node == null || node.isNull()) {
            return dflt;
        }
        if (!node.isTextual()) {
            error(join(path, key), "must be a duration with a unit such as 250ms, 1s or 1h, not " + describe(node));
            return dflt;
        }
        try {
            return Durations.parse(node.asText());
        } catch (IllegalArgumentException e) {
            error(join(path, key), e.getMessage());
            return dflt;
        }
    }

    private HostPort address(JsonNode parent, String key, String path, HostPort dflt) {
        JsonNode node = parent.get(key);
        if (node == null || node.isNull()) {
            if (dflt == null) {
                error(join(path, key), "is required");
                return new HostPort("invalid", 1);
            }
            return dflt;
        }
        if (!node.isTextual()) {
            error(join(path, key), "must be a host:port string, not " + describe(node));
            return new HostPort("invalid", 1);
        }
        try {
            return HostPort.parse(node.asText());
        } catch (IllegalArgumentException e) {
            error(join(path, key), e.getMessage());
            return new HostPort("invalid", 1);
        }
    }

    private <E> E choice(JsonNode parent, String key, String path, E[] values, Function<E, String> name, E dflt) {
        JsonNode node = parent.get(key);
        if (node == null || node.isNull()) {
            return dflt;
        }
        List<String> names = Arrays.stream(values).map(name).toList();
        if (node.isTextual()) {
            for (E v : values) {
                if (name.apply(v).equals(node.asText())) {
                    return v;
                }
            }
        }
        error(join(path, key), describe(node) + " is not one of " + String.join(" | ", names));
        return dflt;
    }

    private void error(String path, String message) {
        errors.add(new ConfigError(path, message));
    }

    private static String join(String path, String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    private static String describe(JsonNode node) {
        JsonNodeType type = node.getNodeType();
        return switch (type) {
            case STRING -> "'" + node.asText() + "'";
            case NUMBER, BOOLEAN -> node.asText();
            case ARRAY -> "a list";
            case OBJECT -> "a mapping";
            case NULL -> "null";
            default -> type.name().toLowerCase();
        };
    }

    /** The known key nearest to a misspelt one, if it is near enough to be the likely intent. */
    private static String closest(String key, Set<String> known) {
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (String k : known) {
            int d = editDistance(key, k);
            if (d < bestDistance) {
                best = k;
                bestDistance = d;
            }
        }
        return bestDistance <= Math.max(2, key.length() / 3) ? best : null;
    }

    private static int editDistance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }
}
