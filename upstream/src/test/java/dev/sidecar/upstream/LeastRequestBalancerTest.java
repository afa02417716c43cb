package dev.sidecar.upstream;

import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sidecar.config.HostPort;
import dev.sidecar.config.LbPolicy;
import dev.sidecar.config.LbSettings;
import java.util.ArrayList;
import java.util.List;
import java.util.PriorityQueue;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class LeastRequestBalancerTest {
    private static List<Endpoint> endpoints(int n) {
        List<Endpoint> list = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            list.add(Endpoint.of(new HostPort("10.0." + (i / 250) + "." + (i % 250), 80)));
        }
        return list;
    }

    private static int[] ones(int n) {
        int[] w = new int[n];
        java.util.Arrays.fill(w, 1);
        return w;
    }

    /**
     * The candidates are distinct: then the one most loaded endpoint can never win, since it is
     * always compared with a lighter one. Were a pick allowed to draw the same endpoint twice,
     * the heaviest would win whenever it was drawn twice.
     */
    @Test
    void the_most_loaded_endpoint_never_wins_for_any_size_and_choice_count() {
        SplittableRandom random = new SplittableRandom(11);
        for (int trial = 0; trial < 200; trial++) {
            int n = 2 + random.nextInt(40);
            int choices = 2 + random.nextInt(4);
            List<Endpoint> eps = endpoints(n);
            int heaviest = random.nextInt(n);
            for (int i = 0; i < n; i++) {
                int load = i == heaviest ? 100 : random.nextInt(50);
                for (int k = 0; k < load; k++) {
                    eps.get(i).requestStarted();
                }
            }
            LoadBalancer lb = LoadBalancer.of(LbPolicy.LEAST_REQUEST, LbSettings.DEFAULT.withChoiceCount(choices), eps, ones(n), System::nanoTime);
            for (int p = 0; p < 500; p++) {
                assertNotSame(eps.get(heaviest), lb.pick(PickContext.NONE), "n=" + n + " choices=" + choices);
            }
        }
    }

    /** Requests are held 10x longer on one endpoint; P2C sends it clearly less than its share. */
    @Test
    void a_slow_endpoint_gets_less_traffic() {
        int n = 4;
        List<Endpoint> eps = endpoints(n);
        LoadBalancer lb = LoadBalancer.of(LbPolicy.LEAST_REQUEST, eps, ones(n));
        // Discrete-time simulation: one request starts per tick; each lasts 8 ticks, 80 on endpoint 0.
        record Done(long at, Endpoint e) {}
        PriorityQueue<Done> running = new PriorityQueue<>((a, b) -> Long.compare(a.at, b.at));
        int[] counts = new int[n];
        for (long tick = 0; tick < 20_000; tick++) {
            while (!running.isEmpty() && running.peek().at <= tick) {
                running.poll().e.requestFinished();
            }
            Endpoint e = lb.pick(PickContext.NONE);
            int i = eps.indexOf(e);
            counts[i]++;
            e.requestStarted();
            running.add(new Done(tick + (i == 0 ? 80 : 8), e));
        }
        int fair = 20_000 / n;
        assertTrue(counts[0] < fair / 2, "the slow endpoint got " + counts[0] + " of 20000 (fair share " + fair + ")");
    }
}
