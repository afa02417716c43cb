package dev.sidecar.l7;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.channel.DefaultChannelPromise;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.Http2ConnectionEncoder;

/**
 * The body one of the proxy's HTTP/2 streams sends, on either side ({@link Http2Streams.Stream}
 * to a client, {@link EndpointPool.H2Connection.Stream} to an upstream): HTTP/1.x body parts
 * written to Netty's encoder as DATA and trailing HEADERS, and the bytes written that have not
 * gone out yet (held back by the peer's windows or by the socket). The stream is full from the
 * write high-water mark until those bytes fall below the low one; then its owner hears of it.
 */
final class H2Outbound implements ChannelFutureListener {
    private static final int HIGH_WATER = HttpProxy.WATER_MARK.high();
    private static final int LOW_WATER = HttpProxy.WATER_MARK.low();

    /** The stream that is told when its writes have drained. */
    interface Owner {
        void drained();
    }

    private final Owner owner;
    private final Http2ConnectionEncoder encoder;
    /** The codec's context: the encoder writes from there. */
    private final ChannelHandlerContext codecCtx;
    /** For writes whose failure (a stream reset meanwhile) is no error of the connection. */
    private final ChannelPromise quiet;
    private int unsent;
    private boolean full;

    H2Outbound(Owner owner, Http2ConnectionEncoder encoder, ChannelHandlerContext codecCtx, ChannelPromise quiet) {
        this.owner = owner;
        this.encoder = encoder;
        this.codecCtx = codecCtx;
        this.quiet = quiet;
    }

    boolean full() {
        return full;
    }

    /**
     * Writes a body part on stream {@code id}: its content as DATA, then its trailers, if any, as
     * HEADERS; END_STREAM goes on the last frame of a last part. A last part with neither content
     * nor trailers is an empty DATA with END_STREAM, unless {@code headEnded}: the head it came
     * with was written with END_STREAM already. Takes the part's content.
     */
    void write(int id, HttpContent part, boolean headEnded) {
        ByteBuf content = part.content();
        if (part instanceof LastHttpContent last) {
            boolean trailers = !last.trailingHeaders().isEmpty();
            if (content.isReadable() || (!trailers && !headEnded)) {
                writeData(id, content, !trailers);
            } else {
                content.release();
            }
            if (trailers) {
                encoder.writeHeaders(codecCtx, id, H2Headers.trailers(last.trailingHeaders()), 0, true, quiet);
            }
        } else if (content.isReadable()) {
            writeData(id, content, false);
        } else {
            content.release();
        }
    }

    private void writeData(int id, ByteBuf content, boolean end) {
        int n = content.readableBytes();
        if (n == 0) {
            encoder.writeData(codecCtx, id, content, 0, end, quiet);
            return;
        }
        unsent += n;
        if (unsent >= HIGH_WATER) {
            full = true;
        }
        Sent promise = new Sent(codecCtx, n);
        promise.addListener(this);
        encoder.writeData(codecCtx, id, content, 0, end, promise);
    }

    /** A DATA write went out, or failed with its stream: its bytes no longer wait. */
    @Override
    public void operationComplete(ChannelFuture f) {
        unsent -= ((Sent) f).bytes;
        if (full && unsent < LOW_WATER) {
            full = false;
            owner.drained();
        }
    }

    /** The promise of a DATA write, with its size. */
    private static final class Sent extends DefaultChannelPromise {
        final int bytes;

        Sent(ChannelHandlerContext ctx, int bytes) {
            super(ctx.channel(), ctx.executor());
            this.bytes = bytes;
        }
    }
}
