package dev.sidecar.config;

/**
 * The tuning of a cluster's balancer, in Envoy's terms: {@code least_request_lb_config},
 * {@code maglev_lb_config}, {@code ring_hash_lb_config} and {@code common_lb_config}.
 *
 * @param choiceCount least_request: endpoints sampled per pick (2 = power of two choices)
 * @param maglevTableSize maglev: lookup table size, a prime
 * @param minimumRingSize ring_hash: fewest ring entries
 * @param maximumRingSize ring_hash: most ring entries
 * @param hashBalanceFactor ring_hash: bounded loads, in percent of the mean load (0 = off, else ≥ 100)
 * @param healthyPanicThreshold percent of healthy endpoints below which health is ignored (0 = never)
 */
public record LbSettings(int choiceCount, int maglevTableSize, long minimumRingSize, long maximumRingSize,
                         int hashBalanceFactor, int healthyPanicThreshold) {
    public static final LbSettings DEFAULT = new LbSettings(2, 65_537, 1024, 8L * 1024 * 1024, 0, 50);

    public LbSettings withChoiceCount(int v) {
        return new LbSettings(v, maglevTableSize, minimumRingSize, maximumRingSize, hashBalanceFactor, healthyPanicThreshold);
    }

    public LbSettings withMaglevTableSize(int v) {
        return new LbSettings(choiceCount, v, minimumRingSize, maximumRingSize, hashBalanceFactor, healthyPanicThreshold);
    }

    public LbSettings withRing(long min, long max, int factor) {
        return new LbSettings(choiceCount, maglevTableSize, min, max, factor, healthyPanicThreshold);
    }

    public LbSettings withHealthyPanicThreshold(int v) {
        return new LbSettings(choiceCount, maglevTableSize, minimumRingSize, maximumRingSize, hashBalanceFactor, v);
    }
}
