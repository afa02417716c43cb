package dev.sidecar.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sidecar.config.ClusterConfig;
import dev.sidecar.config.ConfigException;
import dev.sidecar.config.HashPolicy;
import dev.sidecar.config.HttpPoolConfig;
import dev.sidecar.config.HttpSettings;
import dev.sidecar.config.LbPolicy;
import dev.sidecar.config.ListenerConfig;
import dev.sidecar.config.ListenerProtocol;
import dev.sidecar.config.ProxyConfig;
import dev.sidecar.config.RouteConfig;
import dev.sidecar.config.RouteConfig.DirectResponse;
import dev.sidecar.config.RouteConfig.Forward;
import dev.sidecar.config.RouteConfig.HeaderMatcher;
import dev.sidecar.config.RouteConfig.HeaderValue;
import dev.sidecar.config.RouteConfig.PathMatch;
import dev.sidecar.config.RouteConfig.QueryMatcher;
import dev.sidecar.config.RouteConfig.RateLimit;
import dev.sidecar.config.RouteConfig.Redirect;
import dev.sidecar.config.RouteConfig.RetryOn;
import dev.sidecar.config.RouteConfig.Route;
import dev.sidecar.config.RouteConfig.WeightedCluster;
import dev.sidecar.config.UpstreamProtocol;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** HTTP listeners in the YAML: route_config in Envoy's vocabulary, HTTP limits, and the HTTP settings of clusters. */
class HttpConfigTest {
    private static final String CANARY = """
            listeners:
              - name: ingress
                address: 127.0.0.1:10000
                protocol: http
                route_config:
                  virtual_hosts:
                    - name: api
                      domains: ["api.local", "*.api.local"]
                      routes:
                        - match: { prefix: /v2/, headers: [{ name: x-canary, exact: "1" }] }
                          route: { cluster: api-v2 }
                        - match: { prefix: / }
                          route:
                            weighted_clusters: [{ name: api-v1, weight: 90 }, { name: api-v2, weight: 10 }]
                            timeout: 5s
                            retry_policy: { retry_on: "connect-failure,refused-stream,unavailable,5xx", num_retries: 2, per_try_timeout: 1s }
                            hash_policy: [{ header: x-user }]
            clusters:
              - { name: api-v1, endpoints: [{ address: 127.0.0.1:8081 }] }
              - { name: api-v2, endpoints: [{ address: 127.0.0.1:8082 }] }
            """;

    private static final String VH = "listeners[0].route_config.virtual_hosts[0]";
    private static final String R0 = VH + ".routes[0]";
    private static final String R1 = VH + ".routes[1]";

    /** A one-listener config around the routes of one virtual host, given as a YAML list. */
    private static String withRoutes(String routes) {
        return """
                listeners:
                  - name: ingress
                    address: 127.0.0.1:10000
                    protocol: http
                    route_config:
                      virtual_hosts:
                        - name: api
                          domains: ["*"]
                          routes:
                """ + routes.indent(12) + """
                clusters:
                  - { name: api-v1, endpoints: [{ address: 127.0.0.1:8081 }] }
                  - { name: api-v2, endpoints: [{ address: 127.0.0.1:8082 }] }
                """;
    }

    private static List<Route> routes(ProxyConfig c) {
        return c.listeners().get(0).routeConfig().virtualHosts().get(0).routes();
    }

