package dev.sidecar.proxy;

import dev.sidecar.bench.BenchmarkBase;
import dev.sidecar.config.ProxyConfig;
import dev.sidecar.l7.HttpProxy;
import dev.sidecar.l7.RequestObserver;
import dev.sidecar.l7.UpstreamPools;
import dev.sidecar.upstream.ClusterManager;
import dev.sidecar.upstream.Dialer;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.DefaultEventLoopGroup;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.resolver.DefaultAddressResolverGroup;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * The metrics work of one proxied HTTP request, as the data path does it: a status-class
 * counter and the request-duration histogram of the listener's registered Prometheus timer
 * (nothing is looked up by tags). {@code -prof gc} shows whether it allocates.
 */
@State(Scope.Benchmark)
public class MetricsBenchmark extends BenchmarkBase {
    private EventLoopGroup loops;
    private HttpProxy proxy;
    private RequestObserver observer;
    private ProxyMetrics metrics;
    private long nanos = 1_000;

    @Setup
    public void setUp() {
        ProxyConfig config = ConfigLoader.parse("""
                listeners: [{ name: web, address: 127.0.0.1:1, protocol: http, cluster: app }]
                clusters: [{ name: app, endpoints: [{ address: 127.0.0.1:9 }] }]
                """);
        loops = new DefaultEventLoopGroup(1);
        metrics = new ProxyMetrics(ByteBufAllocator.DEFAULT, loops);
        ClusterManager clusters = new ClusterManager(config.clusters());
        proxy = new HttpProxy(config.listeners().get(0), clusters, new UpstreamPools(new Dialer(NioSocketChannel::new, DefaultAddressResolverGroup.INSTANCE), ByteBufAllocator.DEFAULT));
        metrics.bindHttpListener("web", proxy.stats(), proxy);
        observer = proxy.observer();
    }

    @TearDown
    public void tearDown() {
        loops.shutdownGracefully();
    }

    @Benchmark
    public void perRequest() {
        long d = nanos = nanos * 7 % 3_000_000_000L + 1; // durations spread over the buckets
        proxy.stats().response(200);
        observer.requestFinished("web", 200, d);
    }
}
