package dev.sidecar.l4;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.ssl.SslCloseCompletionEvent;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

/**
 * Moves bytes from the channel it sits on to its peer; one sits on each side of a proxied
 * connection, and both channels share one event loop, so nothing here needs a lock.
 *
 * <p>Backpressure: AUTO_READ is off on both sides. After a read batch is flushed to the peer,
 * this side reads again only if the peer is still writable; when the peer later drains below its
 * low water mark, the peer's relay asks this side to read ({@link #channelWritabilityChanged}).
 * So at most one read batch plus the peer's high water mark is buffered per direction.
 *
 * <p>Half-close: a FIN on this side becomes a shutdownOutput on the peer once everything read
 * before it has been written; when both directions have ended, both channels close.
 */
final class Relay extends ChannelInboundHandlerAdapter {
    private final Channel peer;
    private final LongAdder bytesRead;
    private final ConnectionRecord record;
    private final boolean fromClient;
    private final IdleTimer idle;
    private final long flushOnCloseTimeoutMillis;
    private final CloseListener onClose;
    private boolean reset;
    private boolean sawEof;

    /**
     * Told how this side ended: {@code reset} after an I/O error; {@code sawEof} when the far end
     * closed its side first (a clean end); neither when the proxy closed it (because the other
     * side went away), which says nothing about this side's health.
     */
    @FunctionalInterface
    interface CloseListener {
        CloseListener NONE = (reset, sawEof) -> { };

        void closed(boolean reset, boolean sawEof);
    }

    /**
     * @param record the connection's access-log record, or null when access logging is off
     * @param fromClient true on the downstream side: its reads are the client's bytes
     */
    Relay(Channel peer, LongAdder bytesRead, ConnectionRecord record, boolean fromClient, IdleTimer idle,
          long flushOnCloseTimeoutMillis, CloseListener onClose) {
        this.peer = peer;
        this.bytesRead = bytesRead;
        this.record = record;
        this.fromClient = fromClient;
        this.idle = idle;
        this.flushOnCloseTimeoutMillis = flushOnCloseTimeoutMillis;
        this.onClose = onClose;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!peer.isActive()) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (msg instanceof ByteBuf buf) {
            int n = buf.readableBytes();
            bytesRead.add(n);
            if (record != null) {
                if (fromClient) {
                    record.bytesIn += n;
                } else {
                    record.bytesOut += n;
                }
            }
        }
        // The same buffer goes on; the peer's write releases it. A failed write surfaces as an
        // exception on the peer's pipeline, whose relay closes both sides.
        peer.write(msg, peer.voidPromise());
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        idle.touch();
        peer.flush();
        if (peer.isWritable()) {
            readIfOpen(ctx.channel());
        }
    }

    /**
     * Asks {@code ch} for more input unless its input has ended. Asking after the end is not just
     * useless: with Netty 4.2.18's epoll transport it threw ENOENT from epoll_ctl for clients that
     * sent and half-closed before the upstream was connected.
     */
    static void readIfOpen(Channel ch) {
        if (!(ch instanceof DuplexChannel d) || !d.isInputShutdown()) {
            ch.read();
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        // This side drained: the peer may read again (its reads are what fill this side).
        if (ctx.channel().isWritable() && peer.isActive()) {
            readIfOpen(peer);
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        boolean fin = evt instanceof ChannelInputShutdownEvent;
        // a TLS peer's close_notify ends its data as a FIN does (TLS 1.3 allows a half-close by it,
        // RFC 8446 6.1); the FIN that usually follows is then only the TCP side of the same end
        boolean closeNotify = evt instanceof SslCloseCompletionEvent c && c.isSuccess();
        if (fin || closeNotify) {
            Channel self = ctx.channel();
            if (!sawEof) {
                sawEof = true;
                if (peer.isActive()) {
                    // Written after the bytes already queued on the peer, so the FIN follows them.
                    peer.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener((ChannelFutureListener) f -> {
                        if (f.isSuccess()) {
                            shutdownOutput(peer);
                        }
                    });
                }
            }
            if (fin) {
                closeIfBothEnded(self);
            }
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    /**
     * Ends {@code ch}'s output: on a TLS connection a close_notify first, so the other end can
     * tell the end of the data from a truncation, then the TCP FIN.
     */
    private static void shutdownOutput(Channel ch) {
        if (!(ch instanceof DuplexChannel duplex)) {
            return;
        }
        SslHandler ssl = ch.pipeline().get(SslHandler.class);
        if (ssl == null) {
            duplex.shutdownOutput().addListener((ChannelFutureListener) s -> closeIfBothEnded(ch));
            return;
        }
        ssl.closeOutbound().addListener((ChannelFutureListener) n -> {
            if (ch.isActive()) {
                duplex.shutdownOutput().addListener((ChannelFutureListener) s -> closeIfBothEnded(ch));
            }
        });
    }

    /**
     * Closes {@code ch} once it has neither input nor output left. Only {@code ch}: the other side
     * may still have writes in flight (on io_uring a flushed write completes later), so it is
     * closed by {@link #channelInactive} after those writes, never cut off here.
     */
    private static void closeIfBothEnded(Channel ch) {
        if (ch instanceof DuplexChannel d && d.isInputShutdown() && d.isOutputShutdown()) {
            ch.close();
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        onClose.closed(reset, sawEof);
        closeAfterFlush(peer, flushOnCloseTimeoutMillis);
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // A reset or any other I/O error: this side is gone, and whatever the peer still has
        // queued cannot be answered. Close both now rather than flushing into a dead exchange.
        // The reset is noted first, so that channelInactive reports it however soon it runs.
        // a TLS record that fails to decrypt or a bad alert arrives wrapped by the SslHandler
        boolean io = cause instanceof IOException || (cause instanceof DecoderException && cause.getCause() instanceof IOException);
        if (io) {
            reset = true;
            if (record != null) {
                record.flag(fromClient ? ConnectionRecord.Flag.DR : ConnectionRecord.Flag.UR);
            }
        }
        ctx.close();
        peer.close();
        if (!io) {
            ctx.fireExceptionCaught(cause);
        }
    }

    /**
     * Closes {@code ch} once what is queued on it has been written, or after {@code timeoutMillis}
     * if the other end stops reading, so a peer that never drains cannot pin the connection.
     */
    static void closeAfterFlush(Channel ch, long timeoutMillis) {
        if (!ch.isActive()) {
            return;
        }
        ch.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        if (!ch.isWritable()) {
            ch.eventLoop().schedule(() -> ch.close(), timeoutMillis, TimeUnit.MILLISECONDS);
        }
    }
}
