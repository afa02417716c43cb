package dev.sidecar.l7;

import dev.sidecar.config.ClusterConfig;
import dev.sidecar.tls.ClientTls;
import dev.sidecar.upstream.Cluster;
import dev.sidecar.upstream.Endpoint;
import dev.sidecar.upstream.proxyprotocol.ProxyProtocolHeader;
import dev.sidecar.upstream.proxyprotocol.ProxyProtocolSender;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2SettingsFrame;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The upstream connections of one endpoint on one event loop, for one protocol. Only that loop
 * touches it, so it has no locks; a request's upstream channel is always on its downstream
 * channel's loop, so a proxied byte never changes thread.
 *
 * <p>HTTP/1.1: idle keep-alive connections in a LIFO (the most recently used is the least likely
 * to have been closed by the upstream), each closed after the cluster's pool idle timeout.
 * HTTP/2: multiplexed connections, each taking streams up to the peer's
 * SETTINGS_MAX_CONCURRENT_STREAMS; another connection is opened when all are full, and one that
 * received GOAWAY takes no new streams and closes when its last one ends.
 */
final class EndpointPool {
    /** Until the peer's SETTINGS say otherwise; RFC 9113 recommends at least 100. */
    private static final int ASSUMED_MAX_STREAMS = 100;

    final Endpoint endpoint;
    private final Cluster cluster;
    private final EventLoop loop;
    private final UpstreamPools pools;
    private final boolean h2;
    /** Written first on every connection of this pool; null when the cluster sends no PROXY header. */
    private final ProxyProtocolHeader header;
    private final ArrayDeque<UpstreamStream> idle = new ArrayDeque<>();
    private final List<H2Connection> connections = new ArrayList<>();
    private ClusterConfig config;
    private boolean retired;
    private boolean sweepScheduled;
    private final Runnable sweep = this::sweepIdle;

    EndpointPool(Endpoint endpoint, Cluster cluster, EventLoop loop, UpstreamPools pools, boolean h2, ProxyProtocolHeader header) {
        this.header = header;
        this.endpoint = endpoint;
        this.cluster = cluster;
        this.loop = loop;
        this.pools = pools;
        this.h2 = h2;
    }

    /** Called by an exchange wanting a channel to send one request on. */
    void acquire(ClusterConfig config, UpstreamPools.Acquirer acquirer) {
        this.config = config;
        if (h2) {
            acquireStream(acquirer);
            return;
        }
        UpstreamStream s;
        ClientTls tls = pools.upstreamTls(cluster.name());
        while (!acquirer.wantsFreshConnection() && (s = pollIdle()) != null) {
            if (s.channel.isActive() && s.tls == tls) {
                acquirer.acquired(s, true);
                return;
            }
            s.channel.close(); // closed by the upstream, or made before the cluster's TLS changed
        }
        connectHttp1(acquirer, tls);
    }

    int idleConnections() {
        return idle.size();
    }

    private boolean admitConnection(UpstreamPools.Acquirer acquirer) {
        if (!cluster.tryConnectionOpened(endpoint, config.circuitBreakers().maxConnections())) {
            acquirer.failed(new PoolOverflow("cluster " + cluster.name() + " is at circuit_breakers.max_connections"), false);
            return false;
        }
        return true;
    }

