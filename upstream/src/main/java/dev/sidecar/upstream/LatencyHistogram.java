package dev.sidecar.upstream;

import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Request latencies in power-of-two buckets from 128 µs to 64 s (and one above), for the
 * dashboard's p99: recording is one array increment, no allocation; readers take cumulative
 * counts and compute a percentile over the difference between two readings.
 */
public final class LatencyHistogram {
    /** Upper bounds of the buckets in microseconds: 128, 256, ... 67,108,864 (~67 s), then infinity. */
    public static final long[] UPPER_MICROS;

    static {
        UPPER_MICROS = new long[20];
        for (int i = 0; i < UPPER_MICROS.length; i++) {
            UPPER_MICROS[i] = 128L << i;
        }
    }

    private final AtomicLongArray counts = new AtomicLongArray(UPPER_MICROS.length + 1);

    public void record(long nanos) {
        long micros = Math.max(0, nanos / 1000);
        // bucket i holds (64 << i, 128 << i] µs; the first also everything below
        int i = micros <= 128 ? 0 : 64 - Long.numberOfLeadingZeros((micros - 1) >> 7);
        counts.incrementAndGet(Math.min(i, UPPER_MICROS.length));
    }

    /** The count in each bucket so far (the last is above the largest bound). */
    public long[] counts() {
        long[] c = new long[counts.length()];
        for (int i = 0; i < c.length; i++) {
            c[i] = counts.get(i);
        }
        return c;
    }
}
