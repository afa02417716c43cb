package dev.sidecar.config;

import static java.util.Objects.requireNonNull;

import java.time.Duration;

/**
 * Passive outlier detection (Envoy's {@code outlier_detection}): an endpoint that fails
 * {@code consecutiveGatewayFailure} times in a row (on L4: connect failures and resets) is ejected
 * for {@code baseEjectionTime × times ejected}, at most {@code maxEjectionTime}, and never more than
 * {@code maxEjectionPercent} of the cluster at once.
 */
public record OutlierDetectionConfig(int consecutiveGatewayFailure, Duration baseEjectionTime,
                                     Duration maxEjectionTime, int maxEjectionPercent) {
    public static final int DEFAULT_CONSECUTIVE_GATEWAY_FAILURE = 5;
    public static final Duration DEFAULT_BASE_EJECTION_TIME = Duration.ofSeconds(30);
    public static final Duration DEFAULT_MAX_EJECTION_TIME = Duration.ofSeconds(300);
    public static final int DEFAULT_MAX_EJECTION_PERCENT = 10;

    public OutlierDetectionConfig {
        requireNonNull(baseEjectionTime, "baseEjectionTime");
        requireNonNull(maxEjectionTime, "maxEjectionTime");
    }
}
