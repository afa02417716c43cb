package dev.sidecar.upstream;

import java.util.List;

/**
 * Entry points to the consistent-hash balancers for the code that wires policies to clusters
 * and for benchmarks, which live outside this package. The implementations stay package-private;
 * these only copy the inputs, so a caller that later changes its list or array cannot change a
 * built table.
 */
public final class HashBalancers {
    private HashBalancers() {}

    /**
     * A Maglev table of {@code tableSize} slots (a prime; 65537 is the usual choice) over
     * {@code endpoints}, where {@code weights[i] >= 1} is the weight of {@code endpoints.get(i)}.
     *
     * @throws IllegalArgumentException if the table size is not prime, a weight is below 1, or
     *     the list is empty or not as long as the weights
     */
    public static LoadBalancer maglev(List<Endpoint> endpoints, int[] weights, int tableSize) {
        return MaglevBalancer.create(endpoints.toArray(new Endpoint[0]), weights.clone(), tableSize);
    }

    /**
     * A hash ring of between {@code minRingSize} and {@code maxRingSize} virtual nodes (Envoy's
     * defaults are 1024 and 8388608) over {@code endpoints}, where {@code weights[i] >= 1} is the
     * weight of {@code endpoints.get(i)}. {@code hashBalanceFactor} turns on bounded loads: 0 is
     * off, 150 lets no endpoint take more than 1.5 times its weighted share of active requests.
     *
     * @throws IllegalArgumentException if the sizes are not {@code 1 <= min <= max <= 8388608},
     *     the factor is neither 0 nor at least 100, a weight is below 1, the weights sum past
     *     2^32 - 1, or the list is empty or not as long as the weights
     */
    public static LoadBalancer ringHash(List<Endpoint> endpoints, int[] weights, long minRingSize, long maxRingSize, int hashBalanceFactor) {
        return RingHashBalancer.create(
                endpoints.toArray(new Endpoint[0]), weights.clone(), minRingSize, maxRingSize, hashBalanceFactor);
    }
}
