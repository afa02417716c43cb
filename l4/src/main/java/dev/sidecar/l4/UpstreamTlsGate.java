package dev.sidecar.l4;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;

/**
 * Sits between an upstream's SslHandler and its relay while the TLS handshake runs, and leaves
 * the pipeline when it succeeds. A failed handshake is a failed connect — the connection may go
 * on to another endpoint — so the relay must not hear of it: the close and the exception the
 * SslHandler raises stop here (the handshake future carries the cause).
 */
final class UpstreamTlsGate extends ChannelInboundHandlerAdapter {
    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        // swallowed: the relay behind would close the client's side
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close();
    }
}
