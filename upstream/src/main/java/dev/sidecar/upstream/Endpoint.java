package dev.sidecar.upstream;

import static java.util.Objects.requireNonNull;

import dev.sidecar.config.HostPort;
import java.net.InetSocketAddress;
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
    private final LongAdder connections = new LongAdder();
    private final LongAdder connectFailures = new LongAdder();

    Endpoint(HostPort address) {
        this.address = requireNonNull(address, "address");
        // Unresolved on purpose: the transport resolves at connect time, so a DNS name is looked
        // up per connection rather than frozen at load time.
        this.socketAddress = InetSocketAddress.createUnresolved(address.host(), address.port());
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

    public long connections() {
        return connections.sum();
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

    public void connectFailed() {
        connectFailures.increment();
    }

    @Override
    public String toString() {
        return address.toString();
    }
}
