package dev.sidecar.upstream;

import java.util.Arrays;
import java.util.concurrent.ThreadLocalRandom;

/** Uniform or weighted random. Weighted picks binary-search a prefix-sum table built once. */
final class RandomBalancer {
    private RandomBalancer() {}

    static LoadBalancer create(Endpoint[] endpoints, int[] weights) {
        boolean uniform = Arrays.stream(weights).allMatch(w -> w == weights[0]);
        if (uniform) {
            return context -> endpoints[ThreadLocalRandom.current().nextInt(endpoints.length)];
        }
        long[] upTo = new long[weights.length];
        long sum = 0;
        for (int i = 0; i < weights.length; i++) {
            sum += weights[i];
            upTo[i] = sum;
        }
        long total = sum;
        return context -> {
            long r = ThreadLocalRandom.current().nextLong(total);
            int i = Arrays.binarySearch(upTo, r);
            // r lands in the slot of the first prefix sum strictly greater than it
            return endpoints[i >= 0 ? i + 1 : -i - 1];
        };
    }
}