    @Test
    void the_canary_example_loads_into_the_expected_records() {
        ProxyConfig c = ConfigLoader.parse(CANARY);
        ListenerConfig l = c.listeners().get(0);
        assertEquals(ListenerProtocol.HTTP, l.protocol());
        assertEquals("", l.cluster());
        assertEquals(HttpSettings.DEFAULT, l.http());
        RouteConfig.VirtualHost vh = l.routeConfig().virtualHosts().get(0);
        assertEquals("api", vh.name());
        assertEquals(List.of("api.local", "*.api.local"), vh.domains());
        assertEquals(RouteConfig.HeaderMutations.NONE, vh.headers());
        assertNull(vh.rateLimit());

        Route canary = vh.routes().get(0);
        assertEquals("", canary.name());
        assertEquals(new PathMatch(PathMatch.Kind.PREFIX, "/v2/"), canary.match().path());
        assertEquals(List.of(new HeaderMatcher("x-canary", HeaderMatcher.Kind.EXACT, "1", false)), canary.match().headers());
        assertEquals(Forward.to("api-v2"), canary.action());

        Forward split = (Forward) vh.routes().get(1).action();
        assertEquals(List.of(new WeightedCluster("api-v1", 90), new WeightedCluster("api-v2", 10)), split.clusters());
        assertEquals(Duration.ofSeconds(5), split.timeout());
        assertEquals(List.of(new HashPolicy.Header("x-user")), split.hashPolicy());
        RouteConfig.RetryPolicy retry = split.retryPolicy();
        assertEquals(Set.of(RetryOn.CONNECT_FAILURE, RetryOn.REFUSED_STREAM, RetryOn.UNAVAILABLE, RetryOn.FIVE_XX), retry.retryOn());
        assertEquals(2, retry.numRetries());
        assertEquals(Duration.ofSeconds(1), retry.perTryTimeout());
        assertEquals(Duration.ofMillis(25), retry.baseInterval());
        assertEquals(Duration.ofMillis(250), retry.maxInterval());
        assertEquals(List.of(), retry.retriableStatusCodes());
        assertNull(split.prefixRewrite());
        assertNull(split.hostRewrite());

        for (ClusterConfig cl : c.clusters()) {
            assertEquals(LbPolicy.LEAST_REQUEST, cl.lbPolicy(), cl.name());
            assertEquals(UpstreamProtocol.HTTP1, cl.upstreamProtocol());
            assertEquals(HttpPoolConfig.DEFAULT, cl.httpPool());
        }
    }

    @Test
    void forward_in_every_spelling() {
        ProxyConfig c = ConfigLoader.parse(withRoutes("""
                - name: envoy-shape
                  match: { prefix: /a/ }
                  route:
                    weighted_clusters: { clusters: [{ name: api-v1, weight: 3 }, { name: api-v2 }] }
                    timeout: 0s
                    prefix_rewrite: /
                    host_rewrite_literal: backend.internal
                    retry_policy:
                      retry_on: retriable-status-codes, reset
                      retry_back_off: { base_interval: 100ms }
                      retriable_status_codes: [503, 429]
                - match: { prefix: /b/ }
                  route: { cluster: api-v1, host_rewrite: b.internal, retry_policy: { retry_on: 5xx, retry_back_off: { base_interval: 10ms, max_interval: 1s } } }
                """));
        Forward a = (Forward) routes(c).get(0).action();
        assertEquals("envoy-shape", routes(c).get(0).name());
        assertEquals(List.of(new WeightedCluster("api-v1", 3), new WeightedCluster("api-v2", 1)), a.clusters());
        assertEquals(Duration.ZERO, a.timeout());
        assertEquals("/", a.prefixRewrite());
        assertEquals("backend.internal", a.hostRewrite());
        assertEquals(new RouteConfig.RetryPolicy(Set.of(RetryOn.RETRIABLE_STATUS_CODES, RetryOn.RESET), 1, Duration.ZERO,
                Duration.ofMillis(100), Duration.ofSeconds(1), List.of(503, 429)), a.retryPolicy());
        Forward b = (Forward) routes(c).get(1).action();
        assertEquals(List.of(new WeightedCluster("api-v1", 1)), b.clusters());
        assertNull(b.timeout());
        assertEquals("b.internal", b.hostRewrite());
        assertEquals(Duration.ofMillis(10), b.retryPolicy().baseInterval());
        assertEquals(Duration.ofSeconds(1), b.retryPolicy().maxInterval());
    }

    @Test
    void redirect_and_direct_response() {
        ProxyConfig c = ConfigLoader.parse(withRoutes("""
                - match: { path: /old }
                  redirect: { scheme_redirect: https, host_redirect: new.local, port_redirect: 8443, path_redirect: /new, response_code: PERMANENT_REDIRECT, strip_query: true }
                - match: { prefix: /docs/ }
                  redirect: { prefix_rewrite: /manual/, response_code: 302 }
                - match: { prefix: /gone }
                  redirect: {}
                - match: { path: /healthz }
                  direct_response: { status: 200, body: ok }
                - match: { path: /teapot }
                  direct_response: { status: 418, body: { inline_string: "short and stout" } }
                - match: { prefix: / }
                  direct_response: { status: 404 }
                """));
        List<Route> r = routes(c);
        assertEquals(new Redirect("https", "new.local", 8443, "/new", null, 308, true), r.get(0).action());
        assertEquals(new Redirect(null, null, 0, null, "/manual/", 302, false), r.get(1).action());
        assertEquals(new Redirect(null, null, 0, null, null, 301, false), r.get(2).action());
        assertEquals(new DirectResponse(200, "ok"), r.get(3).action());
        assertEquals(new DirectResponse(418, "short and stout"), r.get(4).action());
        assertEquals(new DirectResponse(404, ""), r.get(5).action());
    }

