package dev.sidecar.upstream;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sidecar.config.HostPort;
import dev.sidecar.config.LbPolicy;
import dev.sidecar.config.LbSettings;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** peak_ewma on a driven clock: one request per millisecond, each answered at once. */
class PeakEwmaBalancerTest {
    private static final long MS = 1_000_000L;

    private final AtomicLong now = new AtomicLong(1_000 * MS);
    private final List<Endpoint> eps = new ArrayList<>();
    private final LoadBalancer lb;

    PeakEwmaBalancerTest() {
        for (int i = 0; i < 4; i++) {
            eps.add(Endpoint.of(new HostPort("10.0.0." + (i + 1), 80)));
        }
        lb = LoadBalancer.of(LbPolicy.PEAK_EWMA, LbSettings.DEFAULT, eps, new int[] {1, 1, 1, 1}, now::get);
    }

    /** Runs {@code requests} requests; endpoint 0 answers in {@code slowMs}, the others in 5 ms. Returns endpoint 0's share. */
    private double run(int requests, long slowMs) {
        int toSlow = 0;
        for (int i = 0; i < requests; i++) {
            now.addAndGet(MS);
            Endpoint e = lb.pick(PickContext.NONE);
            long rtt = (e == eps.get(0) ? slowMs : 5) * MS;
            e.latency().observe(rtt, now.get());
            if (e == eps.get(0)) {
                toSlow++;
            }
        }
        return (double) toSlow / requests;
    }

    @Test
    void a_slow_endpoint_loses_its_share_quickly_and_regains_it_after_healing() {
        run(30_000, 5);                     // 30 s: every endpoint has answered at least once
        double healthy = run(5_000, 5);
        // a fair share is 0.25; the decay makes whichever endpoint was sampled least recently look
        // cheapest, so shares wander around it
        assertTrue(healthy > 0.12 && healthy < 0.40, "share while healthy: " + healthy);

        run(200, 205);                      // the first 0.2 s of being 200 ms slower
        double slow = run(2_000, 205);      // the next 2 s
        assertTrue(slow < 0.02, "share while slow: " + slow);

        run(60_000, 5);                     // healed: a minute for the estimate to decay and be re-probed
        double recovered = run(5_000, 5);
        assertTrue(recovered > 0.12, "share after healing: " + recovered);
    }

    @Test
    void a_fresh_endpoint_that_keeps_losing_is_tried_once_its_default_has_decayed() {
        for (int i = 1; i < 4; i++) {
            eps.get(i).latency().observe(5 * MS, now.get());
        }
        int before = 0;
        for (int i = 0; i < 1000; i++) {
            before += lb.pick(PickContext.NONE) == eps.get(0) ? 1 : 0;
        }
        assertTrue(before == 0, "at 30 ms against 5 ms it loses every comparison: " + before);
        // keep the others fresh at 5 ms while 30 s pass; the unsampled default decays below them
        boolean tried = false;
        for (int i = 0; i < 30_000 && !tried; i++) {
            now.addAndGet(MS);
            Endpoint e = lb.pick(PickContext.NONE);
            tried = e == eps.get(0);
            e.latency().observe(5 * MS, now.get());
        }
        assertTrue(tried, "the fresh endpoint was never tried");
    }

    @Test
    void a_fresh_endpoint_is_not_assumed_free() {
        // Three endpoints have answered in 5 ms; a new one has no samples. With a zero estimate it
        // would win every comparison; with the default RTT it must lose to the known-fast ones.
        for (int i = 1; i < 4; i++) {
            eps.get(i).latency().observe(5 * MS, now.get());
        }
        int toFresh = 0;
        for (int i = 0; i < 1000; i++) {
            if (lb.pick(PickContext.NONE) == eps.get(0)) {
                toFresh++;
            }
        }
        assertTrue(toFresh < 50, "the fresh endpoint took " + toFresh + " of 1000 picks");
    }
}
