package dev.sidecar.l7;

import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * The client's end of one {@link Exchange}, as the exchange sees it: an HTTP/1.1 connection
 * ({@link DownstreamHandler}, one request after another) or one stream of an HTTP/2 connection
 * ({@link Http2Streams.Stream}, no channel of its own). The exchange writes its response as
 * HTTP/1.x objects either way; each end turns them into its own protocol.
 */
interface Downstream {
    ConnectionHandler connection();

    /** The connection's event loop, where the exchange runs and its upstream channels are registered. */
    EventLoop eventLoop();

    ByteBufAllocator alloc();

    /** Writes a part of the response (not flushed); the message is the downstream's from here. */
    void write(HttpObject msg);

    void flush();

    /** False while what was written has not drained below the limit (the client reads slowly, or its window is shut). */
    boolean isWritable();

    /** The exchange wants more of its request body. */
    void readRequest();

    /**
     * Makes sure the exchange timer fires within {@code delayNanos}: a pending one that fires
     * sooner is kept (the exchange re-arms when it fires early), a later one is replaced.
     */
    void armExchangeTimer(long delayNanos);

    /** {@link #armExchangeTimer}'s rule: the timer to keep, {@code current} or a new one. */
    static ScheduledFuture<?> rearm(ScheduledFuture<?> current, EventExecutor executor, Runnable task, long delayNanos) {
        if (current != null) {
            if (current.getDelay(TimeUnit.NANOSECONDS) <= delayNanos) {
                return current;
            }
            current.cancel(false);
        }
        return executor.schedule(task, delayNanos, TimeUnit.NANOSECONDS);
    }

    /** The response was cut off after it began: the client learns it from the end of the stream or connection. */
    void reset(Http2Error code);

    /**
     * The exchange is over: the next request may start ({@code keepAlive}), or the connection
     * (HTTP/1.1) or stream (HTTP/2) ends here.
     */
    void exchangeFinished(boolean keepAlive);

    /** The upstream accepted an HTTP/1.1 upgrade; from here the connection is a tunnel. HTTP/1.1 only. */
    void upgraded(UpstreamStream s, long idleNanos);
}
