package dev.sidecar.l7;

import dev.sidecar.config.RouteConfig.RetryOn;
import dev.sidecar.config.RouteConfig.RetryPolicy;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/** A route's retry policy, compiled to a bit set and arrays the data path tests without lookups. */
final class RetryRules {
    static final RetryRules NONE = new RetryRules(0, 0, 0, 0, 0, new int[0]);

    private final int on; // bits by RetryOn.ordinal()
    final int numRetries;
    final long perTryTimeoutNanos;
    private final long baseNanos;
    private final long maxNanos;
    private final int[] statusCodes;

    private RetryRules(int on, int numRetries, long perTryTimeoutNanos, long baseNanos, long maxNanos, int[] statusCodes) {
        this.on = on;
        this.numRetries = numRetries;
        this.perTryTimeoutNanos = perTryTimeoutNanos;
        this.baseNanos = baseNanos;
        this.maxNanos = maxNanos;
        this.statusCodes = statusCodes;
    }

    static RetryRules of(RetryPolicy p) {
        int on = 0;
        for (RetryOn r : p.retryOn()) {
            on |= 1 << r.ordinal();
        }
        List<Integer> codes = p.retriableStatusCodes();
        return new RetryRules(on, p.numRetries(), p.perTryTimeout().toNanos(), p.baseInterval().toNanos(),
                Math.max(p.maxInterval().toNanos(), p.baseInterval().toNanos()), codes.stream().mapToInt(Integer::intValue).toArray());
    }

    private boolean has(RetryOn r) {
        return (on & (1 << r.ordinal())) != 0;
    }

    /** A connect that failed or timed out. */
    boolean onConnectFailure() {
        return has(RetryOn.CONNECT_FAILURE) || has(RetryOn.FIVE_XX) || has(RetryOn.GATEWAY_ERROR);
    }

    /** The upstream reset or closed before the response headers; refused: an h2 REFUSED_STREAM. */
    boolean onReset(boolean refused) {
        return has(RetryOn.RESET) || has(RetryOn.FIVE_XX) || has(RetryOn.GATEWAY_ERROR) || (refused && has(RetryOn.REFUSED_STREAM));
    }

    /** A per-try timeout before the response headers (Envoy counts it as 5xx/gateway-error too). */
    boolean onPerTryTimeout() {
        return has(RetryOn.FIVE_XX) || has(RetryOn.GATEWAY_ERROR) || has(RetryOn.RESET);
    }

    boolean onStatus(int status) {
        if (status >= 500 && has(RetryOn.FIVE_XX)) {
            return true;
        }
        if ((status == 502 || status == 503 || status == 504) && has(RetryOn.GATEWAY_ERROR)) {
            return true;
        }
        if (has(RetryOn.RETRIABLE_STATUS_CODES)) {
            for (int c : statusCodes) {
                if (c == status) {
                    return true;
                }
            }
        }
        return false;
    }

    /** A gRPC status in response headers (a trailers-only response). */
    boolean onGrpcStatus(int code) {
        return switch (code) {
            case 1 -> has(RetryOn.CANCELLED);
            case 4 -> has(RetryOn.DEADLINE_EXCEEDED);
            case 8 -> has(RetryOn.RESOURCE_EXHAUSTED);
            case 14 -> has(RetryOn.UNAVAILABLE);
            default -> false;
        };
    }

    /**
     * The pause before retry number {@code n} (1-based): full jitter over an exponentially growing
     * bound, {@code base * 2^(n-1)} capped at the maximum, so retries from many requests spread out
     * instead of arriving together.
     */
    long backoffNanos(int n) {
        long bound = baseNanos << Math.min(n - 1, 20);
        if (bound <= 0 || bound > maxNanos) {
            bound = maxNanos;
        }
        return bound <= 0 ? 0 : ThreadLocalRandom.current().nextLong(bound + 1);
    }
}