    @Test
    void every_kind_of_match() {
        ProxyConfig c = ConfigLoader.parse(withRoutes("""
                - match: { path: /exact }
                  route: { cluster: api-v1 }
                - match: { safe_regex: "/users/[0-9]+" }
                  route: { cluster: api-v1 }
                - match: { safe_regex: { google_re2: {}, regex: "/items/[a-z]+" } }
                  route: { cluster: api-v1 }
                - match:
                    prefix: /
                    headers:
                      - { name: x-a, exact: "1" }
                      - { name: x-b, prefix: Bearer }
                      - { name: x-c, present: true }
                      - { name: x-d, present: false }
                      - { name: ":method", safe_regex: "GET|HEAD", invert_match: true }
                      - { name: x-e, safe_regex: { regex: "v[12]" } }
                    query_parameters:
                      - { name: debug, present: true }
                      - { name: lang, exact: en }
                      - { name: page, safe_regex: "[0-9]+" }
                  route: { cluster: api-v1 }
                """));
        List<Route> r = routes(c);
        assertEquals(new PathMatch(PathMatch.Kind.EXACT, "/exact"), r.get(0).match().path());
        assertEquals(new PathMatch(PathMatch.Kind.REGEX, "/users/[0-9]+"), r.get(1).match().path());
        assertEquals(new PathMatch(PathMatch.Kind.REGEX, "/items/[a-z]+"), r.get(2).match().path());
        RouteConfig.Match m = r.get(3).match();
        assertEquals(new PathMatch(PathMatch.Kind.PREFIX, "/"), m.path());
        assertEquals(List.of(
                new HeaderMatcher("x-a", HeaderMatcher.Kind.EXACT, "1", false),
                new HeaderMatcher("x-b", HeaderMatcher.Kind.PREFIX, "Bearer", false),
                new HeaderMatcher("x-c", HeaderMatcher.Kind.PRESENT, "", false),
                new HeaderMatcher("x-d", HeaderMatcher.Kind.PRESENT, "", true),
                new HeaderMatcher(":method", HeaderMatcher.Kind.REGEX, "GET|HEAD", true),
                new HeaderMatcher("x-e", HeaderMatcher.Kind.REGEX, "v[12]", false)), m.headers());
        assertEquals(List.of(
                new QueryMatcher("debug", HeaderMatcher.Kind.PRESENT, ""),
                new QueryMatcher("lang", HeaderMatcher.Kind.EXACT, "en"),
                new QueryMatcher("page", HeaderMatcher.Kind.REGEX, "[0-9]+")), m.queryParameters());
    }

    @Test
    void header_mutations_and_rate_limits_in_both_shapes() {
        ProxyConfig c = ConfigLoader.parse("""
                listeners:
                  - name: ingress
                    address: 127.0.0.1:10000
                    protocol: http
                    route_config:
                      virtual_hosts:
                        - name: api
                          domains: ["*"]
                          request_headers_to_add:
                            - { header: { key: x-envoy-shape, value: "1" }, append: true }
                            - { name: x-flat, value: "2" }
                          request_headers_to_remove: [x-internal]
                          response_headers_to_add: [{ header: { key: server, value: sidecar } }]
                          response_headers_to_remove: [x-powered-by, x-debug]
                          rate_limit: { token_bucket: { max_tokens: 100, tokens_per_fill: 10, fill_interval: 1s } }
                          routes:
                            - match: { prefix: / }
                              route: { cluster: api }
                              response_headers_to_add: [{ name: cache-control, value: no-store }]
                              rate_limit: { max_tokens: 5, fill_interval: 100ms }
                clusters:
                  - { name: api, endpoints: [{ address: 127.0.0.1:8081 }] }
                """);
        RouteConfig.VirtualHost vh = c.listeners().get(0).routeConfig().virtualHosts().get(0);
        assertEquals(new RouteConfig.HeaderMutations(
                List.of(new HeaderValue("x-envoy-shape", "1", true), new HeaderValue("x-flat", "2", false)),
                List.of("x-internal"),
                List.of(new HeaderValue("server", "sidecar", false)),
                List.of("x-powered-by", "x-debug")), vh.headers());
        assertEquals(new RateLimit(100, 10, Duration.ofSeconds(1)), vh.rateLimit());
        Route r = vh.routes().get(0);
        assertEquals(List.of(new HeaderValue("cache-control", "no-store", false)), r.headers().responseAdd());
        assertEquals(new RateLimit(5, 1, Duration.ofMillis(100)), r.rateLimit());
    }

