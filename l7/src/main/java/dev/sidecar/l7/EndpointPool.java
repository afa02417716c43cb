package dev.sidecar.l7;

import dev.sidecar.config.ClusterConfig;
import dev.sidecar.tls.ClientTls;
import dev.sidecar.upstream.Cluster;
import dev.sidecar.upstream.Endpoint;
import dev.sidecar.upstream.proxyprotocol.ProxyProtocolHeader;
import dev.sidecar.upstream.proxyprotocol.ProxyProtocolSender;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2SettingsFrame;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2ChannelDuplexHandler;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameStream;
import io.netty.handler.codec.http2.Http2FrameStreamEvent;
import io.netty.handler.codec.http2.Http2FrameStreamException;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelPromise;
import io.netty.channel.VoidChannelPromise;
import io.netty.util.collection.IntObjectHashMap;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The upstream connections of one endpoint on one event loop, for one protocol. Only that loop
 * touches it, so it has no locks; a request's upstream channel is always on its downstream
 * channel's loop, so a proxied byte never changes thread.
 *
 * <p>HTTP/1.1: idle keep-alive connections in a LIFO (the most recently used is the least likely
 * to have been closed by the upstream), each closed after the cluster's pool idle timeout.
 * HTTP/2: multiplexed connections, each taking streams up to the peer's
 * SETTINGS_MAX_CONCURRENT_STREAMS; another connection is opened when all are full, and one that
 * received GOAWAY takes no new streams and closes when its last one ends.
 */
final class EndpointPool {
    /** Until the peer's SETTINGS say otherwise; RFC 9113 recommends at least 100. */
    private static final int ASSUMED_MAX_STREAMS = 100;

    final Endpoint endpoint;
    private final Cluster cluster;
    private final EventLoop loop;
    private final UpstreamPools pools;
    /** The transport writes per flush: HTTP/1.1 requests are flushed at the end of the loop's turn ({@link UpstreamStream#flush}). */
    final boolean deferFlushes;
    private final boolean h2;
    /** Written first on every connection of this pool; null when the cluster sends no PROXY header. */
    private final ProxyProtocolHeader header;
    private final ArrayDeque<UpstreamStream> idle = new ArrayDeque<>();
    private final List<H2Connection> connections = new ArrayList<>();
    private ClusterConfig config;
    private boolean retired;
    private boolean sweepScheduled;
    private final Runnable sweep = this::sweepIdle;

    EndpointPool(Endpoint endpoint, Cluster cluster, EventLoop loop, UpstreamPools pools, boolean h2, ProxyProtocolHeader header) {
        this.header = header;
        this.endpoint = endpoint;
        this.cluster = cluster;
        this.loop = loop;
        this.pools = pools;
        this.deferFlushes = !pools.dialer().batchedWrites();
        this.h2 = h2;
    }

    /** Called by an exchange wanting a channel to send one request on. */
    void acquire(ClusterConfig config, UpstreamPools.Acquirer acquirer) {
        this.config = config;
        if (h2) {
            acquireStream(acquirer);
            return;
        }
        UpstreamStream s;
        ClientTls tls = pools.upstreamTls(cluster.name());
        while (!acquirer.wantsFreshConnection() && (s = pollIdle()) != null) {
            if (s.channel.isActive() && s.tls == tls) {
                acquirer.acquired(s, true);
                return;
            }
            s.channel.close(); // closed by the upstream, or made before the cluster's TLS changed
        }
        connectHttp1(acquirer, tls);
    }

    int idleConnections() {
        return idle.size();
    }

    private boolean admitConnection(UpstreamPools.Acquirer acquirer) {
        if (!cluster.tryConnectionOpened(endpoint, config.circuitBreakers().maxConnections())) {
            acquirer.failed(new PoolOverflow("cluster " + cluster.name() + " is at circuit_breakers.max_connections"), false);
            return false;
        }
        return true;
    }

