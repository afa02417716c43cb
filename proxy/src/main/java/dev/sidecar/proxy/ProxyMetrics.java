package dev.sidecar.proxy;

import dev.sidecar.l4.TcpListenerStats;
import dev.sidecar.upstream.Cluster;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.SingleThreadEventExecutor;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import java.util.ArrayList;
import java.util.List;

/**
 * The Prometheus registry. Every meter here reads counters that the data plane already keeps
 * in plain fields (listener stats, cluster and endpoint counters): nothing on the data path
 * looks up or touches a meter. Meters are registered when a listener or cluster is created and
 * removed with it.
 */
final class ProxyMetrics {
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final JvmGcMetrics gcMetrics;

    private static double pendingTasks(EventLoopGroup group) {
        int n = 0;
        for (EventExecutor e : group) {
            if (e instanceof SingleThreadEventExecutor s) {
                n += s.pendingTasks();
            }
        }
        return n;
    }

    /** Releases the GC notification listeners. */
    void close() {
        gcMetrics.close();
    }

    ProxyMetrics(ByteBufAllocator allocator, EventLoopGroup eventLoops) {
        new JvmMemoryMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        gcMetrics = new JvmGcMetrics();
        gcMetrics.bindTo(registry);
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

    /** Registers a TCP listener's meters; returns them so they can be removed with the listener. */
    List<Meter> bindListener(String name, TcpListenerStats stats) {
        List<Meter> meters = new ArrayList<>();
        meters.add(FunctionCounter.builder("sidecar.listener.connections.accepted", stats, TcpListenerStats::accepted)
                .description("Connections accepted, including those refused for the connection limit")
                .tag("listener", name).register(registry));
        meters.add(FunctionCounter.builder("sidecar.listener.connections.refused", stats, TcpListenerStats::refused)
                .description("Connections closed at once because the listener was at max_connections")
                .tag("listener", name).register(registry));
        meters.add(Gauge.builder("sidecar.listener.connections.active", stats, TcpListenerStats::active)
                .description("Downstream connections open now")
                .tag("listener", name).register(registry));
        meters.add(FunctionCounter.builder("sidecar.listener.received", stats, TcpListenerStats::bytesIn)
                .description("Bytes read from downstream clients").baseUnit("bytes")
                .tag("listener", name).register(registry));
        meters.add(FunctionCounter.builder("sidecar.listener.sent", stats, TcpListenerStats::bytesOut)
                .description("Bytes sent to downstream clients").baseUnit("bytes")
                .tag("listener", name).register(registry));
        meters.add(FunctionCounter.builder("sidecar.listener.upstream.failures", stats, TcpListenerStats::upstreamFailures)
                .description("Downstream connections closed because no upstream could be connected")
                .tag("listener", name).register(registry));
        return meters;
    }

    List<Meter> bindCluster(Cluster cluster) {
        List<Meter> meters = new ArrayList<>();
        meters.add(Gauge.builder("sidecar.cluster.connections.active", cluster, Cluster::activeConnections)
                .description("Upstream connections open or being opened now")
                .tag("cluster", cluster.name()).register(registry));
        meters.add(FunctionCounter.builder("sidecar.cluster.connections", cluster, Cluster::connections)
                .description("Upstream connections attempted")
                .tag("cluster", cluster.name()).register(registry));
        meters.add(FunctionCounter.builder("sidecar.cluster.connect.failures", cluster, Cluster::connectFailures)
                .description("Upstream connects that failed (refused, timed out, unreachable)")
                .tag("cluster", cluster.name()).register(registry));
        meters.add(Gauge.builder("sidecar.cluster.endpoints", cluster, c -> c.snapshot().endpoints().size())
                .description("Endpoints in the cluster")
                .tag("cluster", cluster.name()).register(registry));
        meters.add(Gauge.builder("sidecar.cluster.endpoints.healthy", cluster, c -> c.snapshot().healthyEndpoints())
                .description("Endpoints passing their health checks and not ejected")
                .tag("cluster", cluster.name()).register(registry));
        meters.add(Gauge.builder("sidecar.cluster.panic", cluster, c -> c.snapshot().panic() ? 1 : 0)
                .description("1 while too few endpoints are healthy and balancing ignores health")
                .tag("cluster", cluster.name()).register(registry));
        meters.add(FunctionCounter.builder("sidecar.cluster.health.check.passes", cluster, Cluster::healthCheckPasses)
                .description("Active health-check probes that passed")
                .tag("cluster", cluster.name()).register(registry));
        meters.add(FunctionCounter.builder("sidecar.cluster.health.check.failures", cluster, Cluster::healthCheckFailures)
                .description("Active health-check probes that failed")
                .tag("cluster", cluster.name()).register(registry));
        meters.add(FunctionCounter.builder("sidecar.cluster.outlier.ejections", cluster, Cluster::ejections)
                .description("Endpoints ejected by outlier detection")
                .tag("cluster", cluster.name()).register(registry));
        meters.add(FunctionCounter.builder("sidecar.cluster.circuit.breaker.overflows", cluster, Cluster::overflows)
                .description("Connections refused because the cluster was at circuit_breakers.max_connections")
                .tag("cluster", cluster.name()).register(registry));
        return meters;
    }

    void bindAccessLog(String path, AccessLogWriter writer) {
        FunctionCounter.builder("sidecar.access.log.written", writer, AccessLogWriter::written)
                .description("Access-log lines written").tag("path", path).register(registry);
        FunctionCounter.builder("sidecar.access.log.dropped", writer, AccessLogWriter::dropped)
                .description("Access-log lines dropped because the writer fell behind").tag("path", path).register(registry);
    }

    void remove(List<Meter> meters) {
        meters.forEach(registry::remove);
    }

    String scrape() {
        return registry.scrape();
    }
}
