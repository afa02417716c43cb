package dev.sidecar.tls;

import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Re-reads every watched TLS section's files on a fixed interval and reloads those whose content
 * changed.
 *
 * <p>Polling content rather than a WatchService: certificate files are a few KiB, so reading
 * and hashing them every few seconds costs nothing, and it sees every way a file can change —
 * rewritten in place, renamed over, or replaced by Kubernetes' atomic swap of the {@code ..data}
 * symlink in a secret volume (where a WatchService on the file's own directory sees only a
 * symlink it already knew, and inotify on Linux does not follow links). A change is picked up
 * within one interval. {@link #checkNow()} runs a round at once (tests, an admin action).
 */
public final class CertificateWatcher implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(CertificateWatcher.class);

    public static final Duration DEFAULT_INTERVAL = Duration.ofSeconds(5);

    private final Set<ReloadableTls> watched = ConcurrentHashMap.newKeySet();
    private final ScheduledExecutorService executor;

    private CertificateWatcher(Duration interval) {
        if (interval == null) {
            executor = null;
            return;
        }
        executor = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "sidecar-tls-watch");
            t.setDaemon(true);
            return t;
        });
        long nanos = interval.toNanos();
        executor.scheduleWithFixedDelay(this::checkQuietly, nanos, nanos, TimeUnit.NANOSECONDS);
    }

    /** A watcher that checks every {@code interval} on a thread of its own. */
    public static CertificateWatcher every(Duration interval) {
        return new CertificateWatcher(interval);
    }

    /** A watcher that checks only when {@link #checkNow()} is called. */
    public static CertificateWatcher manual() {
        return new CertificateWatcher(null);
    }

    public void watch(ReloadableTls tls) {
        watched.add(tls);
    }

    public void unwatch(ReloadableTls tls) {
        watched.remove(tls);
    }

    /** Checks every watched section now; returns how many published new material. */
    public synchronized int checkNow() {
        int reloaded = 0;
        for (ReloadableTls t : watched) {
            if (t.reloadIfChanged()) {
                reloaded++;
            }
        }
        return reloaded;
    }

    private void checkQuietly() {
        try {
            checkNow();
        } catch (RuntimeException e) {
            // never let one bad round end the schedule
            log.warn("TLS file check failed: " + e, e);
        }
    }

    @Override
    public void close() {
        if (executor != null) {
            executor.shutdownNow();
        }
    }
}
