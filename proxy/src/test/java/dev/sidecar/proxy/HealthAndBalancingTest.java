package dev.sidecar.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sidecar.config.ClusterConfig;
import dev.sidecar.config.EndpointConfig;
import dev.sidecar.config.HostPort;
import dev.sidecar.testkit.Await;
import dev.sidecar.testkit.Closer;
import dev.sidecar.testkit.TcpUpstream;
import dev.sidecar.testkit.Traffic;
import dev.sidecar.upstream.Cluster;
import dev.sidecar.upstream.Endpoint;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Health checks, outlier detection, circuit breakers, hashing and endpoint updates through the real L4 listener. */
class HealthAndBalancingTest {
    private final Closer closer = new Closer();

    @AfterEach
    void tearDown() throws Exception {
        closer.close();
    }

    private <T extends AutoCloseable> T track(T resource) {
        return closer.add(resource);
    }

    private Sidecar proxy(String yaml) {
        return track(Sidecar.start(ConfigLoader.parse(yaml)));
    }

    private static void echoOnce(int port, int value) throws Exception {
        try (Socket s = Traffic.connect(port)) {
            s.getOutputStream().write(value);
            assertEquals(value, s.getInputStream().read(), "a proxied connection failed");
        }
    }

    @Test
    void an_upstream_that_stops_accepting_is_dropped_by_active_checks_and_returns() throws Exception {
        TcpUpstream a = track(TcpUpstream.echo());
        TcpUpstream b = TcpUpstream.echo();
        int bPort = b.port();
        Sidecar proxy = proxy("""
                admin: { address: 127.0.0.1:0 }
                listeners: [{ name: in, address: 127.0.0.1:0, cluster: up, max_connect_attempts: 1 }]
                clusters:
                  - name: up
                    lb_policy: round_robin
                    health_checks:
                      - { timeout: 1s, interval: 100ms, no_traffic_interval: 100ms, unhealthy_threshold: 2,
                          healthy_threshold: 2, tcp_health_check: {} }
                    endpoints: [{ address: %s }, { address: %s }]
                """.formatted(a.address(), b.address()));
        Cluster cluster = proxy.clusters().get("up");
        // proxied connections per endpoint (the upstreams' own accept counts include the probes)
        Endpoint epA = cluster.endpoint(HostPort.parse(a.address()));
        Endpoint epB = cluster.endpoint(HostPort.parse(b.address()));
        Await.until("both endpoints to pass their first check", () -> cluster.snapshot().healthyEndpoints() == 2);
        int port = proxy.listenerPort("in");
        for (int i = 0; i < 4; i++) {
            echoOnce(port, i);
        }
        assertEquals(2, epB.connections(), "round robin gave b half before it went away");

        long stopped = System.nanoTime();
        b.close();
        Await.until("b to be marked unhealthy", () -> cluster.snapshot().healthyEndpoints() == 1);
        long ejectionMillis = (System.nanoTime() - stopped) / 1_000_000;
        // bound: timeout + interval x unhealthy_threshold, plus slack for a loaded CI machine
        assertTrue(ejectionMillis < 5_000, "ejection took " + ejectionMillis + " ms");
        System.out.println("health-check ejection delay: " + ejectionMillis + " ms (interval 100ms, unhealthy_threshold 2, refused connects)");

        long before = epA.connections();
        for (int i = 0; i < 20; i++) {
            echoOnce(port, i); // with one connect attempt, any pick of b would fail the client
        }
        assertEquals(before + 20, epA.connections());
        assertEquals(2, epB.connections());
        assertEquals(0, cluster.connectFailures());

        TcpUpstream back = track(TcpUpstream.echoOn(bPort));
        Await.until("b to return after healthy_threshold passes", () -> cluster.snapshot().healthyEndpoints() == 2);
        Await.until("b to get traffic again", Duration.ofSeconds(10), () -> {
            try {
                echoOnce(port, 7);
            } catch (Exception e) {
                throw new AssertionError(e);
            }
            return epB.connections() > 2;
        });
        assertTrue(back.accepted() > 0);
        String metrics = proxy.scrape();
        assertTrue(metrics.contains("sidecar_cluster_endpoints_healthy{cluster=\"up\"} 2.0"), metrics);
        assertTrue(cluster.healthCheckFailures() >= 2, "the two failures that took b out are counted");
        assertTrue(cluster.healthCheckPasses() >= 4);
    }

