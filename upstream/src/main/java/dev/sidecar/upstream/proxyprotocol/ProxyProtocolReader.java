package dev.sidecar.upstream.proxyprotocol;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.haproxy.HAProxyCommand;
import io.netty.handler.codec.haproxy.HAProxyMessage;
import io.netty.handler.codec.haproxy.HAProxyMessageDecoder;
import io.netty.handler.codec.haproxy.HAProxyProtocolException;
import io.netty.handler.codec.haproxy.HAProxyProxiedProtocol;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The front of a downstream connection on a listener with {@code proxy_protocol: true}, as HAProxy's
 * {@code accept-proxy} and Envoy's proxy_protocol listener filter: the connection must open with a
 * PROXY v1 or v2 header. Until it has, nothing else of the connection exists: the rest of the
 * pipeline (TLS, the proxying handlers) is installed only once the header is read, and is then
 * told the channel is active, so admission, the endpoint pick and the access log see the client
 * the header names. Bytes that came with the header go on to the new handlers.
 *
 * <p>A connection whose first bytes are not a PROXY header, whose header is malformed, or that
 * sends none within the timeout is closed and counted; no upstream is ever connected for it. A
 * v2 LOCAL header (a health check of the load balancer in front) and a v1 {@code UNKNOWN} leave
 * the socket's addresses in place, as the specification says.
 */
public final class ProxyProtocolReader extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(ProxyProtocolReader.class);
    /**
     * How long a client may take to send the header: Envoy's listener_filters_timeout default. A
     * listener whose idle_timeout is shorter uses that instead (see {@link #timeout}).
     */
    public static final java.time.Duration DEFAULT_TIMEOUT = java.time.Duration.ofSeconds(15);

    private final String listener;
    private final long timeoutNanos;
    private final LongAdder rejected;
    private final Consumer<Channel> rest;
    private ScheduledFuture<?> timeout;
    private boolean done;

    private ProxyProtocolReader(String listener, long timeoutNanos, LongAdder rejected, Consumer<Channel> rest) {
        this.listener = listener;
        this.timeoutNanos = timeoutNanos;
        this.rejected = rejected;
        this.rest = rest;
    }

    /**
     * Makes {@code ch} read a PROXY header first; {@code rest} installs the connection's own
     * handlers after it. Call from the channel initializer, with AUTO_READ off.
     *
     * @param timeoutNanos how long the client may take to send the whole header
     * @param rejected counts connections closed for a missing, malformed or late header
     */
    public static void install(Channel ch, String listener, long timeoutNanos, LongAdder rejected, Consumer<Channel> rest) {
        ch.pipeline().addLast(new SignatureCheck(), new HAProxyMessageDecoder(),
                new ProxyProtocolReader(listener, timeoutNanos, rejected, rest));
    }

    /** The header timeout of a listener: {@link #DEFAULT_TIMEOUT}, or its idle timeout when that is shorter. */
    public static long timeoutNanos(java.time.Duration idleTimeout) {
        return Math.min(DEFAULT_TIMEOUT.toNanos(), idleTimeout.toNanos());
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        // not passed on: the handlers that care are not installed yet
        timeout = ctx.executor().schedule(() -> reject(ctx, "no complete PROXY header within "
                + TimeUnit.NANOSECONDS.toMillis(timeoutNanos) + " ms"), timeoutNanos, TimeUnit.NANOSECONDS);
        ctx.read();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof HAProxyMessage header) || done) {
            ReferenceCountUtil.release(msg);
            return;
        }
        try {
            if (header.command() == HAProxyCommand.PROXY && header.proxiedProtocol() != HAProxyProxiedProtocol.UNKNOWN
                    && header.proxiedProtocol().transportProtocol() == HAProxyProxiedProtocol.TransportProtocol.STREAM
                    && header.proxiedProtocol().addressFamily() != HAProxyProxiedProtocol.AddressFamily.AF_UNIX) {
                ClientAddress.set(ctx.channel(), new InetSocketAddress(header.sourceAddress(), header.sourcePort()),
                        new InetSocketAddress(header.destinationAddress(), header.destinationPort()));
            }
        } finally {
            header.release();
        }
        done = true;
        timeout.cancel(false);
        // The decoder in front removes itself after this returns and hands what followed the
        // header (a TLS ClientHello, a request) to the handlers installed now.
        rest.accept(ctx.channel());
        ctx.fireChannelActive();
        ctx.pipeline().remove(this);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (done) {
            ctx.fireChannelReadComplete();
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (done) {
            ctx.fireExceptionCaught(cause);
            return;
        }
        reject(ctx, cause instanceof HAProxyProtocolException ? "invalid PROXY header: " + cause.getMessage() : String.valueOf(cause));
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (timeout != null) {
            timeout.cancel(false);
        }
        ctx.fireChannelInactive();
    }

    private void reject(ChannelHandlerContext ctx, String why) {
        if (done) {
            return;
        }
        done = true;
        if (timeout != null) {
            timeout.cancel(false);
        }
        rejected.increment();
        if (log.isDebugEnabled()) {
            log.debug("listener " + listener + ": connection from " + ctx.channel().remoteAddress() + " closed: " + why);
        }
        ctx.close();
    }

    /**
     * Fails a connection as soon as its first bytes cannot start a PROXY header, instead of
     * waiting for a line end that a TLS ClientHello or a silent client would never send in time
     * (Netty's decoder reads anything that is not the v2 signature as a v1 line of up to 108
     * bytes). Leaves once the first 12 bytes have matched.
     */
    private static final class SignatureCheck extends ChannelInboundHandlerAdapter {
        private int seen;
        private boolean v1 = true;
        private boolean v2 = true;

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof ByteBuf buf) {
                for (int i = buf.readerIndex(); i < buf.writerIndex() && seen < ProxyProtocolHeader.V2_SIGNATURE.length; i++, seen++) {
                    byte b = buf.getByte(i);
                    v1 &= seen >= ProxyProtocolHeader.V1_PREFIX.length || ProxyProtocolHeader.V1_PREFIX[seen] == b;
                    v2 &= ProxyProtocolHeader.V2_SIGNATURE[seen] == b;
                }
                if (!v1 && !v2) {
                    buf.release();
                    ctx.fireExceptionCaught(new HAProxyProtocolException("the connection does not start with a PROXY v1 or v2 signature"));
                    return;
                }
                if (seen >= ProxyProtocolHeader.V2_SIGNATURE.length) {
                    ctx.pipeline().remove(this);
                }
            }
            ctx.fireChannelRead(msg);
        }
    }
}
