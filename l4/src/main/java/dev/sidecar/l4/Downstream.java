package dev.sidecar.l4;

import dev.sidecar.config.ClusterType;
import dev.sidecar.config.HostPort;
import dev.sidecar.config.ListenerConfig;
import dev.sidecar.config.ProxyProtocolVersion;
import dev.sidecar.upstream.proxyprotocol.ClientAddress;
import dev.sidecar.upstream.proxyprotocol.ProxyProtocolHeader;
import dev.sidecar.upstream.proxyprotocol.ProxyProtocolSender;
import java.net.InetSocketAddress;
import dev.sidecar.upstream.Cluster;
import dev.sidecar.upstream.ClusterSnapshot;
import dev.sidecar.upstream.Endpoint;
import dev.sidecar.upstream.PickContext;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import dev.sidecar.tls.ClientTls;
import dev.sidecar.tls.ServerTls;
import dev.sidecar.tls.TlsErrors;
import java.nio.channels.ClosedChannelException;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The downstream side of one proxied connection until its upstream is connected: admission
 * (max_connections), the endpoint pick, and the connect with failover. Once connected it hands
 * over to a {@link Relay} on each side; an {@link IdleTimer} watches both.
 *
 * <p>While the upstream connects, one read batch from the client is asked for and held (see
 * {@link #early}); no more is read until the relay exists, so a slow or failing connect
 * buffers little.
 */
final class Downstream extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(Downstream.class);

    private final TcpProxy proxy;
    /** The client side's TLS, or null; with it the upstream is connected only once the handshake succeeded. */
    private final ServerTls tls;
    private boolean awaitingHandshake;
    private TcpProxy.Settings settings;
    private Channel upstream;
    private IdleTimer idle;
    private Endpoint[] tried;
    private PickContext pickContext;
    /** Where the client was going before a REDIRECT brought it here (original_destination: true), else null. */
    private InetSocketAddress originalDestination;
    /** The endpoint of an original_dst cluster for this connection: its original destination. */
    private Endpoint originalDstEndpoint;
    private int attempts;
    private boolean admitted;
    private ConnectionRecord record;
    private ConnectionLog connectionLog;
    /**
     * What the client sent before the upstream was connected: the one read batch asked for at
     * accept, plus whatever epoll reads on its own when the client half-closes (EPOLLRDHUP) — at
     * most what the kernel had buffered. Replayed into the relay in order once it exists.
     */
    private List<Object> early;
    private boolean earlyEof;
    private boolean relaying;

    Downstream(TcpProxy proxy, ServerTls tls) {
        this.proxy = proxy;
        this.tls = tls;
        this.awaitingHandshake = tls != null;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        settings = proxy.settings();
        ListenerConfig config = settings.config();
        connectionLog = proxy.connectionLog();
        if (connectionLog != null) {
            record = new ConnectionRecord(config.name(), System.currentTimeMillis(), proxy.nanoClock().getAsLong(),
                    ClientAddress.source(ctx.channel()));
        }
        TcpListenerStats stats = proxy.stats();
        stats.accepted.increment();
        if (stats.active.incrementAndGet() > config.maxConnections()) {
            stats.active.decrementAndGet();
            stats.refused.increment();
            flag(ConnectionRecord.Flag.CL);
            ctx.close();
            return;
        }
        admitted = true;
        proxy.connections().add(ctx.channel());
        idle = new IdleTimer(ctx.channel(), config.idleTimeout().toNanos(), proxy.nanoClock());
        idle.record(record);
        idle.start();
        tried = new Endpoint[config.maxConnectAttempts()];
        pickContext = TcpProxy.pickContext(settings, ctx.channel());
        if (config.originalDestination()) {
            originalDestination = OriginalDestination.of(ctx.channel());
        }
        if (awaitingHandshake) {
            // The SslHandler in front reads until the handshake is done (AUTO_READ is off, so it
            // is asked once here); the upstream is connected after it, so a client that fails the
            // handshake (mTLS refused, not TLS at all) never costs an upstream connection.
            ctx.read();
            ctx.fireChannelActive();
            return;
        }
        connect(ctx);
        if (ctx.channel().isActive()) {
            // One read while the upstream connects: it learns at once if the client leaves (io_uring
            // has no other way to tell), and the client's first bytes are ready to go the moment the
            // upstream is. Only one batch: no further read is asked for until the relay exists.
            ctx.read();
        }
        ctx.fireChannelActive();
    }

    private void connect(ChannelHandlerContext ctx) {
        Channel downstream = ctx.channel();
        Cluster cluster = proxy.clusters().get(settings.config().cluster());
        if (cluster == null) {
            // Envoy's tcp_proxy does the same (flag NC): the listener stays, the connection is refused
            proxy.stats().upstreamFailures.increment();
            proxy.stats().noCluster.increment();
            flag(ConnectionRecord.Flag.NC);
            ctx.close();
            return;
        }
        ClusterSnapshot snapshot = cluster.snapshot();
        Endpoint endpoint;
        if (snapshot.config().type() == ClusterType.ORIGINAL_DST) {
            endpoint = originalDstEndpoint(ctx);
            if (endpoint == null) {
                proxy.stats().upstreamFailures.increment();
                proxy.stats().noOriginalDestination.increment();
                flag(ConnectionRecord.Flag.UH);
                ctx.close();
                return;
            }
        } else {
            endpoint = pickUntried(snapshot);
        }
        if (endpoint == null) {
            proxy.stats().upstreamFailures.increment();
            flag(ConnectionRecord.Flag.UH);
            ctx.close();
            return;
        }
        tried[attempts++] = endpoint;
        if (record != null) {
            record.endpoint = endpoint;
            record.attempts = attempts;
        }
        if (!cluster.tryConnectionOpened(endpoint, snapshot.config().circuitBreakers().maxConnections())) {
            proxy.stats().upstreamFailures.increment();
            flag(ConnectionRecord.Flag.UO);
            ctx.close();
            return;
        }
        cluster.requestStarted(endpoint);
        long connectStart = proxy.nanoClock().getAsLong();
        ClientTls upTls = proxy.upstreamTls(settings.config().cluster());
        Relay relay = new Relay(downstream, proxy.stats().bytesOut, record, false, idle, settings.flushOnCloseTimeoutMillis(),
                (reset, sawEof) -> cluster.upstreamClosed(endpoint, reset, sawEof));
        ProxyProtocolVersion sendHeader = snapshot.config().proxyProtocol();
        ChannelFuture connect = proxy.dialer().bootstrap(downstream.eventLoop())
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.WRITE_BUFFER_WATER_MARK, TcpProxy.WATER_MARK)
                .option(ChannelOption.ALLOCATOR, proxy.allocator())
                // at least 1 ms: Netty reads 0 as "no timeout", which a sub-millisecond setting must not become
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.max(1, Math.min(Integer.MAX_VALUE,
                        snapshot.config().connectTimeout().toMillis())))
                .handler(upTls == null && sendHeader == null ? relay : new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        if (sendHeader != null) {
                            // first, so the header goes out ahead of everything, a TLS ClientHello included
                            ch.pipeline().addLast(new ProxyProtocolSender(ProxyProtocolHeader.proxied(sendHeader,
                                    ClientAddress.source(downstream),
                                    originalDestination != null ? originalDestination : ClientAddress.destination(downstream))));
                        }
                        if (upTls != null) {
                            ch.pipeline().addLast(upTls.newHandler(ch.alloc(), endpoint.address().host(), endpoint.address().port()),
                                    new UpstreamTlsGate());
                        }
                        ch.pipeline().addLast(relay);
                    }
                })
                .connect(endpoint.socketAddress());
        upstream = connect.channel();
        idle.upstream(upstream);
        connect.addListener((ChannelFutureListener) f -> {
            if (!f.isSuccess()) {
                connectFailed(ctx, cluster, endpoint, f.cause());
                return;
            }
            if (upTls == null) {
                connected(ctx, cluster, endpoint, f.channel(), connectStart);
                return;
            }
            if (!downstream.isActive()) {
                f.channel().close();
                cluster.connectionClosed(endpoint);
                cluster.requestFinished(endpoint);
                return;
            }
            // connected once the handshake is done: a certificate that fails verification fails
            // the connect, and the next attempt may go to another endpoint
            SslHandler ssl = f.channel().pipeline().get(SslHandler.class);
            ssl.handshakeFuture().addListener(h -> {
                if (h.isSuccess()) {
                    upTls.handshakeCompleted(ssl);
                    f.channel().pipeline().remove(UpstreamTlsGate.class);
                    connected(ctx, cluster, endpoint, f.channel(), connectStart);
                } else {
                    f.channel().close();
                    if (downstream.isActive()) {
                        upTls.handshakeFailed(endpoint.toString(), h.cause());
                    }
                    connectFailed(ctx, cluster, endpoint, h.cause());
                }
            });
        });
    }

    private void connected(ChannelHandlerContext ctx, Cluster cluster, Endpoint endpoint, Channel up, long connectStart) {
        Channel downstream = ctx.channel();
        long now = proxy.nanoClock().getAsLong();
        endpoint.latency().observe(now - connectStart, now);
        endpoint.track(up);
        up.closeFuture().addListener(c -> {
            cluster.connectionClosed(endpoint);
            cluster.requestFinished(endpoint);
        });
        if (!downstream.isActive()) {
            up.close();
            return;
        }
        downstream.pipeline().addLast(new Relay(up, proxy.stats().bytesIn, record, true, idle, settings.flushOnCloseTimeoutMillis(),
                Relay.CloseListener.NONE));
        relaying = true;
        replayEarly(ctx);
        Relay.readIfOpen(downstream);
        Relay.readIfOpen(up);
    }

    private void connectFailed(ChannelHandlerContext ctx, Cluster cluster, Endpoint endpoint, Throwable cause) {
        Channel downstream = ctx.channel();
        cluster.connectionClosed(endpoint);
        cluster.requestFinished(endpoint);
        if (!downstream.isActive()) {
            return; // the client left and we abandoned the connect: not the endpoint's failure
        }
        cluster.connectFailed(endpoint);
        if (log.isDebugEnabled()) {
            log.debug("listener " + settings.config().name() + ": connect to " + endpoint + " failed: " + cause);
        }
        if (attempts < tried.length) {
            connect(ctx);
        } else {
            proxy.stats().upstreamFailures.increment();
            flag(ConnectionRecord.Flag.UF);
            ctx.close();
        }
    }

    /**
     * The balancer's pick, re-asked a bounded number of times while it returns an endpoint this
     * connection already failed on, so a retry goes elsewhere whenever there is an elsewhere.
     */
    private Endpoint pickUntried(ClusterSnapshot snapshot) {
        Endpoint pick = snapshot.pick(pickContext);
        // A retry re-asks without the hash key: the key's endpoint is the one that just failed.
        for (int i = 0; pick != null && wasTried(pick) && i < snapshot.endpoints().size() * 2; i++) {
            pick = snapshot.pick(PickContext.NONE);
        }
        return pick;
    }

    /**
     * An original_dst cluster's endpoint for this connection: the address it was originally sent
     * to. Null when there is none, or when it is this listener itself (a connection that reached
     * the listener directly, not through a REDIRECT): connecting there would loop back here.
     * Every connect attempt goes to the same address, as in Envoy.
     */
    private Endpoint originalDstEndpoint(ChannelHandlerContext ctx) {
        if (originalDstEndpoint == null) {
            InetSocketAddress dst = originalDestination;
            if (dst == null || dst.equals(ctx.channel().localAddress())) {
                if (log.isDebugEnabled()) {
                    log.debug("listener " + settings.config().name() + ": connection from " + ctx.channel().remoteAddress()
                            + (dst == null ? " has no original destination (not redirected here?)" : " was sent to the listener itself"));
                }
                return null;
            }
            originalDstEndpoint = Endpoint.of(new HostPort(dst.getAddress().getHostAddress(), dst.getPort()));
        }
        return originalDstEndpoint;
    }

    private boolean wasTried(Endpoint e) {
        for (int i = 0; i < attempts; i++) {
            if (tried[i] == e) {
                return true;
            }
        }
        return false;
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (ctx.pipeline().get(Relay.class) != null) {
            ctx.fireExceptionCaught(cause);
        } else {
            ctx.close();
        }
    }

    /**
     * Hands what arrived before the relay existed to it, in order, as if read just now: from this
     * handler on, not from the pipeline's head, which on a TLS connection would feed the already
     * decrypted bytes to the SslHandler a second time.
     */
    private void replayEarly(ChannelHandlerContext ctx) {
        if (early != null) {
            List<Object> msgs = early;
            early = null;
            for (Object m : msgs) {
                ctx.fireChannelRead(m);
            }
            ctx.fireChannelReadComplete();
        }
        if (earlyEof) {
            ctx.fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (relaying) {
            ctx.fireChannelRead(msg);
            return;
        }
        if (early == null) {
            early = new ArrayList<>(2);
        }
        early.add(msg);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (relaying) {
            ctx.fireChannelReadComplete();
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (awaitingHandshake && evt instanceof SslHandshakeCompletionEvent done) {
            awaitingHandshake = false;
            if (done.isSuccess()) {
                tls.handshakeCompleted(ctx.pipeline().get(SslHandler.class));
                if (ctx.channel().isActive()) {
                    connect(ctx);
                    if (ctx.channel().isActive()) {
                        ctx.read(); // the client's first bytes, held while the upstream connects
                    }
                }
            } else {
                handshakeFailed(ctx, done.cause());
            }
            return;
        }
        if (!relaying && evt instanceof ChannelInputShutdownEvent) {
            earlyEof = true;
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    private void handshakeFailed(ChannelHandlerContext ctx, Throwable cause) {
        // a client that leaves mid-handshake (a TCP health check, a scanner) is not a failure
        if (!(cause instanceof ClosedChannelException)) {
            tls.handshakeFailed();
            if (log.isDebugEnabled()) {
                log.debug("listener " + settings.config().name() + ": TLS handshake with " + ClientAddress.source(ctx.channel()) + " failed: "
                        + TlsErrors.describe(cause));
            }
        }
        ctx.close();
    }

    private void releaseEarly() {
        if (early != null) {
            early.forEach(ReferenceCountUtil::release);
            early = null;
        }
    }

    private void flag(ConnectionRecord.Flag f) {
        if (record != null) {
            record.flag(f);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (admitted) {
            proxy.stats().active.decrementAndGet();
            idle.stop();
        }
        if (upstream != null && !relaying) {
            // Still connecting (or in its TLS handshake): abandon the attempt.
            upstream.close();
        }
        releaseEarly();
        ctx.fireChannelInactive();
        if (record != null) {
            // After the relay's own inactive handling, so a reset it saw is already flagged. The
            // upstream side may still be flushing; its last bytes are counted if they were read.
            record.endNanos = proxy.nanoClock().getAsLong();
            connectionLog.closed(record);
        }
    }
}
