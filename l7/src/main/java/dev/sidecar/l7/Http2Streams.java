package dev.sidecar.l7;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.EventLoop;
import io.netty.channel.VoidChannelPromise;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.Http2ConnectionEncoder;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameStreamEvent;
import io.netty.handler.codec.http2.Http2FrameStreamException;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.collection.IntObjectHashMap;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.concurrent.TimeUnit;

/**
 * The requests of an HTTP/2 connection, right after Netty's {@link Http2FrameCodec}: each stream
 * is a small {@link Stream} object that is the {@link Downstream} of its one {@link Exchange},
 * with no channel or pipeline of its own. Request frames become HTTP/1.x objects for the
 * exchange; the response the exchange writes goes to the codec's encoder as frames, without
 * frame objects in between.
 *
 * <p>Flow control: the client's DATA is handed to the exchange as it arrives, and its bytes are
 * given back to the client's window only when the exchange asks for more of its body (its
 * upstream is writable), so a stream holds at most one window of request body. On the response
 * side a stream is writable while less than the write high-water mark of what it wrote waits
 * to go out ({@link H2Outbound}), held back by the client's window or by the socket: the
 * exchange reads that far ahead of a slow client, and no further.
 *
 * <p>A request starts when the connection's read that brought its headers is over, not at once:
 * a stream the client resets in the same read (Rapid Reset sends HEADERS and RST_STREAM
 * together, stream after stream), or that it makes the proxy reset (MadeYouReset), ends before
 * anything is done for it upstream.
 */
final class Http2Streams extends ChannelInboundHandlerAdapter {
    private final ConnectionHandler connection;
    private final Http2FrameCodec codec;
    /** Stream 1 came from an h2c upgrade: its request body came over HTTP/1.1, outside flow control. */
    private final boolean upgraded;
    private final IntObjectHashMap<Stream> streams = new IntObjectHashMap<>();
    private ChannelHandlerContext ctx;
    private ChannelHandlerContext codecCtx;
    private Http2ConnectionEncoder encoder;
    private Http2Connection h2;
    /** For the encoder's writes: a failed one (a stream reset meanwhile) is not an error of the connection. */
    private ChannelPromise quiet;
    /** Inside a read of the connection: flushes wait for the codec's, at the end of the read. */
    private boolean reading;
    /** Flushes outside a read, once per turn of the event loop ({@link #flushUnlessReading}). */
    private LoopFlush flush;
    /** Streams that got request frames in the current read, to start or to flush up when it is over. */
    private ArrayList<Stream> touched;
    /** The list {@link #touched} was in the read before, emptied, for the next read to fill (a new list per read was 17 B per request under h2load -m10). */
    private ArrayList<Stream> touchedSpare;
    /**
     * The exchange timers of all streams: one task per connection, due at the earliest deadline
     * it was armed for (a stream's may be later, or gone). A stream keeps only its deadline, so a
     * stream's request schedules nothing while the task is due no later than it needs.
     */
    private ScheduledFuture<?> timer;
    /** When {@link #timer} is due, in {@link System#nanoTime()}. */
    private long timerDeadline;

    Http2Streams(ConnectionHandler connection, Http2FrameCodec codec, boolean upgraded) {
        this.connection = connection;
        this.codec = codec;
        this.upgraded = upgraded;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        this.quiet = new VoidChannelPromise(ctx.channel(), false);
        this.flush = new LoopFlush(ctx); // through the codec, which writes what flow control held back
    }

