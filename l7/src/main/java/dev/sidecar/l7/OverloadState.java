package dev.sidecar.l7;

import java.util.concurrent.atomic.LongAdder;

/**
 * Whether the process is shedding new requests, as the control side last decided, and how many
 * it has shed. The data plane reads one volatile boolean per request and never measures
 * anything itself: the proxy module's overload guard samples memory on its own schedule and
 * flips the flag (Envoy's overload manager likewise evaluates its resource monitors on a timer
 * and publishes the resulting actions to the workers).
 */
public final class OverloadState {
    private volatile boolean shedding;
    private final LongAdder shed = new LongAdder();

    public boolean shedding() {
        return shedding;
    }

    public void shedding(boolean on) {
        shedding = on;
    }

    /** Requests answered 503 or refused with REFUSED_STREAM because of the overload. */
    public long shedRequests() {
        return shed.sum();
    }

    void requestShed() {
        shed.increment();
    }
}
