package dev.sidecar.upstream;

import dev.sidecar.config.ClusterConfig;
import dev.sidecar.config.EndpointConfig;
import dev.sidecar.config.HostPort;
import dev.sidecar.config.OutlierDetectionConfig;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;

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
    private final AtomicInteger activeRequests = new AtomicInteger();
    private final AtomicInteger activeRetries = new AtomicInteger();
    private final AtomicInteger pendingRequests = new AtomicInteger();
    private final AtomicInteger poolIdle = new AtomicInteger();
    private final LongAdder requests = new LongAdder();
    private final LongAdder connections = new LongAdder();
    private final LongAdder connectFailures = new LongAdder();
    private final LongAdder overflows = new LongAdder();
    private final LongAdder ejections = new LongAdder();
    private final LongAdder healthCheckPasses = new LongAdder();
    private final LongAdder healthCheckFailures = new LongAdder();
    private final ScheduledExecutorService control;
    private final Duration removedEndpointDrain;
    private final LongSupplier nanoClock;
    private Map<HostPort, Endpoint> endpointsByAddress = Map.of();
    private ClusterConfig config;
    private volatile ClusterSnapshot snapshot;

    /** How long a removed endpoint's open connections may go on before they are closed. */
    public static final Duration DEFAULT_REMOVED_ENDPOINT_DRAIN = Duration.ofSeconds(30);

    public Cluster(ClusterConfig config) {
        this(config, System::nanoTime, ControlExecutor.shared(), DEFAULT_REMOVED_ENDPOINT_DRAIN);
    }

    /**
     * @param nanoClock the monotonic clock latency-aware balancing reads (tests drive their own)
     * @param control the serial executor that ejections, returns and rebuilds run on, off the
     *     event loops
     * @param removedEndpointDrain how long connections to an endpoint removed by an update may
     *     continue before they are closed
     */
    public Cluster(ClusterConfig config, LongSupplier nanoClock, ScheduledExecutorService control, Duration removedEndpointDrain) {
        this.name = config.name();
        this.nanoClock = nanoClock;
        this.control = control;
        this.removedEndpointDrain = removedEndpointDrain;
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
        boolean checked = !config.healthChecks().isEmpty();
        boolean startHealthy = !checked || config.healthChecks().stream().allMatch(h -> h.initiallyHealthy());
        Map<HostPort, Endpoint> next = new HashMap<>();
        for (EndpointConfig e : config.endpoints()) {
            Endpoint endpoint = endpointsByAddress.get(e.address());
            if (endpoint == null) {
                endpoint = new Endpoint(e.address());
                endpoint.activeHealthy(startHealthy);
            } else if (!checked) {
                endpoint.activeHealthy(true); // checks were removed: nothing can fail them any more
            }
            endpoint.reported(e.healthStatus());
            next.put(e.address(), endpoint);
        }
        List<Endpoint> removed = new ArrayList<>();
        for (Endpoint old : endpointsByAddress.values()) {
            if (next.get(old.address()) != old) {
                old.retire();
                removed.add(old);
            }
        }
        if (!removed.isEmpty()) {
            // one timer for the whole update, not one per endpoint: an EDS update that drops
            // 10,000 endpoints must not leave 10,000 tasks on the control executor's queue
            control.schedule(() -> removed.forEach(Endpoint::closeConnections), removedEndpointDrain.toNanos(), TimeUnit.NANOSECONDS);
        }
        endpointsByAddress = next;
        this.config = config;
        rebuild();
    }

    /**
     * Publishes a new snapshot for the current config and the endpoints' current health. Called
     * by the health checker and outlier detection after they change an endpoint's state; never
     * on an event loop, since building a Maglev table or a ring takes milliseconds.
     */
    public synchronized void rebuild() {
        List<EndpointConfig> configs = config.endpoints();
        List<Endpoint> endpoints = new ArrayList<>(configs.size());
        int[] weights = new int[configs.size()];
        int[] priorities = new int[configs.size()];
        for (int i = 0; i < configs.size(); i++) {
            EndpointConfig e = configs.get(i);
            endpoints.add(endpointsByAddress.get(e.address()));
            weights[i] = e.weight();
            priorities[i] = e.priority();
        }
        PriorityBalancer balancer = PriorityBalancer.build(config.lbPolicy(), config.lbSettings(), endpoints, weights, priorities, nanoClock);
        snapshot = new ClusterSnapshot(config, endpoints, balancer, balancer.healthy(), balancer.panic());
    }

    /** The endpoint at {@code address} in the current config, or null. */
    public synchronized Endpoint endpoint(HostPort address) {
        return endpointsByAddress.get(address);
    }

    /** Marks an endpoint's active-check verdict; returns true if it changed (the caller rebuilds). */
    public boolean setActiveHealthy(Endpoint endpoint, boolean healthy) {
        if (endpoint.activeHealthy() == healthy) {
            return false;
        }
        endpoint.activeHealthy(healthy);
        return true;
    }

    /** Marks an endpoint ejected or returned; returns true if it changed (the caller rebuilds). */
    public boolean setEjected(Endpoint endpoint, boolean ejected) {
        if (endpoint.ejected() == ejected) {
            return false;
        }
        endpoint.ejected(ejected);
        return true;
    }

    /** A connection to {@code endpoint} is being opened; pair with {@link #connectionClosed}. */
    public void connectionOpened(Endpoint endpoint) {
        endpoint.connectionOpened();
        activeConnections.incrementAndGet();
        connections.increment();
    }

    /**
     * Opens a connection unless the cluster is at its {@code circuit_breakers.max_connections};
     * returns false (and counts an overflow) when it is. Pair a true with {@link #connectionClosed}.
     */
    public boolean tryConnectionOpened(Endpoint endpoint, int maxConnections) {
        if (activeConnections.incrementAndGet() > maxConnections) {
            activeConnections.decrementAndGet();
            overflows.increment();
            return false;
        }
        endpoint.connectionOpened();
        connections.increment();
        return true;
    }

    public void requestStarted(Endpoint endpoint) {
        endpoint.requestStarted();
    }

    public void requestFinished(Endpoint endpoint) {
        endpoint.requestFinished();
    }

    /**
     * Starts an HTTP request unless the cluster has {@code circuit_breakers.max_requests} in
     * flight; false (and an overflow counted) when it has. Pair a true with {@link #requestEnded}.
     */
    public boolean tryRequest(int maxRequests) {
        if (activeRequests.incrementAndGet() > maxRequests) {
            activeRequests.decrementAndGet();
            overflows.increment();
            return false;
        }
        requests.increment();
        return true;
    }

    public void requestEnded() {
        activeRequests.decrementAndGet();
    }

    /**
     * Admits one request to wait for an upstream connection or stream (a connect in progress),
     * unless {@code maxPending} already wait; false (and an overflow counted) when they do. Pair
     * a true with {@link #pendingEnded}.
     */
    public boolean tryPending(int maxPending) {
        if (pendingRequests.incrementAndGet() > maxPending) {
            pendingRequests.decrementAndGet();
            overflows.increment();
            return false;
        }
        return true;
    }

    public void pendingEnded() {
        pendingRequests.decrementAndGet();
    }

    /** Idle keep-alive connections pooled for HTTP requests, over all endpoints and event loops. */
    public int poolIdle() {
        return poolIdle.get();
    }

    public void poolIdleChanged(int delta) {
        poolIdle.addAndGet(delta);
    }

    /** HTTP requests waiting for an upstream connection or stream. */
    public int pendingRequests() {
        return pendingRequests.get();
    }

    /** HTTP requests in flight over all endpoints. */
    public int activeRequests() {
        return activeRequests.get();
    }

    public long requests() {
        return requests.sum();
    }

    /**
     * Admits one retry. Retries in flight are bounded twice: by {@code circuit_breakers.max_retries}
     * and by a budget of a fifth of the requests in flight (never below 3, Envoy's
     * min_retry_concurrency), so a failing upstream cannot be hit by a retry storm that multiplies
     * its load. Pair a true with {@link #retryEnded}.
     */
    public boolean tryRetry(int maxRetries) {
        int budget = Math.max(3, activeRequests.get() / 5);
        int limit = Math.min(maxRetries, budget);
        if (activeRetries.incrementAndGet() > limit) {
            activeRetries.decrementAndGet();
            overflows.increment();
            return false;
        }
        return true;
    }

    public void retryEnded() {
        activeRetries.decrementAndGet();
    }

    /** Work refused because a circuit breaker was open. */
    public long overflows() {
        return overflows.sum();
    }

    public void connectionClosed(Endpoint endpoint) {
        endpoint.connectionClosed();
        activeConnections.decrementAndGet();
    }

    /** Counts a failed connect; also a gateway failure for outlier detection. */
    public void connectFailed(Endpoint endpoint) {
        connectFailures.increment();
        gatewayFailure(endpoint, endpoint.connectFailed());
    }

    /**
     * An established upstream connection ended. A reset is a gateway failure for outlier
     * detection; an orderly close by the endpoint ({@code sawEof}) ends its run of failures; a
     * close the proxy made (the client left) counts as neither. A successful connect does not end
     * the run either: an endpoint that accepts and then resets every connection must be ejected.
     */
    public void upstreamClosed(Endpoint endpoint, boolean reset, boolean sawEof) {
        if (reset) {
            gatewayFailure(endpoint, endpoint.failedInARow());
        } else if (sawEof) {
            endpoint.resetConsecutiveFailures();
        }
    }

    /**
     * The outcome of one HTTP request for outlier detection: a gateway error (502, 503, 504, or a
     * reset or timeout before the response) extends the endpoint's run of failures; any other
     * response ends it.
     */
    public void httpResult(Endpoint endpoint, boolean gatewayError) {
        if (gatewayError) {
            gatewayFailure(endpoint, endpoint.failedInARow());
        } else {
            endpoint.resetConsecutiveFailures();
        }
    }

    /**
     * The failure that completes a run of {@code consecutive_gateway_failure} asks the control
     * executor to eject the endpoint; the data path never rebuilds anything itself.
     */
    private void gatewayFailure(Endpoint endpoint, int inARow) {
        OutlierDetectionConfig outlier = snapshot.config().outlierDetection();
        if (outlier != null && inARow == outlier.consecutiveGatewayFailure()) {
            control.execute(() -> eject(endpoint, outlier));
        }
    }

    /** Ejects unless that would take the ejected share over max_ejection_percent. Control thread. */
    private synchronized void eject(Endpoint endpoint, OutlierDetectionConfig outlier) {
        if (endpoint.ejected() || endpointsByAddress.get(endpoint.address()) != endpoint) {
            return;
        }
        int total = endpointsByAddress.size();
        long ejectedNow = endpointsByAddress.values().stream().filter(Endpoint::ejected).count();
        // Envoy's rule: never more than the percentage, but one endpoint may always go, or a
        // small cluster with a low percentage could never eject anything.
        long allowed = Math.max(1, (long) total * outlier.maxEjectionPercent() / 100);
        if (outlier.maxEjectionPercent() == 0 || ejectedNow >= allowed) {
            // Refused: start the count again, so the next full run of failures asks again
            // (as Envoy does) instead of the run growing past the threshold unnoticed.
            endpoint.resetConsecutiveFailures();
            return;
        }
        endpoint.timesEjected++;
        Duration time = outlier.baseEjectionTime().multipliedBy(endpoint.timesEjected);
        if (time.compareTo(outlier.maxEjectionTime()) > 0) {
            time = outlier.maxEjectionTime();
        }
        endpoint.ejected(true);
        ejections.increment();
        rebuild();
        int ejection = endpoint.timesEjected;
        control.schedule(() -> {
            // only the timer of the current ejection may end it, not one left from an earlier one
            if (endpoint.timesEjected == ejection) {
                unEject(endpoint);
            }
        }, time.toNanos(), TimeUnit.NANOSECONDS);
    }

    /** Returns an ejected endpoint to service (its time is up, or an active check passed). */
    synchronized void unEject(Endpoint endpoint) {
        if (!endpoint.ejected()) {
            return;
        }
        endpoint.ejected(false);
        endpoint.resetConsecutiveFailures();
        if (endpointsByAddress.get(endpoint.address()) == endpoint) {
            rebuild();
        }
    }

    /** Counts one active health-check probe result. */
    void healthCheckResult(boolean passed) {
        (passed ? healthCheckPasses : healthCheckFailures).increment();
    }

    public long healthCheckPasses() {
        return healthCheckPasses.sum();
    }

    public long healthCheckFailures() {
        return healthCheckFailures.sum();
    }

    /** Outlier ejections so far. */
    public long ejections() {
        return ejections.sum();
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