    private Bootstrap bootstrap(boolean autoRead) {
        return pools.dialer().bootstrap(loop)
                .option(ChannelOption.AUTO_READ, autoRead)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.ALLOCATOR, pools.allocator())
                .option(ChannelOption.WRITE_BUFFER_WATER_MARK, HttpProxy.WATER_MARK)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.max(1, Math.min(Integer.MAX_VALUE, config.connectTimeout().toMillis())));
    }

    /** @param tls the cluster's TLS now (null: plaintext), as {@link #acquire} looked it up */
    private void connectHttp1(UpstreamPools.Acquirer acquirer, ClientTls tls) {
        if (!admitConnection(acquirer)) {
            return;
        }
        Bootstrap b = bootstrap(false).handler(new ChannelInitializer<>() {
            @Override
            protected void initChannel(Channel ch) {
                addHeader(ch);
                if (tls != null) {
                    ch.pipeline().addLast(tls.newHandler(ch.alloc(), endpoint.address().host(), endpoint.address().port()));
                }
                ch.pipeline().addLast(new HttpClientCodec(4096, HttpProxy.MAX_UPSTREAM_HEADER_BYTES, 64 * 1024));
                ch.pipeline().addLast(new UpstreamStream(ch, EndpointPool.this, null, tls));
            }
        });
        ChannelFuture f = b.connect(endpoint.socketAddress());
        Channel ch = f.channel();
        endpoint.track(ch);
        pools.track(ch);
        ch.closeFuture().addListener(x -> cluster.connectionClosed(endpoint));
        whenReady(f, tls, () -> acquirer.acquired(ch.pipeline().get(UpstreamStream.class), false), cause -> {
            cluster.connectFailed(endpoint);
            acquirer.failed(cause, true);
        });
    }

    /** First in the pipeline: the PROXY header precedes everything, a TLS ClientHello included. */
    private void addHeader(Channel ch) {
        if (header != null) {
            ch.pipeline().addLast(new ProxyProtocolSender(header));
        }
    }

    /**
     * Runs {@code ready} once the connection can carry requests: connected, and with TLS, its
     * handshake done. A handshake the certificate checks refuse is a failed connect (counted,
     * logged once per reason by the cluster's TLS), so the request may go to another endpoint.
     */
    private void whenReady(ChannelFuture f, ClientTls tls, Runnable ready, java.util.function.Consumer<Throwable> failed) {
        f.addListener(x -> {
            if (!f.isSuccess()) {
                failed.accept(f.cause());
            } else if (tls == null) {
                ready.run();
            } else {
                f.channel().pipeline().get(SslHandler.class).handshakeFuture().addListener(h -> {
                    if (h.isSuccess()) {
                        tls.handshakeCompleted();
                        ready.run();
                    } else {
                        tls.handshakeFailed(endpoint.toString(), h.cause());
                        f.channel().close();
                        failed.accept(h.cause());
                    }
                });
            }
        });
    }

    /** A connection that finished a request cleanly is kept for the next one, up to the pool's cap. */
    void offerIdle(UpstreamStream s) {
        int max = config.httpPool().maxIdleConnections();
        int maxUses = config.httpPool().maxRequestsPerConnection();
        if (retired || idle.size() >= max || (maxUses > 0 && s.uses >= maxUses) || pools.closing()
                || s.tls != pools.upstreamTls(cluster.name())) {
            s.channel.close();
            return;
        }
        s.idleSince = System.nanoTime();
        idle.addFirst(s);
        cluster.poolIdleChanged(1);
        s.channel.config().setAutoRead(true); // so a close by the upstream is noticed while idle
        if (!sweepScheduled) {
            scheduleSweep(config.httpPool().idleTimeout().toNanos());
        }
    }

    private void scheduleSweep(long delayNanos) {
        sweepScheduled = true;
        loop.schedule(sweep, delayNanos, TimeUnit.NANOSECONDS);
    }

    /**
     * Closes the idle connections that have waited the pool's idle timeout. The deque is in
     * the order they became idle (newest first), so only its oldest end is looked at, and one
     * timer per pool, set for the oldest's expiry, does for all of them: a pooled request costs
     * no timer of its own.
     */
    private void sweepIdle() {
        sweepScheduled = false;
        long idleNanos = config.httpPool().idleTimeout().toNanos();
        long now = System.nanoTime();
        UpstreamStream oldest;
        while ((oldest = idle.peekLast()) != null) {
            long left = oldest.idleSince + idleNanos - now;
            if (left > 0) {
                scheduleSweep(left);
                return;
            }
            idle.pollLast();
            cluster.poolIdleChanged(-1);
            oldest.channel.close();
        }
    }

    void closed(UpstreamStream s) {
        removeIdle(s);
    }

    private UpstreamStream pollIdle() {
        UpstreamStream s = idle.pollFirst();
        if (s != null) {
            cluster.poolIdleChanged(-1);
        }
        return s;
    }

    private boolean removeIdle(UpstreamStream s) {
        if (idle.remove(s)) {
            cluster.poolIdleChanged(-1);
            return true;
        }
        return false;
    }

    /** The endpoint left its cluster: idle connections close, and none is pooled from now on. */
    void retire() {
        retired = true;
        closeIdle();
    }

    /** Closes every idle connection (the proxy is shutting down or the endpoint went away). */
    void closeIdle() {
        UpstreamStream s;
        while ((s = pollIdle()) != null) {
            s.channel.close();
        }
        for (H2Connection c : new ArrayList<>(connections)) {
            if (c.streams == 0) {
                c.channel.close();
            }
        }
    }

    // ---- HTTP/2 ----

    private void acquireStream(UpstreamPools.Acquirer acquirer) {
        ClientTls tls = pools.upstreamTls(cluster.name());
        H2Connection room = null;
        List<H2Connection> stale = null;
        for (H2Connection c : connections) {
            if (c.tls != tls) {
                if (stale == null) {
                    stale = new ArrayList<>(1);
                }
                stale.add(c); // made before the cluster's TLS changed
            } else if (room == null && c.hasRoom()) {
                room = c;
            }
        }
        if (stale != null) {
            stale.forEach(H2Connection::retire); // a close takes the connection off the list
        }
        if (room != null) {
            room.open(acquirer);
            return;
        }
        if (!admitConnection(acquirer)) {
            return;
        }
        H2Connection c = new H2Connection();
        connections.add(c);
        c.connect(acquirer);
    }

    /** One multiplexed upstream connection. */
    final class H2Connection {
        Channel channel;
        private boolean connected;
        boolean goingAway;
        /** Streams handed out and not yet ended, plus those waiting for the connect. */
        int streams;
        private int maxStreams = ASSUMED_MAX_STREAMS;
        private final ArrayDeque<UpstreamPools.Acquirer> waiting = new ArrayDeque<>();
        private long idleSince;
        private boolean idleCheckScheduled;
        private final Runnable idleCheck = this::idleCheck;
        /** The cluster's TLS when the connection was made (null: plaintext). */
        ClientTls tls;

        /**
         * Streams are handed out while the connection is still being made (they wait for it), so
         * a burst of requests to a new endpoint shares one connection instead of opening one each.
         */
        boolean hasRoom() {
            return !goingAway && (!connected || channel.isActive()) && streams < maxStreams;
        }

        void connect(UpstreamPools.Acquirer first) {
            streams++;
            waiting.add(first);
            Http2FrameCodec codec = Http2FrameCodecBuilder.forClient()
                    .initialSettings(Http2Settings.defaultSettings().pushEnabled(false).initialWindowSize(HttpProxy.UPSTREAM_STREAM_WINDOW))
                    .validateHeaders(true)
                    .build();
            ClientTls tls = pools.upstreamTls(cluster.name());
            this.tls = tls;
            Bootstrap b = bootstrap(true).handler(new ChannelInitializer<>() {
                @Override
                protected void initChannel(Channel ch) {
                    addHeader(ch);
                    if (tls != null) {
                        ch.pipeline().addLast(tls.newHandler(ch.alloc(), endpoint.address().host(), endpoint.address().port()));
                    }
                    ch.pipeline().addLast(codec);
                    ch.pipeline().addLast(new Http2MultiplexHandler(new ChannelInboundHandlerAdapter()));
                    ch.pipeline().addLast(new ConnectionEvents());
                }
            });
            ChannelFuture f = b.connect(endpoint.socketAddress());
            channel = f.channel();
            endpoint.track(channel);
            pools.track(channel);
            channel.closeFuture().addListener(x -> {
                cluster.connectionClosed(endpoint);
                connections.remove(this);
            });
            whenReady(f, tls, () -> {
                connected = true;
                UpstreamPools.Acquirer a;
                while ((a = waiting.poll()) != null) {
                    streams--;
                    open(a);
                }
            }, cause -> {
                cluster.connectFailed(endpoint);
                connections.remove(this);
                UpstreamPools.Acquirer a;
                while ((a = waiting.poll()) != null) {
                    streams--;
                    a.failed(cause, true);
                }
            });
        }

        void open(UpstreamPools.Acquirer acquirer) {
            streams++;
            if (!connected) {
                waiting.add(acquirer);
                return;
            }
            new Http2StreamChannelBootstrap(channel)
                    .option(ChannelOption.AUTO_READ, false)
                    .handler(new ChannelInitializer<Http2StreamChannel>() {
                        @Override
                        protected void initChannel(Http2StreamChannel ch) {
                            ch.pipeline().addLast(new Http2StreamFrameToHttpObjectCodec(false, true));
                            ch.pipeline().addLast(new UpstreamStream(ch, EndpointPool.this, H2Connection.this, tls));
                        }
                    })
                    .open()
                    .addListener((Future<Http2StreamChannel> f) -> {
                        if (f.isSuccess()) {
                            acquirer.acquired(f.getNow().pipeline().get(UpstreamStream.class), false);
                        } else {
                            streams--;
                            acquirer.failed(f.cause(), false);
                        }
                    });
        }

        /** Takes no new streams and closes once its last stream ends. */
        void retire() {
            goingAway = true;
            if (streams == 0 && channel != null) {
                channel.close();
            }
        }

        void streamEnded() {
            streams--;
            if (streams == 0) {
                if (goingAway || pools.closing() || retired) {
                    channel.close();
                    return;
                }
                idleSince = System.nanoTime();
                if (!idleCheckScheduled) {
                    scheduleIdleCheck(config.httpPool().idleTimeout().toNanos());
                }
            }
        }

        /** One timer per connection at a time, re-armed for what is left of the idle timeout. */
        private void scheduleIdleCheck(long delayNanos) {
            idleCheckScheduled = true;
            loop.schedule(idleCheck, delayNanos, TimeUnit.NANOSECONDS);
        }

        private void idleCheck() {
            idleCheckScheduled = false;
            if (streams != 0 || !channel.isActive()) {
                return;
            }
            long left = idleSince + config.httpPool().idleTimeout().toNanos() - System.nanoTime();
            if (left > 0) {
                scheduleIdleCheck(left);
            } else {
                channel.close();
            }
        }

        /** Connection-level frames the multiplexer passes up: the peer's limits and its GOAWAY. */
        private final class ConnectionEvents extends ChannelInboundHandlerAdapter {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                if (msg instanceof Http2SettingsFrame s && s.settings().maxConcurrentStreams() != null) {
                    maxStreams = (int) Math.min(Integer.MAX_VALUE, s.settings().maxConcurrentStreams());
                } else if (msg instanceof Http2GoAwayFrame) {
                    goingAway = true;
                    if (streams == 0) {
                        ctx.close();
                    }
                }
                ReferenceCountUtil.release(msg);
            }

            @Override
            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                ctx.close();
            }
        }
    }

    /** A request refused because the cluster's connection limit is reached. */
    static final class PoolOverflow extends RuntimeException {
        PoolOverflow(String message) {
            super(message, null, false, false);
        }
    }
}
