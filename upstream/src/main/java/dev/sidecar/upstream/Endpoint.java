package dev.sidecar.upstream;

import static java.util.Objects.requireNonNull;

import dev.sidecar.config.HealthStatus;
import dev.sidecar.config.HostPort;
import io.netty.channel.Channel;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * One upstream address and the live state that belongs to it rather than to a config version:
 * its active connections and its failure counts. A config update that keeps the address keeps
 * this object, so the counts carry over (see {@link Cluster#update}).
 *
 * <p>Counters are written from every event loop. Active connections is an AtomicInteger because
 * balancers read it on every pick and need an exact, cheap read; the totals are LongAdders
 * because they are only summed by the metrics scrape.
 */
public final class Endpoint {
    private final HostPort address;
    private final InetSocketAddress socketAddress;
    private final AtomicInteger activeConnections = new AtomicInteger();
    private final AtomicInteger activeRequests = new AtomicInteger();
    private final PeakEwma latency = new PeakEwma();
    private volatile boolean activeHealthy = true;
    private volatile boolean ejected;
    /** Removed from its cluster by an update: it gets no new traffic, and holders of per-endpoint state may drop it. */
    private volatile boolean retired;
    private volatile HealthStatus reported = HealthStatus.UNKNOWN;
    private final AtomicInteger consecutiveFailures = new AtomicInteger();
    /** Upstream connections open to this endpoint, so a removed endpoint's can be closed after a drain. */
    private final ChannelGroup channels = new DefaultChannelGroup("endpoint", GlobalEventExecutor.INSTANCE, true);
    /** Times ejected so far; outlier detection's multiplier. Control thread only. */
    int timesEjected;
    private final LongAdder connections = new LongAdder();
    private final LongAdder connectFailures = new LongAdder();
    private final LongAdder httpResponses = new LongAdder();
    private final LongAdder httpErrors = new LongAdder();
    private final LatencyHistogram httpLatency = new LatencyHistogram();

    Endpoint(HostPort address) {
        this.address = requireNonNull(address, "address");
        this.socketAddress = socketAddress(address);
    }

    /**
     * An IP literal becomes a resolved address once, here, so no connect pays for parsing it. A
     * name stays unresolved: it is looked up at connect time, so a DNS change reaches new
     * connections instead of being frozen at config load.
     */
    private static InetSocketAddress socketAddress(HostPort address) {
        String host = address.host();
        if (isIpLiteral(host)) {
            try {
                return new InetSocketAddress(InetAddress.getByName(host), address.port()); // a literal: no lookup
            } catch (UnknownHostException e) {
                // a malformed IPv6 literal: leave it to the connect to report
            }
        }
        return InetSocketAddress.createUnresolved(host, address.port());
    }

    /** IPv6 (anything with ':') or a dotted quad of 0..255: what getByName parses without a lookup. */
    static boolean isIpLiteral(String host) {
        if (host.indexOf(':') >= 0) {
            return true;
        }
        String[] parts = host.split("\\.", -1);
        if (parts.length != 4) {
            return false;
        }
        for (String p : parts) {
            if (p.isEmpty() || p.length() > 3 || !p.chars().allMatch(c -> c >= '0' && c <= '9') || Integer.parseInt(p) > 255) {
                return false;
            }
        }
        return true;
    }

    /** A detached endpoint for tests and benchmarks; clusters make their own. */
    public static Endpoint of(HostPort address) {
        return new Endpoint(address);
    }

    public HostPort address() {
        return address;
    }

    /** The address to connect to; resolved by the transport on each connect. */
    public InetSocketAddress socketAddress() {
        return socketAddress;
    }

    public int activeConnections() {
        return activeConnections.get();
    }

    /**
     * Requests in flight: what least_request, peak_ewma and bounded-load hashing balance on. On L4
     * each connection is one request for as long as it is open.
     */
    public int activeRequests() {
        return activeRequests.get();
    }

    public void requestStarted() {
        activeRequests.incrementAndGet();
    }

    public void requestFinished() {
        activeRequests.decrementAndGet();
    }

    /** Tracks an open upstream connection to this endpoint until it closes. */
    public void track(Channel channel) {
        channels.add(channel);
    }

    /** Closes every open upstream connection to this endpoint (its drain after removal is over). */
    void retire() {
        retired = true;
    }

    public boolean retired() {
        return retired;
    }

    void closeConnections() {
        channels.close();
    }

    /**
     * Whether the endpoint may get new traffic: its source does not report it unhealthy or
     * draining, it passes its active checks, and it is not ejected.
     */
    public boolean healthy() {
        return reported.routable() && activeHealthy && !ejected;
    }

    /** The health its source (the static config, later EDS) reports. */
    public HealthStatus reported() {
        return reported;
    }

    void reported(HealthStatus status) {
        reported = status;
    }

    /** The verdict of active health checking (true when the cluster has none). */
    public boolean activeHealthy() {
        return activeHealthy;
    }

    /** Whether passive outlier detection has ejected the endpoint for now. */
    public boolean ejected() {
        return ejected;
    }

    /** Set by the health checker; the cluster then rebuilds its snapshot. */
    void activeHealthy(boolean healthy) {
        activeHealthy = healthy;
    }

    void ejected(boolean ejected) {
        this.ejected = ejected;
    }

    /** The latency estimate peak_ewma balances on; on L4 it is fed connect times. */
    public PeakEwma latency() {
        return latency;
    }

    public long connections() {
        return connections.sum();
    }

    /** HTTP attempts that got an answer or failed after connecting; errors: 5xx, or a reset before the answer. */
    public void httpResult(boolean error, long latencyNanos) {
        httpResponses.increment();
        if (error) {
            httpErrors.increment();
        }
        httpLatency.record(latencyNanos);
    }

    public long httpResponses() {
        return httpResponses.sum();
    }

    public long httpErrors() {
        return httpErrors.sum();
    }

    public LatencyHistogram httpLatency() {
        return httpLatency;
    }

    public long connectFailures() {
        return connectFailures.sum();
    }

    /** A connection to this endpoint is being opened; pair with {@link #connectionClosed()}. */
    public void connectionOpened() {
        activeConnections.incrementAndGet();
        connections.increment();
    }

    public void connectionClosed() {
        activeConnections.decrementAndGet();
    }

    /** Counts a failed connect; returns the failures in a row, this one included. */
    public int connectFailed() {
        connectFailures.increment();
        return consecutiveFailures.incrementAndGet();
    }

    /** Counts one more failure in a row (a reset after connecting); returns the run's length. */
    int failedInARow() {
        return consecutiveFailures.incrementAndGet();
    }

    void resetConsecutiveFailures() {
        if (consecutiveFailures.get() != 0) {
            consecutiveFailures.set(0);
        }
    }

    @Override
    public String toString() {
        return address.toString();
    }
}
