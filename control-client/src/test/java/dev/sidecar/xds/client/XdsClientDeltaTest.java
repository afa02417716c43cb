package dev.sidecar.xds.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.UInt32Value;
import dev.sidecar.config.ClusterConfig;
import dev.sidecar.config.ControlPlaneConfig;
import dev.sidecar.config.HostPort;
import dev.sidecar.testkit.Await;
import dev.sidecar.testkit.XdsServer;
import dev.sidecar.xds.translate.Translator;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.AggregatedConfigSource;
import io.envoyproxy.envoy.config.core.v3.ConfigSource;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.endpoint.v3.Endpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LbEndpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The client in delta mode against java-control-plane's real delta ADS server: 200 EDS clusters
 * of 50 endpoints each (10,000 endpoints); a change to one cluster travels as that cluster's
 * assignment alone, a removed assignment leaves its cluster without endpoints, a bad one is
 * NACKed with its detail while the others apply, and a new stream carries the versions held.
 */
class XdsClientDeltaTest {
    private static final Duration LIMIT = Duration.ofSeconds(20);
    private static final int CLUSTERS = 200;
    private static final int PER_CLUSTER = 50;
    private static final ConfigSource ADS = ConfigSource.newBuilder().setAds(AggregatedConfigSource.getDefaultInstance()).build();

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
        return Cluster.newBuilder().setName(name).setType(Cluster.DiscoveryType.EDS)
                .setEdsClusterConfig(Cluster.EdsClusterConfig.newBuilder().setEdsConfig(ADS))
                .setConnectTimeout(com.google.protobuf.Duration.newBuilder().setSeconds(1)).build();
    }

    /** {@code n} endpoints on 127.x.y.z port {@code port}, distinct per cluster {@code c}. */
    private static ClusterLoadAssignment assignment(int c, int n, int port) {
        LocalityLbEndpoints.Builder l = LocalityLbEndpoints.newBuilder();
        for (int i = 0; i < n; i++) {
            String host = "127." + (1 + c / 200) + "." + (c % 200) + "." + (1 + i);
            l.addLbEndpoints(LbEndpoint.newBuilder().setEndpoint(Endpoint.newBuilder().setAddress(Address.newBuilder()
                    .setSocketAddress(SocketAddress.newBuilder().setAddress(host).setPortValue(port)))));
        }
        return ClusterLoadAssignment.newBuilder().setClusterName(name(c)).addEndpoints(l).build();
    }

    private static String name(int c) {
        return "c" + c;
    }

    private static List<Cluster> clusters() {
        List<Cluster> out = new ArrayList<>();
        for (int c = 0; c < CLUSTERS; c++) {
            out.add(cluster(name(c)));
        }
        return out;
    }

    private static List<ClusterLoadAssignment> assignments() {
        List<ClusterLoadAssignment> out = new ArrayList<>();
        for (int c = 0; c < CLUSTERS; c++) {
            out.add(assignment(c, PER_CLUSTER, 9));
        }
        return out;
    }

    private ClusterConfig published(String name) {
        return applied.get().clusters().stream().filter(c -> c.name().equals(name)).findFirst().orElse(null);
    }

    private int endpointsOf(String name) {
        ClusterConfig c = published(name);
        return c == null ? -1 : c.endpoints().size();
    }

    private List<DeltaDiscoveryResponse> endpointResponsesSince(int from) {
        List<DeltaDiscoveryResponse> all = server.deltaResponses();
        return all.subList(from, all.size()).stream().filter(r -> r.getTypeUrl().equals(Translator.ENDPOINT_TYPE)).toList();
    }

    @Test
    void a_change_to_one_of_200_clusters_sends_only_its_assignment_and_bad_or_removed_ones_are_handled() {
        server = new XdsServer();
        server.set("1", clusters(), assignments(), List.of(), List.of());
        ControlPlaneConfig config = new ControlPlaneConfig(HostPort.parse(server.address()),
                new ControlPlaneConfig.Node("delta-node", "test", Map.of()), Duration.ofSeconds(10), null, ControlPlaneConfig.ApiType.DELTA);
        client = new XdsClient(config, applied::set,
                new XdsClient.Timing(Duration.ofMillis(50), Duration.ofMillis(500), Duration.ofMillis(50)));
        client.start();

        Await.until("200 clusters with 50 endpoints each", LIMIT, () -> applied.get().clusters().size() == CLUSTERS
                && applied.get().clusters().stream().allMatch(c -> c.endpoints().size() == PER_CLUSTER));
        // every delta response so far has been answered (ACKed) before the next snapshot
        Await.until("the ACK of every response", LIMIT, () -> server.deltaResponses().stream()
                .allMatch(resp -> server.deltaRequests().stream().anyMatch(q -> q.getResponseNonce().equals(resp.getNonce()))));
        int before = server.deltaResponses().size();
        long receivedBefore = client.status().resourcesReceived();

        // one endpoint more in one cluster: only that ClusterLoadAssignment travels
        List<ClusterLoadAssignment> v2 = new ArrayList<>(assignments());
        v2.set(7, assignment(7, PER_CLUSTER + 1, 9));
        server.set("2", clusters(), v2, List.of(), List.of());
        Await.until("c7 with 51 endpoints", LIMIT, () -> endpointsOf("c7") == PER_CLUSTER + 1);
        List<DeltaDiscoveryResponse> sent = endpointResponsesSince(before);
        assertEquals(1, sent.size(), "endpoint responses: " + sent.size());
        assertEquals(1, sent.get(0).getResourcesCount());
        assertEquals("c7", sent.get(0).getResources(0).getName());
        assertEquals(0, sent.get(0).getRemovedResourcesCount());
        assertEquals(1, client.status().resourcesReceived() - receivedBefore);
        String nonce = sent.get(0).getNonce();
        server.awaitDeltaRequest(q -> q.getTypeUrl().equals(Translator.ENDPOINT_TYPE) && q.getResponseNonce().equals(nonce)
                && !q.hasErrorDetail(), LIMIT);
        assertTrue(server.deltaResponses().stream().skip(before).allMatch(r -> r.getTypeUrl().equals(Translator.ENDPOINT_TYPE)),
                "no cluster resent");

        // c9's assignment removed: the cluster stays, without endpoints
        List<ClusterLoadAssignment> v3 = new ArrayList<>(v2);
        v3.remove(9);
        server.set("3", clusters(), v3, List.of(), List.of());
        Await.until("c9 without endpoints", LIMIT, () -> endpointsOf("c9") == 0);
        assertEquals(PER_CLUSTER, endpointsOf("c8"));
        assertEquals(1, client.status().resourcesRemoved());

        // a bad assignment for c11 beside a good change of c12: c12 applies, c11 keeps its endpoints, NACK names c11
        List<ClusterLoadAssignment> v4 = new ArrayList<>(v3);
        int i11 = v4.indexOf(assignment(11, PER_CLUSTER, 9));
        int i12 = v4.indexOf(assignment(12, PER_CLUSTER, 9));
        v4.set(i11, assignment(11, PER_CLUSTER, 9).toBuilder()
                .setPolicy(ClusterLoadAssignment.Policy.newBuilder().setOverprovisioningFactor(UInt32Value.of(200))).build());
        v4.set(i12, assignment(12, PER_CLUSTER - 1, 9));
        server.set("4", clusters(), v4, List.of(), List.of());
        var nack = server.awaitDeltaRequest(q -> q.getTypeUrl().equals(Translator.ENDPOINT_TYPE) && q.hasErrorDetail(), LIMIT);
        assertTrue(nack.getErrorDetail().getMessage().contains("c11"), nack.getErrorDetail().getMessage());
        assertTrue(nack.getErrorDetail().getMessage().contains("overprovisioning_factor"), nack.getErrorDetail().getMessage());
        assertEquals(PER_CLUSTER - 1, endpointsOf("c12"));
        assertEquals(PER_CLUSTER, endpointsOf("c11"));
        assertEquals(1, client.status().rejected(Translator.ENDPOINT_TYPE));
        assertEquals(CLUSTERS, applied.get().clusters().size());

        // a new stream tells the server what the client holds: 199 assignments with their versions
        int requestsBefore = server.deltaRequests().size();
        server.stop();
        server.restart();
        var resubscribe = server.awaitDeltaRequest(q -> server.deltaRequests().indexOf(q) >= requestsBefore
                && q.getTypeUrl().equals(Translator.ENDPOINT_TYPE) && q.getInitialResourceVersionsCount() > 0, LIMIT);
        assertEquals(CLUSTERS - 1, resubscribe.getInitialResourceVersionsCount());
        assertEquals(CLUSTERS, resubscribe.getResourceNamesSubscribeCount());
        assertTrue(!resubscribe.getInitialResourceVersionsMap().containsKey("c9"));
    }
}
