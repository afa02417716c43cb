package dev.sidecar.upstream;

import java.util.concurrent.ThreadLocalRandom;
import java.util.function.LongSupplier;

/**
 * peak_ewma: power of two choices by {@code latency estimate × (active requests + 1) / weight},
 * as Linkerd balances. Latency alone would pile onto the fastest endpoint; load alone ignores an
 * endpoint that has turned slow. Their product sends less to an endpoint as soon as it slows, and
 * the estimate's decay ({@link PeakEwma}) brings it back once it heals.
 */
final class PeakEwmaBalancer implements LoadBalancer {
    private final Endpoint[] endpoints;
    private final int[] weights;
    private final LongSupplier nanoClock;

    PeakEwmaBalancer(Endpoint[] endpoints, int[] weights, LongSupplier nanoClock) {
        this.endpoints = endpoints;
        this.weights = weights;
        this.nanoClock = nanoClock;
    }

    @Override
    public Endpoint pick(PickContext context) {
        int n = endpoints.length;
        if (n == 1) {
            return endpoints[0];
        }
        ThreadLocalRandom random = ThreadLocalRandom.current();
        int a = random.nextInt(n);
        int b = LeastRequestBalancer.otherThan(a, n, random);
        long now = nanoClock.getAsLong();
        return cost(b, now) < cost(a, now) ? endpoints[b] : endpoints[a];
    }

    private double cost(int i, long now) {
        Endpoint e = endpoints[i];
        return e.latency().estimate(now) * (e.activeRequests() + 1) / weights[i];
    }
}
