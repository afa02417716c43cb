package dev.sidecar.config;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * The semantic rules of a {@link ProxyConfig}: ranges, names, references between sections.
 * Works on records, so a config from YAML and one translated from xDS are held to the same
 * rules. Every error is collected, not just the first, each with its field path.
 */
final class ConfigValidator {
    /** Names end up in metric labels and admin URLs: keep them printable and short. */
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");

    private final List<ConfigError> errors = new ArrayList<>();
    /** Clusters of type original_dst: only a TCP listener with original_destination can use them. */
    private final Set<String> originalDstClusters = new HashSet<>();

    private ConfigValidator() {}

    static List<ConfigError> validate(ProxyConfig config) {
        ConfigValidator v = new ConfigValidator();
        v.server("server", config.server());
        v.port("admin.address", config.admin().address(), 0);
        if (config.controlPlane() != null) {
            v.controlPlane("control_plane", config.controlPlane());
        }
        Set<String> clusterNames = v.clusters(config.clusters());
        v.listeners(config.listeners(), clusterNames, config.server().transport());
        return List.copyOf(v.errors);
    }

    private void error(String path, String message) {
        errors.add(new ConfigError(path, message));
    }

    private void controlPlane(String path, ControlPlaneConfig cp) {
        port(path + ".address", cp.address(), 1);
        if (cp.node().id().isBlank()) {
            error(path + ".node.id", "is required: the control plane chooses this proxy's resources by it");
        }
        positive(path + ".initial_fetch_timeout", cp.initialFetchTimeout(), true);
        if (cp.cacheFile() != null && cp.cacheFile().isBlank()) {
            error(path + ".cache_file", "is empty; leave it out for no cache");
        }
        if (cp.tls() != null) {
            tlsClient(path + ".tls", cp.tls());
        }
    }

    private void server(String path, ServerConfig server) {
        if (server.workers() < 0 || server.workers() > 1024) {
            error(path + ".workers", server.workers() + " is out of range 0..1024 (0 means one per core)");
        }
        positive(path + ".drain_timeout", server.drainTimeout(), true);
        positive(path + ".exit_when_idle", server.exitWhenIdle(), true);
        fraction(path + ".overload.direct_memory_shed_fraction", server.overload().directMemoryShedFraction());
        fraction(path + ".overload.heap_shed_fraction", server.overload().heapShedFraction());
    }

