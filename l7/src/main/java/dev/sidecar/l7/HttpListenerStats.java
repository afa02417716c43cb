package dev.sidecar.l7;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/** An HTTP listener's counters, written from every event loop and summed by the metrics scrape. */
public final class HttpListenerStats {
    final AtomicInteger activeConnections = new AtomicInteger();
    final LongAdder accepted = new LongAdder();
    final LongAdder refused = new LongAdder();
    final LongAdder proxyProtocolRejected = new LongAdder();
    final AtomicInteger activeRequests = new AtomicInteger();
    final LongAdder[] byStatusClass = {new LongAdder(), new LongAdder(), new LongAdder(), new LongAdder(), new LongAdder(), new LongAdder()};
    final LongAdder retries = new LongAdder();
    final LongAdder timeouts = new LongAdder();
    final LongAdder rateLimited = new LongAdder();
    final LongAdder shed = new LongAdder();
    final LongAdder resets = new LongAdder();
    final LongAdder h2Connections = new LongAdder();
    /** Bytes read from and written to clients, as the HTTP codecs see them (inside TLS). */
    final LongAdder bytesIn = new LongAdder();
    final LongAdder bytesOut = new LongAdder();
    /** From request headers to the end of the exchange, for the dashboard's p99. */
    final dev.sidecar.upstream.LatencyHistogram latency = new dev.sidecar.upstream.LatencyHistogram();

    public dev.sidecar.upstream.LatencyHistogram latency() {
        return latency;
    }

    public long bytesIn() {
        return bytesIn.sum();
    }

    public long bytesOut() {
        return bytesOut.sum();
    }

    public int activeConnections() {
        return activeConnections.get();
    }

    public long accepted() {
        return accepted.sum();
    }

    public long refused() {
        return refused.sum();
    }

    public int activeRequests() {
        return activeRequests.get();
    }

    /** Responses sent with a status of {@code statusClass}xx (1..5). */
    public long responses(int statusClass) {
        return byStatusClass[statusClass].sum();
    }

    public long requests() {
        long n = 0;
        for (LongAdder a : byStatusClass) {
            n += a.sum();
        }
        return n;
    }

    public long retries() {
        return retries.sum();
    }

    public long timeouts() {
        return timeouts.sum();
    }

    public long rateLimited() {
        return rateLimited.sum();
    }

    /** Requests refused by a circuit breaker. */
    public long shed() {
        return shed.sum();
    }

    /** Requests that ended with a reset stream or a cut connection after their response began. */
    public long resets() {
        return resets.sum();
    }

    /** Connections that spoke HTTP/2 (prior knowledge or upgrade). */
    public long h2Connections() {
        return h2Connections.sum();
    }

    /** Counts one response by status class: the data path's per-request metrics work, with the observer's timer. */
    public void response(int status) {
        int c = status / 100;
        byStatusClass[c >= 1 && c <= 5 ? c : 0].increment();
    }

    /** Connections closed because they did not open with a valid PROXY header in time (proxy_protocol: true). */
    public long proxyProtocolRejected() {
        return proxyProtocolRejected.sum();
    }
}
