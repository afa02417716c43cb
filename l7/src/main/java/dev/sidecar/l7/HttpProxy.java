package dev.sidecar.l7;

import static java.util.Objects.requireNonNull;

import dev.sidecar.config.HttpSettings;
import dev.sidecar.config.ListenerConfig;
import dev.sidecar.tls.ServerTls;
import dev.sidecar.upstream.ClusterManager;
import dev.sidecar.upstream.proxyprotocol.ProxyProtocolReader;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.ChannelGroupFuture;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.function.LongSupplier;

/**
 * One HTTP listener's proxying: the pipeline each accepted connection gets (HTTP/1.1, or HTTP/2
 * by prior knowledge or h2c upgrade), its compiled route table, its counters, and the set of its
 * open connections for draining. The listening socket and the event loops are the proxy
 * module's.
 */
public final class HttpProxy {
    /** Per-channel buffering bound, as on L4: one read batch in flight, then backpressure. */
    static final WriteBufferWaterMark WATER_MARK = new WriteBufferWaterMark(32 * 1024, 64 * 1024);
    /** Response header block accepted from an upstream. */
    static final int MAX_UPSTREAM_HEADER_BYTES = 64 * 1024;
    /** Stream window offered to upstream HTTP/2 servers: as much as the downstream side buffers. */
    static final int UPSTREAM_STREAM_WINDOW = 64 * 1024;

    private volatile Settings settings;
    private final ClusterManager clusters;
    private final UpstreamPools pools;
    private final LongSupplier nanoClock;
    private final HttpListenerStats stats = new HttpListenerStats();
    private final ChannelGroup connections;
    private volatile RequestObserver observer = RequestObserver.NONE;
    private volatile RequestLog requestLog;
    private volatile ServerTls tls;
    private volatile boolean draining;
    private volatile boolean closing;
    private volatile OverloadState overload = new OverloadState();

    public HttpProxy(ListenerConfig config, ClusterManager clusters, UpstreamPools pools) {
        this(config, clusters, pools, System::nanoTime);
    }

    public HttpProxy(ListenerConfig config, ClusterManager clusters, UpstreamPools pools, LongSupplier nanoClock) {
        this.clusters = requireNonNull(clusters, "clusters");
        this.pools = requireNonNull(pools, "pools");
        this.nanoClock = requireNonNull(nanoClock, "nanoClock");
        this.settings = Settings.of(requireNonNull(config, "config"), clusters, nanoClock);
        this.connections = new DefaultChannelGroup(config.name(), GlobalEventExecutor.INSTANCE);
    }

    /** What connections accepted from now on run with: the config and its compiled route table. */
    record Settings(ListenerConfig config, HttpSettings http, RouteTable routes) {
        static Settings of(ListenerConfig c, ClusterManager clusters, LongSupplier nanoClock) {
            return new Settings(c, c.http(), RouteTable.compile(c.routes(), clusters, nanoClock));
        }
    }

    public ListenerConfig config() {
        return settings.config();
    }

    Settings settings() {
        return settings;
    }

    /**
     * Applies a new version of the listener's config (and the cluster set it routes to): new
     * requests on every connection use the new route table; connection-level settings (HTTP/2
     * windows, limits) apply to connections accepted from now on.
     */
    public void update(ListenerConfig next) {
        ListenerConfig current = settings.config();
        if (!next.name().equals(current.name()) || !next.address().equals(current.address())) {
            throw new IllegalArgumentException("listener " + current.name() + " at " + current.address()
                    + " cannot become " + next.name() + " at " + next.address());
        }
        settings = Settings.of(next, clusters, nanoClock);
    }

    /** TLS for connections accepted from now on (null: plaintext); open connections keep theirs. */
    public void tls(ServerTls tls) {
        this.tls = tls;
    }

    /** Where finished requests are logged; null (the default) for no access log. */
    public void requestLog(RequestLog log) {
        this.requestLog = log;
    }

    RequestLog requestLog() {
        return requestLog;
    }

    public void observer(RequestObserver observer) {
        this.observer = observer == null ? RequestObserver.NONE : observer;
    }

    public RequestObserver observer() {
        return observer;
    }

    /** The process-wide overload flag new requests check; by default one of its own that nothing sets. */
    public void overload(OverloadState overload) {
        this.overload = requireNonNull(overload, "overload");
    }

    OverloadState overload() {
        return overload;
    }

    public HttpListenerStats stats() {
        return stats;
    }

    public ChannelGroup connections() {
        return connections;
    }

    UpstreamPools pools() {
        return pools;
    }

    LongSupplier nanoClock() {
        return nanoClock;
    }

    boolean draining() {
        return draining;
    }

    boolean closing() {
        return closing;
    }

    /** Closes every connection now, without lingering: the listener is going away or the process is stopping. */
    public ChannelGroupFuture closeConnections() {
        closing = true;
        return connections.close();
    }

    /**
     * Starts a graceful drain: HTTP/1.1 responses from now on carry {@code Connection: close},
     * and each HTTP/2 connection gets a GOAWAY at a random moment within the first half of
     * {@code window}, so clients move to other proxies gradually rather than all at once. Requests
     * in flight finish; connections close once idle.
     */
    public void drain(Duration window) {
        draining = true;
        long spread = Math.max(1, window.toNanos() / 2);
        for (Channel ch : connections) {
            ConnectionHandler h = ch.pipeline().get(ConnectionHandler.class);
            if (h != null) {
                ch.eventLoop().schedule(() -> h.drain(), ThreadLocalRandom.current().nextLong(spread), TimeUnit.NANOSECONDS);
            }
        }
    }

    /** Sets the options every accepted connection needs on a server bootstrap's child side. */
    public static void configureChild(BiConsumer<ChannelOption<Object>, Object> childOption) {
        childOption.accept(option(ChannelOption.AUTO_READ), false);
        childOption.accept(option(ChannelOption.TCP_NODELAY), true);
        childOption.accept(option(ChannelOption.WRITE_BUFFER_WATER_MARK), WATER_MARK);
    }

    @SuppressWarnings("unchecked")
    private static ChannelOption<Object> option(ChannelOption<?> o) {
        return (ChannelOption<Object>) o;
    }

    public ChannelInitializer<Channel> childInitializer() {
        return new ChannelInitializer<>() {
            @Override
            protected void initChannel(Channel ch) {
                ListenerConfig c = settings.config();
                if (c.proxyProtocol()) {
                    // the header comes before anything else, TLS included; the request-headers
                    // timeout bounds it when shorter than the reader's own
                    long timeout = Math.min(ProxyProtocolReader.timeoutNanos(c.idleTimeout()), c.http().requestHeadersTimeout().toNanos());
                    ProxyProtocolReader.install(ch, c.name(), timeout, stats.proxyProtocolRejected, HttpProxy.this::initConnection);
                } else {
                    initConnection(ch);
                }
            }
        };
    }

    private void initConnection(Channel ch) {
        ServerTls t = tls;
        if (t != null) {
            // first: everything after it sees plaintext
            ch.pipeline().addLast(t.newHandler(ch.alloc()));
        }
        ch.pipeline().addLast(new ConnectionHandler(HttpProxy.this, settings, t));
    }
}
