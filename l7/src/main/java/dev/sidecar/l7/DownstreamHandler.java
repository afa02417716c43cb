package dev.sidecar.l7;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerUpgradeHandler;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;

/**
 * The downstream end of requests: on an HTTP/1.1 connection, one request after another (a
 * pipelined request waits, decoded, until the one before it is answered); on an HTTP/2 stream
 * channel, its one request. Each request becomes an {@link Exchange}. Reads are explicit
 * (AUTO_READ off): the exchange asks for more of the request body only while its upstream is
 * writable.
 */
final class DownstreamHandler extends ChannelInboundHandlerAdapter {
    final ConnectionHandler connection;
    final boolean h2;
    ChannelHandlerContext ctx;
    private Exchange exchange;
    private final ArrayDeque<HttpObject> queued = new ArrayDeque<>(2);
    private ScheduledFuture<?> headersTimer;
    /** When the connection began waiting for the next request's headers. */
    private long waitingSince;
    private boolean closed;
    private boolean aborted;
    /** The exchanges' route and stream idle timer (see {@link Exchange}); outlives an exchange on HTTP/1.1. */
    private ScheduledFuture<?> exchangeTimer;
    private final Runnable exchangeTimerTask = this::exchangeTimerFired;

    DownstreamHandler(ConnectionHandler connection, boolean h2) {
        this.connection = connection;
        this.h2 = h2;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        if (!h2) {
            armHeadersTimer();
        }
        if (ctx.channel().isActive()) {
            ctx.read();
        }
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        ctx.read();
        super.channelActive(ctx);
    }

    /**
     * Slowloris guard: the next request's headers must be complete within the timeout, counted
     * from when the connection began waiting for them. One timer per connection, not per request:
     * a timer still pending from an earlier wait is reused, and when it fires it re-arms for what
     * is left of the current wait, or lapses while a request is in flight.
     */
    private void armHeadersTimer() {
        waitingSince = System.nanoTime();
        if (headersTimer == null) {
            scheduleHeadersCheck(connection.settings.http().requestHeadersTimeout().toNanos());
        }
    }

