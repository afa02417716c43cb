package dev.sidecar.upstream;

import java.util.concurrent.ThreadLocalRandom;

/**
 * least_request: the power of {@code choices} random choices (Mitzenmacher, "The Power of Two
 * Choices in Randomized Load Balancing", 2001): sample that many <em>distinct</em> endpoints
 * uniformly and take the one with the lowest {@code (activeRequests + 1) / weight}. Two samples
 * already bring the maximum load from O(log n / log log n) to O(log log n) at O(1) cost per pick,
 * which is why Envoy and gRPC default to it; a full scan ({@link LeastConnectionBalancer}) is
 * exact but O(n). When {@code choices} reaches the endpoint count, every endpoint is a candidate.
 */
final class LeastRequestBalancer implements LoadBalancer {
    private final Endpoint[] endpoints;
    private final int[] weights;
    private final int choices;

    LeastRequestBalancer(Endpoint[] endpoints, int[] weights, int choices) {
        this.endpoints = endpoints;
        this.weights = weights;
        this.choices = Math.min(choices, endpoints.length);
    }

    @Override
    public Endpoint pick(PickContext context) {
        int n = endpoints.length;
        if (n == 1) {
            return endpoints[0];
        }
        ThreadLocalRandom random = ThreadLocalRandom.current();
        if (choices == 2) {
            int a = random.nextInt(n);
            int b = otherThan(a, n, random);
            return lighter(a, b) == a ? endpoints[a] : endpoints[b];
        }
        // k distinct samples by a partial walk over a random rotation with a co-prime stride:
        // distinct by construction, no allocation, uniform enough for balancing.
        int start = random.nextInt(n);
        int stride = coprimeStride(n, random);
        int best = start;
        for (int k = 1, i = start; k < choices; k++) {
            i = (int) ((i + (long) stride) % n);
            best = lighter(best, i);
        }
        return endpoints[best];
    }

    /** The index of the less loaded of a and b, by (active + 1) / weight; ties keep a. */
    private int lighter(int a, int b) {
        long la = (endpoints[a].activeRequests() + 1L) * weights[b];
        long lb = (endpoints[b].activeRequests() + 1L) * weights[a];
        return lb < la ? b : a;
    }

    /** A uniformly random index in [0, n) other than {@code a}, without a loop: drawn from the n-1 others. */
    static int otherThan(int a, int n, ThreadLocalRandom random) {
        int b = random.nextInt(n - 1);
        return b >= a ? b + 1 : b;
    }

    private static int coprimeStride(int n, ThreadLocalRandom random) {
        for (int tries = 0; tries < 8; tries++) {
            int s = 1 + random.nextInt(n - 1);
            if (RoundRobinBalancer.gcd(s, n) == 1) {
                return s;
            }
        }
        return 1;
    }
}
