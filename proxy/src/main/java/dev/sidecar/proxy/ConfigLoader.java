package dev.sidecar.proxy;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.JsonNodeType;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.sidecar.config.AccessLogConfig;
import dev.sidecar.config.AdminConfig;
import dev.sidecar.config.ClusterConfig;
import dev.sidecar.config.ClusterType;
import dev.sidecar.config.ProxyProtocolVersion;
import dev.sidecar.config.ConfigError;
import dev.sidecar.config.ConfigException;
import dev.sidecar.config.ControlPlaneConfig;
import dev.sidecar.config.Durations;
import dev.sidecar.config.CertificateFiles;
import dev.sidecar.config.CircuitBreakersConfig;
import dev.sidecar.config.EndpointConfig;
import dev.sidecar.config.HashPolicy;
import dev.sidecar.config.HealthCheckConfig;
import dev.sidecar.config.HealthStatus;
import dev.sidecar.config.HttpPoolConfig;
import dev.sidecar.config.HttpSettings;
import dev.sidecar.config.LbSettings;
import dev.sidecar.config.OutlierDetectionConfig;
import dev.sidecar.config.OverloadConfig;
import dev.sidecar.config.HostPort;
import dev.sidecar.config.LbPolicy;
import dev.sidecar.config.ListenerConfig;
import dev.sidecar.config.ListenerProtocol;
import dev.sidecar.config.ProxyConfig;
import dev.sidecar.config.RouteConfig;
import dev.sidecar.config.SanMatcher;
import dev.sidecar.config.ServerConfig;
import dev.sidecar.config.TlsClientConfig;
import dev.sidecar.config.TlsEngineChoice;
import dev.sidecar.config.TlsServerConfig;
import dev.sidecar.config.TlsVersion;
import dev.sidecar.config.TransportChoice;
import dev.sidecar.config.UpstreamProtocol;
import dev.sidecar.tls.TlsConfigCheck;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * Reads the YAML config into {@link ProxyConfig}. Two passes, both collecting every error with
 * its path: this class checks shape (unknown or duplicate keys, types, durations, addresses,
 * enum values); {@link ProxyConfig#validate()} then checks meaning (ranges, names, references).
 * A semantic error on a field that already failed to parse is not repeated.
 */
public final class ConfigLoader {
    /**
     * The YAML reader. The tree is built from its tokens here rather than by an {@code ObjectMapper},
     * whose set-up (serializer and deserializer caches, type factory, date formats) took a tenth
     * of the main thread's CPU from exec to the first proxied request, for a tree of a few nodes.
     */
    private static final YAMLFactory YAML = new YAMLFactory().rebuild().enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    private final List<ConfigError> errors = new ArrayList<>();
    /** Clusters that left lb_policy out: their default depends on which listeners use them. */
    private final Set<String> defaultLbPolicy = new HashSet<>();

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

    /** Parses and validates YAML text; {@code ${NAME}} in string values comes from the environment. */
    public static ProxyConfig parse(String yaml) {
        Map<String, String> env = System.getenv();
        return parse(yaml, env::get);
    }

    /** Parses and validates YAML text, expanding {@code ${NAME}} from {@code env} ({@link EnvExpansion}). */
    static ProxyConfig parse(String yaml, java.util.function.Function<String, String> env) {
        JsonNode root;
        try {
            root = readTree(yaml);
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            String where = at == null ? "" : "line " + at.getLineNr() + ", column " + at.getColumnNr() + ": ";
            throw new ConfigException(List.of(new ConfigError("", "not valid YAML: " + where + e.getOriginalMessage())));
        } catch (IOException e) {
            throw new ConfigException(List.of(new ConfigError("", "not valid YAML: " + e.getMessage())));
        }
        if (root != null && !root.isMissingNode()) {
            List<ConfigError> unexpanded = EnvExpansion.expand(root, env);
            if (!unexpanded.isEmpty()) {
                throw new ConfigException(unexpanded);
            }
        }
        ConfigLoader loader = new ConfigLoader();
        ProxyConfig config = loader.root(root == null || root.isMissingNode() ? NODES.objectNode() : root);
        List<ConfigError> all = new ArrayList<>(loader.errors);
        for (ConfigError semantic : config.validate()) {
            if (all.stream().noneMatch(e -> covers(e.path(), semantic.path()))) {
                all.add(semantic);
            }
        }
        if (all.isEmpty()) {
            // what is in the TLS files, once the config itself holds together
            all.addAll(TlsConfigCheck.errors(config));
        }
        if (!all.isEmpty()) {
            throw new ConfigException(all);
        }
        return config;
    }

    /**
     * The first YAML document as a tree, with the node types Jackson's own {@code readTree} gives
     * (int, long or big-integer nodes by size; double nodes for floats); a missing node for an
     * empty text. A key given twice is a parse error.
     */
    static JsonNode readTree(String yaml) throws IOException {
        try (JsonParser p = YAML.createParser(yaml)) {
            JsonToken t = p.nextToken();
            return t == null ? NODES.missingNode() : value(p, t);
        }
    }

    private static JsonNode value(JsonParser p, JsonToken t) throws IOException {
        switch (t) {
            case START_OBJECT: {
                ObjectNode object = NODES.objectNode();
                for (JsonToken k = p.nextToken(); k == JsonToken.FIELD_NAME; k = p.nextToken()) {
                    String name = p.currentName();
                    object.set(name, value(p, p.nextToken()));
                }
                return object;
            }
            case START_ARRAY: {
                ArrayNode array = NODES.arrayNode();
                for (JsonToken e = p.nextToken(); e != JsonToken.END_ARRAY; e = p.nextToken()) {
                    array.add(value(p, e));
                }
                return array;
            }
            case VALUE_STRING:
                return NODES.textNode(p.getText());
            case VALUE_NUMBER_INT:
                return switch (p.getNumberType()) {
                    case INT -> NODES.numberNode(p.getIntValue());
                    case LONG -> NODES.numberNode(p.getLongValue());
                    default -> NODES.numberNode(p.getBigIntegerValue());
                };
            case VALUE_NUMBER_FLOAT:
                return p.getNumberType() == JsonParser.NumberType.BIG_DECIMAL ? NODES.numberNode(p.getDecimalValue())
                        : NODES.numberNode(p.getDoubleValue());
            case VALUE_TRUE:
                return NODES.booleanNode(true);
            case VALUE_FALSE:
                return NODES.booleanNode(false);
            case VALUE_NULL:
                return NODES.nullNode();
            case VALUE_EMBEDDED_OBJECT:
                Object embedded = p.getEmbeddedObject();
                return embedded instanceof byte[] bytes ? NODES.binaryNode(bytes) : NODES.pojoNode(embedded);
            default:
                throw new JsonParseException(p, "unexpected " + t);
        }
    }

    private static boolean covers(String reported, String path) {
        return path.equals(reported) || path.startsWith(reported + ".") || path.startsWith(reported + "[");
    }

    private ProxyConfig root(JsonNode root) {
        if (!object(root, "")) {
            return new ProxyConfig(ServerConfig.DEFAULT, AdminConfig.DEFAULT, List.of(), List.of());
        }
        knownKeys(root, "", "server", "admin", "listeners", "clusters", "control_plane");
        ServerConfig server = server(root.get("server"), "server");
        AdminConfig admin = admin(root.get("admin"), "admin");
        List<ListenerConfig> listeners = list(root.get("listeners"), "listeners", this::listener);
        List<ClusterConfig> clusters = list(root.get("clusters"), "clusters", this::cluster);
        ControlPlaneConfig controlPlane = controlPlane(section(root, "control_plane", ""), "control_plane");
        return new ProxyConfig(server, admin, listeners, defaultLbPolicies(clusters, listeners), controlPlane);
    }

    /**
     * A cluster that sets no lb_policy and carries only HTTP traffic balances with least_request:
     * HTTP picks an endpoint per request, and counting requests in flight steers them away from a
     * slow endpoint, where round robin keeps sending it its share. A cluster a TCP listener also
     * uses keeps round_robin, the L4 default, so adding an HTTP route never changes how its
     * connections are spread.
     */
    private List<ClusterConfig> defaultLbPolicies(List<ClusterConfig> clusters, List<ListenerConfig> listeners) {
        Set<String> http = new HashSet<>();
        Set<String> tcp = new HashSet<>();
        for (ListenerConfig l : listeners) {
            if (l.protocol() == ListenerProtocol.HTTP) {
                http.addAll(routedClusters(l.routes()));
            } else {
                tcp.add(l.cluster());
            }
        }
        return clusters.stream()
                .map(c -> defaultLbPolicy.contains(c.name()) && http.contains(c.name()) && !tcp.contains(c.name())
                        ? c.toBuilder().lbPolicy(LbPolicy.LEAST_REQUEST).build() : c)
                .toList();
    }

    private static Set<String> routedClusters(RouteConfig routes) {
        Set<String> names = new HashSet<>();
        for (RouteConfig.VirtualHost vh : routes.virtualHosts()) {
            for (RouteConfig.Route r : vh.routes()) {
                if (r.action() instanceof RouteConfig.Forward f) {
                    f.clusters().forEach(w -> names.add(w.name()));
                }
            }
        }
        return names;
    }

    private ServerConfig server(JsonNode node, String path) {
        if (node == null || !object(node, path)) {
            return ServerConfig.DEFAULT;
        }
        knownKeys(node, path, "workers", "transport", "drain_timeout", "tls_engine", "exit_when_idle", "overload");
        int workers = 0;
        JsonNode w = node.get("workers");
        if (w != null && !(w.isTextual() && w.asText().equals("auto"))) {
            workers = integer(node, "workers", path, 0);
        }
        TransportChoice transport = choice(node, "transport", path, TransportChoice.values(), TransportChoice::configName, TransportChoice.AUTO);
        Duration drain = duration(node, "drain_timeout", path, ServerConfig.DEFAULT_DRAIN_TIMEOUT);
        TlsEngineChoice tlsEngine = choice(node, "tls_engine", path, TlsEngineChoice.values(), TlsEngineChoice::configName,
                TlsEngineChoice.AUTO);
        Duration exitWhenIdle = duration(node, "exit_when_idle", path, Duration.ZERO);
        OverloadConfig overload = OverloadConfig.DEFAULT;
        JsonNode o = section(node, "overload", path);
        if (o != null) {
            String op = join(path, "overload");
            knownKeys(o, op, "direct_memory_shed_fraction", "heap_shed_fraction");
            overload = new OverloadConfig(
                    number(o, "direct_memory_shed_fraction", op, OverloadConfig.DEFAULT_DIRECT_MEMORY_SHED_FRACTION),
                    number(o, "heap_shed_fraction", op, OverloadConfig.DEFAULT_HEAP_SHED_FRACTION));
        }
        return new ServerConfig(workers, transport, drain, tlsEngine, exitWhenIdle, overload);
    }

    private ControlPlaneConfig controlPlane(JsonNode node, String path) {
        if (node == null) {
            return null;
        }
        knownKeys(node, path, "address", "node", "initial_fetch_timeout", "cache_file", "api_type", "tls");
        HostPort address = address(node, "address", path, null);
        String np = join(path, "node");
        JsonNode n = section(node, "node", path);
        ControlPlaneConfig.Node nodeId;
        if (n == null) {
            error(np, "is required: at least { id: ... }");
            nodeId = new ControlPlaneConfig.Node("", "", Map.of());
        } else {
            knownKeys(n, np, "id", "cluster", "metadata");
            Map<String, String> metadata = new java.util.LinkedHashMap<>();
            JsonNode md = section(n, "metadata", np);
            if (md != null) {
                md.fields().forEachRemaining(e -> metadata.put(e.getKey(), string(e.getValue(), join(join(np, "metadata"), e.getKey()))));
            }
            nodeId = new ControlPlaneConfig.Node(requiredString(n, "id", np), optionalString(n, "cluster", np), metadata);
        }
        return new ControlPlaneConfig(address, nodeId,
                duration(node, "initial_fetch_timeout", path, ControlPlaneConfig.DEFAULT_INITIAL_FETCH_TIMEOUT),
                nullableString(node, "cache_file", path),
                choice(node, "api_type", path, ControlPlaneConfig.ApiType.values(), ControlPlaneConfig.ApiType::configName,
                        ControlPlaneConfig.ApiType.SOTW),
                section(node, "tls", path) == null ? null : tlsClient(section(node, "tls", path), join(path, "tls")));
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
                "hash_policy", "access_log", "route_config", "http", "tls", "proxy_protocol", "original_destination");
        AccessLogConfig accessLog = null;
        JsonNode al = section(node, "access_log", path);
        if (al != null) {
            String p = join(path, "access_log");
            knownKeys(al, p, "path", "queue_size");
            accessLog = new AccessLogConfig(requiredString(al, "path", p), integer(al, "queue_size", p, AccessLogConfig.DEFAULT_QUEUE_SIZE));
        }
        JsonNode rc = section(node, "route_config", path);
        JsonNode http = section(node, "http", path);
        JsonNode tls = section(node, "tls", path);
        // cluster may be absent: an http listener can route with route_config instead; the
        // validator says which of the two each protocol needs
        return ListenerConfig.builder(requiredString(node, "name", path), address(node, "address", path, null), optionalString(node, "cluster", path))
                .protocol(choice(node, "protocol", path, ListenerProtocol.values(), ListenerProtocol::configName, ListenerProtocol.TCP))
                .maxConnections(integer(node, "max_connections", path, ListenerConfig.DEFAULT_MAX_CONNECTIONS))
                .idleTimeout(duration(node, "idle_timeout", path, ListenerConfig.DEFAULT_IDLE_TIMEOUT))
                .maxConnectAttempts(integer(node, "max_connect_attempts", path, ListenerConfig.DEFAULT_MAX_CONNECT_ATTEMPTS))
                .hashPolicy(list(node.get("hash_policy"), path + ".hash_policy", this::hashPolicy))
                .accessLog(accessLog)
                .routeConfig(rc == null ? null : routeConfig(rc, join(path, "route_config")))
                .http(http == null ? HttpSettings.DEFAULT : httpSettings(http, join(path, "http")))
                .tls(tls == null ? null : tlsServer(tls, join(path, "tls")))
                .proxyProtocol(bool(node, "proxy_protocol", path, false))
                .originalDestination(bool(node, "original_destination", path, false))
                .build();
    }

    // ---- TLS, in Envoy's vocabulary (flattened as in the shape) ----

    private TlsServerConfig tlsServer(JsonNode node, String path) {
        knownKeys(node, path, "certificates", "alpn", "min_version", "max_version", "cipher_suites", "client_validation",
                "session_resumption");
        if (!node.hasNonNull("certificates")) {
            error(join(path, "certificates"), "is required: a list of { cert_chain_file, private_key_file }");
        }
        List<CertificateFiles> certificates = list(node.get("certificates"), path + ".certificates", (n, p) -> {
            knownKeys(n, p, "cert_chain_file", "private_key_file");
            return new CertificateFiles(requiredString(n, "cert_chain_file", p), requiredString(n, "private_key_file", p));
        });
        TlsServerConfig.ClientValidation validation = null;
        JsonNode cv = section(node, "client_validation", path);
        if (cv != null) {
            String p = join(path, "client_validation");
            knownKeys(cv, p, "trusted_ca_file", "require_client_certificate", "match_subject_alt_names");
            validation = new TlsServerConfig.ClientValidation(requiredString(cv, "trusted_ca_file", p),
                    bool(cv, "require_client_certificate", p, true),
                    list(cv.get("match_subject_alt_names"), p + ".match_subject_alt_names", this::sanMatcher));
        }
        return new TlsServerConfig(certificates,
                list(node.get("alpn"), path + ".alpn", this::string, false),
                choice(node, "min_version", path, TlsVersion.values(), TlsVersion::configName, TlsVersion.TLS_1_2),
                choice(node, "max_version", path, TlsVersion.values(), TlsVersion::configName, TlsVersion.TLS_1_3),
                list(node.get("cipher_suites"), path + ".cipher_suites", this::string, false),
                validation,
                bool(node, "session_resumption", path, true));
    }

    private TlsClientConfig tlsClient(JsonNode node, String path) {
        knownKeys(node, path, "sni", "trusted_ca_file", "match_subject_alt_names", "cert_chain_file", "private_key_file", "alpn");
        CertificateFiles clientCertificate = null;
        boolean chain = node.hasNonNull("cert_chain_file");
        boolean key = node.hasNonNull("private_key_file");
        if (chain && key) {
            clientCertificate = new CertificateFiles(requiredString(node, "cert_chain_file", path), requiredString(node, "private_key_file", path));
        } else if (chain || key) {
            error(join(path, chain ? "private_key_file" : "cert_chain_file"), "is required with " + (chain ? "cert_chain_file" : "private_key_file")
                    + " (a client certificate needs both)");
        }
        return new TlsClientConfig(nullableString(node, "sni", path), nullableString(node, "trusted_ca_file", path),
                list(node.get("match_subject_alt_names"), path + ".match_subject_alt_names", this::sanMatcher),
                clientCertificate, list(node.get("alpn"), path + ".alpn", this::string, false));
    }

    /** {@code { exact: NAME }} or {@code { prefix: NAME }}. */
    private SanMatcher sanMatcher(JsonNode node, String path) {
        knownKeys(node, path, "exact", "prefix");
        String kind = exactlyOne(node, path, "exact", "prefix");
        if (kind == null) {
            return SanMatcher.exact("");
        }
        String value = requiredString(node, kind, path);
        return kind.equals("exact") ? SanMatcher.exact(value) : SanMatcher.prefix(value);
    }

    private HttpSettings httpSettings(JsonNode node, String path) {
        HttpSettings d = HttpSettings.DEFAULT;
        knownKeys(node, path, "buffer_limit", "max_concurrent_streams", "initial_stream_window", "initial_connection_window",
                "max_header_list_size", "max_headers", "max_uri_length", "max_resets_per_window", "reset_window",
                "max_continuation_frames", "max_queued_control_frames", "max_consecutive_empty_frames", "request_headers_timeout",
                "stream_idle_timeout", "route_timeout", "generate_request_id");
        return new HttpSettings(
                integer(node, "buffer_limit", path, d.bufferLimit()),
                integer(node, "max_concurrent_streams", path, d.maxConcurrentStreams()),
                integer(node, "initial_stream_window", path, d.initialStreamWindow()),
                integer(node, "initial_connection_window", path, d.initialConnectionWindow()),
                integer(node, "max_header_list_size", path, d.maxHeaderListSize()),
                integer(node, "max_headers", path, d.maxHeaders()),
                integer(node, "max_uri_length", path, d.maxUriLength()),
                integer(node, "max_resets_per_window", path, d.maxResetsPerWindow()),
                duration(node, "reset_window", path, d.resetWindow()),
                integer(node, "max_continuation_frames", path, d.maxContinuationFrames()),
                integer(node, "max_queued_control_frames", path, d.maxQueuedControlFrames()),
                integer(node, "max_consecutive_empty_frames", path, d.maxConsecutiveEmptyFrames()),
                duration(node, "request_headers_timeout", path, d.requestHeadersTimeout()),
                duration(node, "stream_idle_timeout", path, d.streamIdleTimeout()),
                duration(node, "route_timeout", path, d.routeTimeout()),
                bool(node, "generate_request_id", path, d.generateRequestId()));
    }

    // ---- route_config, in Envoy's vocabulary ----

    private RouteConfig routeConfig(JsonNode node, String path) {
        knownKeys(node, path, "virtual_hosts");
        return new RouteConfig(list(node.get("virtual_hosts"), path + ".virtual_hosts", this::virtualHost));
    }

    private RouteConfig.VirtualHost virtualHost(JsonNode node, String path) {
        knownKeys(node, path, "name", "domains", "routes", "request_headers_to_add", "request_headers_to_remove",
                "response_headers_to_add", "response_headers_to_remove", "rate_limit");
        return new RouteConfig.VirtualHost(requiredString(node, "name", path),
                list(node.get("domains"), path + ".domains", this::string, false),
                list(node.get("routes"), path + ".routes", this::route),
                headerMutations(node, path), rateLimit(node, path));
    }

    private RouteConfig.Route route(JsonNode node, String path) {
        knownKeys(node, path, "name", "match", "route", "redirect", "direct_response", "request_headers_to_add",
                "request_headers_to_remove", "response_headers_to_add", "response_headers_to_remove", "rate_limit");
        RouteConfig.Match match = RouteConfig.Match.ANY;
        JsonNode m = section(node, "match", path);
        if (m != null) {
            match = match(m, join(path, "match"));
        } else if (!node.hasNonNull("match")) {
            error(join(path, "match"), "is required (match: { prefix: / } matches every request)");
        }
        RouteConfig.Action action = new RouteConfig.DirectResponse(404, "");
        String kind = exactlyOne(node, path, "route", "redirect", "direct_response");
        JsonNode a = kind == null ? null : section(node, kind, path);
        if (a != null) {
            String p = join(path, kind);
            action = switch (kind) {
                case "route" -> forward(a, p);
                case "redirect" -> redirect(a, p);
                default -> directResponse(a, p);
            };
        } else if (kind != null && !node.hasNonNull(kind)) {
            error(join(path, kind), "must be a mapping of keys to values, not null");
        }
        return new RouteConfig.Route(optionalString(node, "name", path), match, action, headerMutations(node, path), rateLimit(node, path));
    }

    private RouteConfig.Match match(JsonNode node, String path) {
        knownKeys(node, path, "prefix", "path", "safe_regex", "headers", "query_parameters");
        RouteConfig.PathMatch pathMatch = RouteConfig.Match.ANY.path();
        String kind = exactlyOne(node, path, "prefix", "path", "safe_regex");
        if (kind != null) {
            pathMatch = switch (kind) {
                case "prefix" -> new RouteConfig.PathMatch(RouteConfig.PathMatch.Kind.PREFIX, requiredString(node, kind, path));
                case "path" -> new RouteConfig.PathMatch(RouteConfig.PathMatch.Kind.EXACT, requiredString(node, kind, path));
                default -> new RouteConfig.PathMatch(RouteConfig.PathMatch.Kind.REGEX, regex(node, kind, path));
            };
        }
        return new RouteConfig.Match(pathMatch, list(node.get("headers"), path + ".headers", this::headerMatcher),
                list(node.get("query_parameters"), path + ".query_parameters", this::queryMatcher));
    }

    private RouteConfig.HeaderMatcher headerMatcher(JsonNode node, String path) {
        knownKeys(node, path, "name", "exact", "prefix", "present", "safe_regex", "invert_match");
        String name = requiredString(node, "name", path);
        boolean invert = bool(node, "invert_match", path, false);
        String kind = exactlyOne(node, path, "exact", "prefix", "present", "safe_regex");
        if (kind == null) {
            return new RouteConfig.HeaderMatcher(name, RouteConfig.HeaderMatcher.Kind.PRESENT, "", invert);
        }
        return switch (kind) {
            case "exact" -> new RouteConfig.HeaderMatcher(name, RouteConfig.HeaderMatcher.Kind.EXACT, requiredString(node, kind, path), invert);
            case "prefix" -> new RouteConfig.HeaderMatcher(name, RouteConfig.HeaderMatcher.Kind.PREFIX, requiredString(node, kind, path), invert);
            case "present" -> {
                // as in Envoy, present: false matches a request without the header
                boolean present = bool(node, kind, path, true);
                yield new RouteConfig.HeaderMatcher(name, RouteConfig.HeaderMatcher.Kind.PRESENT, "", present ? invert : !invert);
            }
            default -> new RouteConfig.HeaderMatcher(name, RouteConfig.HeaderMatcher.Kind.REGEX, regex(node, kind, path), invert);
        };
    }

    private RouteConfig.QueryMatcher queryMatcher(JsonNode node, String path) {
        knownKeys(node, path, "name", "exact", "present", "safe_regex");
        String name = requiredString(node, "name", path);
        String kind = exactlyOne(node, path, "exact", "present", "safe_regex");
        if (kind == null) {
            return new RouteConfig.QueryMatcher(name, RouteConfig.HeaderMatcher.Kind.PRESENT, "");
        }
        return switch (kind) {
            case "exact" -> new RouteConfig.QueryMatcher(name, RouteConfig.HeaderMatcher.Kind.EXACT, requiredString(node, kind, path));
            case "present" -> {
                flagTrue(node.get(kind), join(path, kind));
                yield new RouteConfig.QueryMatcher(name, RouteConfig.HeaderMatcher.Kind.PRESENT, "");
            }
            default -> new RouteConfig.QueryMatcher(name, RouteConfig.HeaderMatcher.Kind.REGEX, regex(node, kind, path));
        };
    }

    /**
     * A regular expression: a string, or Envoy's {@code { regex: "..." }}. Envoy configs may also
     * name the engine ({@code google_re2: {}}); it is accepted and ignored, there being one engine.
     * The validator compiles it.
     */
    private String regex(JsonNode parent, String key, String path) {
        JsonNode node = parent.get(key);
        if (node != null && node.isObject()) {
            String p = join(path, key);
            knownKeys(node, p, "regex", "google_re2");
            return requiredString(node, "regex", p);
        }
        return requiredString(parent, key, path);
    }

    private RouteConfig.Forward forward(JsonNode node, String path) {
        knownKeys(node, path, "cluster", "weighted_clusters", "timeout", "retry_policy", "hash_policy", "prefix_rewrite", "host_rewrite",
                "host_rewrite_literal");
        List<RouteConfig.WeightedCluster> clusters = List.of();
        String kind = exactlyOne(node, path, "cluster", "weighted_clusters");
        if ("cluster".equals(kind)) {
            clusters = List.of(new RouteConfig.WeightedCluster(requiredString(node, kind, path), 1));
        } else if (kind != null) {
            clusters = weightedClusters(node.get(kind), join(path, kind));
        }
        RouteConfig.RetryPolicy retry = null;
        JsonNode r = section(node, "retry_policy", path);
        if (r != null) {
            retry = retryPolicy(r, join(path, "retry_policy"));
        }
        // host_rewrite_literal is Envoy's name, host_rewrite the short one; either, not both
        String hostKey = node.has("host_rewrite_literal") && !node.has("host_rewrite") ? "host_rewrite_literal" : "host_rewrite";
        if (node.has("host_rewrite_literal") && node.has("host_rewrite")) {
            error(path, "has either host_rewrite or host_rewrite_literal, not both");
        }
        return new RouteConfig.Forward(clusters, duration(node, "timeout", path, null), retry,
                list(node.get("hash_policy"), path + ".hash_policy", this::hashPolicy),
                nullableString(node, "prefix_rewrite", path), nullableString(node, hostKey, path));
    }

    /** A list of {@code {name, weight}}, or Envoy's {@code { clusters: [...] }} around it. Weight defaults to 1. */
    private List<RouteConfig.WeightedCluster> weightedClusters(JsonNode node, String path) {
        String p = path;
        if (node.isObject()) {
            knownKeys(node, path, "clusters");
            p = join(path, "clusters");
            node = node.get("clusters");
            if (node == null || node.isNull()) {
                error(p, "is required");
                return List.of();
            }
        }
        return list(node, p, (n, np) -> {
            knownKeys(n, np, "name", "weight");
            return new RouteConfig.WeightedCluster(requiredString(n, "name", np), integer(n, "weight", np, 1));
        });
    }

    private RouteConfig.RetryPolicy retryPolicy(JsonNode node, String path) {
        knownKeys(node, path, "retry_on", "num_retries", "per_try_timeout", "retry_back_off", "retriable_status_codes");
        Duration base = RouteConfig.RetryPolicy.DEFAULT_BASE_INTERVAL;
        Duration max = null;
        JsonNode b = section(node, "retry_back_off", path);
        if (b != null) {
            String p = join(path, "retry_back_off");
            knownKeys(b, p, "base_interval", "max_interval");
            base = duration(b, "base_interval", p, base);
            max = duration(b, "max_interval", p, null);
        }
        return new RouteConfig.RetryPolicy(retryOn(node, path), integer(node, "num_retries", path, 1),
                duration(node, "per_try_timeout", path, Duration.ZERO), base,
                max != null ? max : base.multipliedBy(10), // Envoy's default: ten times the base
                list(node.get("retriable_status_codes"), path + ".retriable_status_codes", this::statusCode, false));
    }

    /** Envoy's comma-separated {@code retry_on}: {@code "connect-failure,5xx"}. */
    private Set<RouteConfig.RetryOn> retryOn(JsonNode parent, String path) {
        JsonNode node = parent.get("retry_on");
        String text = requiredString(parent, "retry_on", path);
        Set<RouteConfig.RetryOn> out = EnumSet.noneOf(RouteConfig.RetryOn.class);
        if (node == null || !node.isTextual()) {
            return out; // reported: a policy without conditions would never retry
        }
        for (String part : text.split(",", -1)) {
            RouteConfig.RetryOn on = Arrays.stream(RouteConfig.RetryOn.values())
                    .filter(v -> v.configName().equals(part.strip())).findFirst().orElse(null);
            if (on == null) {
                error(join(path, "retry_on"), "'" + part.strip() + "' is not one of "
                        + String.join(" | ", Arrays.stream(RouteConfig.RetryOn.values()).map(RouteConfig.RetryOn::configName).toList()));
            } else {
                out.add(on);
            }
        }
        return out;
    }

    private int statusCode(JsonNode node, String path) {
        if (node.isIntegralNumber() && node.canConvertToInt()) {
            return node.intValue();
        }
        error(path, "must be an HTTP status such as 503, not " + describe(node));
        return 503;
    }

    /** Envoy's names for the redirect statuses, beside the numbers. */
    private static final Map<String, Integer> REDIRECT_CODES = Map.of("MOVED_PERMANENTLY", 301, "FOUND", 302, "SEE_OTHER", 303,
            "TEMPORARY_REDIRECT", 307, "PERMANENT_REDIRECT", 308);

    private RouteConfig.Redirect redirect(JsonNode node, String path) {
        knownKeys(node, path, "scheme_redirect", "host_redirect", "port_redirect", "path_redirect", "prefix_rewrite", "response_code",
                "strip_query");
        return new RouteConfig.Redirect(nullableString(node, "scheme_redirect", path), nullableString(node, "host_redirect", path),
                integer(node, "port_redirect", path, 0), nullableString(node, "path_redirect", path),
                nullableString(node, "prefix_rewrite", path), redirectCode(node, "response_code", path),
                bool(node, "strip_query", path, false));
    }

    /** 301 by default, as in Envoy; the validator checks a number is a redirect status. */
    private int redirectCode(JsonNode parent, String key, String path) {
        JsonNode node = parent.get(key);
        if (node == null || node.isNull()) {
            return 301;
        }
        if (node.isIntegralNumber() && node.canConvertToInt()) {
            return node.intValue();
        }
        if (node.isTextual() && REDIRECT_CODES.containsKey(node.asText())) {
            return REDIRECT_CODES.get(node.asText());
        }
        error(join(path, key), describe(node) + " is not one of 301 | 302 | 303 | 307 | 308 | MOVED_PERMANENTLY | FOUND | SEE_OTHER"
                + " | TEMPORARY_REDIRECT | PERMANENT_REDIRECT");
        return 301;
    }

    /** {@code { status, body }}; body is a string or Envoy's {@code { inline_string: "..." }}. */
    private RouteConfig.DirectResponse directResponse(JsonNode node, String path) {
        knownKeys(node, path, "status", "body");
        int status = 200;
        if (!node.hasNonNull("status")) {
            error(join(path, "status"), "is required");
        } else {
            status = integer(node, "status", path, status);
        }
        String body = "";
        JsonNode b = node.get("body");
        if (b != null && b.isObject()) {
            String p = join(path, "body");
            knownKeys(b, p, "inline_string");
            body = optionalString(b, "inline_string", p);
        } else {
            body = optionalString(node, "body", path);
        }
        return new RouteConfig.DirectResponse(status, body);
    }

    private RouteConfig.HeaderMutations headerMutations(JsonNode node, String path) {
        return new RouteConfig.HeaderMutations(
                list(node.get("request_headers_to_add"), path + ".request_headers_to_add", this::headerValue),
                list(node.get("request_headers_to_remove"), path + ".request_headers_to_remove", this::string, false),
                list(node.get("response_headers_to_add"), path + ".response_headers_to_add", this::headerValue),
                list(node.get("response_headers_to_remove"), path + ".response_headers_to_remove", this::string, false));
    }

    /** Envoy's {@code { header: { key, value }, append }}, or the flat {@code { name, value, append }}. */
    private RouteConfig.HeaderValue headerValue(JsonNode node, String path) {
        knownKeys(node, path, "header", "append", "name", "value");
        boolean append = bool(node, "append", path, false);
        if (!node.has("header")) {
            return new RouteConfig.HeaderValue(requiredString(node, "name", path), requiredString(node, "value", path), append);
        }
        if (node.has("name") || node.has("value")) {
            error(path, "has either header: { key, value } or name and value, not both");
        }
        JsonNode h = section(node, "header", path);
        if (h == null) {
            if (node.get("header").isNull()) {
                error(join(path, "header"), "must be a mapping of keys to values, not null");
            }
            return new RouteConfig.HeaderValue("", "", append);
        }
        String p = join(path, "header");
        knownKeys(h, p, "key", "value");
        return new RouteConfig.HeaderValue(requiredString(h, "key", p), requiredString(h, "value", p), append);
    }

    /**
     * Envoy's local rate limit token bucket, {@code { max_tokens, tokens_per_fill, fill_interval }},
     * directly or inside {@code token_bucket}; null when the key is absent.
     */
    private RouteConfig.RateLimit rateLimit(JsonNode parent, String parentPath) {
        JsonNode node = section(parent, "rate_limit", parentPath);
        if (node == null) {
            return null;
        }
        String path = join(parentPath, "rate_limit");
        knownKeys(node, path, "max_tokens", "tokens_per_fill", "fill_interval", "token_bucket");
        if (node.has("token_bucket")) {
            if (node.size() > 1) {
                error(path, "has either token_bucket or its fields, not both");
            }
            node = section(node, "token_bucket", path);
            if (node == null) {
                error(join(path, "token_bucket"), "is required");
                return null;
            }
            path = join(path, "token_bucket");
            knownKeys(node, path, "max_tokens", "tokens_per_fill", "fill_interval");
        }
        return new RouteConfig.RateLimit(requiredInteger(node, "max_tokens", path, 1), integer(node, "tokens_per_fill", path, 1),
                requiredDuration(node, "fill_interval", path, Duration.ofSeconds(1)));
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
                "ring_hash_lb_config", "common_lb_config", "health_checks", "outlier_detection", "circuit_breakers", "upstream_protocol",
                "http_pool", "tls", "dns_refresh_rate", "proxy_protocol", "type");
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
        HttpPoolConfig pool = HttpPoolConfig.DEFAULT;
        if ((n = section(node, "http_pool", path)) != null) {
            String p = join(path, "http_pool");
            knownKeys(n, p, "idle_timeout", "max_idle_connections", "max_requests_per_connection");
            pool = new HttpPoolConfig(
                    duration(n, "idle_timeout", p, pool.idleTimeout()),
                    integer(n, "max_idle_connections", p, pool.maxIdleConnections()),
                    integer(n, "max_requests_per_connection", p, pool.maxRequestsPerConnection()));
        }
        JsonNode tls = section(node, "tls", path);
        String name = requiredString(node, "name", path);
        if (!node.hasNonNull("lb_policy")) {
            defaultLbPolicy.add(name);
        }
        return ClusterConfig.builder(name)
                .lbPolicy(choice(node, "lb_policy", path, LbPolicy.values(), LbPolicy::configName, ClusterConfig.DEFAULT_LB_POLICY))
                .connectTimeout(duration(node, "connect_timeout", path, ClusterConfig.DEFAULT_CONNECT_TIMEOUT))
                .endpoints(list(node.get("endpoints"), path + ".endpoints", this::endpoint))
                .lbSettings(lb)
                .healthChecks(list(node.get("health_checks"), path + ".health_checks", this::healthCheck))
                .outlierDetection(outlier)
                .circuitBreakers(breakers)
                .upstreamProtocol(choice(node, "upstream_protocol", path, UpstreamProtocol.values(), UpstreamProtocol::configName,
                        UpstreamProtocol.HTTP1))
                .httpPool(pool)
                .tls(tls == null ? null : tlsClient(tls, join(path, "tls")))
                .dnsRefreshRate(node.hasNonNull("dns_refresh_rate") ? duration(node, "dns_refresh_rate", path, null) : null)
                .proxyProtocol(choice(node, "proxy_protocol", path, ProxyProtocolVersion.values(), ProxyProtocolVersion::configName, null))
                .type(choice(node, "type", path, ClusterType.values(), ClusterType::configName, ClusterType.STATIC))
                .build();
    }

    private HealthCheckConfig healthCheck(JsonNode node, String path) {
        knownKeys(node, path, "timeout", "interval", "interval_jitter", "initial_jitter", "unhealthy_interval", "no_traffic_interval",
                "unhealthy_threshold", "healthy_threshold", "initially_healthy", "tcp_health_check", "http_health_check", "grpc_health_check");
        HealthCheckConfig.Kind kind = HealthCheckConfig.Tcp.connectOnly();
        String k = exactlyOne(node, path, "tcp_health_check", "http_health_check", "grpc_health_check");
        if (k != null) {
            String p = join(path, k);
            JsonNode v = node.get(k);
            if (v.isNull()) {
                v = NODES.objectNode();
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

    /** The one of {@code keys} that {@code node} has, or null (reported) when it has none or several. */
    private String exactlyOne(JsonNode node, String path, String... keys) {
        List<String> found = Arrays.stream(keys).filter(node::has).toList();
        if (found.size() == 1) {
            return found.get(0);
        }
        error(path, "must have exactly one of " + String.join(", ", keys)
                + (found.isEmpty() ? "" : " (found " + String.join(", ", found) + ")"));
        return null;
    }

    /** A list item that must be a string. */
    private String string(JsonNode node, String path) {
        if (node.isTextual()) {
            return node.asText();
        }
        error(path, "must be a string, not " + describe(node));
        return "";
    }

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

    /** A string whose absence means "not set": null then. */
    private String nullableString(JsonNode parent, String key, String path) {
        JsonNode node = parent.get(key);
        if (node == null || node.isNull()) {
            return null;
        }
        return requiredString(parent, key, path);
    }

    private int requiredInteger(JsonNode parent, String key, String path, int harmless) {
        if (!parent.hasNonNull(key)) {
            error(join(path, key), "is required");
            return harmless;
        }
        return integer(parent, key, path, harmless);
    }

    private Duration requiredDuration(JsonNode parent, String key, String path, Duration harmless) {
        if (!parent.hasNonNull(key)) {
            error(join(path, key), "is required");
            return harmless;
        }
        return duration(parent, key, path, harmless);
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

    private double number(JsonNode parent, String key, String path, double dflt) {
        JsonNode node = parent.get(key);
        if (node == null || node.isNull()) {
            return dflt;
        }
        if (!node.isNumber()) {
            error(join(path, key), "must be a number such as 0.9, not " + describe(node));
            return dflt;
        }
        return node.doubleValue();
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
