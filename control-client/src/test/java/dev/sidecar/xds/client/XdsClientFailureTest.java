package dev.sidecar.xds.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sidecar.config.ClusterConfig;
import dev.sidecar.config.ControlPlaneConfig;
import dev.sidecar.config.HostPort;
import dev.sidecar.testkit.Await;
import dev.sidecar.testkit.XdsServer;
import dev.sidecar.xds.translate.Translator;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A failure of the proxy's own while it puts a response in force (here the sink throws an
 * {@link Error}, as a class missing from a broken build would) is answered with a NACK that says
 * what failed, the resources in force stay, and the next good response is accepted: the control
 * plane is never left waiting for an answer.
 */
class XdsClientFailureTest {
    private static final Duration LIMIT = Duration.ofSeconds(20);

    private final AtomicReference<XdsResources> applied = new AtomicReference<>(XdsResources.EMPTY);
    private XdsServer server;
    private XdsClient client;

    @AfterEach
    void tearDown() {
        if (client != null) {
            client.close();
        }
        if (server != null) {
            server.close();
        }
    }

    private static Cluster cluster(String name) {
        return Cluster.newBuilder().setName(name).setType(Cluster.DiscoveryType.STATIC)
                .setConnectTimeout(com.google.protobuf.Duration.newBuilder().setSeconds(1)).build();
    }

    private List<String> names() {
        return applied.get().clusters().stream().map(ClusterConfig::name).sorted().toList();
    }

    @Test
    void an_error_while_applying_a_response_is_nacked_with_its_cause_and_the_next_response_applies() {
        server = new XdsServer();
        server.set("1", List.of(cluster("a")), List.of(), List.of(), List.of());
        ControlPlaneConfig config = new ControlPlaneConfig(HostPort.parse(server.address()),
                new ControlPlaneConfig.Node("failure-node", "test", Map.of()), Duration.ofSeconds(10), null, ControlPlaneConfig.ApiType.SOTW);
        client = new XdsClient(config, resources -> {
            if (resources.clusters().stream().anyMatch(c -> c.name().equals("broken"))) {
                throw new NoClassDefFoundError("io/envoyproxy/envoy/Missing");
            }
            applied.set(resources);
        }, new XdsClient.Timing(Duration.ofMillis(50), Duration.ofMillis(500), Duration.ofMillis(50)));
        client.start();
        Await.until("cluster a in force", LIMIT, () -> names().equals(List.of("a")));
        server.awaitRequest(q -> q.getTypeUrl().equals(Translator.CLUSTER_TYPE) && q.getVersionInfo().equals("1") && !q.hasErrorDetail(), LIMIT);

        int before = server.requests().size();
        server.set("2", List.of(cluster("a"), cluster("broken")), List.of(), List.of(), List.of());
        DiscoveryRequest nack = server.awaitRequest(q -> server.requests().indexOf(q) >= before
                && q.getTypeUrl().equals(Translator.CLUSTER_TYPE) && q.hasErrorDetail(), LIMIT);
        assertTrue(nack.getErrorDetail().getMessage().contains("java.lang.NoClassDefFoundError: io/envoyproxy/envoy/Missing"),
                nack.getErrorDetail().getMessage());
        assertEquals("1", nack.getVersionInfo(), "a NACK names the version still in force");
        assertEquals(List.of("a"), names());
        // (at least once: the server answers a NACK of an older version by sending its snapshot again)
        assertTrue(client.status().rejected(Translator.CLUSTER_TYPE) >= 1, "the rejection is counted");
        assertTrue(client.status().lastRejection().detail().contains("NoClassDefFoundError"), client.status().lastRejection().toString());

        server.set("3", List.of(cluster("a"), cluster("b")), List.of(), List.of(), List.of());
        server.awaitRequest(q -> q.getTypeUrl().equals(Translator.CLUSTER_TYPE) && q.getVersionInfo().equals("3") && !q.hasErrorDetail(), LIMIT);
        assertEquals(List.of("a", "b"), names());
    }
}