    private Bootstrap bootstrap(boolean autoRead) {
        return pools.dialer().bootstrap(loop)
                .option(ChannelOption.AUTO_READ, autoRead)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.ALLOCATOR, pools.allocator())
                .option(ChannelOption.WRITE_BUFFER_WATER_MARK, HttpProxy.WATER_MARK)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.max(1, Math.min(Integer.MAX_VALUE, config.connectTimeout().toMillis())));
    }

    /** @param tls the cluster's TLS now (null: plaintext), as {@link #acquire} looked it up */
    private void connectHttp1(UpstreamPools.Acquirer acquirer, ClientTls tls) {
        if (!admitConnection(acquirer)) {
            return;
        }
        Bootstrap b = bootstrap(false).handler(new ChannelInitializer<>() {
            @Override
            protected void initChannel(Channel ch) {
                addHeader(ch);
                if (tls != null) {
                    ch.pipeline().addLast(tls.newHandler(ch.alloc(), endpoint.address().host(), endpoint.address().port()));
                }
                ch.pipeline().addLast(new Http1ClientCodec(4096, HttpProxy.MAX_UPSTREAM_HEADER_BYTES, 64 * 1024));
                ch.pipeline().addLast(new UpstreamStream(ch, EndpointPool.this, false, tls));
            }
        });
        ChannelFuture f = b.connect(endpoint.socketAddress());
        Channel ch = f.channel();
        endpoint.track(ch);
        pools.track(ch);
        ch.closeFuture().addListener(x -> cluster.connectionClosed(endpoint));
        whenReady(f, tls, () -> acquirer.acquired(ch.pipeline().get(UpstreamStream.class), false), cause -> {
            cluster.connectFailed(endpoint);
            acquirer.failed(cause, true);
        });
    }

    /** First in the pipeline: the PROXY header precedes everything, a TLS ClientHello included. */
    private void addHeader(Channel ch) {
        if (header != null) {
            ch.pipeline().addLast(new ProxyProtocolSender(header));
        }
    }

    /**
     * Runs {@code ready} once the connection can carry requests: connected, and with TLS, its
     * handshake done. A handshake the certificate checks refuse is a failed connect (counted,
     * logged once per reason by the cluster's TLS), so the request may go to another endpoint.
     */
    private void whenReady(ChannelFuture f, ClientTls tls, Runnable ready, java.util.function.Consumer<Throwable> failed) {
        f.addListener(x -> {
            if (!f.isSuccess()) {
                failed.accept(f.cause());
            } else if (tls == null) {
                ready.run();
            } else {
                SslHandler ssl = f.channel().pipeline().get(SslHandler.class);
                ssl.handshakeFuture().addListener(h -> {
                    if (h.isSuccess()) {
                        tls.handshakeCompleted(ssl);
                        ready.run();
                    } else {
                        tls.handshakeFailed(endpoint.toString(), h.cause());
                        f.channel().close();
                        failed.accept(h.cause());
                    }
                });
            }
        });
    }

    /** A connection that finished a request cleanly is kept for the next one, up to the pool's cap. */
    void offerIdle(UpstreamStream s) {
        int max = config.httpPool().maxIdleConnections();
        int maxUses = config.httpPool().maxRequestsPerConnection();
        if (retired || idle.size() >= max || (maxUses > 0 && s.uses >= maxUses) || pools.closing()
                || s.tls != pools.upstreamTls(cluster.name())) {
            s.channel.close();
            return;
        }
        s.idleSince = System.nanoTime();
        idle.addFirst(s);
        cluster.poolIdleChanged(1);
        s.channel.config().setAutoRead(true); // so a close by the upstream is noticed while idle
        if (!sweepScheduled) {
            scheduleSweep(config.httpPool().idleTimeout().toNanos());
        }
    }

    private void scheduleSweep(long delayNanos) {
        sweepScheduled = true;
        loop.schedule(sweep, delayNanos, TimeUnit.NANOSECONDS);
    }

    /**
     * Closes the idle connections that have waited the pool's idle timeout. The deque is in
     * the order they became idle (newest first), so only its oldest end is looked at, and one
     * timer per pool, set for the oldest's expiry, does for all of them: a pooled request costs
     * no timer of its own.
     */
    private void sweepIdle() {
        sweepScheduled = false;
        long idleNanos = config.httpPool().idleTimeout().toNanos();
        long now = System.nanoTime();
        UpstreamStream oldest;
        while ((oldest = idle.peekLast()) != null) {
            long left = oldest.idleSince + idleNanos - now;
            if (left > 0) {
                scheduleSweep(left);
                return;
            }
            idle.pollLast();
            cluster.poolIdleChanged(-1);
            oldest.channel.close();
        }
    }

    void closed(UpstreamStream s) {
        removeIdle(s);
    }

    private UpstreamStream pollIdle() {
        UpstreamStream s = idle.pollFirst();
        if (s != null) {
            cluster.poolIdleChanged(-1);
        }
        return s;
    }

    private boolean removeIdle(UpstreamStream s) {
        if (idle.remove(s)) {
            cluster.poolIdleChanged(-1);
            return true;
        }
        return false;
    }

    /** The endpoint left its cluster: idle connections close, and none is pooled from now on. */
    void retire() {
        retired = true;
        closeIdle();
    }

    /** Closes every idle connection (the proxy is shutting down or the endpoint went away). */
    void closeIdle() {
        UpstreamStream s;
        while ((s = pollIdle()) != null) {
            s.channel.close();
        }
        for (H2Connection c : new ArrayList<>(connections)) {
            if (c.streams == 0) {
                c.channel.close();
            }
        }
    }

    // ---- HTTP/2 ----

    private void acquireStream(UpstreamPools.Acquirer acquirer) {
        ClientTls tls = pools.upstreamTls(cluster.name());
        H2Connection room = null;
        List<H2Connection> stale = null;
        for (H2Connection c : connections) {
            if (c.tls != tls) {
                if (stale == null) {
                    stale = new ArrayList<>(1);
                }
                stale.add(c); // made before the cluster's TLS changed
            } else if (room == null && c.hasRoom()) {
                room = c;
            }
        }
        if (stale != null) {
            stale.forEach(H2Connection::retire); // a close takes the connection off the list
        }
        if (room != null) {
            room.open(acquirer);
            return;
        }
        if (!admitConnection(acquirer)) {
            return;
        }
        H2Connection c = new H2Connection();
        connections.add(c);
        c.connect(acquirer);
    }

    /** One multiplexed upstream connection. */
    final class H2Connection {
        Channel channel;
        private boolean connected;
        boolean goingAway;
        /** Streams handed out and not yet ended, plus those waiting for the connect. */
        int streams;
        private int maxStreams = ASSUMED_MAX_STREAMS;
        private final ArrayDeque<UpstreamPools.Acquirer> waiting = new ArrayDeque<>();
        private long idleSince;
        /** The pending idle check, cancelled when the connection closes (it holds the connection). */
        private io.netty.util.concurrent.ScheduledFuture<?> idleCheck;
        /** The cluster's TLS when the connection was made (null: plaintext). */
        ClientTls tls;
        private Http2FrameCodec codec;
        private final Frames frames = new Frames();
        /** Its streams by id, once their HEADERS went out. */
        private final IntObjectHashMap<Stream> byId = new IntObjectHashMap<>();

        /**
         * Streams are handed out while the connection is still being made (they wait for it), so
         * a burst of requests to a new endpoint shares one connection instead of opening one each.
         */
        boolean hasRoom() {
            return !goingAway && (!connected || channel.isActive()) && streams < maxStreams;
        }

        void connect(UpstreamPools.Acquirer first) {
            streams++;
            waiting.add(first);
            codec = ClientHttp2Codec.builder()
                    .initialSettings(Http2Settings.defaultSettings().pushEnabled(false).initialWindowSize(HttpProxy.UPSTREAM_STREAM_WINDOW))
                    .validateHeaders(true)
                    .build();
            ClientTls tls = pools.upstreamTls(cluster.name());
            this.tls = tls;
            Bootstrap b = bootstrap(true).handler(new ChannelInitializer<>() {
                @Override
                protected void initChannel(Channel ch) {
                    addHeader(ch);
                    if (tls != null) {
                        ch.pipeline().addLast(tls.newHandler(ch.alloc(), endpoint.address().host(), endpoint.address().port()));
                    }
                    ch.pipeline().addLast(codec);
                    ch.pipeline().addLast(frames);
                }
            });
            ChannelFuture f = b.connect(endpoint.socketAddress());
            channel = f.channel();
            endpoint.track(channel);
            pools.track(channel);
            channel.closeFuture().addListener(x -> {
                if (idleCheck != null) {
                    idleCheck.cancel(false);
                }
                cluster.connectionClosed(endpoint);
                connections.remove(this);
            });
            whenReady(f, tls, () -> {
                connected = true;
                UpstreamPools.Acquirer a;
                while ((a = waiting.poll()) != null) {
                    streams--;
                    open(a);
                }
            }, cause -> {
                cluster.connectFailed(endpoint);
                connections.remove(this);
                UpstreamPools.Acquirer a;
                while ((a = waiting.poll()) != null) {
                    streams--;
                    a.failed(cause, true);
                }
            });
        }

        void open(UpstreamPools.Acquirer acquirer) {
            streams++;
            if (!connected) {
                waiting.add(acquirer);
                return;
            }
            if (!channel.isActive()) {
                streams--;
                acquirer.failed(new java.nio.channels.ClosedChannelException(), false);
                return;
            }
            acquirer.acquired(new Stream(), false);
        }

        /** Takes no new streams and closes once its last stream ends. */
        void retire() {
            goingAway = true;
            if (streams == 0 && channel != null) {
                channel.close();
            }
        }

        void streamEnded() {
            streams--;
            if (streams == 0) {
                if (goingAway || pools.closing() || retired) {
                    channel.close();
                    return;
                }
                idleSince = System.nanoTime();
                if (idleCheck == null) {
                    scheduleIdleCheck(config.httpPool().idleTimeout().toNanos());
                }
            }
        }

        /**
         * Flushes once the event loop is done with the I/O it is handling now: the requests its
         * streams got in the same turn of the loop (the streams of one client read, say) go out
         * in one write to the upstream instead of one each.
         */
        void flushSoon() {
            frames.flush.request();
        }

        /** One timer per connection at a time, re-armed for what is left of the idle timeout. */
        private void scheduleIdleCheck(long delayNanos) {
            idleCheck = loop.schedule(this::idleCheck, delayNanos, TimeUnit.NANOSECONDS);
        }

        private void idleCheck() {
            idleCheck = null;
            if (streams != 0 || !channel.isActive()) {
                return;
            }
            long left = idleSince + config.httpPool().idleTimeout().toNanos() - System.nanoTime();
            if (left > 0) {
                scheduleIdleCheck(left);
            } else {
                channel.close();
            }
        }

        /**
         * After the codec: the responses of this connection's streams, turned into HTTP/1.x
         * objects for their exchanges, and the peer's limits and GOAWAY.
         */
        private final class Frames extends Http2ChannelDuplexHandler {
            private ChannelHandlerContext ctx;
            private ChannelHandlerContext codecCtx;
            private LoopFlush flush;
            private ChannelPromise quiet;
            /** Streams that got response frames in the current read. */
            private ArrayList<Stream> touched;

            @Override
            protected void handlerAdded0(ChannelHandlerContext ctx) {
                this.ctx = ctx;
                this.flush = new LoopFlush(ctx);
                this.codecCtx = ctx.pipeline().context(codec);
                this.quiet = new VoidChannelPromise(ctx.channel(), false);
            }

            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                if (msg instanceof Http2DataFrame f) {
                    onData(f); // its content goes on, or is released
                    return;
                }
                try {
                    if (msg instanceof Http2HeadersFrame f) {
                        onHeaders(f);
                    } else if (msg instanceof Http2ResetFrame f) {
                        Stream st = byId.get(f.stream().id());
                        if (st != null) {
                            st.resetCode = Http2Error.valueOf(f.errorCode());
                        }
                    } else if (msg instanceof Http2SettingsFrame f && f.settings().maxConcurrentStreams() != null) {
                        maxStreams = (int) Math.min(Integer.MAX_VALUE, f.settings().maxConcurrentStreams());
                    } else if (msg instanceof Http2GoAwayFrame f) {
                        goingAway = true;
                        // streams above its last id were never processed: Netty closes them next
                        for (Stream st : byId.values()) {
                            if (st.id > f.lastStreamId()) {
                                st.refusedByGoAway = true;
                            }
                        }
                        if (streams == 0) {
                            ctx.close();
                        }
                    }
                } finally {
                    ReferenceCountUtil.release(msg);
                }
            }

            private void onHeaders(Http2HeadersFrame f) {
                Stream st = byId.get(f.stream().id());
                if (st == null || st.exchange() == null) {
                    return;
                }
                Http2Headers h = f.headers();
                CharSequence status = h.status();
                HttpObject o;
                try {
                    if (status == null) {
                        if (!f.isEndStream()) {
                            throw Http2Exception.streamError(st.id, Http2Error.PROTOCOL_ERROR, "a HEADERS without :status or END_STREAM");
                        }
                        LastHttpContent trailers = new DefaultLastHttpContent(Unpooled.EMPTY_BUFFER);
                        H2Headers.trailers(st.id, h, trailers.trailingHeaders());
                        o = trailers;
                    } else if (status.length() == 3 && status.charAt(0) == '1' && !f.isEndStream()) {
                        return; // informational: the proxy answers 100-continue itself, and drops the rest
                    } else {
                        o = H2Headers.response(st.id, h, f.isEndStream());
                    }
                } catch (Http2Exception e) {
                    // a response the conversion refuses: the stream is over for the exchange
                    st.reset(e.error());
                    st.closed();
                    return;
                }
                st.exchange().onResponse(st, o);
                touch(st);
            }

            private void onData(Http2DataFrame f) {
                Stream st = byId.get(f.stream().id());
                if (st == null) {
                    f.release();
                    return;
                }
                st.owed += f.initialFlowControlledBytes();
                Exchange e = st.exchange();
                if (e == null) {
                    f.release();
                    st.giveBack();
                    return;
                }
                ByteBuf content = f.content();
                e.onResponse(st, f.isEndStream() ? new DefaultLastHttpContent(content) : new DefaultHttpContent(content));
                touch(st);
            }

            private void touch(Stream st) {
                if (!st.touched) {
                    st.touched = true;
                    if (touched == null) {
                        touched = new ArrayList<>(4);
                    }
                    touched.add(st);
                }
            }

            @Override
            public void channelReadComplete(ChannelHandlerContext ctx) {
                ArrayList<Stream> t = touched;
                if (t != null) {
                    touched = null;
                    for (int i = 0; i < t.size(); i++) {
                        Stream st = t.get(i);
                        st.touched = false;
                        Exchange e = st.exchange();
                        if (e != null) {
                            e.onUpstreamReadComplete(st);
                        }
                    }
                }
                ctx.fireChannelReadComplete();
            }

            @Override
            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                if (evt instanceof Http2FrameStreamEvent e) {
                    if (e.type() == Http2FrameStreamEvent.Type.State && e.stream().state() == Http2Stream.State.CLOSED) {
                        Stream st = byId.get(e.stream().id());
                        if (st != null) {
                            st.closed();
                        }
                    }
                    return;
                }
                ctx.fireUserEventTriggered(evt);
            }

            @Override
            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                if (cause instanceof Http2FrameStreamException e) {
                    // the upstream broke the protocol on one stream: reset it, its exchange sees it end
                    Stream st = byId.get(e.stream().id());
                    if (st != null) {
                        st.reset(e.error());
                        st.closed();
                    } else {
                        codec.encoder().writeRstStream(codecCtx, e.stream().id(), e.error().code(), quiet);
                        ctx.flush();
                    }
                    return;
                }
                ctx.close();
            }

            @Override
            public void channelInactive(ChannelHandlerContext ctx) throws Exception {
                if (!byId.isEmpty()) {
                    for (Stream st : new ArrayList<>(byId.values())) {
                        st.closed();
                    }
                }
                super.channelInactive(ctx);
            }
        }

        /**
         * One request stream of this connection. Its request goes to the codec's encoder as
         * frames (a request head with no body as one HEADERS frame with END_STREAM); response
         * bytes go back to the upstream's windows when the exchange asks for more of the
         * response, so the stream holds at most one window of it; its request side is
         * writable while less than the write high-water mark waits to go out.
         */
        final class Stream extends UpstreamStream implements H2Outbound.Owner {
            private final Http2FrameStream frameStream;
            private Http2Stream stream;
            int id;
            /** The request head, held until the first body part or flush says whether it ends the stream. */
            private HttpRequest head;
            private int owed;
            private final H2Outbound out;
            private boolean touched;
            private boolean resetSent;
            /** Closed, reset, or never sent: nothing more goes out or comes in. */
            private boolean over;
            /** The exchange let go of it, and the connection counted it out. */
            private boolean released;

            Stream() {
                super(H2Connection.this.channel, EndpointPool.this, true, H2Connection.this.tls);
                this.frameStream = frames.newStream();
                this.out = new H2Outbound(this, codec.encoder(), frames.codecCtx, frames.quiet);
            }

            @Override
            void write(HttpObject msg) {
                if (over) {
                    ReferenceCountUtil.release(msg);
                    return;
                }
                if (msg instanceof HttpRequest r) {
                    head = r;
                    if (!(msg instanceof HttpContent)) {
                        return;
                    }
                }
                boolean headEnded = false;
                if (head != null) {
                    headEnded = msg instanceof LastHttpContent last && !last.content().isReadable() && last.trailingHeaders().isEmpty();
                    writeHead(headEnded);
                    if (over) {
                        ReferenceCountUtil.release(msg);
                        return;
                    }
                }
                if (msg instanceof HttpContent c) {
                    out.write(id, c, headEnded);
                } else {
                    ReferenceCountUtil.release(msg);
                }
            }

            private void writeHead(boolean end) {
                HttpRequest r = head;
                head = null;
                Http2Headers headers = H2Headers.request(r, tls != null);
                ChannelPromise promise = frames.ctx.newPromise();
                // through the codec, which gives the new stream its id
                frames.ctx.write(new DefaultHttp2HeadersFrame(headers, end).stream(frameStream), promise);
                id = frameStream.id();
                boolean failed = promise.isDone() && !promise.isSuccess();
                if (!failed && id > 0) {
                    stream = codec.connection().stream(id);
                }
                if (failed || stream == null) {
                    // not sent (the connection is going away, or out of stream ids): never processed
                    refusedByGoAway = true;
                    over = true;
                    channel.eventLoop().execute(this::closed);
                    return;
                }
                byId.put(id, this);
                promise.addListener(f -> {
                    if (!f.isSuccess()) {
                        refusedByGoAway = true;
                        closed();
                    }
                });
            }

            /** Its request drained below the low-water mark after reaching the high one. */
            @Override
            public void drained() {
                Exchange e = exchange();
                if (e != null) {
                    e.onUpstreamWritable(this);
                }
            }

            @Override
            void flush() {
                if (head != null && !over) {
                    writeHead(false);
                }
                flushSoon();
            }

            @Override
            void read() {
                giveBack();
            }

            /** Backpressure on a stream is the credit {@link #read} has not given back yet. */
            @Override
            void pause() {
            }

            void giveBack() {
                int n = owed;
                owed = 0;
                if (Http2Streams.giveBack(codec.connection(), stream, n)) {
                    flushSoon();
                }
            }

            @Override
            boolean isWritable() {
                return !over && !out.full();
            }

            void reset(Http2Error code) {
                if (resetSent || stream == null || stream.state() == Http2Stream.State.CLOSED) {
                    return;
                }
                resetSent = true;
                codec.encoder().writeRstStream(frames.codecCtx, id, code.code(), frames.quiet);
            }

            /** The stream is closed, reset, or was never sent: its exchange learns of it once. */
            void closed() {
                over = true;
                if (id > 0) {
                    byId.remove(id);
                }
                head = null; // a head alone holds no buffer
                Exchange e = exchange();
                if (e != null) {
                    e.onUpstreamClosed(this);
                }
            }

            /** The exchange is done with the stream: one that has not ended is reset; it leaves the connection's count. */
            @Override
            void release(boolean reusable) {
                detach();
                if (released) {
                    return;
                }
                released = true;
                head = null;
                over = true;
                reset(Http2Error.CANCEL);
                flushSoon();
                if (id > 0) {
                    byId.remove(id);
                }
                streamEnded();
            }
        }
    }

    /** A request refused because the cluster's connection limit is reached. */
    static final class PoolOverflow extends RuntimeException {
        PoolOverflow(String message) {
            super(message, null, false, false);
        }
    }
}
