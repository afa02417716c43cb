package dev.sidecar.xds.client;

import java.time.Instant;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What the client tells the admin API and the metrics: whether the stream is up, what was
 * accepted and rejected, and the last rejection with its reason. Written on the client's thread,
 * read from any.
 */
public final class XdsStatus {
    /** A NACKed response: which type, its version and nonce, and the error_detail sent back. */
    public record Rejection(String typeUrl, String version, String nonce, String detail, Instant at) {}

    private volatile boolean connected;
    private volatile boolean initialized;
    private volatile long lastUpdateNanos = -1;
    private volatile Instant lastUpdate;
    private volatile Rejection lastRejection;
    private final Map<String, AtomicLong> accepted = new ConcurrentHashMap<>();
    private final Map<String, AtomicLong> rejected = new ConcurrentHashMap<>();
    private final AtomicLong resourcesReceived = new AtomicLong();
    private final AtomicLong resourcesRemoved = new AtomicLong();

    public boolean connected() {
        return connected;
    }

    private volatile String lastStreamEnd;
    private final AtomicLong streamEnds = new AtomicLong();

    /** Streams that ended or never came up (a refused connection, an untrusted certificate), and why the last one did. */
    public long streamEnds() {
        return streamEnds.get();
    }

    public String lastStreamEnd() {
        return lastStreamEnd;
    }

    void streamEnded(String why) {
        lastStreamEnd = why;
        streamEnds.incrementAndGet();
    }

    void connected(boolean up) {
        connected = up;
    }

    /**
     * Whether the proxy has its initial dynamic config: the first cluster and listener responses
     * accepted with everything they named warm, or the cache file loaded, or
     * {@code initial_fetch_timeout} passed since start. Once true, stays true.
     */
    public boolean initialized() {
        return initialized;
    }

    void initialized(boolean done) {
        initialized = done;
    }

    /** Monotonic time of the last accepted update, or -1 before the first. */
    public long lastUpdateNanos() {
        return lastUpdateNanos;
    }

    public Instant lastUpdate() {
        return lastUpdate;
    }

    /** The last rejection, or null when none happened or a good version of its type replaced it. */
    public Rejection lastRejection() {
        return lastRejection;
    }

    public long accepted(String typeUrl) {
        return counter(accepted, typeUrl).get();
    }

    public long rejected(String typeUrl) {
        return counter(rejected, typeUrl).get();
    }

    /**
     * Resources carried by the responses received, of every type: in the state of the world a
     * type's whole set (or every named resource) per response, in delta only those that changed.
     */
    public long resourcesReceived() {
        return resourcesReceived.get();
    }

    /** Resources named as removed by delta responses. */
    public long resourcesRemoved() {
        return resourcesRemoved.get();
    }

    void received(int resources, int removed) {
        resourcesReceived.addAndGet(resources);
        resourcesRemoved.addAndGet(removed);
    }

    void accept(String typeUrl, long nanos) {
        counter(accepted, typeUrl).incrementAndGet();
        lastUpdateNanos = nanos;
        lastUpdate = Instant.now();
        Rejection r = lastRejection;
        if (r != null && r.typeUrl().equals(typeUrl)) {
            lastRejection = null;
        }
    }

    void reject(Rejection r) {
        counter(rejected, r.typeUrl()).incrementAndGet();
        lastRejection = r;
    }

    private static AtomicLong counter(Map<String, AtomicLong> m, String typeUrl) {
        return m.computeIfAbsent(typeUrl, t -> new AtomicLong());
    }
}
