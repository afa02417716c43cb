package dev.sidecar.proxy;

import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.sidecar.config.ConfigException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Bad input never crashes the loader: every field of a config that uses every feature is
 * replaced, one at a time, by a value of each other kind (null, number, string, boolean, list,
 * mapping, negative, huge); the loader must either accept the result or throw ConfigException
 * (whose errors name fields), never anything else.
 */
class ConfigMutationTest {
    private static final String FULL = """
            server: { workers: 2, transport: nio, drain_timeout: 5s }
            admin: { address: 127.0.0.1:0 }
            listeners:
              - name: in
                address: 127.0.0.1:0
                protocol: tcp
                cluster: api
                max_connections: 100
                idle_timeout: 1m
                max_connect_attempts: 2
                hash_policy: [{ source_ip: true }]
                access_log: { path: /dev/null, queue_size: 10 }
              - name: web
                address: 127.0.0.1:0
                protocol: http
                hash_policy: [{ header: x-user }, { cookie: { name: s, ttl: 1h, path: / } }, { query_parameter: u }, { path: true }]
                http:
                  buffer_limit: 65536
                  max_concurrent_streams: 50
                  initial_stream_window: 65536
                  initial_connection_window: 1048576
                  max_header_list_size: 32768
                  max_headers: 50
                  max_uri_length: 4096
                  max_resets_per_window: 100
                  reset_window: 10s
                  max_continuation_frames: 8
                  max_queued_control_frames: 1000
                  max_consecutive_empty_frames: 2
                  request_headers_timeout: 5s
                  stream_idle_timeout: 1m
                  route_timeout: 10s
                  generate_request_id: true
                route_config:
                  virtual_hosts:
                    - name: api
                      domains: [api.local, "*.api.local", "api.*"]
                      request_headers_to_add: [{ header: { key: x-a, value: "1" }, append: true }, { name: x-b, value: "2", append: false }]
                      request_headers_to_remove: [x-internal]
                      response_headers_to_add: [{ header: { key: x-c, value: "3" } }]
                      response_headers_to_remove: [server]
                      rate_limit: { token_bucket: { max_tokens: 10, tokens_per_fill: 1, fill_interval: 1s } }
                      routes:
                        - name: split
                          match:
                            safe_regex: { regex: "/v[0-9]+/.*" }
                            headers:
                              - { name: x-canary, exact: "1", invert_match: true }
                              - { name: x-p, prefix: a }
                              - { name: x-q, present: true }
                              - { name: x-r, safe_regex: "b+" }
                            query_parameters: [{ name: a, exact: "1" }, { name: b, present: true }, { name: c, safe_regex: { regex: "[0-9]+" } }]
                          route:
                            weighted_clusters: { clusters: [{ name: api, weight: 90 }, { name: web, weight: 10 }] }
                            timeout: 5s
                            retry_policy:
                              retry_on: "5xx,reset,retriable-status-codes"
                              num_retries: 2
                              per_try_timeout: 1s
                              retry_back_off: { base_interval: 10ms, max_interval: 100ms }
                              retriable_status_codes: [503]
                            hash_policy: [{ header: x-user }]
                            prefix_rewrite: /
                            host_rewrite_literal: api.internal
                          request_headers_to_add: [{ header: { key: x-d, value: "4" } }]
                          rate_limit: { max_tokens: 5, tokens_per_fill: 1, fill_interval: 100ms }
                        - match: { path: /one, headers: [], query_parameters: [] }
                          route: { cluster: web, host_rewrite: w.internal }
                        - match: { prefix: /old }
                          redirect: { scheme_redirect: https, host_redirect: new.local, port_redirect: 8443, prefix_rewrite: /new, response_code: FOUND, strip_query: true }
                        - match: { prefix: /older }
                          redirect: { path_redirect: /new, response_code: 308 }
                        - match: { prefix: /teapot }
                          direct_response: { status: 418, body: { inline_string: short } }
                        - match: { prefix: / }
                          direct_response: { status: 404, body: nothing here }
                    - name: rest
                      domains: ["*"]
                      routes: [{ match: { prefix: / }, route: { weighted_clusters: [{ name: web, weight: 1 }] } }]
              - { name: short, address: 127.0.0.1:0, protocol: http, cluster: web }
            clusters:
              - name: api
                lb_policy: ring_hash
                connect_timeout: 1s
                least_request_lb_config: { choice_count: 2 }
                maglev_lb_config: { table_size: 65537 }
                ring_hash_lb_config: { minimum_ring_size: 1024, maximum_ring_size: 4096, hash_balance_factor: 150 }
                common_lb_config: { healthy_panic_threshold: 50 }
                health_checks:
                  - timeout: 1s
                    interval: 2s
                    interval_jitter: 1s
                    initial_jitter: 1s
                    unhealthy_interval: 1s
                    no_traffic_interval: 10s
                    unhealthy_threshold: 2
                    healthy_threshold: 2
                    initially_healthy: false
                    http_health_check: { path: /h, host: a, expected_statuses: [200-299, 304] }
                outlier_detection: { consecutive_gateway_failure: 3, base_ejection_time: 1s, max_ejection_time: 10s, max_ejection_percent: 50 }
                circuit_breakers: { max_connections: 10, max_pending_requests: 10, max_requests: 10, max_retries: 1 }
                endpoints:
                  - { address: 127.0.0.1:7001, weight: 2, priority: 0, health_status: healthy }
              - name: web
                upstream_protocol: h2c
                http_pool: { idle_timeout: 2s, max_idle_connections: 8, max_requests_per_connection: 100 }
                endpoints: [{ address: 127.0.0.1:7002 }]
            """;

    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    private static List<JsonNode> replacements() {
        ArrayNode list = F.arrayNode().add(1).add("x");
        ObjectNode map = F.objectNode().put("a", 1);
        return List.of(F.nullNode(), F.numberNode(0), F.numberNode(-1), F.numberNode(Long.MAX_VALUE), F.numberNode(1.5),
                F.textNode(""), F.textNode("x"), F.textNode("99999999999999999999h"), F.booleanNode(true), list, map,
                F.arrayNode(), F.objectNode());
    }