    @Test
    void consecutive_connect_failures_eject_an_endpoint_for_a_while() throws Exception {
        TcpUpstream a = track(TcpUpstream.echo());
        int refusing = TcpUpstream.refusingPort();
        Sidecar proxy = proxy("""
                admin: { address: 127.0.0.1:0 }
                listeners: [{ name: in, address: 127.0.0.1:0, cluster: up, max_connect_attempts: 2 }]
                clusters:
                  - name: up
                    lb_policy: round_robin
                    outlier_detection: { consecutive_gateway_failure: 3, base_ejection_time: 2s, max_ejection_percent: 50 }
                    endpoints: [{ address: 127.0.0.1:%d }, { address: %s }]
                """.formatted(refusing, a.address()));
        Cluster cluster = proxy.clusters().get("up");
        Endpoint bad = cluster.endpoint(new HostPort("127.0.0.1", refusing));
        int port = proxy.listenerPort("in");
        for (int i = 0; i < 8 && !bad.ejected(); i++) {
            echoOnce(port, i); // every client succeeds: the failed first attempt fails over to a
        }
        Await.until("the refusing endpoint to be ejected", bad::ejected);
        assertEquals(1, cluster.ejections());
        assertTrue(proxy.scrape().contains("sidecar_cluster_outlier_ejections_total{cluster=\"up\"} 1.0"));
        Await.until("the snapshot without it", () -> cluster.snapshot().healthyEndpoints() == 1);
        long failures = cluster.connectFailures();
        for (int i = 0; i < 10; i++) {
            echoOnce(port, i);
        }
        assertEquals(failures, cluster.connectFailures(), "an ejected endpoint gets no connects");
        Await.until("the ejection to expire and the endpoint to be back", Duration.ofSeconds(10),
                () -> !bad.ejected() && cluster.snapshot().healthyEndpoints() == 2);
    }

    @Test
    void resets_after_connecting_count_as_failures_too() throws Exception {
        TcpUpstream good = track(TcpUpstream.echo());
        TcpUpstream resets = track(TcpUpstream.resetting());
        Sidecar proxy = proxy("""
                admin: { address: 127.0.0.1:0 }
                listeners: [{ name: in, address: 127.0.0.1:0, cluster: up, max_connect_attempts: 1 }]
                clusters:
                  - name: up
                    lb_policy: round_robin
                    outlier_detection: { consecutive_gateway_failure: 3, base_ejection_time: 30s, max_ejection_percent: 50 }
                    endpoints: [{ address: %s }, { address: %s }]
                """.formatted(resets.address(), good.address()));
        Cluster cluster = proxy.clusters().get("up");
        Endpoint bad = cluster.endpoint(HostPort.parse(resets.address()));
        for (int i = 0; i < 12 && !bad.ejected(); i++) {
            try (Socket s = Traffic.connect(proxy.listenerPort("in"))) {
                s.getOutputStream().write(i);
                s.getInputStream().read(); // the echo, or EOF when the upstream reset
            } catch (java.io.IOException e) {
                // the reset reached the client
            }
        }
        Await.until("the resetting endpoint to be ejected", bad::ejected);
        for (int i = 0; i < 5; i++) {
            echoOnce(proxy.listenerPort("in"), i);
        }
    }

