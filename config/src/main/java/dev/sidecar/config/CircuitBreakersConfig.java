package dev.sidecar.config;

/**
 * Per-cluster limits (Envoy's {@code circuit_breakers}, default thresholds). Work over a limit is
 * refused at once rather than queued. L4 enforces {@code maxConnections}; the rest are L7's.
 */
public record CircuitBreakersConfig(int maxConnections, int maxPendingRequests, int maxRequests, int maxRetries) {
    /** Envoy's defaults. */
    public static final CircuitBreakersConfig DEFAULT = new CircuitBreakersConfig(1024, 1024, 1024, 3);
}
