package dev.sidecar.tls;

import io.netty.handler.ssl.ReferenceCountedOpenSslEngine;
import io.netty.handler.ssl.SslHandler;
import io.netty.internal.tcnative.SSL;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * TLS contexts built from files, rebuilt when the files change. The contexts in use are one
 * immutable value behind a volatile field: a new handshake reads it once, so it sees either all
 * of the old material or all of the new, and connections already open keep the engine they were
 * made with. New files that cannot be used (unreadable, a key that does not match its
 * certificate, an expired certificate) leave the old material in place; the failure is logged
 * and counted once per distinct content, not once per check.
 */
public abstract sealed class ReloadableTls permits ServerTls, ClientTls {
    private static final Logger log = LoggerFactory.getLogger(ReloadableTls.class);

    private final String name;
    private final Counters counters;
    private String lastFailure;
    private volatile String lastHandshakeFailure;

    /** Counts that outlive a config change of the section: a successor built by {@code next} shares them. */
    static final class Counters {
        final LongAdder handshakes = new LongAdder();
        final LongAdder resumed = new LongAdder();
        final LongAdder handshakeFailures = new LongAdder();
        final LongAdder reloads = new LongAdder();
        final LongAdder reloadFailures = new LongAdder();
    }

    ReloadableTls(String name, Counters counters) {
        this.name = name;
        this.counters = counters;
    }

    Counters counters() {
        return counters;
    }

    /** What this is for the logs: {@code listener https} or {@code cluster secure}. */
    public String name() {
        return name;
    }

    abstract List<TlsFiles.Ref> files();

    abstract byte[] currentDigest();

    /** Builds and publishes new contexts from {@code files}, or throws leaving the current ones. */
    abstract void rebuild(TlsFiles files) throws TlsMaterialException;

    /** The certificates in use now: the served ones (server) or the client certificate (client). */
    public abstract List<CertificateInfo> certificates();

    /**
     * Re-reads the files and, when their content changed, rebuilds the contexts. Returns true when
     * new material was published. Called by a {@link CertificateWatcher}, never on an event loop.
     */
    public final synchronized boolean reloadIfChanged() {
        TlsFiles files;
        try {
            files = TlsFiles.read(files());
        } catch (TlsMaterialException e) {
            failed(e);
            return false;
        }
        if (Arrays.equals(files.digest(), currentDigest())) {
            lastFailure = null;
            return false;
        }
        try {
            rebuild(files);
        } catch (TlsMaterialException e) {
            failed(e);
            return false;
        }
        lastFailure = null;
        counters.reloads.increment();
        log.info(name + ": TLS files changed; new handshakes use " + describe(certificates()));
        return true;
    }

    private void failed(TlsMaterialException e) {
        String why = e.getMessage();
        if (why.equals(lastFailure)) {
            return;
        }
        lastFailure = why;
        counters.reloadFailures.increment();
        log.warn(name + ": TLS files changed but cannot be used, keeping the loaded ones: tls." + why);
    }

    static String describe(List<CertificateInfo> certs) {
        return certs.stream().map(c -> c.subject() + " (serial " + c.serial() + ", until " + c.notAfter() + ")").toList().toString();
    }

    /**
     * Counts a handshake that completed on this side's connections, and whether it resumed a
     * session. Only the OpenSSL engine says so; a JDK-engine handshake counts as not resumed.
     * Called on the connection's event loop, while {@code ssl} is in its pipeline.
     */
    public void handshakeCompleted(SslHandler ssl) {
        counters.handshakes.increment();
        if (ssl != null && ssl.engine() instanceof ReferenceCountedOpenSslEngine e && SSL.isSessionReused(e.sslPointer())) {
            counters.resumed.increment();
        }
    }

    public long handshakes() {
        return counters.handshakes.sum();
    }

    /** Completed handshakes that resumed a session instead of a full handshake (OpenSSL engine). */
    public long resumedHandshakes() {
        return counters.resumed.sum();
    }

    /** Counts a handshake that failed on this side's connections. */
    public void handshakeFailed() {
        counters.handshakeFailures.increment();
    }

    /**
     * Counts a failed handshake with {@code peer} and logs why: as a warning when the reason
     * differs from the last one logged (a wrong SAN or an untrusted CA is a config problem an
     * operator must see), at debug level when it repeats, so a broken upstream cannot flood the log.
     */
    public void handshakeFailed(String peer, Throwable cause) {
        counters.handshakeFailures.increment();
        String why = TlsErrors.describe(cause);
        if (!why.equals(lastHandshakeFailure)) {
            lastHandshakeFailure = why;
            log.warn(name + ": TLS handshake with " + peer + " failed: " + why);
        } else if (log.isDebugEnabled()) {
            log.debug(name + ": TLS handshake with " + peer + " failed: " + why);
        }
    }

    public long handshakeFailures() {
        return counters.handshakeFailures.sum();
    }

    /** New material published since start. */
    public long reloads() {
        return counters.reloads.sum();
    }

    /** Changed files that could not be used. */
    public long reloadFailures() {
        return counters.reloadFailures.sum();
    }
}