    @Test
    void http_settings_and_cluster_http_fields() {
        ProxyConfig c = ConfigLoader.parse("""
                listeners:
                  - name: web
                    address: 127.0.0.1:10000
                    protocol: http
                    cluster: api
                    http:
                      buffer_limit: 65536
                      max_concurrent_streams: 50
                      initial_stream_window: 131072
                      initial_connection_window: 2097152
                      max_header_list_size: 32768
                      max_headers: 64
                      max_uri_length: 4096
                      max_resets_per_window: 100
                      reset_window: 10s
                      max_continuation_frames: 8
                      max_queued_control_frames: 500
                      max_consecutive_empty_frames: 1
                      request_headers_timeout: 5s
                      stream_idle_timeout: 0s
                      route_timeout: 30s
                      generate_request_id: false
                clusters:
                  - name: api
                    upstream_protocol: h2c
                    http_pool: { idle_timeout: 2s, max_idle_connections: 8, max_requests_per_connection: 1000 }
                    endpoints: [{ address: 127.0.0.1:8081 }]
                """);
        assertEquals(new HttpSettings(65536, 50, 131072, 2097152, 32768, 64, 4096, 100, Duration.ofSeconds(10), 8, 500, 1,
                Duration.ofSeconds(5), Duration.ZERO, Duration.ofSeconds(30), false), c.listeners().get(0).http());
        ClusterConfig cl = c.clusters().get(0);
        assertEquals(UpstreamProtocol.H2C, cl.upstreamProtocol());
        assertEquals(new HttpPoolConfig(Duration.ofSeconds(2), 8, 1000), cl.httpPool());
    }

    @Test
    void the_cluster_shorthand_routes_every_request_to_one_cluster() {
        ProxyConfig c = ConfigLoader.parse("""
                listeners: [{ name: web, address: 127.0.0.1:10000, protocol: http, cluster: api }]
                clusters: [{ name: api, endpoints: [{ address: 127.0.0.1:8081 }] }]
                """);
        ListenerConfig l = c.listeners().get(0);
        assertEquals("api", l.cluster());
        assertNull(l.routeConfig());
        assertEquals(RouteConfig.toCluster("api"), l.routes());
        assertEquals(LbPolicy.LEAST_REQUEST, c.clusters().get(0).lbPolicy());
    }

    @Test
    void least_request_is_the_default_only_for_clusters_that_carry_only_http() {
        ProxyConfig c = ConfigLoader.parse("""
                listeners:
                  - { name: tcp, address: 127.0.0.1:10001, cluster: shared }
                  - { name: web, address: 127.0.0.1:10000, protocol: http, cluster: web-only }
                  - name: routed
                    address: 127.0.0.1:10002
                    protocol: http
                    route_config:
                      virtual_hosts:
                        - name: all
                          domains: ["*"]
                          routes:
                            - match: { prefix: /shared }
                              route: { cluster: shared }
                            - match: { prefix: /pinned }
                              route: { weighted_clusters: [{ name: pinned, weight: 1 }, { name: split, weight: 1 }] }
                clusters:
                  - { name: shared, endpoints: [{ address: 127.0.0.1:8081 }] }
                  - { name: web-only, endpoints: [{ address: 127.0.0.1:8082 }] }
                  - { name: pinned, lb_policy: random, endpoints: [{ address: 127.0.0.1:8083 }] }
                  - { name: split, endpoints: [{ address: 127.0.0.1:8084 }] }
                  - { name: unused, endpoints: [{ address: 127.0.0.1:8085 }] }
                """);
        assertEquals(LbPolicy.ROUND_ROBIN, c.cluster("shared").orElseThrow().lbPolicy());
        assertEquals(LbPolicy.LEAST_REQUEST, c.cluster("web-only").orElseThrow().lbPolicy());
        assertEquals(LbPolicy.RANDOM, c.cluster("pinned").orElseThrow().lbPolicy());
        assertEquals(LbPolicy.LEAST_REQUEST, c.cluster("split").orElseThrow().lbPolicy());
        assertEquals(LbPolicy.ROUND_ROBIN, c.cluster("unused").orElseThrow().lbPolicy());
    }

