package dev.sidecar.upstream.proxyprotocol;

import static java.util.Objects.requireNonNull;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelPromise;

/**
 * First in an upstream connection's pipeline: puts the PROXY header in front of the first bytes
 * the connection carries, then leaves the pipeline.
 *
 * <p>The header goes out with the first write rather than on channelActive alone: a connect
 * promise's listeners run before channelActive is fired, and the proxy writes the request (or the
 * relayed bytes, or a TLS ClientHello) from such a listener. Whichever comes first, the write or
 * channelActive, sends it; a connection that writes nothing (a connect-only health check) still
 * announces itself.
 */
public final class ProxyProtocolSender extends ChannelDuplexHandler {
    private final ProxyProtocolHeader header;
    private boolean sent;

    public ProxyProtocolSender(ProxyProtocolHeader header) {
        this.header = requireNonNull(header, "header");
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (!sent) {
            send(ctx, false);
        }
        ctx.write(msg, promise);
    }

    private void send(ChannelHandlerContext ctx, boolean flush) {
        sent = true;
        ctx.write(header.encode(ctx.alloc()), ctx.voidPromise());
        if (flush) {
            ctx.flush();
        }
        ctx.pipeline().remove(this);
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        if (!sent) {
            send(ctx, true);
        }
        ctx.fireChannelActive();
    }
}
