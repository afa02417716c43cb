package dev.sidecar.upstream;

/**
 * An endpoint's latency estimate for peak_ewma (Finagle's and Linkerd's "peak EWMA"): a new
 * sample above the estimate replaces it at once (peaks are believed immediately); one below is
 * blended in with weight {@code 1 - exp(-elapsed / decay)}, so the estimate falls back smoothly.
 * Read without a new sample, the estimate decays toward zero with the same time constant, so an
 * endpoint that was slow and is no longer picked is eventually tried again.
 *
 * <p>Writes come from whichever event loop finished a request and are synchronized; reads are two
 * volatile loads and may see a write half-applied, which only perturbs one pick.
 */
public final class PeakEwma {
    /**
     * What a new endpoint is assumed to take before it has answered anything. Zero would make it
     * look free, so every pick would go to it until its first response came back, which floods a
     * cold endpoint exactly when it is slowest; Linkerd defaults to 30 ms for the same reason.
     */
    public static final long DEFAULT_RTT_NANOS = 30_000_000L;
    /** Linkerd's and Finagle's default: about ten seconds of memory. */
    public static final long DECAY_NANOS = 10_000_000_000L;

    private volatile double estimateNanos = DEFAULT_RTT_NANOS;
    private volatile long stampNanos;
    private volatile boolean started;
    private volatile boolean stamped;

    /** Records a request (or on L4, a connect) that took {@code rttNanos}, finishing at {@code nowNanos}. */
    public synchronized void observe(long rttNanos, long nowNanos) {
        if (!started) {
            // The first real sample replaces the assumed default outright.
            estimateNanos = rttNanos;
            stampNanos = nowNanos;
            started = true;
            return;
        }
        double current = decayed(nowNanos);
        if (rttNanos > current) {
            estimateNanos = rttNanos;
        } else {
            double w = Math.exp(-(double) Math.max(0, nowNanos - stampNanos) / DECAY_NANOS);
            estimateNanos = current * w + rttNanos * (1 - w);
        }
        stampNanos = nowNanos;
    }

    /**
     * The estimate at {@code nowNanos}, decayed since the last sample. Before any sample, the
     * default decays from the first time it was asked for: an endpoint that keeps losing to
     * known-fast ones becomes cheap enough to be tried within a few decay periods, instead of
     * starving behind its assumed 30 ms forever.
     */
    public double estimate(long nowNanos) {
        if (!started && !stamped) {
            stampNanos = nowNanos; // a racing first read stamps nearly the same time; harmless
            stamped = true;
        }
        return decayed(nowNanos);
    }

    private double decayed(long nowNanos) {
        long elapsed = Math.max(0, nowNanos - stampNanos);
        return estimateNanos * Math.exp(-(double) elapsed / DECAY_NANOS);
    }
}
