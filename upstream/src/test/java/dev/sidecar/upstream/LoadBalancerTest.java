package dev.sidecar.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sidecar.config.HostPort;
import dev.sidecar.config.LbPolicy;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class LoadBalancerTest {
    private static List<Endpoint> endpoints(int n) {
        List<Endpoint> list = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            list.add(Endpoint.of(new HostPort("10.0.0." + (i + 1), 80)));
        }
        return list;
    }

    private static int[] ones(int n) {
        int[] w = new int[n];
        java.util.Arrays.fill(w, 1);
        return w;
    }

    private static String sequence(LoadBalancer lb, List<Endpoint> eps, int picks) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < picks; i++) {
            b.append((char) ('a' + eps.indexOf(lb.pick(PickContext.NONE))));
        }
        return b.toString();
    }

    @Test
    void round_robin_cycles_through_equal_endpoints() {
        List<Endpoint> eps = endpoints(3);
        assertEquals("abcabcabc", sequence(LoadBalancer.of(LbPolicy.ROUND_ROBIN, eps, ones(3)), eps, 9));
    }

    @Test
    void smooth_weighted_round_robin_interleaves() {
        // nginx's documented sequence for weights 5, 1, 1
        List<Endpoint> eps = endpoints(3);
        LoadBalancer lb = LoadBalancer.of(LbPolicy.ROUND_ROBIN, eps, new int[] {5, 1, 1});
        assertEquals("aabacaa" + "aabacaa", sequence(lb, eps, 14));
    }

    @Test
    void weighted_round_robin_without_a_precomputed_schedule_gives_the_same_shares() {
        // weights whose period exceeds the schedule bound run the algorithm live
        int n = 40;
        List<Endpoint> eps = endpoints(n);
        int[] w = new int[n];
        for (int i = 0; i < n; i++) {
            w[i] = 65_535 - i; // co-prime-ish, sum ~2.6M > MAX_SCHEDULE
        }
        LoadBalancer lb = LoadBalancer.of(LbPolicy.ROUND_ROBIN, eps, w);
        long total = 0;
        for (int x : w) {
            total += x;
        }
        Map<Endpoint, Integer> counts = new HashMap<>();
        for (long i = 0; i < total; i++) {
            counts.merge(lb.pick(PickContext.NONE), 1, Integer::sum);
        }
        for (int i = 0; i < n; i++) {
            assertEquals(w[i], counts.get(eps.get(i)), "one full period gives each endpoint exactly its weight");
        }
    }

    @Test
    void least_connection_picks_the_least_loaded() {
        List<Endpoint> eps = endpoints(3);
        open(eps.get(0), 3);
        open(eps.get(1), 1);
        open(eps.get(2), 2);
        LoadBalancer lb = LoadBalancer.of(LbPolicy.LEAST_CONNECTION, eps, ones(3));
        for (int i = 0; i < 20; i++) {
            assertSame(eps.get(1), lb.pick(PickContext.NONE));
        }
    }

    @Test
    void least_connection_breaks_ties_at_random() {
        List<Endpoint> eps = endpoints(4);
        open(eps.get(3), 1);
        LoadBalancer lb = LoadBalancer.of(LbPolicy.LEAST_CONNECTION, eps, ones(4));
        Map<Endpoint, Integer> counts = new HashMap<>();
        for (int i = 0; i < 3000; i++) {
            counts.merge(lb.pick(PickContext.NONE), 1, Integer::sum);
        }
        assertEquals(null, counts.get(eps.get(3)));
        for (int i = 0; i < 3; i++) {
            // expected 1000 each; 800 is more than 8 standard deviations below
            assertTrue(counts.get(eps.get(i)) > 800, "tie-break is not uniform: " + counts);
        }
    }

    @Test
    void least_connection_weighs_load_by_weight() {
        List<Endpoint> eps = endpoints(2);
        LoadBalancer lb = LoadBalancer.of(LbPolicy.LEAST_CONNECTION, eps, new int[] {3, 1});
        // Open what each pick chooses: the heavier endpoint should end up with 3x the connections.
        for (int i = 0; i < 40; i++) {
            lb.pick(PickContext.NONE).connectionOpened();
        }
        assertEquals(30, eps.get(0).activeConnections());
        assertEquals(10, eps.get(1).activeConnections());
    }

    @Test
    void random_follows_weights() {
        List<Endpoint> eps = endpoints(3);
        LoadBalancer lb = LoadBalancer.of(LbPolicy.RANDOM, eps, new int[] {1, 2, 7});
        int[] counts = new int[3];
        int picks = 100_000;
        for (int i = 0; i < picks; i++) {
            counts[eps.indexOf(lb.pick(PickContext.NONE))]++;
        }
        // expected 10%, 20%, 70%; the bounds are > 10 standard deviations wide
        assertTrue(Math.abs(counts[0] - 10_000) < 1_000, java.util.Arrays.toString(counts));
        assertTrue(Math.abs(counts[1] - 20_000) < 1_300, java.util.Arrays.toString(counts));
        assertTrue(Math.abs(counts[2] - 70_000) < 1_500, java.util.Arrays.toString(counts));
    }

    @Test
    void an_empty_cluster_picks_nothing() {
        for (LbPolicy p : LbPolicy.values()) {
            assertNull(LoadBalancer.of(p, List.of(), new int[0]).pick(PickContext.NONE), p.name());
        }
    }

    private static void open(Endpoint e, int n) {
        for (int i = 0; i < n; i++) {
            e.connectionOpened();
        }
    }
}
