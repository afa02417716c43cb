package dev.sidecar.upstream;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Smooth weighted round robin, nginx's algorithm: on each pick every endpoint gains its weight,
 * the one with the most is chosen and pays back the total. Weights {5, 1, 1} give
 * a a b a c a a rather than a a a a a b c, so no endpoint gets a burst.
 *
 * <p>The sequence is periodic with period sum(weights)/gcd, so it is computed once at build
 * time and the pick is one atomic increment and an array read. Only when the period would be
 * too long to keep (very many endpoints with uneven weights) does it run the algorithm live,
 * under a lock.
 */
final class RoundRobinBalancer {
    /** 64K entries (256 KiB) bounds the schedule kept per cluster snapshot. */
    static final int MAX_SCHEDULE = 1 << 16;

    private RoundRobinBalancer() {}

    static LoadBalancer create(Endpoint[] endpoints, int[] weights) {
        if (allEqual(weights)) {
            return new Uniform(endpoints);
        }
        int g = 0;
        long total = 0;
        for (int w : weights) {
            g = gcd(g, w);
            total += w;
        }
        int[] reduced = new int[weights.length];
        for (int i = 0; i < weights.length; i++) {
            reduced[i] = weights[i] / g;
        }
        long period = total / g;
        if (period <= MAX_SCHEDULE) {
            return new Scheduled(endpoints, schedule(reduced, (int) period));
        }
        return new Live(endpoints, reduced);
    }

    private static boolean allEqual(int[] weights) {
        for (int w : weights) {
            if (w != weights[0]) {
                return false;
            }
        }
        return true;
    }

    static int gcd(int a, int b) {
        while (b != 0) {
            int t = a % b;
            a = b;
            b = t;
        }
        return a;
    }

    /** One full period of smooth weighted round robin, as endpoint indexes. */
    static int[] schedule(int[] weights, int period) {
        SmoothState state = new SmoothState(weights);
        int[] order = new int[period];
        for (int k = 0; k < period; k++) {
            order[k] = state.next();
        }
        return order;
    }

    /** The algorithm itself; not thread-safe. */
    static final class SmoothState {
        private final int[] weights;
        private final long[] current;
        private final long total;

        SmoothState(int[] weights) {
            this.weights = weights;
            this.current = new long[weights.length];
            long t = 0;
            for (int w : weights) {
                t += w;
            }
            this.total = t;
        }

        int next() {
            int best = 0;
            for (int i = 0; i < weights.length; i++) {
                current[i] += weights[i];
                if (current[i] > current[best]) {
                    best = i;
                }
            }
            current[best] -= total;
            return best;
        }
    }

    private static final class Uniform implements LoadBalancer {
        private final Endpoint[] endpoints;
        private final AtomicInteger next = new AtomicInteger();

        Uniform(Endpoint[] endpoints) {
            this.endpoints = endpoints;
        }

        @Override
        public Endpoint pick(PickContext context) {
            return endpoints[Math.floorMod(next.getAndIncrement(), endpoints.length)];
        }
    }

    private static final class Scheduled implements LoadBalancer {
        private final Endpoint[] endpoints;
        private final int[] order;
        private final AtomicInteger next = new AtomicInteger();

        Scheduled(Endpoint[] endpoints, int[] order) {
            this.endpoints = endpoints;
            this.order = order;
        }

        @Override
        public Endpoint pick(PickContext context) {
            return endpoints[order[Math.floorMod(next.getAndIncrement(), order.length)]];
        }
    }

    private static final class Live implements LoadBalancer {
        private final Endpoint[] endpoints;
        private final SmoothState state;

        Live(Endpoint[] endpoints, int[] weights) {
            this.endpoints = endpoints;
            this.state = new SmoothState(weights);
        }

        @Override
        public Endpoint pick(PickContext context) {
            int i;
            synchronized (state) {
                i = state.next();
            }
            return endpoints[i];
        }
    }
}
