package dev.sidecar.proxy;

import dev.sidecar.l4.TcpListenerStats;
import dev.sidecar.l7.HttpListenerStats;
import dev.sidecar.l7.HttpProxy;
import dev.sidecar.tls.ReloadableTls;
import dev.sidecar.upstream.Cluster;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.FunctionTimer;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.SingleThreadEventExecutor;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;

/**
 * The Prometheus registry. Every meter here reads counters that the data plane already keeps
 * in plain fields (listener stats, cluster and endpoint counters): nothing on the data path
 * looks up or touches a meter. Meters are registered when a listener or cluster is created and
 * removed with it.
 */
final class ProxyMetrics {
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);

    private static double pendingTasks(EventLoopGroup group) {
        int n = 0;
        for (EventExecutor e : group) {
            if (e instanceof SingleThreadEventExecutor s) {
                n += s.pendingTasks();
            }
        }
        return n;
    }

    /** Whether the JVM's meters are registered: at the first scrape, see {@link #bindJvm()}. */
    private boolean jvmBound;

    ProxyMetrics(ByteBufAllocator allocator, EventLoopGroup eventLoops) {
        Gauge.builder("sidecar.event.loop.pending.tasks", eventLoops, ProxyMetrics::pendingTasks)
                .description("Tasks queued on the event loops, summed: a loop that falls behind shows here first")
                .register(registry);
        if (allocator instanceof ByteBufAllocatorMetricProvider provider) {
            Gauge.builder("sidecar.buffer.direct.used", provider, p -> p.metric().usedDirectMemory())
                    .description("Direct memory held by the proxy's buffer allocator")
                    .baseUnit("bytes")
                    .register(registry);
            Gauge.builder("sidecar.buffer.heap.used", provider, p -> p.metric().usedHeapMemory())
                    .description("Heap memory held by the proxy's buffer allocator")
                    .baseUnit("bytes")
                    .register(registry);
        }
    }

    /** The overload guard's state and the requests it has shed; returns them so they can be removed. */
    List<Meter> bindOverload(dev.sidecar.l7.OverloadState overload, OverloadGuard guard) {
        return List.of(
                Gauge.builder("sidecar.overload.direct.used", guard, g -> g.last().direct())
                        .description("Direct memory in use as the overload guard last sampled it (Netty's own count plus the JDK's direct pool)")
                        .baseUnit("bytes")
                        .register(registry),
                Gauge.builder("sidecar.overload.active", overload, o -> o.shedding() ? 1 : 0)
                        .description("1 while the proxy sheds new requests because memory is near its limit (server.overload), else 0")
                        .register(registry),
                FunctionCounter.builder("sidecar.overload.shed.requests", overload, o -> o.shedRequests())
                        .description("Requests answered 503 or refused with REFUSED_STREAM by the overload guard")
                        .register(registry));
    }

    /** Registers a TCP listener's meters; returns them so they can be removed with the listener. */
    List<Meter> bindListener(String name, TcpListenerStats stats) {
        return new Tagged<>(stats, "listener", name)
                .counter("sidecar.listener.connections.accepted", "Connections accepted, including those refused for the connection limit",
                        TcpListenerStats::accepted)
                .counter("sidecar.listener.connections.refused", "Connections closed at once because the listener was at max_connections",
                        TcpListenerStats::refused)
                .gauge("sidecar.listener.connections.active", "Downstream connections open now", TcpListenerStats::active)
                .bytes("sidecar.listener.received", "Bytes read from downstream clients", TcpListenerStats::bytesIn)
                .bytes("sidecar.listener.sent", "Bytes sent to downstream clients", TcpListenerStats::bytesOut)
                .counter("sidecar.listener.upstream.failures", "Downstream connections closed because no upstream could be connected",
                        TcpListenerStats::upstreamFailures)
                .counter("sidecar.listener.no.cluster", "Downstream connections closed because the listener's cluster does not exist",
                        TcpListenerStats::noCluster)
                .counter("sidecar.listener.proxy.protocol.rejected", "Connections closed for a missing, malformed or late PROXY header",
                        TcpListenerStats::proxyProtocolRejected)
                .counter("sidecar.listener.no.original.destination",
                        "Connections closed because their original destination was unknown or the listener itself",
                        TcpListenerStats::noOriginalDestination)
                .meters;
    }

    /**
     * Registers an HTTP listener's meters, and a request-duration timer the listener reports to
     * through the returned observer (few buckets: the data path records into a fixed array).
     */
    List<Meter> bindHttpListener(String name, HttpListenerStats stats, HttpProxy proxy) {
        Tagged<HttpListenerStats> t = new Tagged<>(stats, "listener", name)
                .counter("sidecar.listener.connections.accepted", "Connections accepted, including those refused for the connection limit",
                        HttpListenerStats::accepted)
                .counter("sidecar.listener.connections.refused", "Connections closed at once because the listener was at max_connections",
                        HttpListenerStats::refused)
                .gauge("sidecar.listener.connections.active", "Downstream connections open now", HttpListenerStats::activeConnections)
                .bytes("sidecar.listener.received", "Bytes read from downstream clients (inside TLS)", HttpListenerStats::bytesIn)
                .bytes("sidecar.listener.sent", "Bytes sent to downstream clients (inside TLS)", HttpListenerStats::bytesOut)
                .counter("sidecar.listener.proxy.protocol.rejected", "Connections closed for a missing, malformed or late PROXY header",
                        HttpListenerStats::proxyProtocolRejected)
                .counter("sidecar.http.connections.h2", "Downstream connections that spoke HTTP/2", HttpListenerStats::h2Connections)
                .gauge("sidecar.http.requests.active", "Requests in flight", HttpListenerStats::activeRequests)
                .counter("sidecar.http.retries", "Requests sent again after a failed attempt", HttpListenerStats::retries)
                .counter("sidecar.http.timeouts", "Route and per-try timeouts that fired", HttpListenerStats::timeouts)
                .counter("sidecar.http.rate.limited", "Requests answered 429 by a local rate limit", HttpListenerStats::rateLimited)
                .counter("sidecar.http.shed", "Requests refused by a circuit breaker", HttpListenerStats::shed)
                .counter("sidecar.http.resets", "Requests cut off after their response began", HttpListenerStats::resets);
        List<Meter> meters = new ArrayList<>(t.meters);
        for (int c = 1; c <= 5; c++) {
            int statusClass = c;
            meters.add(FunctionCounter.builder("sidecar.http.responses", stats, s -> s.responses(statusClass))
                    .description("Responses sent downstream, by status class")
                    .tag("listener", name).tag("status_class", c + "xx").register(registry));
        }
        Timer timer = Timer.builder("sidecar.http.request.duration")
                .description("From the request's headers to the end of its response")
                .tag("listener", name)
                .serviceLevelObjectives(Duration.ofMillis(1), Duration.ofMillis(5), Duration.ofMillis(25), Duration.ofMillis(100),
                        Duration.ofMillis(500), Duration.ofSeconds(2), Duration.ofSeconds(10))
                .register(registry);
        meters.add(timer);
        proxy.observer((listener, status, nanos) -> timer.record(nanos, TimeUnit.NANOSECONDS));
        return meters;
    }

    /** The xDS client's state: stream up (0/1), updates accepted and rejected per type, seconds since the last update. */
    List<Meter> bindXds(dev.sidecar.xds.client.XdsStatus status, List<String> typeUrls) {
        List<Meter> meters = new java.util.ArrayList<>();
        meters.add(Gauge.builder("sidecar.xds.connected", status, s -> s.connected() ? 1 : 0)
                .description("1 while the ADS stream to the control plane is up").register(registry));
        meters.add(Gauge.builder("sidecar.xds.seconds.since.update", status,
                        s -> s.lastUpdateNanos() < 0 ? Double.NaN : (System.nanoTime() - s.lastUpdateNanos()) / 1e9)
                .description("seconds since an xDS response was last accepted (NaN before the first)").register(registry));
        for (String type : typeUrls) {
            String t = type.substring(type.lastIndexOf('.') + 1);
            meters.add(FunctionCounter.builder("sidecar.xds.updates.accepted", status, s -> s.accepted(type))
                    .description("xDS responses accepted (ACKed)").tag("type", t).register(registry));
            meters.add(FunctionCounter.builder("sidecar.xds.updates.rejected", status, s -> s.rejected(type))
                    .description("xDS responses rejected (NACKed)").tag("type", t).register(registry));
        }
        return meters;
    }

    List<Meter> bindCluster(Cluster cluster) {
        return new Tagged<>(cluster, "cluster", cluster.name())
                .gauge("sidecar.cluster.connections.active", "Upstream connections open or being opened now", Cluster::activeConnections)
                .counter("sidecar.cluster.connections", "Upstream connections attempted", Cluster::connections)
                .counter("sidecar.cluster.connect.failures", "Upstream connects that failed (refused, timed out, unreachable)",
                        Cluster::connectFailures)
                .gauge("sidecar.cluster.endpoints", "Endpoints in the cluster", c -> c.snapshot().endpoints().size())
                .gauge("sidecar.cluster.endpoints.healthy", "Endpoints passing their health checks and not ejected",
                        c -> c.snapshot().healthyEndpoints())
                .gauge("sidecar.cluster.panic", "1 while too few endpoints are healthy and balancing ignores health",
                        c -> c.snapshot().panic() ? 1 : 0)
                .counter("sidecar.cluster.health.check.passes", "Active health-check probes that passed", Cluster::healthCheckPasses)
                .counter("sidecar.cluster.health.check.failures", "Active health-check probes that failed", Cluster::healthCheckFailures)
                .counter("sidecar.cluster.outlier.ejections", "Endpoints ejected by outlier detection", Cluster::ejections)
                .counter("sidecar.cluster.circuit.breaker.overflows",
                        "Connections, requests or retries refused because the cluster was at a circuit_breakers limit", Cluster::overflows)
                .gauge("sidecar.cluster.requests.active", "HTTP requests in flight to the cluster", Cluster::activeRequests)
                .gauge("sidecar.cluster.requests.pending", "HTTP requests waiting for an upstream connection or stream", Cluster::pendingRequests)
                .counter("sidecar.cluster.requests", "HTTP requests sent to the cluster", Cluster::requests)
                .gauge("sidecar.cluster.pool.idle", "Idle keep-alive connections pooled for HTTP requests", Cluster::poolIdle)
                .meters;
    }

    /**
     * A listener's or a cluster's TLS: read through {@code current}, since a config change
     * replaces the object (its successor keeps the counts).
     */
    List<Meter> bindTls(String scope, String name, java.util.function.Supplier<ReloadableTls> current) {
        return new Tagged<>(current, scope, name)
                .counter("sidecar." + scope + ".tls.handshakes", "TLS handshakes completed", c -> c.get() == null ? 0 : c.get().handshakes())
                .counter("sidecar." + scope + ".tls.handshakes.resumed", "TLS handshakes completed that resumed a session (OpenSSL engine)",
                        c -> c.get() == null ? 0 : c.get().resumedHandshakes())
                .counter("sidecar." + scope + ".tls.handshake.failures", scope.equals("listener")
                        ? "TLS handshakes with clients that failed (a client leaving mid-handshake is not counted)"
                        : "TLS handshakes with endpoints that failed (untrusted or mismatched certificate, no common protocol)",
                        c -> c.get() == null ? 0 : c.get().handshakeFailures())
                .counter("sidecar." + scope + ".tls.reloads", "Times changed certificate files were loaded", c -> c.get() == null ? 0 : c.get().reloads())
                .counter("sidecar." + scope + ".tls.reload.failures", "Times changed certificate files could not be used (the loaded ones were kept)",
                        c -> c.get() == null ? 0 : c.get().reloadFailures())
                .gauge("sidecar." + scope + ".tls.certificate.expiry.seconds", "Seconds until the first of the certificates in use expires",
                        c -> c.get() == null || c.get().certificates().isEmpty() ? Double.NaN
                                : c.get().certificates().stream().mapToLong(i -> i.secondsUntilExpiry(java.time.Instant.now())).min().orElse(0))
                .meters;
    }

    void bindAccessLog(String path, AccessLogWriter writer) {
        new Tagged<>(writer, "path", path)
                .counter("sidecar.access.log.written", "Access-log lines written", AccessLogWriter::written)
                .counter("sidecar.access.log.dropped", "Access-log lines dropped because the writer fell behind", AccessLogWriter::dropped);
    }

    /** Function-backed meters over one object's counters, all with one tag; collected for removal. */
    private final class Tagged<T> {
        private final T source;
        private final String tag;
        private final String value;
        private final List<Meter> meters = new ArrayList<>();

        Tagged(T source, String tag, String value) {
            this.source = source;
            this.tag = tag;
            this.value = value;
        }

        Tagged<T> counter(String name, String description, ToDoubleFunction<T> f) {
            meters.add(FunctionCounter.builder(name, source, f).description(description).tag(tag, value).register(registry));
            return this;
        }

        Tagged<T> bytes(String name, String description, ToDoubleFunction<T> f) {
            meters.add(FunctionCounter.builder(name, source, f).description(description).baseUnit("bytes").tag(tag, value).register(registry));
            return this;
        }

        Tagged<T> gauge(String name, String description, ToDoubleFunction<T> f) {
            meters.add(Gauge.builder(name, source, f).description(description).tag(tag, value).register(registry));
            return this;
        }
    }

    void remove(List<Meter> meters) {
        meters.forEach(registry::remove);
    }

    /**
     * Registers the JVM's meters (memory pools, threads, CPU, uptime, collections). They are read
     * only by scrapes, so the first scrape registers them rather than the start, where Micrometer's
     * binders and the management beans behind them took about 40 ms of the main thread's CPU.
     */
    private void bindJvm() {
        new JvmMemoryMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        // Read from the collectors' beans at each scrape. Micrometer's JvmGcMetrics listens for a
        // notification per collection instead, which the JVM builds (with every pool's usage) on
        // each one: 0.9-1.5 % of the process's CPU under HTTP load, where young collections run
        // ten to twenty times a second.
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            FunctionTimer.builder("jvm.gc.collection", gc, GarbageCollectorMXBean::getCollectionCount,
                            GarbageCollectorMXBean::getCollectionTime, TimeUnit.MILLISECONDS)
                    .tag("gc", gc.getName())
                    .description("Garbage collections and the time spent in them, by collector")
                    .register(registry);
        }
    }

    synchronized String scrape() {
        if (!jvmBound) {
            jvmBound = true;
            bindJvm();
        }
        return registry.scrape();
    }
}
