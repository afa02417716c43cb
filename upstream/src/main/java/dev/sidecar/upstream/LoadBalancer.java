package dev.sidecar.upstream;

import dev.sidecar.config.LbPolicy;
import java.util.List;

/**
 * Picks an endpoint. A balancer is built once per cluster snapshot from that snapshot's
 * endpoints and weights, and is then shared by every event loop: {@link #pick} is thread-safe,
 * takes no lock on the common paths and allocates nothing.
 */
public interface LoadBalancer {
    /** The chosen endpoint, or null when there is none to choose. */
    Endpoint pick(PickContext context);

    /**
     * A balancer for {@code policy} over {@code endpoints}; {@code weights[i]} is the weight of
     * {@code endpoints.get(i)}.
     */
    static LoadBalancer of(LbPolicy policy, List<Endpoint> endpoints, int[] weights) {
        if (endpoints.size() != weights.length) {
            throw new IllegalArgumentException(endpoints.size() + " endpoints but " + weights.length + " weights");
        }
        if (endpoints.isEmpty()) {
            return context -> null;
        }
        Endpoint[] array = endpoints.toArray(new Endpoint[0]);
        int[] w = weights.clone();
        return switch (policy) {
            case ROUND_ROBIN -> RoundRobinBalancer.create(array, w);
            case LEAST_CONNECTION -> new LeastConnectionBalancer(array, w);
            case RANDOM -> RandomBalancer.create(array, w);
        };
    }
}
