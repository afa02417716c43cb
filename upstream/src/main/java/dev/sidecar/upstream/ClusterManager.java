package dev.sidecar.upstream;

import dev.sidecar.config.ClusterConfig;
import java.time.Duration;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.LongSupplier;

/**
 * All clusters by name. {@link #update} is the control side's one way in; lookups read an
 * immutable map published with a volatile write.
 */
public final class ClusterManager {
    private volatile Map<String, Cluster> clusters = Map.of();
    private final LongSupplier nanoClock;
    private final ScheduledExecutorService control;
    private final Duration removedEndpointDrain;
    private final HostResolver resolver;

    public ClusterManager(List<ClusterConfig> configs) {
        this(configs, System::nanoTime, ControlExecutor.shared(), Cluster.DEFAULT_REMOVED_ENDPOINT_DRAIN);
    }

    /** See {@link Cluster#Cluster(ClusterConfig, LongSupplier, ScheduledExecutorService, Duration)}. */
    public ClusterManager(List<ClusterConfig> configs, LongSupplier nanoClock, ScheduledExecutorService control,
                          Duration removedEndpointDrain) {
        this(configs, nanoClock, control, removedEndpointDrain, HostResolver.SYSTEM);
    }

    /** @param resolver resolves the host names of STRICT_DNS clusters, on their refresh interval */
    public ClusterManager(List<ClusterConfig> configs, LongSupplier nanoClock, ScheduledExecutorService control,
                          Duration removedEndpointDrain, HostResolver resolver) {
        this.resolver = resolver;
        this.nanoClock = nanoClock;
        this.control = control;
        this.removedEndpointDrain = removedEndpointDrain;
        update(configs);
    }

    public Cluster get(String name) {
        return clusters.get(name);
    }

    public Collection<Cluster> all() {
        return clusters.values();
    }

    /**
     * Makes the set of clusters exactly {@code configs}: surviving clusters are updated in place
     * (keeping their endpoints' state), new ones are created, missing ones are dropped.
     */
    public synchronized void update(List<ClusterConfig> configs) {
        Map<String, Cluster> current = clusters;
        Map<String, Cluster> next = new LinkedHashMap<>();
        for (ClusterConfig config : configs) {
            Cluster cluster = current.get(config.name());
            if (cluster == null) {
                cluster = new Cluster(config, nanoClock, control, removedEndpointDrain, resolver);
            } else {
                cluster.update(config);
            }
            next.put(config.name(), cluster);
        }
        for (Map.Entry<String, Cluster> old : current.entrySet()) {
            if (next.get(old.getKey()) != old.getValue()) {
                old.getValue().close();
            }
        }
        clusters = java.util.Collections.unmodifiableMap(next);
    }

    /** Stops the clusters' background work (host name re-resolution). */
    public synchronized void close() {
        clusters.values().forEach(Cluster::close);
    }
}
