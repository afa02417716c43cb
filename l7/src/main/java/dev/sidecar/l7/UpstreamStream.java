package dev.sidecar.l7;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.util.ReferenceCountUtil;

/**
 * The proxy's end of one upstream request channel: a pooled HTTP/1.1 connection (one request at
 * a time) or one HTTP/2 stream. It hands what the upstream sends to the {@link Exchange} that
 * holds it, and anything arriving with no exchange attached (a stray response on an idle
 * connection) ends the channel.
 */
final class UpstreamStream extends ChannelInboundHandlerAdapter {
    final Channel channel;
    final EndpointPool pool;
    final boolean h2;
    /** The HTTP/2 connection a stream belongs to; null for HTTP/1.1. */
    final EndpointPool.H2Connection connection;
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

    UpstreamStream(Channel channel, EndpointPool pool, EndpointPool.H2Connection connection, dev.sidecar.tls.ClientTls tls) {
        this.channel = channel;
        this.pool = pool;
        this.h2 = connection != null;
        this.connection = connection;
        this.tls = tls;
    }

    void attach(Exchange e) {
        exchange = e;
        uses++;
        if (!h2) {
            channel.config().setAutoRead(false);
        }
    }

    Exchange exchange() {
        return exchange;
    }

    /**
     * The exchange is done with this channel. A clean HTTP/1.1 connection goes back to the pool;
     * anything else is closed (an HTTP/2 stream that has not ended is reset by the close).
     */
    void release(boolean reusable) {
        exchange = null;
        if (h2) {
            if (channel.isActive()) {
                channel.close();
            }
            connection.streamEnded();
        } else if (reusable && channel.isActive()) {
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
            if (!h2) {
                ctx.close(); // an idle HTTP/1.1 connection has nothing to say: it is broken
            }
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
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof Http2ResetFrame reset) {
            resetCode = Http2Error.valueOf(reset.errorCode());
        } else if (evt instanceof Http2GoAwayFrame) {
            refusedByGoAway = true; // delivered only to streams above the GOAWAY's last stream id
        }
        ReferenceCountUtil.release(evt);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        Exchange e = exchange;
        if (e != null) {
            e.onUpstreamClosed(this);
        }
        if (!h2) {
            pool.closed(this);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // a decode error or a reset connection: the close that follows tells the exchange
        ctx.close();
    }
}