    private void scheduleHeadersCheck(long delayNanos) {
        headersTimer = ctx.executor().schedule(() -> {
            headersTimer = null;
            if (closed || exchange != null || !queued.isEmpty()) {
                return;
            }
            long left = connection.settings.http().requestHeadersTimeout().toNanos() - (System.nanoTime() - waitingSince);
            if (left <= 0) {
                ctx.close();
            } else {
                scheduleHeadersCheck(left);
            }
        }, delayNanos, TimeUnit.NANOSECONDS);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof HttpObject o) || closed) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (h2 && exchange == null && queued.isEmpty() && o instanceof HttpRequest) {
            // An HTTP/2 request starts when the connection's read that brought its headers is
            // over, not at once: a stream the client resets in the same read (Rapid Reset sends
            // HEADERS and RST_STREAM together, stream after stream) closes before anything is
            // done for it upstream, where an upstream connection could otherwise be opened for each.
            queued.add(o);
            connection.deferStart(this);
            return;
        }
        if (exchange != null || !queued.isEmpty()) {
            if (exchange != null && queued.isEmpty() && o instanceof HttpContent c && !exchange.requestComplete()) {
                exchange.onRequestContent(c);
            } else {
                queued.add(o);
            }
            return;
        }
        handle(o);
    }

    private void handle(HttpObject o) {
        if (o instanceof HttpRequest request) {
            OverloadState overload = connection.proxy.overload();
            if (overload.shedding()) {
                shed(overload, request);
                return;
            }
            exchange = new Exchange(this, request);
            exchange.start();
        } else {
            ReferenceCountUtil.release(o); // the rest of a request that was answered without it
        }
    }

    /**
     * The process is short of memory: the request is refused before anything is allocated for
     * it. HTTP/2 refuses the stream (REFUSED_STREAM tells the client that nothing was processed,
     * so it may retry, RFC 9113 section 8.7); HTTP/1.1 answers 503 and closes, since the rest of
     * a request body would have to be read to keep the connection.
     */
    private void shed(OverloadState overload, HttpRequest request) {
        overload.requestShed();
        ReferenceCountUtil.release(request);
        closed = true;
        if (h2) {
            ctx.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.REFUSED_STREAM)).addListener(ChannelFutureListener.CLOSE);
            return;
        }
        FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.SERVICE_UNAVAILABLE, Unpooled.EMPTY_BUFFER);
        res.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, 0);
        res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        res.headers().set(HeaderPolicy.OVERLOADED, "true");
        ctx.writeAndFlush(res).addListener(ChannelFutureListener.CLOSE);
    }

    /**
     * Makes sure the exchange timer fires within {@code delayNanos}: a pending one that fires
     * sooner is kept (the exchange re-arms when it fires early), a later one is replaced.
     */
    void armExchangeTimer(long delayNanos) {
        ScheduledFuture<?> t = exchangeTimer;
        if (t != null) {
            if (t.getDelay(TimeUnit.NANOSECONDS) <= delayNanos) {
                return;
            }
            t.cancel(false);
        }
        exchangeTimer = ctx.executor().schedule(exchangeTimerTask, delayNanos, TimeUnit.NANOSECONDS);
    }

    private void exchangeTimerFired() {
        exchangeTimer = null;
        if (exchange != null) {
            exchange.onTimer();
        }
    }

    private void cancelExchangeTimer() {
        if (exchangeTimer != null) {
            exchangeTimer.cancel(false);
            exchangeTimer = null;
        }
    }

    /** The exchange wants more of its request body. */
    void readRequest() {
        ctx.read();
    }

    /**
     * The exchange is over. On HTTP/1.1, the next queued request starts, or the connection reads
     * for one, or it closes ({@code keepAlive} false, or draining); on HTTP/2 the stream channel
     * has ended with the response, or is reset here if the request had not.
     */
    /** The exchange cut its response off (a reset); the connection ends without waiting to flush. */
    void aborted() {
        aborted = true;
    }

    void exchangeFinished(boolean keepAlive) {
        exchange = null;
        if (h2) {
            cancelExchangeTimer(); // the stream's handler ends with its one exchange
            if (!keepAlive) {
                ctx.close();
            }
            return;
        }
        if (!keepAlive || connection.draining()) {
            closed = true;
            releaseQueued();
            if (aborted) {
                // the response was cut off: nothing left is worth delivering, and a client that
                // does not read must not keep the connection by never letting a flush finish
                ctx.close();
                return;
            }
            ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
            // a complete response still goes out, but a client that stops reading it does not
            // hold the connection longer than the stream idle timeout
            long idle = connection.settings.http().streamIdleTimeout().toNanos();
            if (idle > 0) {
                ScheduledFuture<?> bound = ctx.executor().schedule(() -> {
                    ctx.close();
                }, idle, TimeUnit.NANOSECONDS);
                ctx.channel().closeFuture().addListener(f -> bound.cancel(false));
            }
            return;
        }
        HttpObject next;
        while (exchange == null && !closed && (next = queued.poll()) != null) {
            handle(next);
        }
        if (closed) {
            releaseQueued(); // a queued request was shed and the connection is closing
            return;
        }
        feedQueuedBody();
        if (exchange == null) {
            armHeadersTimer();
            ctx.read();
        }
    }

    /**
     * The upstream answered an upgrade request with 101: from here both connections carry bytes
     * only. The HTTP codecs leave both pipelines (bytes they had read but not yet decoded are
     * handed on), a {@link Tunnel} joins the two, and the stream idle timeout bounds quiet. The
     * connection counts as one active request until it closes, so a drain lets it finish.
     */
    void upgraded(UpstreamStream s, long idleNanos) {
        exchange = null;
        cancelExchangeTimer();
        Channel upstream = s.channel;
        ChannelPipeline up = upstream.pipeline();
        HttpClientCodec codec = up.get(HttpClientCodec.class);
        codec.removeOutboundHandler();
        up.replace(s, "tunnel", new Tunnel(ctx.channel()));
        // the 101 was decoded inside the codec's read; it leaves once that read has returned
        upstream.eventLoop().execute(() -> {
            if (up.context(codec) != null) {
                up.remove(codec);
            }
        });
        boolean early = !queued.isEmpty(); // bytes sent before the 101 and read as HTTP: lost framing
        releaseQueued();
        ChannelPipeline p = ctx.pipeline();
        if (idleNanos > 0) {
            p.addBefore(ctx.name(), "tunnel-idle", new IdleStateHandler(0, 0, idleNanos, TimeUnit.NANOSECONDS));
        }
        p.replace(this, "tunnel", new Tunnel(upstream));
        if (p.get("h2c-upgrade") != null) {
            p.remove("h2c-upgrade");
        }
        p.remove(Http1ServerCodec.class);
        ctx.channel().closeFuture().addListener(f -> connection.requestEnded());
        if (early) {
            ctx.close();
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (exchange != null) {
            exchange.onRequestReadComplete();
        }
    }

    /** Hands the started exchange the body of its request that was read and queued before it started. */
    private void feedQueuedBody() {
        while (exchange != null && !exchange.requestComplete() && queued.peek() instanceof HttpContent c) {
            queued.poll();
            exchange.onRequestContent(c);
        }
    }

    /** The read that brought this HTTP/2 stream's headers is over: its request starts if the stream is still open. */
    void startDeferred() {
        if (closed || exchange != null || !(queued.peek() instanceof HttpRequest)) {
            return;
        }
        if (ctx.channel() instanceof Http2StreamChannel sc && sc.stream().state() == Http2Stream.State.CLOSED) {
            // reset by the client in that read: a stream channel that reads on demand learns of
            // the end only when it reads, so it is closed here, before the request starts
            releaseQueued();
            closed = true;
            ctx.close();
            return;
        }
        handle(queued.poll());
        feedQueuedBody();
        if (exchange != null) {
            exchange.onRequestReadComplete();
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) throws Exception {
        if (exchange != null && ctx.channel().isWritable()) {
            exchange.onDownstreamWritable();
        }
        super.channelWritabilityChanged(ctx);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        closed = true;
        if (headersTimer != null) {
            headersTimer.cancel(false);
        }
        cancelExchangeTimer();
        if (exchange != null) {
            exchange.onDownstreamClosed();
        }
        releaseQueued();
        super.channelInactive(ctx);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt instanceof HttpServerUpgradeHandler.UpgradeEvent) {
            // h2c: the upgrade request continues as stream 1 of the new HTTP/2 connection
            if (headersTimer != null) {
                headersTimer.cancel(false);
            }
            cancelExchangeTimer();
            releaseQueued();
            ctx.pipeline().replace(this, "sink", new ConnectionHandler.Sink());
        }
        super.userEventTriggered(ctx, evt);
    }

    private void releaseQueued() {
        HttpObject o;
        while ((o = queued.poll()) != null) {
            ReferenceCountUtil.release(o);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // A stream error the client caused (handed over by the multiplexer, or a request the
        // HTTP/2-to-HTTP conversion found malformed) is answered with its own code, not CANCEL:
        // the codec counts such resets (MadeYouReset) and ends a connection that provokes too many.
        Http2Error code = h2 && ctx.channel().isActive() ? streamErrorCode(cause) : null;
        if (code != null) {
            // the stream is over from here, though the channel closes only once the reset is
            // written: a request still waiting to start (MadeYouReset's HEADERS, then a frame
            // that obliges the reset, in one read) must not start
            closed = true;
            if (exchange == null) {
                releaseQueued();
            }
            ctx.writeAndFlush(new DefaultHttp2ResetFrame(code)).addListener(ChannelFutureListener.CLOSE);
            return;
        }
        ctx.close();
    }

    private static Http2Error streamErrorCode(Throwable cause) {
        for (Throwable c = cause; c != null; c = c.getCause()) {
            if (c instanceof Http2Exception e) {
                return e.error();
            }
        }
        return cause instanceof DecoderException ? Http2Error.PROTOCOL_ERROR : null;
    }
}
