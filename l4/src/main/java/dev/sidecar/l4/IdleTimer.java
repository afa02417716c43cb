package dev.sidecar.l4;

import io.netty.channel.Channel;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * Closes a proxied connection (both sides) after {@code timeout} with no bytes read on either
 * side. Every byte written to one side was first read from the other, so reads alone tell
 * "no bytes either way", and the relays only have to store a timestamp per read batch.
 *
 * <p>Netty's IdleStateHandler would do it too, but to watch writes it attaches a listener to
 * every write, which costs a promise per write on the data path; this costs nothing per byte.
 * One timer per connection, lazily re-armed: it fires at most once per timeout period.
 */
final class IdleTimer implements Runnable {
    private final Channel downstream;
    private final long timeoutNanos;
    private final LongSupplier nanoClock;
    private Channel upstream;
    private ConnectionRecord record;
    private long lastRead;
    private ScheduledFuture<?> check;

    IdleTimer(Channel downstream, long timeoutNanos, LongSupplier nanoClock) {
        this.downstream = downstream;
        this.timeoutNanos = timeoutNanos;
        this.nanoClock = nanoClock;
    }

    void start() {
        lastRead = nanoClock.getAsLong();
        check = downstream.eventLoop().schedule(this, timeoutNanos, TimeUnit.NANOSECONDS);
    }

    void upstream(Channel upstream) {
        this.upstream = upstream;
    }

    void record(ConnectionRecord record) {
        this.record = record;
    }

    /** Bytes were read on one side. Called on the connection's event loop. */
    void touch() {
        lastRead = nanoClock.getAsLong();
    }

    void stop() {
        if (check != null) {
            check.cancel(false);
            check = null;
        }
    }

    @Override
    public void run() {
        if (check == null || !downstream.isActive()) {
            return;
        }
        long idle = nanoClock.getAsLong() - lastRead;
        if (idle >= timeoutNanos) {
            check = null;
            if (record != null) {
                record.flag(ConnectionRecord.Flag.SI);
            }
            downstream.close();
            if (upstream != null) {
                upstream.close();
            }
        } else {
            check = downstream.eventLoop().schedule(this, timeoutNanos - idle, TimeUnit.NANOSECONDS);
        }
    }
}