    @Test
    void a_client_that_leaves_while_the_proxy_connects_is_not_the_endpoints_failure() throws Exception {
        TcpUpstream hole = track(TcpUpstream.blackHole()); // connects hang
        Sidecar proxy = proxy("""
                admin: { address: 127.0.0.1:0 }
                listeners: [{ name: in, address: 127.0.0.1:0, cluster: up }]
                clusters:
                  - name: up
                    connect_timeout: 500ms
                    outlier_detection: { consecutive_gateway_failure: 1, max_ejection_percent: 100 }
                    endpoints: [{ address: %s }]
                """.formatted(hole.address()));
        Cluster cluster = proxy.clusters().get("up");
        for (int i = 0; i < 3; i++) {
            Socket s = Traffic.connect(proxy.listenerPort("in"));
            int expected = i + 1;
            Await.until("the connect attempt", () -> cluster.connections() == expected);
            s.setSoLinger(true, 0);
            s.close(); // the client gives up (a reset): the proxy abandons the connect it started
        }
        // the abandoned attempts end by close or, where the transport lets a connect run on, by
        // their timeout; either way after the client left, so neither is the endpoint's failure.
        // (A client that only half-closes may still want the answer: then the connect goes on, and
        // its failure is the endpoint's.)
        Await.until("the abandoned attempts to be counted down", () -> cluster.activeConnections() == 0);
        assertEquals(0, cluster.connectFailures());
        assertEquals(0, cluster.ejections());
        assertEquals(0, proxy.listenerStats("in").upstreamFailures());
    }

    @Test
    void max_ejection_percent_keeps_the_last_endpoints() throws Exception {
        int r1 = TcpUpstream.refusingPort();
        int r2 = TcpUpstream.refusingPort();
        Sidecar proxy = proxy("""
                admin: { address: 127.0.0.1:0 }
                listeners: [{ name: in, address: 127.0.0.1:0, cluster: up, max_connect_attempts: 1 }]
                clusters:
                  - name: up
                    outlier_detection: { consecutive_gateway_failure: 1, base_ejection_time: 30s, max_ejection_percent: 50 }
                    endpoints: [{ address: 127.0.0.1:%d }, { address: 127.0.0.1:%d }]
                """.formatted(r1, r2));
        Cluster cluster = proxy.clusters().get("up");
        for (int i = 0; i < 6; i++) {
            try (Socket s = Traffic.connect(proxy.listenerPort("in"))) {
                Await.until("the client to be closed", () -> Traffic.closedByPeer(s));
            }
        }
        Await.until("one ejection", () -> cluster.ejections() == 1);
        assertEquals(1, cluster.snapshot().endpoints().stream().filter(Endpoint::ejected).count(), "50 % of 2 endpoints is 1");
    }

    @Test
    void endpoints_reported_unhealthy_or_draining_get_no_new_connections() throws Exception {
        TcpUpstream ok = track(TcpUpstream.echo());
        TcpUpstream sick = track(TcpUpstream.echo());
        TcpUpstream leaving = track(TcpUpstream.echo());
        Sidecar proxy = proxy("""
                admin: { address: 127.0.0.1:0 }
                listeners: [{ name: in, address: 127.0.0.1:0, cluster: up }]
                clusters:
                  - name: up
                    lb_policy: round_robin
                    common_lb_config: { healthy_panic_threshold: 0 }
                    endpoints:
                      - { address: %s, health_status: healthy }
                      - { address: %s, health_status: unhealthy }
                      - { address: %s, health_status: draining }
                """.formatted(ok.address(), sick.address(), leaving.address()));
        for (int i = 0; i < 9; i++) {
            echoOnce(proxy.listenerPort("in"), i);
        }
        assertEquals(9, ok.accepted());
        assertEquals(0, sick.accepted());
        assertEquals(0, leaving.accepted());
        assertEquals(1, proxy.clusters().get("up").snapshot().healthyEndpoints());
    }