    /** The codec's context, found once the codec is in the pipeline (an h2c upgrade adds both together). */
    private void bind() {
        if (codecCtx == null) {
            codecCtx = ctx.pipeline().context(codec);
            encoder = codec.encoder();
            h2 = codec.connection();
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        reading = true;
        bind();
        if (msg instanceof Http2HeadersFrame f) {
            onHeaders(f);
        } else if (msg instanceof Http2DataFrame f) {
            onData(f);
        } else {
            if (msg instanceof Http2ResetFrame f) {
                Stream s = streams.get(f.stream().id());
                if (s != null) {
                    s.closed();
                }
            }
            // SETTINGS, PING, GOAWAY, PRIORITY, WINDOW_UPDATE: the codec has acted on them
            ReferenceCountUtil.release(msg);
        }
    }

    private void onHeaders(Http2HeadersFrame f) {
        int id = f.stream().id();
        Stream s = streams.get(id);
        if (s == null) {
            Http2Stream stream = h2.stream(id);
            if (stream == null) {
                return; // gone already (the connection is closing)
            }
            s = new Stream(stream);
            streams.put(id, s);
            s.ended = f.isEndStream();
            String problem = problem(f.headers());
            if (problem != null) {
                // RFC 9113 8.3.1: malformed, a stream error of type PROTOCOL_ERROR
                s.refuse(Http2Error.PROTOCOL_ERROR);
                return;
            }
            HttpRequest request;
            try {
                request = H2Headers.request(id, f.headers());
            } catch (Http2Exception e) {
                // a Host that names another authority, a value with a CR or LF, ...
                s.refuse(e.error());
                return;
            }
            if (!f.isEndStream() && !HttpUtil.isContentLengthSet(request)) {
                request.headers().add(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
            }
            s.request = request;
            if (f.isEndStream()) {
                s.queue(LastHttpContent.EMPTY_LAST_CONTENT);
            }
            touch(s);
            return;
        }
        if (s.over) {
            return;
        }
        if (s.ended || !f.isEndStream()) {
            // after the client ended the stream (half-closed (remote), RFC 9113 5.1), or a
            // second HEADERS that is not trailers
            s.refuse(s.ended ? Http2Error.STREAM_CLOSED : Http2Error.PROTOCOL_ERROR);
            return;
        }
        s.ended = true;
        LastHttpContent trailers = new DefaultLastHttpContent(Unpooled.EMPTY_BUFFER);
        try {
            H2Headers.trailers(id, f.headers(), trailers.trailingHeaders());
        } catch (Http2Exception e) {
            s.refuse(e.error());
            return;
        }
        s.onContent(trailers);
        touch(s);
    }

    private void onData(Http2DataFrame f) {
        Stream s = streams.get(f.stream().id());
        int bytes = f.initialFlowControlledBytes();
        if (s == null || s.over) {
            f.release();
            if (s != null) {
                s.owed += bytes;
                s.giveBack();
            }
            return;
        }
        s.owed += bytes;
        if (s.ended) {
            f.release();
            s.refuse(Http2Error.STREAM_CLOSED);
            return;
        }
        s.ended = f.isEndStream();
        ByteBuf content = f.content();
        s.onContent(f.isEndStream() ? new DefaultLastHttpContent(content) : new DefaultHttpContent(content));
        touch(s);
    }

    private void touch(Stream s) {
        if (!s.touched) {
            s.touched = true;
            if (touched == null) {
                touched = touchedSpare != null ? touchedSpare : new ArrayList<>(4);
                touchedSpare = null;
            }
            touched.add(s);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        ArrayList<Stream> t = touched;
        if (t != null) {
            touched = null; // a start may lead to another read of this connection's streams
            for (int i = 0; i < t.size(); i++) {
                t.get(i).readComplete();
            }
            if (t.size() <= 16) { // a list a burst of streams grew is not kept for the connection's life
                t.clear();
                touchedSpare = t;
            }
        }
        reading = false;
        ctx.fireChannelReadComplete(); // the codec flushes once this returns
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof Http2FrameStreamEvent e) {
            if (e.type() == Http2FrameStreamEvent.Type.State && e.stream().state() == Http2Stream.State.CLOSED) {
                Stream s = streams.get(e.stream().id());
                if (s != null) {
                    s.closed();
                }
            }
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    /**
     * A stream error: one the codec found (reported here before it would reset the stream, which
     * it leaves to this handler), answered with its own code, not CANCEL, so that the codec
     * counts the resets a client provokes (MadeYouReset) and ends a connection that provokes too
     * many.
     */
    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof Http2FrameStreamException e) {
            bind();
            Stream s = streams.get(e.stream().id());
            if (s != null) {
                s.refuse(e.error());
            } else {
                encoder.writeRstStream(codecCtx, e.stream().id(), e.error().code(), quiet);
                flushUnlessReading();
            }
            return;
        }
        ctx.fireExceptionCaught(cause);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        if (!streams.isEmpty()) {
            for (Stream s : new ArrayList<>(streams.values())) {
                s.closed();
            }
        }
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
        super.channelInactive(ctx);
    }

    /** Makes sure the connection's timer is due no later than {@code deadline}. */
    private void armTimer(long deadline, long now) {
        if (timer != null) {
            if (timerDeadline - deadline <= 0) {
                return;
            }
            timer.cancel(false);
        }
        timerDeadline = deadline;
        timer = ctx.executor().schedule(this::onTimer, Math.max(0, deadline - now), TimeUnit.NANOSECONDS);
    }

    /** The connection's timer: runs the streams' timers that are due and arms it for the next one. */
    private void onTimer() {
        timer = null;
        if (streams.isEmpty()) {
            return;
        }
        long now = System.nanoTime();
        ArrayList<Stream> due = null;
        boolean pending = false;
        long next = 0;
        for (Stream s : streams.values()) {
            if (!s.timerArmed) {
                continue;
            }
            if (s.timerDeadline - now <= 0) {
                if (due == null) {
                    due = new ArrayList<>(4);
                }
                due.add(s);
            } else if (!pending || s.timerDeadline - next < 0) {
                pending = true;
                next = s.timerDeadline;
            }
        }
        if (pending) {
            armTimer(next, now);
        }
        if (due != null) {
            // outside the walk over the map: a timer that fires may close its stream
            for (Stream s : due) {
                s.timerArmed = false;
                s.fire();
            }
        }
    }

    /**
     * Flushes once the event loop is done with the I/O it is handling now, not at once: the
     * responses of several streams whose upstream answers came in the same turn of the loop go
     * out in one write to the socket instead of one each. Inside a read of this connection the
     * codec flushes when the read is over.
     */
    private void flushUnlessReading() {
        if (!reading) {
            flush.request();
        }
    }

    /**
     * Gives {@code bytes} of a peer's DATA back to its stream's and its connection's windows
     * (both sides of the proxy do this as the other side takes the bytes): true when that wrote a
     * WINDOW_UPDATE, which wants a flush. A closed stream's bytes went back when it closed.
     */
    static boolean giveBack(Http2Connection connection, Http2Stream stream, int bytes) {
        if (bytes == 0 || stream == null || stream.state() == Http2Stream.State.CLOSED) {
            return false;
        }
        try {
            return connection.local().flowController().consumeBytes(stream, bytes);
        } catch (Http2Exception e) {
            return false; // the stream ended meanwhile
        }
    }

    /** Why a request head is malformed (RFC 9113 8.3.1), or null. */
    static String problem(Http2Headers h) {
        CharSequence method = h.method();
        if (method == null) {
            return "no :method";
        }
        if (!isToken(method)) {
            return ":method is not a token";
        }
        if (HttpMethod.CONNECT.asciiName().contentEquals(method)) {
            return h.authority() == null ? "CONNECT without :authority" : null;
        }
        if (h.scheme() == null) {
            return "no :scheme";
        }
        CharSequence path = h.path();
        if (path == null || path.length() == 0) {
            return "no :path";
        }
        return null;
    }

    /** RFC 9110 section 5.6.2: 1*tchar. */
    private static boolean isToken(CharSequence s) {
        if (s.length() == 0) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean tchar = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || "!#$%&'*+-.^_`|~".indexOf(c) >= 0;
            if (!tchar) {
                return false;
            }
        }
        return true;
    }

    /** One request stream: the downstream end of its exchange. Event loop only. */
    final class Stream implements Downstream, H2Outbound.Owner {
        private final Http2Stream stream;
        private final int id;
        /** The request head, until its exchange starts. */
        private HttpRequest request;
        /**
         * Request body read before the exchange could take it: the first part in a field (a
         * request without a body has one, its end), the parts behind it in a queue made on first
         * use. The queue has parts only while the field has one.
         */
        private HttpContent bodyFirst;
        private ArrayDeque<HttpContent> body;
        private Exchange exchange;
        /** The client ended its side (END_STREAM). */
        private boolean ended;
        /** Nothing more is started or read for this stream: refused, reset, or closed. */
        private boolean over;
        /** Its resources are released and it is out of the connection's map. */
        private boolean released;
        private boolean resetSent;
        private boolean touched;
        /** Request bytes the client sent that have not been given back to its windows. */
        private int owed;
        private final H2Outbound out;
        /** The exchange timer is armed, for {@link #timerDeadline} (the connection's timer runs it). */
        private boolean timerArmed;
        private long timerDeadline;

        Stream(Http2Stream stream) {
            this.stream = stream;
            this.id = stream.id();
            this.out = new H2Outbound(this, encoder, codecCtx, quiet);
        }

        void queue(HttpContent c) {
            if (bodyFirst == null) {
                bodyFirst = c;
                return;
            }
            if (body == null) {
                body = new ArrayDeque<>(2);
            }
            body.add(c);
        }

        /** The oldest queued part of the request body, or null. */
        private HttpContent unqueue() {
            HttpContent c = bodyFirst;
            if (c != null) {
                bodyFirst = body == null ? null : body.poll();
            }
            return c;
        }

        void onContent(HttpContent c) {
            Exchange e = exchange;
            if (e != null && bodyFirst == null && !e.requestComplete()) {
                e.onRequestContent(c);
            } else {
                queue(c);
            }
        }

        /** The read that brought frames of this stream is over. */
        void readComplete() {
            touched = false;
            if (over) {
                return;
            }
            if (request != null) {
                start();
            }
            if (exchange != null) {
                exchange.onRequestReadComplete();
            }
        }

        private void start() {
            HttpRequest r = request;
            request = null;
            if (stream.state() == Http2Stream.State.CLOSED) {
                closed(); // reset by the client in the read that opened it
                return;
            }
            OverloadState overload = connection.proxy.overload();
            if (overload.shedding()) {
                // short of memory: refused before anything is allocated for it. REFUSED_STREAM
                // tells the client nothing was processed, so it may retry (RFC 9113 section 8.7)
                overload.requestShed();
                refuse(Http2Error.REFUSED_STREAM);
                return;
            }
            // the body read with the head goes in first, so that the exchange starts knowing
            // whether its request is whole (a local answer to a whole request keeps the stream)
            Exchange e = new Exchange(this, r);
            exchange = e;
            HttpContent c;
            while (!e.requestComplete() && (c = unqueue()) != null) {
                e.onRequestContent(c);
            }
            e.start();
        }

        /** A stream error: reset with {@code code}; what the stream still had is dropped. */
        void refuse(Http2Error code) {
            over = true;
            request = null;
            releaseBody();
            reset(code);
            flushUnlessReading();
        }

        /** The stream is closed (both sides ended, or reset either way, or the connection went). */
        void closed() {
            over = true;
            if (released) {
                return;
            }
            released = true;
            streams.remove(id);
            request = null;
            releaseBody();
            cancelTimer();
            Exchange e = exchange;
            if (e != null) {
                e.onDownstreamClosed();
            }
        }

        private void releaseBody() {
            HttpContent c;
            while ((c = unqueue()) != null) {
                c.release();
            }
        }

        /** Gives the request bytes read so far back to the client's stream and connection windows. */
        void giveBack() {
            if (upgraded && id == 1) {
                return;
            }
            int n = owed;
            owed = 0;
            if (Http2Streams.giveBack(h2, stream, n)) {
                flushUnlessReading();
            }
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
            if (released || resetSent) {
                ReferenceCountUtil.release(msg);
                return;
            }
            if (msg instanceof HttpResponse r) {
                Http2Headers headers = H2Headers.response(r);
                boolean end = r instanceof FullHttpResponse full && !full.content().isReadable() && full.trailingHeaders().isEmpty();
                encoder.writeHeaders(codecCtx, id, headers, 0, end, quiet);
                if (msg instanceof HttpContent c) {
                    out.write(id, c, true); // a full response: its body and trailers, if the head did not end it
                }
                return;
            }
            if (msg instanceof HttpContent c) {
                out.write(id, c, false);
            } else {
                ReferenceCountUtil.release(msg);
            }
        }

        /** Its response drained below the low-water mark after reaching the high one. */
        @Override
        public void drained() {
            if (exchange != null) {
                exchange.onDownstreamWritable();
            }
        }

        @Override
        public void flush() {
            flushUnlessReading();
        }

        @Override
        public boolean isWritable() {
            return !released && !out.full();
        }

        @Override
        public void readRequest() {
            giveBack();
        }

        @Override
        public void armExchangeTimer(long delayNanos) {
            long now = System.nanoTime();
            long deadline = now + delayNanos;
            if (timerArmed && timerDeadline - deadline <= 0) {
                return;
            }
            timerArmed = true;
            timerDeadline = deadline;
            armTimer(deadline, now);
        }

        private void cancelTimer() {
            timerArmed = false;
        }

        /** The exchange timer. */
        void fire() {
            if (exchange != null) {
                exchange.onTimer();
            }
        }

        @Override
        public void reset(Http2Error code) {
            if (resetSent || released) {
                return;
            }
            resetSent = true;
            encoder.writeRstStream(codecCtx, id, code.code(), quiet);
        }

        @Override
        public void exchangeFinished(boolean keepAlive) {
            exchange = null;
            cancelTimer();
            if (!keepAlive) {
                // the response went out before the request was whole, or was cut off
                over = true;
                releaseBody();
                reset(Http2Error.CANCEL);
                flushUnlessReading();
            }
        }

        @Override
        public void upgraded(UpstreamStream s, long idleNanos) {
            throw new UnsupportedOperationException("HTTP/2 streams do not upgrade");
        }

        @Override
        public String toString() {
            return "stream " + id;
        }
    }
}