    // ---- errors, each with its field path ----

    private static List<String> errors(String yaml) {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse(yaml));
        return e.errors().stream().map(Object::toString).toList();
    }

    private static void assertHas(List<String> errors, String expected) {
        assertTrue(errors.contains(expected), "expected error\n  " + expected + "\nbut got\n  " + String.join("\n  ", errors));
    }

    private static void assertHasPrefix(List<String> errors, String prefix) {
        assertTrue(errors.stream().anyMatch(e -> e.startsWith(prefix)),
                "expected an error starting\n  " + prefix + "\nbut got\n  " + String.join("\n  ", errors));
    }

    @Test
    void an_unknown_key_suggests_the_known_one() {
        List<String> e = errors(CANARY.replace("num_retries: 2", "num_retry: 2"));
        assertEquals(1, e.size(), e.toString());
        assertHasPrefix(e, R1 + ".route.retry_policy.num_retry: unknown field; did you mean 'num_retries'?");
        assertHasPrefix(errors(CANARY.replace("domains:", "domain:")), VH + ".domain: unknown field; did you mean 'domains'?");
        assertHasPrefix(errors(CANARY.replace("weighted_clusters:", "weighted_cluster:")),
                R1 + ".route.weighted_cluster: unknown field; did you mean 'weighted_clusters'?");
    }

    @Test
    void an_unknown_retry_condition_is_named_with_the_valid_ones() {
        assertHas(errors(CANARY.replace("unavailable,5xx", "unavailable,5xxx")), R1 + ".route.retry_policy.retry_on: '5xxx' is not one of"
                + " connect-failure | refused-stream | reset | 5xx | gateway-error | retriable-status-codes | cancelled"
                + " | deadline-exceeded | resource-exhausted | unavailable");
        assertHas(errors(CANARY.replace("retry_on: \"connect-failure,refused-stream,unavailable,5xx\", ", "")),
                R1 + ".route.retry_policy.retry_on: is required");
    }

    @Test
    void a_regex_that_does_not_compile_says_why() {
        assertHasPrefix(errors(CANARY.replace("{ prefix: /v2/,", "{ safe_regex: \"/v[0-9+\",")),
                R0 + ".match.safe_regex: '/v[0-9+' is not a valid regular expression: Unclosed character class");
        assertHasPrefix(errors(CANARY.replace("exact: \"1\"", "safe_regex: { regex: \"(1\" }")),
                R0 + ".match.headers[0].safe_regex: '(1' is not a valid regular expression: Unclosed group");
    }

    @Test
    void clusters_a_route_names_must_exist() {
        assertHas(errors(CANARY.replace("{ name: api-v2, weight: 10 }", "{ name: api-v3, weight: 10 }")),
                R1 + ".route.weighted_clusters[1].name: no cluster named 'api-v3' (defined: api-v1, api-v2)");
        assertHas(errors(CANARY.replace("route: { cluster: api-v2 }", "route: { cluster: api-v9 }")),
                R0 + ".route.cluster: no cluster named 'api-v9' (defined: api-v1, api-v2)");
    }

    @Test
    void a_route_has_one_cluster_or_weighted_clusters() {
        assertHas(errors(CANARY.replace("route: { cluster: api-v2 }", "route: { cluster: api-v2, weighted_clusters: [{ name: api-v1, weight: 1 }] }")),
                R0 + ".route: must have exactly one of cluster, weighted_clusters (found cluster, weighted_clusters)");
        assertHas(errors(CANARY.replace("route: { cluster: api-v2 }", "route: { timeout: 1s }")),
                R0 + ".route: must have exactly one of cluster, weighted_clusters");
        assertHas(errors(CANARY.replace("weight: 90", "weight: 0")), R1 + ".route.weighted_clusters[0].weight: 0 is out of range 1..10000");
        assertHas(errors(CANARY.replace("route: { cluster: api-v2 }", "route: { cluster: api-v2 }\n              redirect: {}")),
                R0 + ": must have exactly one of route, redirect, direct_response (found route, redirect)");
    }

    @Test
    void domains_are_well_formed_and_unique_across_virtual_hosts() {
        String twoHosts = CANARY.replace("""
                          routes:
                """, """
                          routes:
                            - match: { prefix: /x }
                              direct_response: { status: 404 }
                        - name: web
                          domains: ["web.local", "API.local"]
                          routes:
                """);
        assertHas(errors(twoHosts), "listeners[0].route_config.virtual_hosts[1].domains[1]: 'API.local' is already virtual_hosts[0].domains[0]");
        assertHas(errors(twoHosts.replace("name: web", "name: api")), "listeners[0].route_config.virtual_hosts[1].name: duplicate virtual host name 'api'");
        String bad = "listeners[0].route_config.virtual_hosts[0].domains[1]: 'a.*.local' is not a domain: write a host (api.local,"
                + " api.local:8080), *.suffix, prefix.* or * (one wildcard, at an end)";
        assertHas(errors(CANARY.replace("\"*.api.local\"", "\"a.*.local\"")), bad);
        assertHas(errors(CANARY.replace("\"*.api.local\"", "\"*.api.*\"")), bad.replace("a.*.local", "*.api.*"));
        assertHas(errors(CANARY.replace("[\"api.local\", \"*.api.local\"]", "[]")),
                VH + ".domains: is empty: list the hosts this virtual host serves, or \"*\" for any");
        ConfigLoader.parse(CANARY.replace("\"*.api.local\"", "\"api.local:8080\", \"api.*\", \"*\""));
    }

    @Test
    void header_values_cannot_split_a_response() {
        String yaml = CANARY.replace("          routes:\n", """
                          request_headers_to_add: [{ header: { key: x-a, value: "a\\r\\nSet-Cookie: x=1" } }]
                          response_headers_to_remove: [":status", "bad header"]
                          request_headers_to_remove: [Host]
                          routes:
                """);
        List<String> e = errors(yaml);
        assertHas(e, VH + ".request_headers_to_add[0].header.value: 'a\\r\\nSet-Cookie: x=1' contains CR, LF or NUL, which cannot be sent in a header");
        assertHas(e, VH + ".response_headers_to_remove[0]: ':status' is a pseudo-header; the proxy sets those itself");
        assertHas(e, VH + ".response_headers_to_remove[1]: 'bad header' is not a valid header name: use letters, digits and !#$%&'*+-.^_`|~");
        assertHas(e, VH + ".request_headers_to_remove[0]: the request's host is changed with host_rewrite, not a header mutation");
        assertEquals(4, e.size(), e.toString());
    }

    @Test
    void redirects_use_redirect_statuses() {
        List<String> e = errors(withRoutes("""
                - match: { prefix: / }
                  redirect: { response_code: 200, scheme_redirect: ftp, port_redirect: 70000, path_redirect: new, prefix_rewrite: /x }
                - match: { prefix: / }
                  redirect: { response_code: MOVED }
                """));
        String r0 = VH + ".routes[0].redirect";
        assertHas(e, r0 + ".response_code: 200 is not a redirect status: use 301, 302, 303, 307 or 308");
        assertHas(e, r0 + ".scheme_redirect: 'ftp' is not one of http | https");
        assertHas(e, r0 + ".port_redirect: 70000 is out of range 0..65535");
        assertHas(e, r0 + ".prefix_rewrite: a redirect has either path_redirect or prefix_rewrite, not both");
        assertHas(e, r0 + ".path_redirect: 'new' must start with '/'");
        assertHas(e, VH + ".routes[1].redirect.response_code: 'MOVED' is not one of 301 | 302 | 303 | 307 | 308 | MOVED_PERMANENTLY"
                + " | FOUND | SEE_OTHER | TEMPORARY_REDIRECT | PERMANENT_REDIRECT");
        assertEquals(6, e.size(), e.toString());
    }

    @Test
    void other_route_errors() {
        List<String> e = errors(withRoutes("""
                - match: { prefix: api }
                  direct_response: { status: 99, body: "%s" }
                - match: { path: /x, prefix: /x }
                  route:
                    cluster: api-v1
                    timeout: 1
                    retry_policy: { retry_on: 5xx, num_retries: 11, retriable_status_codes: [700], retry_back_off: { base_interval: 1s, max_interval: 10ms } }
                  rate_limit: { tokens_per_fill: 0, fill_interval: 100us }
                - route: { cluster: api-v1 }
                """.formatted("x".repeat(4097))));
        assertHas(e, VH + ".routes[0].match.prefix: 'api' must start with '/'");
        assertHas(e, VH + ".routes[0].direct_response.status: 99 is out of range 200..599");
        assertHas(e, VH + ".routes[0].direct_response.body: 4097 bytes is more than the 4096 allowed");
        assertHas(e, VH + ".routes[1].match: must have exactly one of prefix, path, safe_regex (found prefix, path)");
        assertHas(e, VH + ".routes[1].route.timeout: must be a duration with a unit such as 250ms, 1s or 1h, not 1");
        assertHas(e, VH + ".routes[1].route.retry_policy.num_retries: 11 is out of range 0..10");
        assertHas(e, VH + ".routes[1].route.retry_policy.retriable_status_codes[0]: 700 is out of range 100..599");
        assertHas(e, VH + ".routes[1].route.retry_policy.retry_back_off.max_interval: must be at least base_interval (1s)");
        assertHas(e, VH + ".routes[1].rate_limit.max_tokens: is required");
        assertHas(e, VH + ".routes[1].rate_limit.tokens_per_fill: 0 is out of range 1..2147483647");
        assertHas(e, VH + ".routes[1].rate_limit.fill_interval: must be at least 1ms");
        assertHas(e, VH + ".routes[2].match: is required (match: { prefix: / } matches every request)");
        assertEquals(12, e.size(), e.toString());
    }

    @Test
    void listener_errors() {
        assertHas(errors("""
                listeners: [{ name: web, address: 127.0.0.1:10000, protocol: http }]
                """), "listeners[0].cluster: is required (or a route_config)");
        assertHas(errors(CANARY.replace("    route_config:\n", "    cluster: api-v1\n    route_config:\n")),
                "listeners[0].cluster: an http listener has either cluster or route_config, not both");
        assertHas(errors(CANARY.replace("      virtual_hosts:\n", "      vhosts: 1\n      virtual_hosts:\n")),
                "listeners[0].route_config.vhosts: unknown field (known: virtual_hosts)");
        assertHas(errors("""
                listeners: [{ name: web, address: 127.0.0.1:10000, protocol: http, route_config: { virtual_hosts: [] } }]
                """), "listeners[0].route_config.virtual_hosts: is empty: give at least one virtual host (domains: [\"*\"] matches every request)");
        List<String> tcp = errors("""
                listeners:
                  - name: tcp
                    address: 127.0.0.1:10000
                    cluster: api
                    http: { max_headers: 10 }
                    route_config: { virtual_hosts: [{ name: a, domains: ["*"] }] }
                clusters: [{ name: api, endpoints: [{ address: 127.0.0.1:8081 }] }]
                """);
        assertEquals(List.of("listeners[0].route_config: only for protocol: http", "listeners[0].http: only for protocol: http"), tcp);
        List<String> limits = errors("""
                listeners:
                  - name: web
                    address: 127.0.0.1:10000
                    protocol: http
                    cluster: api
                    http: { buffer_limit: 100, max_headers: 0, request_headers_timeout: 0s, initial_connection_window: 1024, generate_request_id: 1 }
                clusters: [{ name: api, upstream_protocol: http3, http_pool: { idle_timeout: 0s, max_idle_connections: -1 }, endpoints: [{ address: 127.0.0.1:8081 }] }]
                """);
        assertEquals(List.of(
                "listeners[0].http.generate_request_id: must be true or false, not 1",
                "clusters[0].upstream_protocol: 'http3' is not one of http1 | h2c | same_as_downstream",
                "clusters[0].http_pool.idle_timeout: must be more than zero",
                "clusters[0].http_pool.max_idle_connections: -1 is out of range 0..10000",
                "listeners[0].http.buffer_limit: 100 is out of range 1024..16777216",
                "listeners[0].http.initial_connection_window: 1024 is out of range 65535..2147483647",
                "listeners[0].http.max_headers: 0 is out of range 1..10000",
                "listeners[0].http.request_headers_timeout: must be more than zero"), limits);
    }
}
