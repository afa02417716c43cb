package dev.sidecar.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sidecar.config.ClusterConfig;
import dev.sidecar.config.ConfigException;
import dev.sidecar.config.HashPolicy;
import dev.sidecar.config.HealthCheckConfig;
import dev.sidecar.config.LbPolicy;
import dev.sidecar.config.ProxyConfig;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The balancing-and-health part of the YAML, in Envoy's names. */
class BalancingConfigTest {
    private static final String EXAMPLE = """
            listeners:
              - name: tcp-in
                address: 127.0.0.1:15000
                protocol: tcp
                cluster: api
                hash_policy: [{ source_ip: true }]
            clusters:
              - name: api
                lb_policy: maglev
                maglev_lb_config: { table_size: 65537 }
                ring_hash_lb_config: { minimum_ring_size: 1024, maximum_ring_size: 8388608, hash_balance_factor: 150 }
                common_lb_config: { healthy_panic_threshold: 50 }
                health_checks:
                  - timeout: 250ms
                    interval: 1s
                    interval_jitter: 100ms
                    unhealthy_threshold: 3
                    healthy_threshold: 2
                    tcp_health_check: {}
                outlier_detection: { consecutive_gateway_failure: 5, base_ejection_time: 30s, max_ejection_percent: 50 }
                circuit_breakers: { max_connections: 1024, max_pending_requests: 1024, max_requests: 1024, max_retries: 3 }
                endpoints:
                  - address: 127.0.0.1:7001
                    weight: 2
                    priority: 0
            """;

    @Test
    void the_documented_shape_loads_as_written() {
        ProxyConfig c = ConfigLoader.parse(EXAMPLE);
        assertEquals(List.of(new HashPolicy.SourceIp()), c.listeners().get(0).hashPolicy());
        ClusterConfig api = c.clusters().get(0);
        assertEquals(LbPolicy.MAGLEV, api.lbPolicy());
        assertEquals(65537, api.lbSettings().maglevTableSize());
        assertEquals(150, api.lbSettings().hashBalanceFactor());
        assertEquals(8388608, api.lbSettings().maximumRingSize());
        assertEquals(50, api.lbSettings().healthyPanicThreshold());
        HealthCheckConfig hc = api.healthChecks().get(0);
        assertEquals(Duration.ofMillis(250), hc.timeout());
        assertEquals(Duration.ofSeconds(1), hc.interval());
        assertEquals(Duration.ofSeconds(1), hc.unhealthyInterval(), "defaults to the interval");
        assertEquals(Duration.ofMillis(100), hc.intervalJitter());
        assertEquals(3, hc.unhealthyThreshold());
        assertEquals(HealthCheckConfig.Tcp.connectOnly(), hc.kind());
        assertEquals(5, api.outlierDetection().consecutiveGatewayFailure());
        assertEquals(Duration.ofSeconds(30), api.outlierDetection().baseEjectionTime());
        assertEquals(1024, api.circuitBreakers().maxConnections());
        assertEquals(2, api.endpoints().get(0).weight());
        assertEquals(0, api.endpoints().get(0).priority());
    }

    @Test
    void http_checks_and_l7_hash_keys_parse() {
        ProxyConfig c = ConfigLoader.parse("""
                clusters:
                  - name: api
                    lb_policy: least_request
                    least_request_lb_config: { choice_count: 3 }
                    health_checks:
                      - http_health_check: { path: /healthz, host: api.local, expected_statuses: [200-299, 304] }
                """);
        HealthCheckConfig.Http http = (HealthCheckConfig.Http) c.clusters().get(0).healthChecks().get(0).kind();
        assertEquals("/healthz", http.path());
        assertEquals(List.of(new HealthCheckConfig.StatusRange(200, 299), new HealthCheckConfig.StatusRange(304, 304)),
                http.expectedStatuses());
        assertEquals(3, c.clusters().get(0).lbSettings().choiceCount());
    }

    private static List<String> errors(String yaml) {
        return assertThrows(ConfigException.class, () -> ConfigLoader.parse(yaml)).errors().stream().map(Object::toString).toList();
    }

    @Test
    void bad_values_name_their_fields() {
        List<String> e = errors(EXAMPLE
                .replace("table_size: 65537", "table_size: 65536")
                .replace("hash_balance_factor: 150", "hash_balance_factor: 50")
                .replace("healthy_panic_threshold: 50", "healthy_panic_threshold: 150")
                .replace("priority: 0", "priority: -1")
                .replace("hash_policy: [{ source_ip: true }]", "hash_policy: [{ header: x-user }]")
                .replace("unhealthy_threshold: 3", "unhealthy_threshold: 0"));
        assertTrue(e.contains("clusters[0].maglev_lb_config.table_size: 65536 must be a prime no larger than 5000011 (e.g. 65537, 131071, 1000003)"), e.toString());
        assertTrue(e.contains("clusters[0].ring_hash_lb_config.hash_balance_factor: 50 must be 0 (off) or a percentage of the mean load of at least 100"), e.toString());
        assertTrue(e.contains("clusters[0].common_lb_config.healthy_panic_threshold: 150 is out of range 0..100"), e.toString());
        assertTrue(e.contains("clusters[0].endpoints[0].priority: -1 is out of range 0..127"), e.toString());
        assertTrue(e.contains("listeners[0].hash_policy[0]: a tcp listener can hash only on source_ip"), e.toString());
        assertTrue(e.contains("clusters[0].health_checks[0].unhealthy_threshold: 0 is out of range 1..1000"), e.toString());
        assertEquals(6, e.size(), e.toString());
    }

    @Test
    void an_empty_status_list_is_refused_because_no_probe_could_pass() {
        assertTrue(errors(EXAMPLE.replace("tcp_health_check: {}", "http_health_check: { path: /h, expected_statuses: [] }")).contains(
                "clusters[0].health_checks[0].http_health_check.expected_statuses: is empty, so no probe could ever pass; leave it out for 200-399"));
    }

    @Test
    void a_health_check_needs_exactly_one_kind_and_grpc_loads() {
        assertTrue(errors(EXAMPLE.replace("tcp_health_check: {}", "interval_jitter2: 1s")).contains(
                "clusters[0].health_checks[0]: must have exactly one of tcp_health_check, http_health_check, grpc_health_check"));
        ProxyConfig c = ConfigLoader.parse(EXAMPLE.replace("tcp_health_check: {}", "grpc_health_check: { service_name: api }"));
        assertEquals(new HealthCheckConfig.Grpc("api"), c.clusters().get(0).healthChecks().get(0).kind());
    }
}
