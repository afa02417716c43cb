package dev.sidecar.upstream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sidecar.config.HostPort;
import dev.sidecar.config.LbPolicy;
import dev.sidecar.config.LbSettings;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PriorityBalancerTest {
    // five endpoints: three at priority 0, two at priority 1
    private final List<Endpoint> eps = new ArrayList<>();
    private final int[] weights = {1, 1, 1, 1, 1};
    private final int[] priorities = {0, 0, 0, 1, 1};

    PriorityBalancerTest() {
        for (int i = 0; i < 5; i++) {
            eps.add(Endpoint.of(new HostPort("10.0.0." + (i + 1), 80)));
        }
    }

    private PriorityBalancer build() {
        return PriorityBalancer.build(LbPolicy.ROUND_ROBIN, LbSettings.DEFAULT, eps, weights, priorities, System::nanoTime);
    }

    private Map<Endpoint, Integer> picks(PriorityBalancer b, int n) {
        Map<Endpoint, Integer> counts = new HashMap<>();
        for (int i = 0; i < n; i++) {
            counts.merge(b.pick(PickContext.NONE), 1, Integer::sum);
        }
        return counts;
    }

    @Test
    void a_healthy_first_level_takes_everything() {
        PriorityBalancer b = build();
        Map<Endpoint, Integer> counts = picks(b, 3000);
        assertEquals(3, counts.size());
        assertFalse(counts.containsKey(eps.get(3)));
        assertFalse(b.panic());
    }

    @Test
    void overprovisioning_keeps_traffic_on_a_mostly_healthy_level() {
        eps.get(0).activeHealthy(false); // 2 of 3 healthy: 66 % x 1.4 = 93 % (whole percents, as Envoy)
        PriorityBalancer b = build();
        assertArrayEquals(new int[] {9300, 700}, b.shares());
        Map<Endpoint, Integer> counts = picks(b, 30_000);
        assertFalse(counts.containsKey(eps.get(0)));
        int toLevel1 = counts.getOrDefault(eps.get(3), 0) + counts.getOrDefault(eps.get(4), 0);
        assertTrue(Math.abs(toLevel1 - 2100) < 400, "level 1 should get about 7 %: " + toLevel1);
    }

    @Test
    void traffic_spills_to_the_next_level_as_health_drops() {
        eps.get(0).activeHealthy(false);
        eps.get(1).activeHealthy(false); // level 0: 1 of 3 healthy = 46 %; level 1 takes the other 54 %
        PriorityBalancer b = build();
        assertArrayEquals(new int[] {4600, 5400}, b.shares());
        assertFalse(b.panic());
    }

    @Test
    void below_the_panic_threshold_every_endpoint_gets_traffic() {
        eps.get(0).activeHealthy(false);
        eps.get(1).activeHealthy(false);
        eps.get(3).activeHealthy(false);
        eps.get(4).activeHealthy(false); // 46 % in all < 50 %
        PriorityBalancer b = build();
        assertTrue(b.panic());
        assertEquals(5, picks(b, 5000).size(), "panic ignores health: all five get picks");
    }

    @Test
    void too_little_health_for_a_whole_percent_balances_over_everything_even_without_panic() {
        // 1 healthy of 141: 140/141 of a percent rounds to 0 availability; with panic off there
        // would be no level to send to at all
        List<Endpoint> many = new ArrayList<>();
        int[] w = new int[141];
        int[] p = new int[141];
        for (int i = 0; i < 141; i++) {
            Endpoint e = Endpoint.of(new HostPort("10.1." + (i / 200) + "." + (i % 200), 80));
            e.activeHealthy(i == 0);
            many.add(e);
            w[i] = 1;
        }
        PriorityBalancer b = PriorityBalancer.build(LbPolicy.ROUND_ROBIN, LbSettings.DEFAULT.withHealthyPanicThreshold(0),
                many, w, p, System::nanoTime);
        assertTrue(b.panic());
        assertEquals(141, picks(b, 141).size());
    }

    @Test
    void a_panic_threshold_of_zero_never_panics() {
        for (int i = 0; i < 4; i++) {
            eps.get(i).activeHealthy(false);
        }
        PriorityBalancer b = PriorityBalancer.build(LbPolicy.ROUND_ROBIN, LbSettings.DEFAULT.withHealthyPanicThreshold(0),
                eps, weights, priorities, System::nanoTime);
        assertFalse(b.panic());
        assertEquals(Map.of(eps.get(4), 1000), picks(b, 1000));
    }
}
