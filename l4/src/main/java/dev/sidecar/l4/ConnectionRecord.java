package dev.sidecar.l4;

import dev.sidecar.upstream.Endpoint;
import java.net.SocketAddress;

/**
 * What one proxied connection did, for the access log: kept up to date on the connection's
 * event loop (plain fields, no synchronization) and handed to the {@link ConnectionLog} once, when
 * the downstream side has closed; after that nothing writes to it.
 */
public final class ConnectionRecord {
    /** Why a connection ended unusually, in the spirit of Envoy's response flags. */
    public enum Flag {
        /** UF: no upstream connect succeeded. */
        UF,
        /** UO: the cluster's circuit breaker (max_connections) refused it. */
        UO,
        /** UH: the cluster had no endpoint to pick. */
        UH,
        /** NC: the listener's cluster does not exist. */
        NC,
        /** CL: the listener was at max_connections. */
        CL,
        /** SI: closed for idleness. */
        SI,
        /** UR: the upstream reset the connection. */
        UR,
        /** DR: the client reset the connection. */
        DR
    }

    final String listener;
    final long startMillis;
    final long startNanos;
    final SocketAddress downstream;
    long endNanos;
    long bytesIn;
    long bytesOut;
    Endpoint endpoint;
    int attempts;
    private int flags;

    ConnectionRecord(String listener, long startMillis, long startNanos, SocketAddress downstream) {
        this.listener = listener;
        this.startMillis = startMillis;
        this.startNanos = startNanos;
        this.downstream = downstream;
    }

    void flag(Flag f) {
        flags |= 1 << f.ordinal();
    }

    public boolean has(Flag f) {
        return (flags & (1 << f.ordinal())) != 0;
    }

    public String listener() {
        return listener;
    }

    /** Wall-clock start, milliseconds since the epoch (for the log only; durations use the monotonic clock). */
    public long startMillis() {
        return startMillis;
    }

    public long durationNanos() {
        return endNanos - startNanos;
    }

    public SocketAddress downstream() {
        return downstream;
    }

    /** The endpoint of the last connect attempt, or null if none was made. */
    public Endpoint endpoint() {
        return endpoint;
    }

    public int attempts() {
        return attempts;
    }

    public long bytesIn() {
        return bytesIn;
    }

    public long bytesOut() {
        return bytesOut;
    }

    /** The flags as Envoy prints them: comma-separated codes, or "-" when there are none. */
    public String flags() {
        if (flags == 0) {
            return "-";
        }
        StringBuilder b = new StringBuilder();
        for (Flag f : Flag.values()) {
            if (has(f)) {
                if (b.length() > 0) {
                    b.append(',');
                }
                b.append(f.name());
            }
        }
        return b.toString();
    }
}
