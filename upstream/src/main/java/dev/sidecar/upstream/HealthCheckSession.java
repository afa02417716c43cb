package dev.sidecar.upstream;

import dev.sidecar.config.HealthCheckConfig;

/**
 * One endpoint's standing under one health check: counts passes and failures in a row and says
 * when the verdict flips. Pure state, no I/O and no time, so the thresholds are tested directly.
 *
 * <p>Envoy's rules: an endpoint that has never passed becomes healthy on its first pass (new
 * endpoints need not wait {@code healthy_threshold} probes); after that it takes
 * {@code healthy_threshold} passes in a row to return and {@code unhealthy_threshold} failures in
 * a row to leave.
 */
final class HealthCheckSession {
    private final HealthCheckConfig config;
    private boolean healthy;
    private boolean everPassed;
    private int passes;
    private int failures;

    HealthCheckSession(HealthCheckConfig config, boolean initiallyHealthy) {
        this.config = config;
        this.healthy = initiallyHealthy;
    }

    /** Feeds one probe result; returns true if the verdict changed. */
    boolean record(boolean passed) {
        if (passed) {
            passes++;
            failures = 0;
            boolean first = !everPassed;
            everPassed = true;
            if (!healthy && (first || passes >= config.healthyThreshold())) {
                healthy = true;
                return true;
            }
        } else {
            failures++;
            passes = 0;
            if (healthy && failures >= config.unhealthyThreshold()) {
                healthy = false;
                return true;
            }
        }
        return false;
    }

    boolean healthy() {
        return healthy;
    }

    HealthCheckConfig config() {
        return config;
    }
}
