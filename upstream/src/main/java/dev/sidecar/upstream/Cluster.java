package dev.sidecar.upstream;

import dev.sidecar.config.ClusterConfig;
import dev.sidecar.config.EndpointConfig;
import dev.sidecar.config.HostPort;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * A named cluster: the current {@link ClusterSnapshot} behind one volatile field, the
 * {@link Endpoint}s that outlive snapshots, and the cluster's own counters.
 *
 * <p>Updates come from the control side one at a time ({@link #update} is synchronized; the data
 * plane never takes that lock): each builds a whole new snapshot and publishes it with a single
 * write, so a reader sees either the old endpoints and balancer or the new ones, never a mix.
 */
public final class Cluster {
    private final String name;
    private final AtomicInteger activeConnections = new AtomicInteger();
    private final LongAdder connections = new LongAdder();
    private final LongAdder connectFailures = new LongAdder();
    private Map<HostPort, Endpoint> endpointsByAddress = Map.of();
    private volatile ClusterSnapshot snapshot;

    public Cluster(ClusterConfig config) {
        this.name = config.name();
        update(config);
    }

    public String name() {
        return name;
    }

    public ClusterSnapshot snapshot() {
        return snapshot;
    }

    /**
     * Applies a new version of this cluster's config. Endpoints whose address survives keep their
     * identity and counters; new addresses get new endpoints; dropped ones are forgotten (their
     * open connections finish on their own and still count down on the old object).
     */
    public synchronized void update(ClusterConfig config) {
        if (!config.name().equals(name)) {
            throw new IllegalArgumentException("cluster '" + name + "' cannot take the config of '" + config.name() + "'");
        }
        Map<HostPort, Endpoint> next = new HashMap<>();
        List<Endpoint> endpoints = new ArrayList<>(config.endpoints().size());
        int[] weights = new int[config.endpoints().size()];
        for (int i = 0; i < config.endpoints().size(); i++) {
            EndpointConfig e = config.endpoints().get(i);
            Endpoint endpoint = endpointsByAddress.get(e.address());
            if (endpoint == null) {
                endpoint = new Endpoint(e.address());
            }
            next.put(e.address(), endpoint);
            endpoints.add(endpoint);
            weights[i] = e.weight();
        }
        endpointsByAddress = next;
        snapshot = new ClusterSnapshot(config, endpoints, LoadBalancer.of(config.lbPolicy(), endpoints, weights));
    }

    /** A connection to {@code endpoint} is being opened; pair with {@link #connectionClosed}. */
    public void connectionOpened(Endpoint endpoint) {
        endpoint.connectionOpened();
        activeConnections.incrementAndGet();
        connections.increment();
    }

    public void connectionClosed(Endpoint endpoint) {
        endpoint.connectionClosed();
        activeConnections.decrementAndGet();
    }

    public void connectFailed(Endpoint endpoint) {
        endpoint.connectFailed();
        connectFailures.increment();
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
}
