package dev.sidecar.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sidecar.config.ClusterConfig;
import dev.sidecar.config.ConfigException;
import dev.sidecar.config.HostPort;
import dev.sidecar.config.LbPolicy;
import dev.sidecar.config.ListenerConfig;
import dev.sidecar.config.ProxyConfig;
import dev.sidecar.config.TransportChoice;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigLoaderTest {
    /** The shape the foundation promises, exactly as documented. */
    private static final String EXAMPLE = """
            admin:
              address: 127.0.0.1:9901
            listeners:
              - name: tcp-in
                address: 127.0.0.1:15000
                protocol: tcp
                cluster: echo
                max_connections: 10000
                idle_timeout: 1h
            clusters:
              - name: echo
                lb_policy: least_connection   # round_robin | least_connection | random
                connect_timeout: 500ms
                endpoints:
                  - address: 127.0.0.1:7001
                    weight: 1
            """;

    @Test
    void loads_the_documented_example() {
        ProxyConfig c = ConfigLoader.parse(EXAMPLE);
        assertEquals(new HostPort("127.0.0.1", 9901), c.admin().address());
        ListenerConfig l = c.listeners().get(0);
        assertEquals("tcp-in", l.name());
        assertEquals(new HostPort("127.0.0.1", 15000), l.address());
        assertEquals("echo", l.cluster());
        assertEquals(10000, l.maxConnections());
        assertEquals(Duration.ofHours(1), l.idleTimeout());
        ClusterConfig cl = c.clusters().get(0);
        assertEquals(LbPolicy.LEAST_CONNECTION, cl.lbPolicy());
        assertEquals(Duration.ofMillis(500), cl.connectTimeout());
        assertEquals(new HostPort("127.0.0.1", 7001), cl.endpoints().get(0).address());
        assertEquals(1, cl.endpoints().get(0).weight());
    }

    @Test
    void the_example_file_in_the_repository_is_valid() throws Exception {
        Path file = Path.of("..", "examples", "sidecar.yaml");
        assertEquals(ConfigLoader.parse(EXAMPLE), ConfigLoader.load(file));
    }

    @Test
    void server_settings_and_defaults() {
        ProxyConfig c = ConfigLoader.parse("""
                server: { workers: 3, transport: nio, drain_timeout: 1m30s }
                listeners: [{ name: a, address: "[::1]:0", cluster: c }]
                clusters: [{ name: c, endpoints: [{ address: "localhost:80" }] }]
                """);
        assertEquals(3, c.server().workers());
        assertEquals(TransportChoice.NIO, c.server().transport());
        assertEquals(Duration.ofSeconds(90), c.server().drainTimeout());
        assertEquals(Duration.ZERO, c.server().exitWhenIdle(), "off unless given");
        assertEquals(new HostPort("::1", 0), c.listeners().get(0).address());
        assertEquals(ListenerConfig.DEFAULT_MAX_CONNECT_ATTEMPTS, c.listeners().get(0).maxConnectAttempts());
        assertEquals(LbPolicy.ROUND_ROBIN, c.clusters().get(0).lbPolicy());
        assertEquals(ClusterConfig.DEFAULT_CONNECT_TIMEOUT, c.clusters().get(0).connectTimeout());
    }

    private static List<String> errors(String yaml) {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse(yaml));
        return e.errors().stream().map(Object::toString).toList();
    }

    private static void assertHas(List<String> errors, String expected) {
        assertTrue(errors.contains(expected), "expected error\n  " + expected + "\nbut got\n  " + String.join("\n  ", errors));
    }

    @Test
    void port_out_of_range_names_the_field() {
        List<String> e = errors(EXAMPLE.replace("127.0.0.1:7001", "127.0.0.1:70000"));
        assertEquals(List.of("clusters[0].endpoints[0].address: port 70000 is out of range 1..65535"), e);
    }

    @Test
    void environment_variables_expand_in_string_values() {
        java.util.Map<String, String> env = java.util.Map.of("POD_NAME", "app-7d4f", "POD_NAMESPACE", "shop", "EMPTY", "");
        ProxyConfig c = ConfigLoader.parse("""
                control_plane:
                  address: "${XDS_HOST:-127.0.0.1}:18000"
                  node: { id: "sidecar~${POD_NAME}.${POD_NAMESPACE}", cluster: "${POD_NAMESPACE}${EMPTY}", metadata: { cost: "$$5" } }
                """, env::get);
        assertEquals("sidecar~app-7d4f.shop", c.controlPlane().node().id());
        assertEquals("shop", c.controlPlane().node().cluster());
        assertEquals("$5", c.controlPlane().node().metadata().get("cost"));
        assertEquals(new HostPort("127.0.0.1", 18000), c.controlPlane().address());
    }

    @Test
    void an_unset_environment_variable_names_the_field_and_the_variable() {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse("""
                control_plane:
                  address: 127.0.0.1:18000
                  node: { id: "${POD_NAME}", cluster: "${1BAD}" }
                listeners: [{ name: a, address: "127.0.0.1:${PORT", cluster: c }]
                """, name -> null));
        List<String> errors = e.errors().stream().map(Object::toString).toList();
        assertHas(errors, "control_plane.node.id: environment variable POD_NAME is not set (give a default with ${POD_NAME:-value})");
        assertHas(errors, "control_plane.node.cluster: '${1BAD}': '1BAD' is not an environment variable name (letters, digits and '_', not starting with a digit)");
        assertHas(errors, "listeners[0].address: '${' without a closing '}' (write $$ for a literal $)");
    }

    @Test
    void exit_when_idle_is_a_duration() {
        ProxyConfig c = ConfigLoader.parse("server: { exit_when_idle: 5s }\n");
        assertEquals(Duration.ofSeconds(5), c.server().exitWhenIdle());
        assertHas(errors("server: { exit_when_idle: 5 }\n"), "server.exit_when_idle: must be a duration with a unit such as 250ms, 1s or 1h, not 5");
    }

    @Test
    void unknown_keys_are_errors_with_a_suggestion() {
        List<String> e = errors(EXAMPLE.replace("idle_timeout: 1h", "idle_timeot: 1h"));
        assertEquals(1, e.size(), e.toString());
        assertTrue(e.get(0).startsWith("listeners[0].idle_timeot: unknown field; did you mean 'idle_timeout'?"), e.get(0));
        assertHas(errors("bogus: 1\n" + EXAMPLE), "bogus: unknown field (known: server, admin, listeners, clusters, control_plane)");
    }

    @Test
    void a_listener_naming_a_missing_cluster_is_an_error() {
        assertHas(errors(EXAMPLE.replace("cluster: echo", "cluster: ehco")), "listeners[0].cluster: no cluster named 'ehco' (defined: echo)");
    }

    @Test
    void bad_durations_say_why() {
        assertHas(errors(EXAMPLE.replace("connect_timeout: 500ms", "connect_timeout: 500")),
                "clusters[0].connect_timeout: must be a duration with a unit such as 250ms, 1s or 1h, not 500");
        assertHas(errors(EXAMPLE.replace("connect_timeout: 500ms", "connect_timeout: 5 sec")),
                "clusters[0].connect_timeout: '5 sec' is not a duration; write e.g. 250ms, 1s, 1h");
        assertHas(errors(EXAMPLE.replace("connect_timeout: 500ms", "connect_timeout: 5d")),
                "clusters[0].connect_timeout: '5d' has unknown unit 'd' (use ns, us, ms, s, m, h)");
        assertHas(errors(EXAMPLE.replace("connect_timeout: 500ms", "connect_timeout: 0s")),
                "clusters[0].connect_timeout: must be more than zero");
    }

    @Test
    void bad_values_of_each_kind() {
        assertHas(errors(EXAMPLE.replace("lb_policy: least_connection", "lb_policy: fastest")),
                "clusters[0].lb_policy: 'fastest' is not one of round_robin | least_connection | random | least_request | peak_ewma | ring_hash | maglev");
        assertHas(errors(EXAMPLE.replace("protocol: tcp", "protocol: udp")), "listeners[0].protocol: 'udp' is not one of tcp | http");
        assertHas(errors(EXAMPLE.replace("max_connections: 10000", "max_connections: lots")),
                "listeners[0].max_connections: must be a whole number, not 'lots'");
        assertHas(errors(EXAMPLE.replace("max_connections: 10000", "max_connections: 0")),
                "listeners[0].max_connections: 0 is out of range 1..10000000");
        assertHas(errors(EXAMPLE.replace("weight: 1", "weight: 0")), "clusters[0].endpoints[0].weight: 0 is out of range 1..65535");
        assertHas(errors(EXAMPLE.replace("127.0.0.1:15000", "127.0.0.1")),
                "listeners[0].address: '127.0.0.1' has no port; write host:port, e.g. 127.0.0.1:8080");
        assertHas(errors(EXAMPLE.replace("name: tcp-in", "name: tcp in")),
                "listeners[0].name: 'tcp in' is not a valid name: use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit");
        assertHas(errors(EXAMPLE.replace("    endpoints:\n", "    endpoints: 127.0.0.1:7001\n    x:\n")),
                "clusters[0].endpoints: must be a list, not '127.0.0.1:7001'");
    }

    @Test
    void required_fields_and_duplicates() {
        assertHas(errors(EXAMPLE.replace("    cluster: echo\n", "")), "listeners[0].cluster: is required");
        assertHas(errors("""
                listeners:
                  - { name: a, address: 127.0.0.1:1000, cluster: c }
                  - { name: a, address: 127.0.0.1:1000, cluster: c }
                clusters:
                  - { name: c, endpoints: [{ address: 127.0.0.1:1 }, { address: 127.0.0.1:1 }] }
                  - { name: c }
                """), "listeners[1].name: duplicate listener name 'a'");
        List<String> e = errors("""
                listeners:
                  - { name: a, address: 127.0.0.1:1000, cluster: c }
                  - { name: b, address: 127.0.0.1:1000, cluster: c }
                clusters:
                  - { name: c, endpoints: [{ address: 127.0.0.1:1 }, { address: 127.0.0.1:1 }] }
                  - { name: c }
                """);
        assertHas(e, "listeners[1].address: 127.0.0.1:1000 is already the address of listeners[0]");
        assertHas(e, "clusters[0].endpoints[1].address: 127.0.0.1:1 is already endpoints[0]");
        assertHas(e, "clusters[1].name: duplicate cluster name 'c'");
    }

    @Test
    void every_error_is_reported_not_just_the_first() {
        List<String> e = errors(EXAMPLE
                .replace("127.0.0.1:7001", "127.0.0.1:70000")
                .replace("idle_timeout: 1h", "idle_timeout: soon")
                .replace("cluster: echo", "cluster: nope"));
        assertEquals(3, e.size(), e.toString());
    }

    @Test
    void yaml_syntax_errors_and_duplicate_keys_give_a_line() {
        List<String> e = errors("listeners: [\n  { name: a\n");
        assertEquals(1, e.size());
        assertTrue(e.get(0).startsWith("not valid YAML: line "), e.get(0));
        List<String> dup = errors("admin: { address: 127.0.0.1:1 }\nadmin: { address: 127.0.0.1:2 }\n");
        assertTrue(dup.get(0).contains("Duplicate field 'admin'"), dup.toString());
    }

    @Test
    void the_yaml_tree_has_the_node_types_jacksons_own_reader_gives() throws Exception {
        String yaml = """
                small: 7
                large: 5000000000
                huge: 123456789012345678901234567890
                hex: 0x1F
                negative: -12
                fraction: 2.5
                exponent: 1e3
                words: [on, off, yes, 'yes', "quoted", plain text]
                flags: { t: true, f: false, n: null, tilde: ~, empty: }
                anchored: &a { x: 1, y: [1, 2] }
                alias: *a
                nested: [[1], {a: [b, {c: d}]}, []]
                --- 
                second: document is ignored
                """;
        com.fasterxml.jackson.databind.JsonNode expected = new com.fasterxml.jackson.dataformat.yaml.YAMLMapper().readTree(yaml);
        com.fasterxml.jackson.databind.JsonNode actual = ConfigLoader.readTree(yaml);
        assertEquals(expected, actual);
        assertEquals(expected.toString(), actual.toString());
        assertEquals(expected.get("large").getNodeType(), actual.get("large").getNodeType());
        assertEquals(expected.get("large").getClass(), actual.get("large").getClass());
        assertEquals(expected.get("huge").getClass(), actual.get("huge").getClass());
        assertEquals(expected.get("fraction").getClass(), actual.get("fraction").getClass());
        assertTrue(ConfigLoader.readTree("").isMissingNode());
        assertTrue(ConfigLoader.readTree("# only a comment\n").isMissingNode());
    }

    @Test
    void a_missing_file_is_a_clear_error(@TempDir Path dir) {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(dir.resolve("nope.yaml")));
        assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
    }

    @Test
    void an_empty_file_is_a_valid_config_with_nothing_to_do(@TempDir Path dir) throws Exception {
        Path f = Files.writeString(dir.resolve("empty.yaml"), "");
        ProxyConfig c = ConfigLoader.load(f);
        assertTrue(c.listeners().isEmpty());
    }

    @Test
    void proxy_protocol_and_original_destination_fields() {
        ProxyConfig c = ConfigLoader.parse("""
                listeners:
                  - { name: in, address: 127.0.0.1:0, cluster: up, proxy_protocol: true }
                  - { name: out, address: 127.0.0.1:0, cluster: passthrough, original_destination: true }
                clusters:
                  - { name: up, proxy_protocol: v2, endpoints: [{ address: 127.0.0.1:7001 }] }
                  - { name: passthrough, type: original_dst, proxy_protocol: v1 }
                """);
        assertTrue(c.listeners().get(0).proxyProtocol());
        assertTrue(!c.listeners().get(0).originalDestination() && c.listeners().get(1).originalDestination());
        assertEquals(dev.sidecar.config.ProxyProtocolVersion.V2, c.clusters().get(0).proxyProtocol());
        assertEquals(dev.sidecar.config.ClusterType.STATIC, c.clusters().get(0).type());
        assertEquals(dev.sidecar.config.ClusterType.ORIGINAL_DST, c.clusters().get(1).type());
        assertEquals(null, ConfigLoader.parse("clusters: [{ name: up, endpoints: [{ address: 127.0.0.1:7001 }] }]")
                .clusters().get(0).proxyProtocol(), "off unless given");

        List<String> e = errors("""
                server: { transport: nio }
                listeners:
                  - { name: a, address: 127.0.0.1:0, cluster: up, proxy_protocol: yes please }
                  - { name: b, address: 127.0.0.1:0, protocol: http, cluster: up, original_destination: true }
                  - { name: c, address: 127.0.0.1:0, cluster: passthrough }
                  - { name: d, address: 127.0.0.1:0, cluster: passthrough, original_destination: true }
                  - name: e
                    address: 127.0.0.1:0
                    protocol: http
                    route_config:
                      virtual_hosts: [{ name: all, domains: ["*"], routes: [{ match: { prefix: / }, route: { cluster: passthrough } }] }]
                clusters:
                  - { name: up, proxy_protocol: v3, endpoints: [{ address: 127.0.0.1:7001 }] }
                  - name: passthrough
                    type: original_dst
                    endpoints: [{ address: 127.0.0.1:7002 }]
                    health_checks: [{ tcp_health_check: {} }]
                    outlier_detection: {}
                  - { name: other, type: dynamic, endpoints: [{ address: 127.0.0.1:7003 }] }
                """);
        assertHas(e, "listeners[0].proxy_protocol: must be true or false, not 'yes please'");
        assertHas(e, "clusters[0].proxy_protocol: 'v3' is not one of v1 | v2");
        assertHas(e, "clusters[2].type: 'dynamic' is not one of static | original_dst");
        assertHas(e, "clusters[1].endpoints: an original_dst cluster has no endpoints of its own: each connection goes to its original destination");
        assertHas(e, "clusters[1].health_checks: an original_dst cluster has no endpoints of its own: each connection goes to its original destination");
        assertHas(e, "clusters[1].outlier_detection: an original_dst cluster has no endpoints of its own: each connection goes to its original destination");
        assertHas(e, "listeners[1].original_destination: only for protocol: tcp");
        assertHas(e, "listeners[2].cluster: 'passthrough' is an original_dst cluster: only a tcp listener with original_destination: true"
                + " knows where its connections were going");
        assertHas(e, "listeners[3].original_destination: needs the epoll or io_uring transport to read SO_ORIGINAL_DST; server.transport is nio");
        assertHas(e, "listeners[4].route_config.virtual_hosts[0].routes[0].route.cluster: 'passthrough' is an original_dst cluster:"
                + " only a tcp listener with original_destination: true can use it");
    }
}
