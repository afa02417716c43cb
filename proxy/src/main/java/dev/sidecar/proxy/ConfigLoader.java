package dev.sidecar.proxy;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeType;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.sidecar.config.AdminConfig;
import dev.sidecar.config.ClusterConfig;
import dev.sidecar.config.ConfigError;
import dev.sidecar.config.ConfigException;
import dev.sidecar.config.Durations;
import dev.sidecar.config.EndpointConfig;
import dev.sidecar.config.HostPort;
import dev.sidecar.config.LbPolicy;
import dev.sidecar.config.ListenerConfig;
import dev.sidecar.config.ListenerProtocol;
import dev.sidecar.config.ProxyConfig;
import dev.sidecar.config.ServerConfig;
import dev.sidecar.config.TransportChoice;
import java.io.IOException;
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
        knownKeys(node, path, "name", "address", "protocol", "cluster", "max_connections", "idle_timeout", "max_connect_attempts");
        return ListenerConfig.builder(requiredString(node, "name", path), address(node, "address", path, null), requiredString(node, "cluster", path))
                .protocol(choice(node, "protocol", path, ListenerProtocol.values(), ListenerProtocol::configName, ListenerProtocol.TCP))
                .maxConnections(integer(node, "max_connections", path, ListenerConfig.DEFAULT_MAX_CONNECTIONS))
                .idleTimeout(duration(node, "idle_timeout", path, ListenerConfig.DEFAULT_IDLE_TIMEOUT))
                .maxConnectAttempts(integer(node, "max_connect_attempts", path, ListenerConfig.DEFAULT_MAX_CONNECT_ATTEMPTS))
                .build();
    }

    private ClusterConfig cluster(JsonNode node, String path) {
        knownKeys(node, path, "name", "lb_policy", "connect_timeout", "endpoints");
        return new ClusterConfig(
                requiredString(node, "name", path),
                choice(node, "lb_policy", path, LbPolicy.values(), LbPolicy::configName, ClusterConfig.DEFAULT_LB_POLICY),
                duration(node, "connect_timeout", path, ClusterConfig.DEFAULT_CONNECT_TIMEOUT),
                list(node.get("endpoints"), path + ".endpoints", this::endpoint));
    }

    private EndpointConfig endpoint(JsonNode node, String path) {
        knownKeys(node, path, "address", "weight");
        return new EndpointConfig(address(node, "address", path, null), integer(node, "weight", path, EndpointConfig.DEFAULT_WEIGHT));
    }

    // ---- field readers: each reports its own error and returns a harmless value ----

    private <T> List<T> list(JsonNode node, String path, ItemReader<T> item) {
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
            if (object(node.get(i), p)) {
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
