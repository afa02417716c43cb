package dev.sidecar.l7;

import dev.sidecar.config.RouteConfig;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * A local rate limit shared by every event loop: Envoy's token bucket. The state is one
 * AtomicLong holding the tokens left and the fill period they were counted at, so a take is one
 * CAS and refilling needs no timer: the periods that passed since the last take are added on the
 * next one.
 */
final class TokenBucket {
    private static final int TOKEN_BITS = 24; // up to 16M tokens; periods in the upper 40 bits
    private static final long TOKEN_MASK = (1L << TOKEN_BITS) - 1;

    private final long maxTokens;
    private final long tokensPerFill;
    private final long fillNanos;
    private final LongSupplier nanoClock;
    private final long origin;
    private final AtomicLong state;

    TokenBucket(RouteConfig.RateLimit config, LongSupplier nanoClock) {
        this.maxTokens = Math.min(config.maxTokens(), TOKEN_MASK);
        this.tokensPerFill = config.tokensPerFill();
        this.fillNanos = Math.max(1, config.fillInterval().toNanos());
        this.nanoClock = nanoClock;
        this.origin = nanoClock.getAsLong();
        this.state = new AtomicLong(maxTokens); // period 0, full
    }

    /** Takes one token; false when the bucket is empty (the request gets 429). */
    boolean tryTake() {
        long period = (nanoClock.getAsLong() - origin) / fillNanos;
        while (true) {
            long s = state.get();
            long lastPeriod = s >>> TOKEN_BITS;
            long tokens = s & TOKEN_MASK;
            if (period > lastPeriod) {
                long added = (period - lastPeriod) * tokensPerFill;
                tokens = added >= maxTokens ? maxTokens : Math.min(maxTokens, tokens + added);
            } else {
                period = lastPeriod; // a slower thread read the clock earlier: never move backwards
            }
            if (tokens == 0) {
                if (state.compareAndSet(s, period << TOKEN_BITS)) {
                    return false;
                }
                continue;
            }
            if (state.compareAndSet(s, (period << TOKEN_BITS) | (tokens - 1))) {
                return true;
            }
        }
    }
}
