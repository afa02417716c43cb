package dev.sidecar.l4;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * A TCP listener's counters. Written by every event loop, read by the metrics scrape; the
 * scrape reads these fields through function-backed meters, so the data path never touches a
 * meter registry.
 */
public final class TcpListenerStats {
    final LongAdder accepted = new LongAdder();
    final AtomicInteger active = new AtomicInteger();
    final LongAdder refused = new LongAdder();
    final LongAdder bytesIn = new LongAdder();
    final LongAdder bytesOut = new LongAdder();
    final LongAdder upstreamFailures = new LongAdder();
    final LongAdder noCluster = new LongAdder();
    final LongAdder proxyProtocolRejected = new LongAdder();
    final LongAdder noOriginalDestination = new LongAdder();

    /** Connections accepted, including those then refused for the connection limit. */
    public long accepted() {
        return accepted.sum();
    }

    /** Connections open now (accepted and not refused, not yet closed). */
    public int active() {
        return active.get();
    }

    /** Connections closed at once because the listener was at max_connections. */
    public long refused() {
        return refused.sum();
    }

    /** Bytes read from downstream clients. */
    public long bytesIn() {
        return bytesIn.sum();
    }

    /** Bytes read from upstreams and sent on to downstream clients. */
    public long bytesOut() {
        return bytesOut.sum();
    }

    /** Downstream connections closed because no upstream could be connected. */
    public long upstreamFailures() {
        return upstreamFailures.sum();
    }

    /**
     * Downstream connections closed because the listener's cluster does not exist (yet): an xDS
     * listener may name a cluster that the control plane has not sent, or has removed.
     */
    public long noCluster() {
        return noCluster.sum();
    }

    /** Connections closed because they did not open with a valid PROXY header in time (proxy_protocol: true). */
    public long proxyProtocolRejected() {
        return proxyProtocolRejected.sum();
    }

    /**
     * Connections to an original_dst cluster closed because their original destination could not
     * be read (not redirected to the listener) or was the listener itself, which would loop.
     */
    public long noOriginalDestination() {
        return noOriginalDestination.sum();
    }
}
