package dev.sidecar.proxy;

import static java.util.Objects.requireNonNull;

import dev.sidecar.config.OverloadConfig;
import dev.sidecar.l7.OverloadState;
import io.netty.util.internal.PlatformDependent;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryUsage;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sheds load before memory runs out: every {@link #INTERVAL_MILLIS} ms, on the control thread,
 * compares used direct memory and used heap with their limits, and turns {@link OverloadState}
 * on at {@code server.overload}'s fractions and off again once both are below
 * {@link #RESUME_SHARE} of them (at the default 0.9: below 0.81). The band keeps a level that hovers at the threshold from flipping the state on
 * every sample. The data plane only reads the flag; a change is logged once, not per shed
 * request.
 *
 * <p>Direct memory is what Netty counts for the buffers it allocates without a JDK cleaner plus
 * what the JDK's "direct" buffer pool holds (where Netty's buffers are counted otherwise, and
 * where the JDK's own socket buffers are); the limit is the one both are held to,
 * {@code -XX:MaxDirectMemorySize} or the JVM's default.
 */
final class OverloadGuard {
    private static final Logger log = LoggerFactory.getLogger(OverloadGuard.class);
    /** Sampling period: short against how fast a burst of large bodies fills 64 MB, long against the sampling cost (four reads). */
    static final long INTERVAL_MILLIS = 100;
    static final double RESUME_SHARE = 0.9;

    /** Memory in use and its limit, in bytes; a limit of 0 or less means unknown (that check is skipped). */
    record Usage(long direct, long directLimit, long heap, long heapLimit) {}

    private final OverloadConfig config;
    private final Supplier<Usage> sampler;
    private final OverloadState state;
    private final Consumer<Boolean> onChange;
    private volatile Usage last = new Usage(0, 0, 0, 0);

    OverloadGuard(OverloadConfig config, Supplier<Usage> sampler, OverloadState state, Consumer<Boolean> onChange) {
        this.config = requireNonNull(config, "config");
        this.sampler = requireNonNull(sampler, "sampler");
        this.state = requireNonNull(state, "state");
        this.onChange = requireNonNull(onChange, "onChange");
    }

    /** {@link #evaluate()} for a periodic task: an exception would cancel it, so it is logged instead. */
    void evaluateLogged() {
        try {
            evaluate();
        } catch (RuntimeException | Error e) {
            log.error("overload: sampling memory failed", e);
        }
    }

    /** Samples once and updates the state; runs on the control thread. */
    void evaluate() {
        Usage u = sampler.get();
        last = u;
        boolean on = state.shedding();
        double share = on ? RESUME_SHARE : 1;
        boolean direct = over(u.direct(), u.directLimit(), config.directMemoryShedFraction() * share);
        boolean heap = over(u.heap(), u.heapLimit(), config.heapShedFraction() * share);
        boolean next = direct || heap;
        if (next == on) {
            return;
        }
        state.shedding(next);
        if (next) {
            log.warn("overload: shedding new requests (503 / REFUSED_STREAM) and pausing TCP accepts: "
                    + (direct ? "direct memory " + describe(u.direct(), u.directLimit()) + " >= " + percent(config.directMemoryShedFraction())
                    : "heap " + describe(u.heap(), u.heapLimit()) + " >= " + percent(config.heapShedFraction())));
        } else {
            log.info("overload: over, serving again: direct memory " + describe(u.direct(), u.directLimit()) + ", heap "
                    + describe(u.heap(), u.heapLimit()) + "; " + state.shedRequests() + " requests shed so far");
        }
        onChange.accept(next);
    }

    /** At or above {@code fraction} of {@code limit}; never with the check off (0) or no limit known. */
    private static boolean over(long used, long limit, double fraction) {
        return fraction > 0 && limit > 0 && used >= fraction * limit;
    }

    Usage last() {
        return last;
    }

    private static String describe(long used, long limit) {
        return limit > 0 ? used / (1024 * 1024) + " MiB of " + limit / (1024 * 1024) + " MiB" : used / (1024 * 1024) + " MiB";
    }

    private static String percent(double f) {
        return Math.round(f * 100) + " %";
    }

    /** This JVM's memory, as {@link Usage}. */
    static Usage sampleJvm() {
        long netty = Math.max(0, PlatformDependent.usedDirectMemory()); // -1 when Netty leaves the counting to the JDK
        long nio = DIRECT_POOL == null ? 0 : Math.max(0, DIRECT_POOL.getMemoryUsed());
        MemoryUsage heap = MEMORY.getHeapMemoryUsage();
        return new Usage(netty + nio, PlatformDependent.maxDirectMemory(), heap.getUsed(), heap.getMax());
    }

    /** Looked up once: the lookup walks the platform beans through a stream, ten times a second otherwise. */
    private static final java.lang.management.MemoryMXBean MEMORY = ManagementFactory.getMemoryMXBean();

    private static final BufferPoolMXBean DIRECT_POOL = ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class).stream()
            .filter(b -> b.getName().equals("direct"))
            .findFirst()
            .orElse(null);
}
