package dev.sidecar.upstream;

import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;

/**
 * The control side's serial executor: one daemon thread on which health results, ejections and
 * snapshot rebuilds run, so they never take an event loop's time and never race each other
 * (gRPC-Java's SynchronizationContext idea, with scheduling).
 */
public final class ControlExecutor {
    private static final class Holder {
        static final ScheduledExecutorService SHARED = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "sidecar-control");
            t.setDaemon(true);
            return t;
        });
    }

    private ControlExecutor() {}

    /** The process-wide control executor. */
    public static ScheduledExecutorService shared() {
        return Holder.SHARED;
    }
}
