package dev.sidecar.l7;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.util.ReferenceCountUtil;

/**
 * The proxy's end of one upstream request: a pooled HTTP/1.1 connection (one request at a time,
 * this handler at the end of its pipeline) or one HTTP/2 stream ({@link EndpointPool.H2Connection}'s
 * subclass, with no channel of its own). It hands what the upstream sends to the
 * {@link Exchange} that holds it, and anything arriving with no exchange attached (a stray
 * response on an idle connection) ends the channel.
 */
class UpstreamStream extends ChannelInboundHandlerAdapter {
    /** The HTTP/1.1 connection; for an HTTP/2 stream, its connection's channel. */
    final Channel channel;
    final EndpointPool pool;
    final boolean h2;
    private Exchange exchange;
    /** Requests this channel has carried (HTTP/1.1 reuse count). */
    int uses;
    /** When an idle HTTP/1.1 connection went back to the pool; the idle timer compares it. */
    long idleSince;
    /** The RST_STREAM code the upstream sent, if it reset the stream. */
    Http2Error resetCode;
    /** The upstream's GOAWAY named a last stream below this one: it never processed it. */
    boolean refusedByGoAway;

    /** The cluster's TLS when this connection was made (null: plaintext); a connection made with other TLS is not reused. */
    final dev.sidecar.tls.ClientTls tls;

    UpstreamStream(Channel channel, EndpointPool pool, boolean h2, dev.sidecar.tls.ClientTls tls) {
        this.channel = channel;
        this.pool = pool;
        this.h2 = h2;
        this.tls = tls;
    }

    void attach(Exchange e) {
        exchange = e;
        uses++;
    }

    Exchange exchange() {
        return exchange;
    }

    /** Writes a part of the request (not flushed); the message is the stream's from here. */
    void write(HttpObject msg) {
        channel.write(msg, channel.voidPromise());
    }

    /**
     * Sends what was written. On a transport that writes per flush ({@link dev.sidecar.upstream.Dialer#batchedWrites}),
     * once the event loop is done with the I/O of its turn: under epoll with the upstream on the
     * proxy's CPU, an immediate write woke the upstream, which preempted the proxy at once, and
     * the proxy was switched out involuntarily 0.61-0.63 times per request (0.36-0.38 deferred).
     */
    void flush() {
        if (pool.deferFlushes) {
            if (deferredFlush == null) {
                deferredFlush = new LoopFlush(channel);
            }
            deferredFlush.request();
            return;
        }
        channel.flush();
    }

    /** Made at the first deferred flush: HTTP/2 streams (a subclass, per request) never need one. */
    private LoopFlush deferredFlush;

    /**
     * The exchange wants (more of) the response. An HTTP/1.1 connection reads on by itself from
     * here until {@link #pause}: asking for each read instead would cost an epoll_ctl to arm it
     * and one to disarm it on every request under epoll, for backpressure that only a response
     * larger than the downstream's buffer ever needs.
     */
    void read() {
        if (!channel.config().isAutoRead()) {
            channel.config().setAutoRead(true);
        }
    }

    /** The downstream cannot take more yet: the connection stops reading until {@link #read}. */
    void pause() {
        channel.config().setAutoRead(false);
    }

    /** False while the request written has not drained below the limit. */
    boolean isWritable() {
        return channel.isWritable();
    }

    /** The exchange lets go of the stream. */
    void detach() {
        exchange = null;
    }

    /**
     * The exchange is done with this connection: a clean one goes back to the pool, anything
     * else is closed. (An HTTP/2 stream resets itself if it has not ended.)
     */
    void release(boolean reusable) {
        detach();
        if (reusable && channel.isActive()) {
            pool.offerIdle(this);
        } else {
            channel.close();
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        Exchange e = exchange;
        if (e != null && msg instanceof HttpObject o) {
            e.onResponse(this, o);
        } else {
            ReferenceCountUtil.release(msg);
            ctx.close(); // an idle HTTP/1.1 connection has nothing to say: it is broken
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        Exchange e = exchange;
        if (e != null) {
            e.onUpstreamReadComplete(this);
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        Exchange e = exchange;
        if (e != null) {
            e.onUpstreamWritable(this);
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        Exchange e = exchange;
        if (e != null) {
            e.onUpstreamClosed(this);
        }
        pool.closed(this);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // a decode error or a reset connection: the close that follows tells the exchange
        ctx.close();
    }
}
