package dev.sidecar.testkit;

import java.time.Duration;
import java.util.function.BooleanSupplier;

/** Waiting on a condition, with a bound: the only way tests wait. */
public final class Await {
    private Await() {}

    /** Returns once {@code condition} holds; fails with {@code what} after {@code limit}. */
    public static void until(String what, Duration limit, BooleanSupplier condition) {
        long deadline = System.nanoTime() + limit.toNanos();
        long pauseNanos = 100_000;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("timed out after " + limit.toMillis() + " ms waiting for " + what);
            }
            java.util.concurrent.locks.LockSupport.parkNanos(pauseNanos);
            pauseNanos = Math.min(pauseNanos * 2, 20_000_000);
        }
    }

    public static void until(String what, BooleanSupplier condition) {
        until(what, Duration.ofSeconds(10), condition);
    }
}
