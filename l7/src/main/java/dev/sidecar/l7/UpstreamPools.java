package dev.sidecar.l7;

import static java.util.Objects.requireNonNull;

import dev.sidecar.config.ClusterConfig;
import dev.sidecar.tls.ClientTls;
import dev.sidecar.upstream.Cluster;
import dev.sidecar.upstream.Dialer;
import dev.sidecar.upstream.Endpoint;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.EventLoop;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.FastThreadLocal;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.util.HashMap;
import java.util.Map;

/**
 * Every HTTP listener's upstream connection pools: per event loop, per endpoint, per protocol.
 * Endpoints keep their identity across config updates, so their pooled connections survive an
 * update that keeps them; a removed endpoint's connections are closed by its drain.
 */
public final class UpstreamPools {
    static final int PRUNE_EVERY = 1024;

    private final Dialer dialer;
    private final ByteBufAllocator allocator;
    private volatile boolean closing;
    private volatile java.util.function.Function<String, ClientTls> upstreamTls = cluster -> null;
    /** Every upstream connection, so shutdown can close them while the event loops still run. */
    private final ChannelGroup channels = new DefaultChannelGroup("upstream-pools", GlobalEventExecutor.INSTANCE);
    /** One loop's pools, by endpoint, and how many acquires since it last dropped retired endpoints. */
    private static final class PerLoop {
        final Map<Endpoint, EndpointPool[]> pools = new HashMap<>();
        int sincePrune;
    }

    private final FastThreadLocal<PerLoop> perLoop = new FastThreadLocal<>() {
        @Override
        protected PerLoop initialValue() {
            return new PerLoop();
        }
    };

    public UpstreamPools(Dialer dialer, ByteBufAllocator allocator) {
        this.dialer = requireNonNull(dialer, "dialer");
        this.allocator = requireNonNull(allocator, "allocator");
    }

    /**
     * Gets a channel for one request to {@code endpoint}; must run on {@code loop}. A cluster that
     * sends a PROXY header gets its connections from {@code downstream}'s own pools: the header
     * names one client, so such a connection never carries another client's requests.
     */
    void acquire(EventLoop loop, Cluster cluster, ClusterConfig config, Endpoint endpoint, boolean h2, ConnectionHandler downstream,
                 Acquirer acquirer) {
        if (config.proxyProtocol() != null) {
            downstream.ownPool(endpoint, cluster, loop, this, h2, config.proxyProtocol()).acquire(config, acquirer);
            return;
        }
        PerLoop state = perLoop.get();
        if (++state.sincePrune > Math.max(PRUNE_EVERY, state.pools.size())) {
            state.sincePrune = 0;
            prune(state);
        }
        EndpointPool[] pair = state.pools.computeIfAbsent(endpoint, e -> new EndpointPool[2]);
        int i = h2 ? 1 : 0;
        EndpointPool pool = pair[i];
        if (pool == null) {
            pool = pair[i] = new EndpointPool(endpoint, cluster, loop, this, h2, null);
        }
        pool.acquire(config, acquirer);
    }

    /**
     * Drops the pools of endpoints that updates removed, closing their idle connections (busy
     * ones finish their requests, then close instead of going back to a pool). Runs every
     * {@value #PRUNE_EVERY} acquires on a loop, or every as many acquires as the loop has
     * pools, so its cost per request stays constant however many endpoints come and go.
     */
    private static void prune(PerLoop state) {
        state.pools.entrySet().removeIf(e -> {
            if (!e.getKey().retired()) {
                return false;
            }
            for (EndpointPool pool : e.getValue()) {
                if (pool != null) {
                    pool.retire();
                }
            }
            return true;
        });
    }

    /** Pools held on the calling loop (for tests). */
    int poolsOnThisLoop() {
        return perLoop.get().pools.size();
    }

    /** Where a cluster's TLS origination comes from (null for plaintext); read at each new connection. */
    public void upstreamTls(java.util.function.Function<String, ClientTls> byCluster) {
        this.upstreamTls = requireNonNull(byCluster, "byCluster");
    }

    ClientTls upstreamTls(String cluster) {
        return upstreamTls.apply(cluster);
    }

    /** Closes every upstream connection and keeps none from now on; call before the event loops stop. */
    public void close() {
        closing = true;
        channels.close().awaitUninterruptibly(5, java.util.concurrent.TimeUnit.SECONDS);
    }

    void track(io.netty.channel.Channel ch) {
        channels.add(ch);
    }

    boolean closing() {
        return closing;
    }

    Dialer dialer() {
        return dialer;
    }

    ByteBufAllocator allocator() {
        return allocator;
    }

    /** Told when a channel for one request is ready, or why none could be had. */
    interface Acquirer {
        /** @param reused the channel carried earlier requests (a failure on it may be a stale connection) */
        void acquired(UpstreamStream stream, boolean reused);

        /** @param connectFailure the endpoint could not be reached (not a local limit) */
        void failed(Throwable cause, boolean connectFailure);

        /** True when a pooled idle connection must not be used (the last one turned out stale). */
        default boolean wantsFreshConnection() {
            return false;
        }
    }
}
