package dev.sidecar.l4;

import static java.util.Objects.requireNonNull;

import dev.sidecar.config.HashPolicy;
import dev.sidecar.config.ListenerConfig;
import dev.sidecar.upstream.ClusterManager;
import dev.sidecar.upstream.Dialer;
import dev.sidecar.upstream.PickContext;
import dev.sidecar.upstream.proxyprotocol.ClientAddress;
import dev.sidecar.upstream.proxyprotocol.ProxyProtocolReader;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.GlobalEventExecutor;
import dev.sidecar.tls.ClientTls;
import dev.sidecar.tls.ServerTls;
import java.net.InetSocketAddress;
import java.util.function.Function;
import java.util.function.LongSupplier;
import net.openhft.hashing.LongHashFunction;

/**
 * One TCP listener's proxying: what each accepted connection gets (its pipeline and the
 * upstream connect), its counters, and the set of its open connections for draining.
 *
 * <p>The listening socket itself is the proxy module's; it binds a server channel with
 * {@link #childInitializer()} and {@link #configureChild} and owns the event loops.
 */
public final class TcpProxy {
    /**
     * Per-direction buffering bound. 64 KiB is one full read batch of the adaptive receive
     * allocator: enough to keep a loopback stream at full speed, small enough that 10,000 idle
     * connections cost nothing and 10,000 busy ones cost well under 1 GiB.
     */
    static final WriteBufferWaterMark WATER_MARK = new WriteBufferWaterMark(32 * 1024, 64 * 1024);

    private volatile Settings settings;
    private final ClusterManager clusters;
    private final Dialer dialer;
    private final ByteBufAllocator allocator;
    private final TcpListenerStats stats = new TcpListenerStats();
    private final ChannelGroup connections;
    private final LongSupplier nanoClock;
    private volatile ConnectionLog connectionLog;
    private volatile ServerTls tls;
    private volatile Function<String, ClientTls> upstreamTls = cluster -> null;

    public TcpProxy(ListenerConfig config, ClusterManager clusters, Dialer dialer, ByteBufAllocator allocator) {
        this(config, clusters, dialer, allocator, System::nanoTime);
    }

    /** As above, with the monotonic clock that idle timeouts read (tests pass their own). */
    public TcpProxy(ListenerConfig config, ClusterManager clusters, Dialer dialer,
                    ByteBufAllocator allocator, LongSupplier nanoClock) {
        this.nanoClock = requireNonNull(nanoClock, "nanoClock");
        this.settings = Settings.of(requireNonNull(config, "config"));
        this.clusters = requireNonNull(clusters, "clusters");
        this.dialer = requireNonNull(dialer, "dialer");
        this.allocator = requireNonNull(allocator, "allocator");
        this.connections = new DefaultChannelGroup(config.name(), GlobalEventExecutor.INSTANCE);
    }

    /** Sets (or with null, clears) where finished connections are logged; applies to new connections. */
    public void connectionLog(ConnectionLog log) {
        connectionLog = log;
    }

    ConnectionLog connectionLog() {
        return connectionLog;
    }

    /**
     * Sets (or with null, clears) the TLS this listener terminates; applies to connections
     * accepted from now on. A terminated connection is relayed in plaintext to the cluster.
     */
    public void tls(ServerTls tls) {
        this.tls = tls;
    }

    public ServerTls tls() {
        return tls;
    }

    /** Where each cluster's TLS origination comes from (null for a plaintext cluster); read per upstream connect. */
    public void upstreamTls(Function<String, ClientTls> byCluster) {
        this.upstreamTls = requireNonNull(byCluster, "byCluster");
    }

    ClientTls upstreamTls(String cluster) {
        return upstreamTls.apply(cluster);
    }

    /** The listener's config for new connections. */
    public ListenerConfig config() {
        return settings.config();
    }

    /**
     * Applies a new version of this listener's config to connections accepted from now on; open
     * connections keep the settings they started with. The name and address cannot change
     * (a new address is a new listener).
     */
    public void update(ListenerConfig next) {
        ListenerConfig current = settings.config();
        if (!next.name().equals(current.name()) || !next.address().equals(current.address())) {
            throw new IllegalArgumentException("listener " + current.name() + " at " + current.address()
                    + " cannot become " + next.name() + " at " + next.address());
        }
        settings = Settings.of(next);
    }

    /** What one connection runs with, read once when it is accepted. */
    record Settings(ListenerConfig config, boolean hashSourceIp, long flushOnCloseTimeoutMillis) {
        static Settings of(ListenerConfig c) {
            return new Settings(c, c.hashPolicy().stream().anyMatch(p -> p instanceof HashPolicy.SourceIp),
                    // how long a closing side may take to flush what the other side sent before it closed
                    Math.min(c.idleTimeout().toMillis(), 10_000L));
        }
    }

    Settings settings() {
        return settings;
    }

    public TcpListenerStats stats() {
        return stats;
    }

    /** The open downstream connections; closing them closes their upstreams too. */
    public ChannelGroup connections() {
        return connections;
    }

    /** Sets the options every accepted connection needs on a server bootstrap's child side. */
    public static void configureChild(java.util.function.BiConsumer<ChannelOption<Object>, Object> childOption) {
        childOption.accept(option(ChannelOption.AUTO_READ), false);
        childOption.accept(option(ChannelOption.ALLOW_HALF_CLOSURE), true);
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
                    // the header comes before anything else, TLS included
                    ProxyProtocolReader.install(ch, c.name(), ProxyProtocolReader.timeoutNanos(c.idleTimeout()), stats.proxyProtocolRejected,
                            TcpProxy.this::initConnection);
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
        ch.pipeline().addLast(new Downstream(TcpProxy.this, t));
    }

    /**
     * The hash key of a connection: its source IP when the listener's hash_policy asks for it
     * (xxHash64 of the address bytes, so IPv4 and IPv6 keys spread alike), else none.
     */
    static PickContext pickContext(Settings settings, Channel downstream) {
        if (!settings.hashSourceIp() || !(ClientAddress.source(downstream) instanceof InetSocketAddress remote) || remote.getAddress() == null) {
            return PickContext.NONE;
        }
        return PickContext.ofHash(LongHashFunction.xx().hashBytes(remote.getAddress().getAddress()));
    }

    /** The monotonic clock idle timeouts are measured with. */
    LongSupplier nanoClock() {
        return nanoClock;
    }

    ClusterManager clusters() {
        return clusters;
    }

    Dialer dialer() {
        return dialer;
    }

    ByteBufAllocator allocator() {
        return allocator;
    }


}