    @Test
    void no_mutation_of_any_field_throws_anything_but_a_config_error() throws Exception {
        YAMLMapper yaml = new YAMLMapper();
        JsonNode base = yaml.readTree(FULL);
        ConfigLoader.parse(FULL); // the base itself is valid
        List<String> paths = new ArrayList<>();
        collect(base, "", paths);
        int cases = 0;
        for (String path : paths) {
            for (JsonNode replacement : replacements()) {
                JsonNode mutated = base.deepCopy();
                set(mutated, path, replacement);
                String text = yaml.writeValueAsString(mutated);
                try {
                    ConfigLoader.parse(text);
                } catch (ConfigException expected) {
                    // reported with paths: the point of the loader
                } catch (RuntimeException e) {
                    fail("setting " + path + " to " + replacement + " crashed the loader: " + e, e);
                }
                cases++;
            }
        }
        if (cases < 500) {
            fail("only " + cases + " cases: the walk over the config is broken");
        }
    }

    /** Every node's path, written as field names and [index] steps separated by '/'. */
    private static void collect(JsonNode node, String path, List<String> out) {
        if (!path.isEmpty()) {
            out.add(path);
        }
        if (node.isObject()) {
            for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                collect(e.getValue(), path + "/" + e.getKey(), out);
            }
        } else if (node.isArray()) {
            for (int i = 0; i < node.size(); i++) {
                collect(node.get(i), path + "/[" + i + "]", out);
            }
        }
    }

    private static void set(JsonNode root, String path, JsonNode value) {
        String[] steps = path.substring(1).split("/");
        JsonNode parent = root;
        for (int i = 0; i < steps.length - 1; i++) {
            parent = step(parent, steps[i]);
        }
        String last = steps[steps.length - 1];
        if (last.startsWith("[")) {
            ((ArrayNode) parent).set(Integer.parseInt(last.substring(1, last.length() - 1)), value);
        } else {
            ((ObjectNode) parent).set(last, value);
        }
    }

    private static JsonNode step(JsonNode node, String s) {
        return s.startsWith("[") ? node.get(Integer.parseInt(s.substring(1, s.length() - 1))) : node.get(s);
    }
}
