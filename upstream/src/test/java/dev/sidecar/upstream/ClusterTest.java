package dev.sidecar.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.sidecar.config.ClusterConfig;
import dev.sidecar.config.EndpointConfig;
import dev.sidecar.config.HostPort;
import dev.sidecar.config.LbPolicy;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class ClusterTest {
    private static ClusterConfig config(String name, String... addresses) {
        return ClusterConfig.of(name, LbPolicy.LEAST_CONNECTION, Duration.ofSeconds(1),
                java.util.Arrays.stream(addresses).map(a -> EndpointConfig.of(HostPort.parse(a))).toList());
    }

    @Test
    void an_update_keeps_surviving_endpoints_and_their_counters() {
        Cluster cluster = new Cluster(config("c", "10.0.0.1:80", "10.0.0.2:80"));
        Endpoint kept = cluster.snapshot().endpoints().get(1);
        cluster.connectionOpened(kept);
        ClusterSnapshot before = cluster.snapshot();

        cluster.update(config("c", "10.0.0.2:80", "10.0.0.3:80"));

        ClusterSnapshot after = cluster.snapshot();
        assertNotSame(before, after);
        assertSame(kept, after.endpoints().get(0), "the surviving endpoint is the same object");
        assertEquals(1, after.endpoints().get(0).activeConnections());
        assertEquals("10.0.0.3:80", after.endpoints().get(1).address().toString());
        // the balancer was rebuilt over the new endpoints: least connection avoids the busy one
        assertSame(after.endpoints().get(1), after.pick(PickContext.NONE));
        // the old snapshot is untouched
        assertEquals(2, before.endpoints().size());
        assertEquals("10.0.0.1:80", before.endpoints().get(0).address().toString());
    }

    @Test
    void counters_count_down_on_a_removed_endpoint() {
        Cluster cluster = new Cluster(config("c", "10.0.0.1:80"));
        Endpoint gone = cluster.snapshot().endpoints().get(0);
        cluster.connectionOpened(gone);
        cluster.update(config("c", "10.0.0.2:80"));
        cluster.connectionClosed(gone);
        assertEquals(0, cluster.activeConnections());
        assertEquals(0, gone.activeConnections());
    }

    @Test
    void an_ejection_refused_by_the_percentage_is_asked_again_after_the_next_run_of_failures() throws Exception {
        java.util.concurrent.ScheduledExecutorService control = java.util.concurrent.Executors.newSingleThreadScheduledExecutor();
        try {
            ClusterConfig config = config("c", "10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80", "10.0.0.4:80").toBuilder()
                    .outlierDetection(new dev.sidecar.config.OutlierDetectionConfig(2, Duration.ofMillis(200), Duration.ofSeconds(10), 25))
                    .build();
            Cluster cluster = new Cluster(config, System::nanoTime, control, Duration.ofSeconds(1));
            Endpoint a = cluster.snapshot().endpoints().get(0);
            Endpoint b = cluster.snapshot().endpoints().get(1);
            cluster.connectFailed(a);
            cluster.connectFailed(a);
            dev.sidecar.testkit.Await.until("a ejected", a::ejected);
            cluster.connectFailed(b);
            cluster.connectFailed(b); // refused: 25 % of 4 is the one already out
            control.submit(() -> { }).get(); // the refusal has run
            assertEquals(false, b.ejected());
            dev.sidecar.testkit.Await.until("a back after 200 ms", () -> !a.ejected());
            cluster.connectFailed(b);
            cluster.connectFailed(b); // a new run of two: asked again, and now there is room
            dev.sidecar.testkit.Await.until("b ejected", b::ejected);
            assertEquals(2, cluster.ejections());
        } finally {
            control.shutdownNow();
        }
    }

    @Test
    void the_manager_adds_updates_and_removes_clusters() {
        ClusterManager m = new ClusterManager(List.of(config("a", "10.0.0.1:80"), config("b", "10.0.0.2:80")));
        Cluster a = m.get("a");
        m.update(List.of(config("a", "10.0.0.1:80", "10.0.0.9:80"), config("c", "10.0.0.3:80")));
        assertSame(a, m.get("a"));
        assertEquals(2, a.snapshot().endpoints().size());
        assertNull(m.get("b"));
        assertEquals("c", m.get("c").name());
    }
}