    @Test
    void the_cluster_connection_limit_refuses_the_extra_connection() throws Exception {
        TcpUpstream a = track(TcpUpstream.neverReads());
        Sidecar proxy = proxy("""
                admin: { address: 127.0.0.1:0 }
                listeners: [{ name: in, address: 127.0.0.1:0, cluster: up }]
                clusters:
                  - name: up
                    circuit_breakers: { max_connections: 2 }
                    endpoints: [{ address: %s }]
                """.formatted(a.address()));
        int port = proxy.listenerPort("in");
        try (Socket s1 = Traffic.connect(port); Socket s2 = Traffic.connect(port)) {
            Await.until("two upstream connections", () -> a.accepted() == 2);
            try (Socket s3 = Traffic.connect(port)) {
                Await.until("the third to be refused", () -> Traffic.closedByPeer(s3));
            }
            assertEquals(1, proxy.clusters().get("up").overflows());
            assertTrue(proxy.scrape().contains("sidecar_cluster_circuit_breaker_overflows_total{cluster=\"up\"} 1.0"));
            assertEquals(2, a.accepted());
        }
    }

    @Test
    void source_ip_hashing_sends_one_client_to_one_endpoint() throws Exception {
        List<TcpUpstream> ups = new ArrayList<>();
        StringBuilder eps = new StringBuilder();
        for (int i = 0; i < 4; i++) {
            TcpUpstream u = track(TcpUpstream.echo());
            ups.add(u);
            eps.append("{ address: ").append(u.address()).append(" }, ");
        }
        for (String policy : List.of("maglev", "ring_hash")) {
            Sidecar proxy = proxy("""
                    admin: { address: 127.0.0.1:0 }
                    listeners: [{ name: in, address: 127.0.0.1:0, cluster: up, hash_policy: [{ source_ip: true }] }]
                    clusters: [{ name: up, lb_policy: %s, endpoints: [%s] }]
                    """.formatted(policy, eps));
            Map<TcpUpstream, Integer> before = new HashMap<>();
            ups.forEach(u -> before.put(u, u.accepted()));
            for (int i = 0; i < 12; i++) {
                echoOnce(proxy.listenerPort("in"), i);
            }
            long served = ups.stream().filter(u -> u.accepted() > before.get(u)).count();
            assertEquals(1, served, policy + ": all connections from 127.0.0.1 go to one endpoint");
            proxy.close();
        }
    }

    @Test
    void an_endpoint_update_keeps_survivors_and_lets_removed_connections_finish() throws Exception {
        TcpUpstream a = track(TcpUpstream.echo());
        TcpUpstream b = track(TcpUpstream.echo());
        Sidecar proxy = proxy("""
                server: { drain_timeout: 1s }
                admin: { address: 127.0.0.1:0 }
                listeners: [{ name: in, address: 127.0.0.1:0, cluster: up }]
                clusters: [{ name: up, lb_policy: round_robin, endpoints: [{ address: %s }] }]
                """.formatted(a.address()));
        Cluster cluster = proxy.clusters().get("up");
        Endpoint survivor = cluster.snapshot().endpoints().get(0);
        try (Socket open = Traffic.connect(proxy.listenerPort("in"))) {
            open.getOutputStream().write(1);
            assertEquals(1, open.getInputStream().read());

            ClusterConfig updated = cluster.snapshot().config().withEndpoints(List.of(
                    EndpointConfig.of(HostPort.parse(b.address()))));
            proxy.clusters().update(List.of(updated));
            assertFalse(cluster.snapshot().endpoints().contains(survivor));
            // the removed endpoint's connection keeps working
            open.getOutputStream().write(2);
            assertEquals(2, open.getInputStream().read());
            echoOnce(proxy.listenerPort("in"), 3);
            assertEquals(1, b.accepted(), "new connections go to the new endpoint");

            proxy.clusters().update(List.of(updated.withEndpoints(List.of(EndpointConfig.of(HostPort.parse(b.address())),
                    EndpointConfig.of(HostPort.parse(a.address()))))));
            assertEquals(1, cluster.snapshot().endpoints().get(0).connections(), "b kept its counters across the update");

            // a's old connection outlived its removal only for the drain time (server.drain_timeout, 1 s)
            Await.until("the removed endpoint's connection to be closed after its drain", Duration.ofSeconds(10),
                    () -> Traffic.closedByPeer(open));
        }
    }
}
