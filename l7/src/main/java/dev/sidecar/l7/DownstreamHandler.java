package dev.sidecar.l7;

import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpExpectationFailedEvent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerUpgradeHandler;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;

/**
 * The downstream end of an HTTP/1.1 connection's requests: one after another (a pipelined
 * request waits, decoded, until the one before it is answered). Each request becomes an
 * {@link Exchange}. Reads are explicit (AUTO_READ off): the exchange asks for more of the
 * request body only while its upstream is writable. HTTP/2 streams are {@link Http2Streams}'.
 */
final class DownstreamHandler extends ChannelInboundHandlerAdapter implements Downstream {
    final ConnectionHandler connection;
    ChannelHandlerContext ctx;
    private Exchange exchange;
    private final ArrayDeque<HttpObject> queued = new ArrayDeque<>(2);
    private ScheduledFuture<?> headersTimer;
    /** When the connection began waiting for the next request's headers. */
    private long waitingSince;
    private boolean closed;
    private boolean aborted;
    /** No request has arrived yet: the h2c upgrade handler may still be in the pipeline. */
    private boolean first = true;
    /** The exchanges' route and stream idle timer (see {@link Exchange}); outlives an exchange on HTTP/1.1. */
    private ScheduledFuture<?> exchangeTimer;
    private final Runnable exchangeTimerTask = this::exchangeTimerFired;

    DownstreamHandler(ConnectionHandler connection) {
        this.connection = connection;
    }

    @Override
    public ConnectionHandler connection() {
        return connection;
    }

    @Override
    public EventLoop eventLoop() {
        return ctx.channel().eventLoop();
    }

    @Override
    public ByteBufAllocator alloc() {
        return ctx.alloc();
    }

    @Override
    public void write(HttpObject msg) {
        ctx.write(msg, ctx.voidPromise());
    }

    @Override
    public void flush() {
        ctx.flush();
    }

    @Override
    public boolean isWritable() {
        return ctx.channel().isWritable();
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        armHeadersTimer();
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
        if (first && o instanceof HttpRequest) {
            first = false;
            connection.firstRequestRead(ctx.pipeline());
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
     * it, with a 503, and the connection closes, since the rest of a request body would have to
     * be read to keep it.
     */
    private void shed(OverloadState overload, HttpRequest request) {
        overload.requestShed();
        ReferenceCountUtil.release(request);
        closed = true;
        FullHttpResponse res = closingRefusal(HttpResponseStatus.SERVICE_UNAVAILABLE);
        res.headers().set(HeaderPolicy.OVERLOADED, "true");
        ctx.writeAndFlush(res).addListener(ChannelFutureListener.CLOSE);
    }

    /** An empty answer that ends the connection: the request it refuses was not read whole. */
    static FullHttpResponse closingRefusal(HttpResponseStatus status) {
        FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, Unpooled.EMPTY_BUFFER);
        res.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, 0);
        res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        return res;
    }

    @Override
    public void armExchangeTimer(long delayNanos) {
        exchangeTimer = Downstream.rearm(exchangeTimer, ctx.executor(), exchangeTimerTask, delayNanos);
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

    @Override
    public void readRequest() {
        ctx.read();
    }

    /** The exchange cut its response off: the connection ends without waiting to flush. */
    @Override
    public void reset(Http2Error code) {
        aborted = true;
    }

    /**
     * The exchange is over: the next queued request starts, or the connection reads for one, or
     * it closes ({@code keepAlive} false, or draining).
     */
    @Override
    public void exchangeFinished(boolean keepAlive) {
        exchange = null;
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
    @Override
    public void upgraded(UpstreamStream s, long idleNanos) {
        exchange = null;
        cancelExchangeTimer();
        Channel upstream = s.channel;
        ChannelPipeline up = upstream.pipeline();
        Http1ClientCodec codec = up.get(Http1ClientCodec.class);
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

    /**
     * Hands the exchange the body parts that were read and queued behind its head. They came in
     * an earlier read, so no read completes to flush them: the exchange is told here, as at the
     * end of a read, or a pipelined request's body would wait in the upstream connection's buffer
     * (behind a head that went up at once on a pooled connection) until the exchange timed out.
     */
    private void feedQueuedBody() {
        boolean fed = false;
        while (exchange != null && !exchange.requestComplete() && queued.peek() instanceof HttpContent c) {
            queued.poll();
            exchange.onRequestContent(c);
            fed = true;
        }
        if (fed && exchange != null) {
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
        } else if (evt instanceof HttpExpectationFailedEvent) {
            refusedInFront();
        }
        super.userEventTriggered(ctx, evt);
    }

    /**
     * The h2c upgrade handler in front refused the request it holds (417 for an expectation
     * other than 100-continue, 413 for a body over the buffer limit) and closes the connection
     * behind its answer, as after every other refusal. Nothing read in the meantime is served:
     * the body the client may still send would otherwise be taken for the next request.
     */
    private void refusedInFront() {
        closed = true;
        releaseQueued();
    }

    private void releaseQueued() {
        HttpObject o;
        while ((o = queued.poll()) != null) {
            ReferenceCountUtil.release(o);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close();
    }
}
