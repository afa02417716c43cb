package dev.sidecar.l4;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.embedded.EmbeddedChannel;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The idle timer on a driven clock: the event loop's time and the timer's clock move together. */
class IdleTimerTest {
    private final EmbeddedChannel downstream = new EmbeddedChannel();
    private final EmbeddedChannel upstream = new EmbeddedChannel();
    private final AtomicLong now = new AtomicLong(1_000_000_000L);

    private void advanceMillis(long ms) {
        now.addAndGet(TimeUnit.MILLISECONDS.toNanos(ms));
        downstream.advanceTimeBy(ms, TimeUnit.MILLISECONDS);
        downstream.runScheduledPendingTasks();
    }

    @Test
    void closes_both_sides_after_the_timeout_with_no_reads() {
        downstream.freezeTime();
        IdleTimer timer = new IdleTimer(downstream, TimeUnit.SECONDS.toNanos(1), now::get);
        timer.upstream(upstream);
        timer.start();

        advanceMillis(999);
        assertTrue(downstream.isActive());
        advanceMillis(1);
        assertFalse(downstream.isActive());
        assertFalse(upstream.isActive());
    }

    @Test
    void reads_push_the_deadline_back() {
        downstream.freezeTime();
        IdleTimer timer = new IdleTimer(downstream, TimeUnit.SECONDS.toNanos(1), now::get);
        timer.upstream(upstream);
        timer.start();

        advanceMillis(500);
        timer.touch();              // read at 0.5 s: idle until 1.5 s
        advanceMillis(500);         // 1.0 s: the first check finds 0.5 s idle and re-arms
        assertTrue(downstream.isActive());
        advanceMillis(400);         // 1.4 s
        timer.touch();              // read at 1.4 s: idle until 2.4 s
        advanceMillis(100);         // 1.5 s: check, 0.1 s idle
        advanceMillis(800);         // 2.3 s
        assertTrue(downstream.isActive());
        advanceMillis(100);         // 2.4 s: a full second without reads
        assertFalse(downstream.isActive());
        assertFalse(upstream.isActive());
    }

    @Test
    void a_stopped_timer_never_closes() {
        downstream.freezeTime();
        IdleTimer timer = new IdleTimer(downstream, TimeUnit.SECONDS.toNanos(1), now::get);
        timer.start();
        timer.stop();
        advanceMillis(5_000);
        assertTrue(downstream.isActive());
    }
}