    /** A share of a memory limit: 0 (the check is off), or above 0.1 and at most 1. */
    private void fraction(String path, double f) {
        if (Double.isNaN(f) || f < 0 || f > 1 || (f > 0 && f < 0.1)) {
            error(path, f + " is out of range: 0 (off), or 0.1..1 of the limit");
        }
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
            if (c.dnsRefreshRate() != null) {
                positive(path + ".dns_refresh_rate", c.dnsRefreshRate(), false);
            }
            lbSettings(path, c);
            for (int h = 0; h < c.healthChecks().size(); h++) {
                healthCheck(path + ".health_checks[" + h + "]", c.healthChecks().get(h));
            }
            c.outlierDetectionIfEnabled().ifPresent(o -> outlierDetection(path + ".outlier_detection", o));
            circuitBreakers(path + ".circuit_breakers", c.circuitBreakers());
            httpPool(path + ".http_pool", c.httpPool());
            if (c.tls() != null) {
                tlsClient(path + ".tls", c.tls());
            }
            if (c.type() == ClusterType.ORIGINAL_DST) {
                originalDst(path, c);
            }
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

    /**
     * An original_dst cluster has no endpoints of its own, so nothing that works on a list of
     * them (health checks, outlier detection, DNS refresh) applies.
     */
    private void originalDst(String path, ClusterConfig c) {
        originalDstClusters.add(c.name());
        String why = "an original_dst cluster has no endpoints of its own: each connection goes to its original destination";
        if (!c.endpoints().isEmpty()) {
            error(path + ".endpoints", why);
        }
        if (!c.healthChecks().isEmpty()) {
            error(path + ".health_checks", why);
        }
        if (c.outlierDetection() != null) {
            error(path + ".outlier_detection", why);
        }
        if (c.dnsRefreshRate() != null) {
            error(path + ".dns_refresh_rate", why);
        }
    }

    private void listeners(List<ListenerConfig> listeners, Set<String> clusterNames, TransportChoice transport) {
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
            } else if (originalDstClusters.contains(l.cluster()) && (l.protocol() != ListenerProtocol.TCP || !l.originalDestination())) {
                error(path + ".cluster", "'" + l.cluster() + "' is an original_dst cluster: only a tcp listener with original_destination: true"
                        + " knows where its connections were going");
            }
            if (l.originalDestination()) {
                if (l.protocol() != ListenerProtocol.TCP) {
                    error(path + ".original_destination", "only for protocol: tcp");
                } else if (transport == TransportChoice.NIO) {
                    error(path + ".original_destination", "needs the epoll or io_uring transport to read SO_ORIGINAL_DST; server.transport is nio");
                }
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
                } else {
                    hashPolicy(path + ".hash_policy[" + h + "]", p);
                }
            }
            if (l.tls() != null) {
                tlsServer(path + ".tls", l.tls());
            }
            if (l.protocol() == ListenerProtocol.HTTP) {
                if (l.routeConfig() != null) {
                    routeConfig(path + ".route_config", l.routeConfig(), clusterNames);
                }
                httpSettings(path + ".http", l.http());
            } else {
                if (l.routeConfig() != null) {
                    error(path + ".route_config", "only for protocol: http");
                }
                if (!l.http().equals(HttpSettings.DEFAULT)) {
                    error(path + ".http", "only for protocol: http");
                }
            }
        }
    }

    // ---- TLS ----

    private void tlsServer(String path, TlsServerConfig t) {
        if (t.certificates().isEmpty()) {
            error(path + ".certificates", "is empty: give at least one cert_chain_file and private_key_file");
        }
        for (int i = 0; i < t.certificates().size(); i++) {
            certificateFiles(path + ".certificates[" + i + "]", t.certificates().get(i));
        }
        alpn(path + ".alpn", t.alpn());
        if (t.minVersion().compareTo(t.maxVersion()) > 0) {
            error(path + ".max_version", t.maxVersion().configName() + " is below min_version " + t.minVersion().configName());
        }
        for (int i = 0; i < t.cipherSuites().size(); i++) {
            if (t.cipherSuites().get(i).isBlank()) {
                error(path + ".cipher_suites[" + i + "]", "is empty");
            }
        }
        if (t.clientValidation() != null) {
            String cv = path + ".client_validation";
            readableFile(cv + ".trusted_ca_file", t.clientValidation().trustedCaFile());
            sanMatchers(cv + ".match_subject_alt_names", t.clientValidation().matchSubjectAltNames());
        }
    }

    private void tlsClient(String path, TlsClientConfig t) {
        if (t.sni() != null && !SNI.matcher(t.sni()).matches()) {
            error(path + ".sni", "'" + printable(t.sni()) + "' is not a host name (letters, digits, '-' and '.', no IP address)");
        }
        if (t.trustedCaFile() != null) {
            readableFile(path + ".trusted_ca_file", t.trustedCaFile());
        }
        sanMatchers(path + ".match_subject_alt_names", t.matchSubjectAltNames());
        if (t.clientCertificate() != null) {
            certificateFiles(path, t.clientCertificate());
        }
        alpn(path + ".alpn", t.alpn());
    }

    /** A DNS host name as SNI allows it (RFC 6066 3: no IP literals, no trailing dot). */
    private static final Pattern SNI = Pattern.compile("(?=.*[A-Za-z-])[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*");

    private void certificateFiles(String path, CertificateFiles f) {
        readableFile(path + ".cert_chain_file", f.certChainFile());
        readableFile(path + ".private_key_file", f.privateKeyFile());
    }

    private void sanMatchers(String path, List<SanMatcher> matchers) {
        for (int i = 0; i < matchers.size(); i++) {
            SanMatcher m = matchers.get(i);
            if (m.value().isEmpty()) {
                error(path + "[" + i + "]." + m.kind().configName(), "is empty, so it would match every name; leave the entry out instead");
            }
        }
    }

    private void alpn(String path, List<String> protocols) {
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < protocols.size(); i++) {
            String p = protocols.get(i);
            // RFC 7301 3.1: a protocol name is 1..255 bytes
            int bytes = p.getBytes(StandardCharsets.UTF_8).length;
            if (bytes == 0 || bytes > 255) {
                error(path + "[" + i + "]", "'" + printable(p) + "' must be 1..255 bytes (e.g. h2, http/1.1)");
            } else if (!seen.add(p)) {
                error(path + "[" + i + "]", "'" + p + "' is listed twice");
            }
        }
    }

    /**
     * A file the proxy must read at start and on every reload. Checked here so that a typo is
     * reported with its field; what is in the file is checked where it is loaded.
     */
    private void readableFile(String path, String file) {
        if (file.isBlank()) {
            error(path, "is required");
            return;
        }
        java.nio.file.Path p;
        try {
            p = java.nio.file.Path.of(file);
        } catch (java.nio.file.InvalidPathException e) {
            error(path, "'" + printable(file) + "' is not a valid path");
            return;
        }
        if (!java.nio.file.Files.exists(p)) {
            error(path, "file " + file + " does not exist");
        } else if (java.nio.file.Files.isDirectory(p)) {
            error(path, file + " is a directory, not a file");
        } else if (!java.nio.file.Files.isReadable(p)) {
            error(path, "file " + file + " is not readable");
        }
    }

    private void hashPolicy(String path, HashPolicy p) {
        if (p instanceof HashPolicy.Header h) {
            headerName(path + ".header", h.name(), true);
        } else if (p instanceof HashPolicy.Cookie c) {
            if (c.name().isEmpty()) {
                error(path + ".cookie.name", "is required");
            }
            if (c.ttl() != null) {
                positive(path + ".cookie.ttl", c.ttl(), true);
            }
        } else if (p instanceof HashPolicy.QueryParameter q && q.name().isEmpty()) {
            error(path + ".query_parameter", "is required");
        }
    }

    private void httpSettings(String path, HttpSettings h) {
        range(path + ".buffer_limit", h.bufferLimit(), 1024, 16 * 1024 * 1024);
        range(path + ".max_concurrent_streams", h.maxConcurrentStreams(), 1, Integer.MAX_VALUE);
        range(path + ".initial_stream_window", h.initialStreamWindow(), 1024, Integer.MAX_VALUE);
        // every HTTP/2 connection window starts at 65535 and SETTINGS cannot lower it (only
        // WINDOW_UPDATE changes it, upwards), so a smaller value could not be honoured
        range(path + ".initial_connection_window", h.initialConnectionWindow(), 65_535, Integer.MAX_VALUE);
        range(path + ".max_header_list_size", h.maxHeaderListSize(), 1024, 1024 * 1024);
        range(path + ".max_headers", h.maxHeaders(), 1, 10_000);
        range(path + ".max_uri_length", h.maxUriLength(), 256, 1024 * 1024);
        range(path + ".max_resets_per_window", h.maxResetsPerWindow(), 1, 1_000_000);
        positive(path + ".reset_window", h.resetWindow(), false);
        range(path + ".max_continuation_frames", h.maxContinuationFrames(), 1, 10_000);
        range(path + ".max_queued_control_frames", h.maxQueuedControlFrames(), 1, 1_000_000);
        range(path + ".max_consecutive_empty_frames", h.maxConsecutiveEmptyFrames(), 1, 10_000);
        // a client may otherwise hold a connection open forever by sending headers slowly
        positive(path + ".request_headers_timeout", h.requestHeadersTimeout(), false);
        positive(path + ".stream_idle_timeout", h.streamIdleTimeout(), true);
        positive(path + ".route_timeout", h.routeTimeout(), true);
    }

    private void httpPool(String path, HttpPoolConfig p) {
        positive(path + ".idle_timeout", p.idleTimeout(), false);
        range(path + ".max_idle_connections", p.maxIdleConnections(), 0, 10_000);
        range(path + ".max_requests_per_connection", p.maxRequestsPerConnection(), 0, Integer.MAX_VALUE);
    }

    // ---- route_config ----

    /**
     * An exact host (with an optional port), a host with one wildcard at either end
     * ({@code *.api.local}, {@code *-api.local}, {@code api.*}), or {@code *} alone.
     */
    private static final Pattern DOMAIN = Pattern.compile(
            "(?:\\*[A-Za-z0-9._-]+|[A-Za-z0-9._-]+\\*|[A-Za-z0-9_-]+(?:\\.[A-Za-z0-9_-]+)*|\\[[0-9A-Fa-f:.]+\\])(?::(\\d{1,5}))?");
    /** RFC 9110 token: what a header name may contain. */
    private static final Pattern TOKEN = Pattern.compile("[!#$%&'*+.^_`|~0-9A-Za-z-]+");
    private static final Set<Integer> REDIRECT_CODES = Set.of(301, 302, 303, 307, 308);
    /** Large enough for an error page; a direct response is held in memory by every route that has it. */
    static final int MAX_DIRECT_RESPONSE_BODY = 4096;

    private void routeConfig(String path, RouteConfig rc, Set<String> clusterNames) {
        if (rc.virtualHosts().isEmpty()) {
            error(path + ".virtual_hosts", "is empty: give at least one virtual host (domains: [\"*\"] matches every request)");
        }
        Set<String> names = new HashSet<>();
        // Envoy rejects a domain two virtual hosts share: which one a request reaches would
        // depend on their order, silently
        Map<String, String> domains = new HashMap<>();
        for (int i = 0; i < rc.virtualHosts().size(); i++) {
            RouteConfig.VirtualHost vh = rc.virtualHosts().get(i);
            String vp = path + ".virtual_hosts[" + i + "]";
            if (vh.name().isEmpty()) {
                error(vp + ".name", "is required");
            } else if (!names.add(vh.name())) {
                error(vp + ".name", "duplicate virtual host name '" + vh.name() + "'");
            }
            if (vh.domains().isEmpty()) {
                error(vp + ".domains", "is empty: list the hosts this virtual host serves, or \"*\" for any");
            }
            for (int d = 0; d < vh.domains().size(); d++) {
                String dp = vp + ".domains[" + d + "]";
                String domain = vh.domains().get(d);
                if (domain(dp, domain)) {
                    String first = domains.putIfAbsent(domain.toLowerCase(Locale.ROOT), "virtual_hosts[" + i + "].domains[" + d + "]");
                    if (first != null) {
                        error(dp, "'" + domain + "' is already " + first);
                    }
                }
            }
            for (int r = 0; r < vh.routes().size(); r++) {
                route(vp + ".routes[" + r + "]", vh.routes().get(r), clusterNames);
            }
            headerMutations(vp, vh.headers());
            rateLimit(vp + ".rate_limit", vh.rateLimit());
        }
    }

    private boolean domain(String path, String domain) {
        var m = DOMAIN.matcher(domain);
        if (!domain.equals("*") && !m.matches()) {
            error(path, "'" + domain + "' is not a domain: write a host (api.local, api.local:8080), *.suffix, prefix.* or *"
                    + " (one wildcard, at an end)");
            return false;
        }
        if (!domain.equals("*") && m.group(1) != null && Integer.parseInt(m.group(1)) > 65535) {
            error(path, "'" + domain + "' has port " + m.group(1) + ", out of range 0..65535");
            return false;
        }
        return true;
    }

    private void route(String path, RouteConfig.Route r, Set<String> clusterNames) {
        match(path + ".match", r.match());
        if (r.action() instanceof RouteConfig.Forward f) {
            forward(path + ".route", f, clusterNames);
        } else if (r.action() instanceof RouteConfig.Redirect rd) {
            redirect(path + ".redirect", rd);
        } else if (r.action() instanceof RouteConfig.DirectResponse d) {
            range(path + ".direct_response.status", d.status(), 200, 599);
            int bytes = d.body().getBytes(StandardCharsets.UTF_8).length;
            if (bytes > MAX_DIRECT_RESPONSE_BODY) {
                error(path + ".direct_response.body", bytes + " bytes is more than the " + MAX_DIRECT_RESPONSE_BODY + " allowed");
            }
        }
        headerMutations(path, r.headers());
        rateLimit(path + ".rate_limit", r.rateLimit());
    }

    private void match(String path, RouteConfig.Match m) {
        RouteConfig.PathMatch p = m.path();
        switch (p.kind()) {
            case PREFIX -> startsWithSlash(path + ".prefix", p.value());
            case EXACT -> startsWithSlash(path + ".path", p.value());
            case REGEX -> regex(path + ".safe_regex", p.value());
        }
        for (int h = 0; h < m.headers().size(); h++) {
            RouteConfig.HeaderMatcher hm = m.headers().get(h);
            String hp = path + ".headers[" + h + "]";
            headerName(hp + ".name", hm.name(), true);
            if (hm.kind() == RouteConfig.HeaderMatcher.Kind.REGEX) {
                regex(hp + ".safe_regex", hm.value());
            }
        }
        for (int q = 0; q < m.queryParameters().size(); q++) {
            RouteConfig.QueryMatcher qm = m.queryParameters().get(q);
            String qp = path + ".query_parameters[" + q + "]";
            if (qm.name().isEmpty()) {
                error(qp + ".name", "is required");
            }
            if (qm.kind() == RouteConfig.HeaderMatcher.Kind.REGEX) {
                regex(qp + ".safe_regex", qm.value());
            }
        }
    }

    private void startsWithSlash(String path, String value) {
        if (!value.startsWith("/")) {
            error(path, "'" + value + "' must start with '/'");
        }
    }

    private void regex(String path, String regex) {
        try {
            Pattern.compile(regex);
        } catch (PatternSyntaxException e) {
            error(path, "'" + regex + "' is not a valid regular expression: " + e.getDescription()
                    + (e.getIndex() >= 0 ? " at index " + e.getIndex() : ""));
        }
    }

    private void forward(String path, RouteConfig.Forward f, Set<String> clusterNames) {
        if (f.clusters().isEmpty()) {
            error(path + ".weighted_clusters", "is empty: name at least one cluster");
        }
        // the record does not say which spelling a single cluster had: take the usual one, cluster: NAME
        boolean single = f.clusters().size() == 1;
        for (int w = 0; w < f.clusters().size(); w++) {
            RouteConfig.WeightedCluster wc = f.clusters().get(w);
            String wp = single ? path + ".cluster" : path + ".weighted_clusters[" + w + "].name";
            if (wc.name().isEmpty()) {
                error(wp, "is required");
            } else if (!clusterNames.contains(wc.name())) {
                error(wp, "no cluster named '" + wc.name() + "'" + known(clusterNames));
            } else if (originalDstClusters.contains(wc.name())) {
                error(wp, "'" + wc.name() + "' is an original_dst cluster: only a tcp listener with original_destination: true can use it");
            }
            // every weight at least 1, so the total is too: no split can send nowhere
            range(path + ".weighted_clusters[" + w + "].weight", wc.weight(), 1, 10_000);
        }
        if (f.timeout() != null) {
            positive(path + ".timeout", f.timeout(), true);
        }
        if (f.retryPolicy() != null) {
            retryPolicy(path + ".retry_policy", f.retryPolicy());
        }
        for (int h = 0; h < f.hashPolicy().size(); h++) {
            hashPolicy(path + ".hash_policy[" + h + "]", f.hashPolicy().get(h));
        }
        if (f.prefixRewrite() != null) {
            headerValue(path + ".prefix_rewrite", f.prefixRewrite());
        }
        if (f.hostRewrite() != null) {
            if (f.hostRewrite().isEmpty()) {
                error(path + ".host_rewrite", "is empty; leave it out to keep the request's host");
            }
            headerValue(path + ".host_rewrite", f.hostRewrite());
        }
    }

    private void retryPolicy(String path, RouteConfig.RetryPolicy p) {
        range(path + ".num_retries", p.numRetries(), 0, 10);
        positive(path + ".per_try_timeout", p.perTryTimeout(), true);
        positive(path + ".retry_back_off.base_interval", p.baseInterval(), false);
        if (p.maxInterval().compareTo(p.baseInterval()) < 0) {
            error(path + ".retry_back_off.max_interval", "must be at least base_interval (" + Durations.format(p.baseInterval()) + ")");
        }
        for (int i = 0; i < p.retriableStatusCodes().size(); i++) {
            range(path + ".retriable_status_codes[" + i + "]", p.retriableStatusCodes().get(i), 100, 599);
        }
    }

    private void redirect(String path, RouteConfig.Redirect r) {
        if (r.scheme() != null && !r.scheme().equals("http") && !r.scheme().equals("https")) {
            error(path + ".scheme_redirect", "'" + r.scheme() + "' is not one of http | https");
        }
        if (r.host() != null) {
            if (r.host().isEmpty()) {
                error(path + ".host_redirect", "is empty; leave it out to keep the request's host");
            }
            headerValue(path + ".host_redirect", r.host());
        }
        range(path + ".port_redirect", r.port(), 0, 65535);
        if (r.path() != null && r.prefixRewrite() != null) {
            error(path + ".prefix_rewrite", "a redirect has either path_redirect or prefix_rewrite, not both");
        }
        // these end up in the Location header
        if (r.path() != null) {
            startsWithSlash(path + ".path_redirect", r.path());
            headerValue(path + ".path_redirect", r.path());
        }
        if (r.prefixRewrite() != null) {
            headerValue(path + ".prefix_rewrite", r.prefixRewrite());
        }
        if (!REDIRECT_CODES.contains(r.responseCode())) {
            error(path + ".response_code", r.responseCode() + " is not a redirect status: use 301, 302, 303, 307 or 308");
        }
    }

    private void rateLimit(String path, RouteConfig.RateLimit r) {
        if (r == null) {
            return;
        }
        range(path + ".max_tokens", r.maxTokens(), 1, Integer.MAX_VALUE);
        range(path + ".tokens_per_fill", r.tokensPerFill(), 1, Integer.MAX_VALUE);
        if (r.fillInterval().compareTo(Duration.ofMillis(1)) < 0) {
            error(path + ".fill_interval", "must be at least 1ms");
        }
    }

    private void headerMutations(String path, RouteConfig.HeaderMutations m) {
        headersToAdd(path + ".request_headers_to_add", m.requestAdd(), true);
        headersToRemove(path + ".request_headers_to_remove", m.requestRemove(), true);
        headersToAdd(path + ".response_headers_to_add", m.responseAdd(), false);
        headersToRemove(path + ".response_headers_to_remove", m.responseRemove(), false);
    }

    private void headersToAdd(String path, List<RouteConfig.HeaderValue> headers, boolean request) {
        for (int i = 0; i < headers.size(); i++) {
            RouteConfig.HeaderValue h = headers.get(i);
            String hp = path + "[" + i + "].header";
            mutableHeader(hp + ".key", h.name(), request);
            headerValue(hp + ".value", h.value());
        }
    }

    private void headersToRemove(String path, List<String> names, boolean request) {
        for (int i = 0; i < names.size(); i++) {
            mutableHeader(path + "[" + i + "]", names.get(i), request);
        }
    }

    /** Pseudo-headers are the proxy's to set; Host is the request's own (use host_rewrite). */
    private void mutableHeader(String path, String name, boolean request) {
        if (name.startsWith(":")) {
            error(path, "'" + name + "' is a pseudo-header; the proxy sets those itself");
        } else if (request && name.equalsIgnoreCase("host")) {
            error(path, "the request's host is changed with host_rewrite, not a header mutation");
        } else {
            headerName(path, name, false);
        }
    }

    /** @param pseudo whether a pseudo-header such as :method or :authority may be named (to match or hash on) */
    private void headerName(String path, String name, boolean pseudo) {
        String token = pseudo && name.startsWith(":") ? name.substring(1) : name;
        if (name.isEmpty()) {
            error(path, "is required");
        } else if (!TOKEN.matcher(token).matches()) {
            error(path, "'" + printable(name) + "' is not a valid header name: use letters, digits and !#$%&'*+-.^_`|~");
        }
    }

    /** CR or LF in a value would let it end the header and start another (response splitting). */
    private void headerValue(String path, String value) {
        if (value.indexOf('\r') >= 0 || value.indexOf('\n') >= 0 || value.indexOf('\0') >= 0) {
            error(path, "'" + printable(value) + "' contains CR, LF or NUL, which cannot be sent in a header");
        }
    }

    private static String printable(String s) {
        return s.replace("\r", "\\r").replace("\n", "\\n").replace("\0", "\\0");
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
