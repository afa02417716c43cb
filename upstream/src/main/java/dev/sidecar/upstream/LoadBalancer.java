package dev.sidecar.upstream;

import dev.sidecar.config.LbPolicy;
import dev.sidecar.config.LbSettings;
import java.util.List;
import java.util.function.LongSupplier;

/**
 * Picks an endpoint. A balancer is built once per cluster snapshot from that snapshot's
 * endpoints and weights (off the event loops), and is then shared by every event loop:
 * {@link #pick} is thread-safe, takes no lock on the common paths and allocates nothing.
 */
public interface LoadBalancer {
    /** The chosen endpoint, or null when there is none to choose. */
    Endpoint pick(PickContext context);

    /** A balancer for {@code policy} with default settings and the system clock. */
    static LoadBalancer of(LbPolicy policy, List<Endpoint> endpoints, int[] weights) {
        return of(policy, LbSettings.DEFAULT, endpoints, weights, System::nanoTime);
    }

    /**
     * A balancer for {@code policy} over {@code endpoints}; {@code weights[i]} is the weight of
     * {@code endpoints.get(i)}. {@code nanoClock} is the monotonic clock latency-aware policies read.
     */
    static LoadBalancer of(LbPolicy policy, LbSettings settings, List<Endpoint> endpoints, int[] weights, LongSupplier nanoClock) {
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
            case LEAST_REQUEST -> new LeastRequestBalancer(array, w, settings.choiceCount());
            case PEAK_EWMA -> new PeakEwmaBalancer(array, w, nanoClock);
            case MAGLEV -> MaglevBalancer.create(array, w, settings.maglevTableSize());
            case RING_HASH -> RingHashBalancer.create(array, w, settings.minimumRingSize(), settings.maximumRingSize(),
                    settings.hashBalanceFactor());
        };
    }
}
