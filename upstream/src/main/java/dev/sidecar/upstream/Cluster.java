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
    // ---- STRICT_DNS re-resolution (guarded by this) ----
    private final HostResolver resolver;
    /** The config as given, with host names; {@link #config} has them replaced by the last answers. */
    private ClusterConfig declared;
    /** The last answer for each host name: what its endpoints expand to. */
    private Map<String, List<String>> answers = Map.of();
    private java.util.concurrent.ScheduledFuture<?> refresh;
    private Duration refreshRate;
    private boolean closed;

    /**
     * The blocking resolutions run here, one at a time, never on an event loop or the control
     * executor (a slow DNS server must not delay health checks and rebuilds). Shared by every
     * cluster: STRICT_DNS clusters are few and each refresh is a handful of lookups.
     */
    private static final ScheduledExecutorService DNS = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "sidecar-dns");
        t.setDaemon(true);
        return t;
    });

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
        this(config, nanoClock, control, removedEndpointDrain, HostResolver.SYSTEM);
    }

    /** @param resolver resolves the host names of a cluster with a {@code dnsRefreshRate} */
    public Cluster(ClusterConfig config, LongSupplier nanoClock, ScheduledExecutorService control, Duration removedEndpointDrain,
                   HostResolver resolver) {
        this.name = config.name();
        this.resolver = resolver;
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
        declared = config;
        scheduleRefresh(config);
        apply(expanded(config));
    }

    /**
     * STRICT_DNS, as Envoy does it: every {@code dnsRefreshRate} each endpoint host name is
     * resolved again, and the endpoint stands for one endpoint per address of the last answer
     * (same port, weight, priority and health status). A failed lookup keeps the last answer; a
     * name never answered yet stays one endpoint resolved at connect time, so nothing that could
     * connect before stops connecting.
     */
    private void scheduleRefresh(ClusterConfig config) {
        Duration rate = config.dnsRefreshRate() == null || hostNames(config).isEmpty() ? null : config.dnsRefreshRate();
        if (java.util.Objects.equals(rate, refreshRate)) {
            return;
        }
        if (refresh != null) {
            refresh.cancel(false);
            refresh = null;
        }
        refreshRate = rate;
        if (rate != null && !closed) {
            refresh = DNS.scheduleWithFixedDelay(this::resolveAll, 0, rate.toNanos(), TimeUnit.NANOSECONDS);
        }
    }

    private static java.util.Set<String> hostNames(ClusterConfig config) {
        java.util.Set<String> out = new java.util.LinkedHashSet<>();
        for (EndpointConfig e : config.endpoints()) {
            if (!Endpoint.isIpLiteral(e.address().host())) {
                out.add(e.address().host());
            }
        }
        return out;
    }

    /** On the DNS thread: resolves every name, then puts changed answers in force on the control executor. */
    private void resolveAll() {
        java.util.Set<String> names;
        synchronized (this) {
            names = hostNames(declared);
        }
        Map<String, List<String>> next = new HashMap<>();
        for (String host : names) {
            try {
                // one family, IPv4 when the answer has any (Envoy's V4_PREFERRED): "localhost"
                // answers 127.0.0.1 and ::1, and a server listening on one must not get half
                // the traffic refused
                List<java.net.InetAddress> answer = resolver.resolve(host);
                boolean v4 = answer.stream().anyMatch(a -> a instanceof java.net.Inet4Address);
                List<String> addresses = new ArrayList<>();
                for (java.net.InetAddress a : answer) {
                    if ((a instanceof java.net.Inet4Address) == v4 && !addresses.contains(a.getHostAddress())) {
                        addresses.add(a.getHostAddress());
                    }
                }
                if (addresses.isEmpty()) {
                    continue; // an empty answer is treated as a failure: keep the last one
                }
                java.util.Collections.sort(addresses);
                next.put(host, List.copyOf(addresses));
            } catch (Exception e) {
                // keep the last answer (Envoy does too): a DNS hiccup must not empty a cluster
            }
        }
        control.execute(() -> {
            synchronized (this) {
                Map<String, List<String>> merged = new HashMap<>(answers);
                merged.keySet().retainAll(hostNames(declared));
                merged.putAll(next);
                if (closed || merged.equals(answers)) {
                    return;
                }
                answers = Map.copyOf(merged);
                apply(expanded(declared));
            }
            endpointsChanged.run();
        });
    }

    /**
     * Told (on the control executor) when the cluster changed its own endpoints, outside a config
     * update: a DNS answer changed. The health checker re-syncs its sessions on it.
     */
    public void onEndpointsChanged(Runnable action) {
        endpointsChanged = action == null ? () -> { } : action;
    }

    private volatile Runnable endpointsChanged = () -> { };

    private ClusterConfig expanded(ClusterConfig config) {
        if (config.dnsRefreshRate() == null || answers.isEmpty()) {
            return config;
        }
        List<EndpointConfig> out = new ArrayList<>();
        java.util.Set<HostPort> seen = new java.util.HashSet<>();
        for (EndpointConfig e : config.endpoints()) {
            List<String> addresses = answers.get(e.address().host());
            if (addresses == null) {
                if (seen.add(e.address())) {
                    out.add(e);
                }
                continue;
            }
            for (String a : addresses) {
                HostPort hp = new HostPort(a, e.address().port());
                if (seen.add(hp)) {
                    out.add(new EndpointConfig(hp, e.weight(), e.priority(), e.healthStatus()));
                }
            }
        }
        return config.withEndpoints(out);
    }

    /** Stops re-resolving host names: the cluster was removed. */
    public synchronized void close() {
        closed = true;
        if (refresh != null) {
            refresh.cancel(false);
            refresh = null;
        }
    }

    private void apply(ClusterConfig config) {
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
