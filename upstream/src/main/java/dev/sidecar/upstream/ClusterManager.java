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

    public ClusterManager(List<ClusterConfig> configs) {
        this(configs, System::nanoTime, ControlExecutor.shared(), Cluster.DEFAULT_REMOVED_ENDPOINT_DRAIN);
    }

    /** See {@link Cluster#Cluster(ClusterConfig, LongSupplier, ScheduledExecutorService, Duration)}. */
    public ClusterManager(List<ClusterConfig> configs, LongSupplier nanoClock, ScheduledExecutorService control,
                          Duration removedEndpointDrain) {
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
                cluster = new Cluster(config, nanoClock, control, removedEndpointDrain);
            } else {
                cluster.update(config);
            }
            next.put(config.name(), cluster);
        }
        clusters = java.util.Collections.unmodifiableMap(next);
    }
}
