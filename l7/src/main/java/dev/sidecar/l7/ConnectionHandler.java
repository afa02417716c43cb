package dev.sidecar.l7;

import dev.sidecar.config.HttpSettings;
import dev.sidecar.config.ProxyProtocolVersion;
import dev.sidecar.upstream.Cluster;
import dev.sidecar.upstream.Endpoint;
import dev.sidecar.upstream.proxyprotocol.ClientAddress;
import dev.sidecar.upstream.proxyprotocol.ProxyProtocolHeader;
import io.netty.channel.EventLoop;
import java.util.HashMap;
import java.util.Map;
import dev.sidecar.tls.PeerIdentity;
import dev.sidecar.tls.ServerTls;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ChannelPromise;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpExpectationFailedEvent;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerUpgradeHandler;
import io.netty.handler.codec.http2.DefaultHttp2GoAwayFrame;
import io.netty.handler.codec.http2.DefaultHttp2WindowUpdateFrame;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2ServerUpgradeCodec;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.util.AsciiString;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.nio.channels.ClosedChannelException;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * First in every downstream connection's pipeline, for its whole life: admission against
 * {@code max_connections}, the connection idle timeout, the requests in flight, and the drain.
 * It starts with a {@link Sniffer} behind it that looks at the first bytes and installs either
 * the HTTP/2 pipeline (the client sent the connection preface: prior knowledge) or the HTTP/1.1
 * one (which can still become HTTP/2 through an h2c upgrade).
 */
final class ConnectionHandler extends ChannelDuplexHandler {
    private static final byte[] PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

    /** How long a closing connection keeps reading and dropping what the client still sends. */
    private static final long LINGER_NANOS = TimeUnit.SECONDS.toNanos(1);

    /** The h2c upgrade handler's name in a cleartext HTTP/1.1 pipeline, until the first request. */
    private static final String H2C_UPGRADE = "h2c-upgrade";

    final HttpProxy proxy;
    final HttpProxy.Settings settings;
    private ChannelHandlerContext ctx;
    private boolean h2;
    private boolean admitted;
    private boolean draining;
    private boolean lingering;
    private int activeRequests;
    private long lastActivity;
    /** The client's address as x-forwarded-for carries it; computed once per connection. */
    String clientIp = "";
    /** The listener's TLS when this connection came in over it, else null. */
    private final ServerTls tls;
    /** {@code https} or {@code http}, for x-forwarded-proto and redirects. */
    final String scheme;
    /** The verified client certificate as an x-forwarded-client-cert element (mTLS), else null. */
    String clientCert;
    /**
     * The pending idle check; cancelled when the connection closes, since until it runs it holds
     * the whole connection (channel, pipeline, TLS engine) for up to {@code idle_timeout}.
     */
    private ScheduledFuture<?> idleCheck;
    /** Upstream pools for clusters that send a PROXY header; null until one is used. Event loop only. */
    private Map<Endpoint, EndpointPool[]> ownPools;

    ConnectionHandler(HttpProxy proxy, HttpProxy.Settings settings, ServerTls tls) {
        this.proxy = proxy;
        this.settings = settings;
        this.tls = tls;
        this.scheme = tls != null ? "https" : "http";
    }

    /** The client: the socket's peer, or the address a PROXY header named. */
    java.net.SocketAddress remoteAddress() {
        return ClientAddress.source(ctx.channel());
    }

    /**
     * The upstream pool of this connection alone for an endpoint of a cluster that sends a PROXY
     * header (see {@link UpstreamPools#acquire}). Envoy keys such pools by the downstream
     * addresses; one pool per downstream connection is the same for every client whose address
     * and port are its connection's, and its connections close with the downstream one.
     */
    EndpointPool ownPool(Endpoint endpoint, Cluster cluster, EventLoop loop, UpstreamPools pools, boolean h2, ProxyProtocolVersion version) {
        if (ownPools == null) {
            ownPools = new HashMap<>();
        }
        EndpointPool[] pair = ownPools.computeIfAbsent(endpoint, e -> new EndpointPool[4]);
        int i = (h2 ? 1 : 0) + (version == ProxyProtocolVersion.V2 ? 2 : 0);
        EndpointPool pool = pair[i];
        if (pool == null) {
            ProxyProtocolHeader header = ProxyProtocolHeader.proxied(version, ClientAddress.source(ctx.channel()),
                    ClientAddress.destination(ctx.channel()));
            pool = pair[i] = new EndpointPool(endpoint, cluster, loop, pools, h2, header);
        }
        return pool;
    }

    boolean h2() {
        return h2;
    }

    boolean draining() {
        return draining || proxy.draining();
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        HttpListenerStats stats = proxy.stats();
        if (stats.activeConnections.incrementAndGet() > settings.config().maxConnections()) {
            stats.activeConnections.decrementAndGet();
            stats.refused.increment();
            ctx.close();
            return;
        }
        admitted = true;
        stats.accepted.increment();
        proxy.connections().add(ctx.channel());
        if (ClientAddress.source(ctx.channel()) instanceof InetSocketAddress a && a.getAddress() != null) {
            clientIp = a.getAddress().getHostAddress();
        }
        lastActivity = proxy.nanoClock().getAsLong();
        scheduleIdleCheck(settings.config().idleTimeout().toNanos());
        ctx.pipeline().addAfter(ctx.name(), "sniffer", new Sniffer());
        super.channelActive(ctx);
        ctx.read();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        if (idleCheck != null) {
            idleCheck.cancel(false);
        }
        if (admitted) {
            proxy.stats().activeConnections.decrementAndGet();
        }
        if (ownPools != null) {
            // idle connections close now; busy ones when their request ends, since a retired pool keeps none
            for (EndpointPool[] pair : ownPools.values()) {
                for (EndpointPool pool : pair) {
                    if (pool != null) {
                        pool.retire();
                    }
                }
            }
            ownPools = null;
        }
        super.channelInactive(ctx);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (lingering) {
            ReferenceCountUtil.release(msg);
            return;
        }
        lastActivity = proxy.nanoClock().getAsLong();
        if (msg instanceof ByteBuf b) {
            proxy.stats().bytesIn.add(b.readableBytes());
        }
        ctx.fireChannelRead(msg);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (lingering) {
            // written after the close: nothing may be in flight when the output is shut down
            ReferenceCountUtil.release(msg);
            promise.tryFailure(new ClosedChannelException());
            return;
        }
        lastActivity = proxy.nanoClock().getAsLong();
        if (msg instanceof ByteBuf b) {
            proxy.stats().bytesOut.add(b.readableBytes());
        }
        ctx.write(msg, promise);
    }

    /**
     * A close from the codecs or the request handlers is a lingering close, as NGINX and Apache
     * do it: the output is shut down (so the client reads everything written, a 400 or a
     * GOAWAY, up to a FIN) and input is read and dropped until the client closes or the linger
     * time passes. Closing at once with unread input would make the kernel send a reset, and a
     * reset discards the last response in the client's buffer before the client reads it.
     * Closes for shutdown and listener removal are immediate.
     */
    @Override
    public void close(ChannelHandlerContext ctx, ChannelPromise promise) {
        Channel ch = ctx.channel();
        if (lingering) {
            ch.closeFuture().addListener(f -> promise.trySuccess());
            return;
        }
        if (!ch.isActive() || proxy.closing() || !(ch instanceof DuplexChannel duplex) || duplex.isOutputShutdown()) {
            ctx.close(promise);
            return;
        }
        lingering = true;
        // the output is shut only once everything written has left (transports may write
        // asynchronously); over TLS, after a close_notify
        SslHandler ssl = tls != null ? ctx.pipeline().get(SslHandler.class) : null;
        ChannelFuture flushed = ssl != null ? ssl.closeOutbound() : ctx.writeAndFlush(Unpooled.EMPTY_BUFFER);
        flushed.addListener(written -> duplex.shutdownOutput().addListener(f -> {
            if (!written.isSuccess() || !f.isSuccess()) {
                ctx.close();
            }
        }));
        ch.config().setAutoRead(true);
        // cancelled when the client closes first: a pending timer would hold the closed
        // connection's pipeline until it ran
        ScheduledFuture<?> linger = ctx.executor().schedule(() -> {
            ctx.close();
        }, LINGER_NANOS, TimeUnit.NANOSECONDS);
        ch.closeFuture().addListener(f -> {
            linger.cancel(false);
            promise.trySuccess();
        });
    }

    void requestStarted() {
        activeRequests++;
        proxy.stats().activeRequests.incrementAndGet();
    }

    void requestEnded() {
        activeRequests--;
        proxy.stats().activeRequests.decrementAndGet();
        if (activeRequests == 0 && draining() && h2) {
            ctx.channel().close(); // through the codec: a GOAWAY first if none was sent yet
        }
    }

    /** The connection idle timeout: closes a connection with no request in flight and no bytes either way. */
    private void scheduleIdleCheck(long delayNanos) {
        idleCheck = ctx.executor().schedule(() -> {
            if (!ctx.channel().isActive()) {
                return;
            }
            long idle = settings.config().idleTimeout().toNanos();
            long quiet = proxy.nanoClock().getAsLong() - lastActivity;
            if (activeRequests == 0 && quiet >= idle) {
                ctx.close();
            } else {
                scheduleIdleCheck(Math.max(idle - quiet, idle / 8));
            }
        }, delayNanos, TimeUnit.NANOSECONDS);
    }

    /** Graceful drain of this connection: HTTP/2 gets GOAWAY; HTTP/1.1 closes after its response. */
    void drain() {
        if (!ctx.channel().isActive() || draining) {
            return;
        }
        draining = true;
        if (h2) {
            ctx.channel().writeAndFlush(new DefaultHttp2GoAwayFrame(Http2Error.NO_ERROR));
        }
        if (activeRequests == 0) {
            ctx.close();
        }
    }

    private void installHttp2(ChannelHandlerContext at) {
        h2 = true;
        proxy.stats().h2Connections.increment();
        Http2FrameCodec codec = http2Codec();
        at.pipeline().addAfter(at.name(), "h2-states", new StreamStateCheck(codec));
        at.pipeline().addAfter("h2-states", "h2", codec);
        at.pipeline().addAfter("h2", "h2-streams", new Http2Streams(this, codec, false));
        at.pipeline().addAfter("h2-streams", "sink", new Sink());
        at.channel().config().setAutoRead(true); // streams apply backpressure through their windows
        // One read (at most 64 KiB, the adaptive buffer's largest) per turn of the event loop
        // instead of Netty's 16: a flood of small frames (SETTINGS, PING, CONTINUATION, resets)
        // packs some 7,000 frames into 64 KiB, each decoded and most answered, and 16 such reads
        // in a row kept every other connection on the loop waiting for a million bytes of one
        // attacker's frames. Bulk uploads lose nothing measurable: the loop comes back to the
        // connection on its next turn.
        at.channel().config().setOption(ChannelOption.MAX_MESSAGES_PER_READ, 1);
        growConnectionWindow(at);
    }

    private Http2FrameCodec http2Codec() {
        return ServerHttp2Codec.build(settings.http(), () -> lingering);
    }

    /** RFC 9113 starts the connection window at 65,535 whatever SETTINGS say; grow it to the configured size. */
    private void growConnectionWindow(ChannelHandlerContext at) {
        int delta = settings.http().initialConnectionWindow() - Http2CodecUtil.DEFAULT_WINDOW_SIZE;
        if (delta > 0) {
            at.channel().writeAndFlush(new DefaultHttp2WindowUpdateFrame(delta));
        }
    }

    private void installHttp1(ChannelHandlerContext at) {
        HttpSettings s = settings.http();
        HttpDecoderConfig decoder = new HttpDecoderConfig()
                .setMaxInitialLineLength(s.maxUriLength() + 64)
                .setMaxHeaderSize(s.maxHeaderListSize())
                .setMaxChunkSize(16 * 1024)
                .setAllowDuplicateContentLengths(false)
                .setAllowPartialChunks(true)
                .setStrictLineParsing(true)
                .setValidateHeaders(true);
        Http1ServerCodec codec = new Http1ServerCodec(decoder);
        at.pipeline().addAfter(at.name(), "h1", codec);
        String last = "h1";
        if (tls == null) {
            // h2c is cleartext only; over TLS, HTTP/2 is chosen by ALPN (and its preface)
            at.pipeline().addAfter("h1", H2C_UPGRADE, new H2cUpgradeHandler(codec, protocol -> {
                if (AsciiString.contentEquals(Http2CodecUtil.HTTP_UPGRADE_PROTOCOL_NAME, protocol)) {
                    return new H2cUpgrade(http2Codec());
                }
                return null;
            }, s.bufferLimit()));
            last = H2C_UPGRADE;
        }
        at.pipeline().addAfter(last, "request", new DownstreamHandler(this));
    }

    /**
     * A cleartext connection's first request has reached the request handler without upgrading
     * it: later requests stay HTTP/1.1. An upgrade pipelined behind another request would switch
     * protocols (or answer 417 for an expectation it does not meet) ahead of the earlier
     * request's response; those requests go upstream as HTTP/1.1 instead, and no later request
     * passes through the upgrade handler's checks.
     */
    void firstRequestRead(ChannelPipeline pipeline) {
        if (pipeline.get(H2C_UPGRADE) != null) {
            pipeline.remove(H2C_UPGRADE);
        }
    }

    /**
     * Netty's upgrade handler, which holds an upgrade request's body (up to the buffer limit)
     * before it switches protocols, with its refusals made final: an unmet expectation (417) and
     * a body over the limit (413) end the connection behind the answer, as every other refusal
     * does. Left to itself it keeps the connection open after a 413 and reads on, taking what
     * follows the refused body's end (or, with a Content-Length it will not read, the next
     * request's bytes) as the client's next move. The request handler behind it is told
     * ({@link HttpExpectationFailedEvent}) so that it serves nothing read in the meantime.
     */
    static final class H2cUpgradeHandler extends HttpServerUpgradeHandler {
        H2cUpgradeHandler(SourceCodec codec, UpgradeCodecFactory factory, int maxContentLength) {
            super(codec, factory, maxContentLength);
        }

        @Override
        protected boolean closeAfterContinueResponse(Object response) {
            return ignoreContentAfterContinueResponse(response); // a 4xx instead of 100 Continue
        }

        @Override
        protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) {
            ctx.fireUserEventTriggered(HttpExpectationFailedEvent.INSTANCE);
            ctx.writeAndFlush(DownstreamHandler.closingRefusal(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE))
                    .addListener(ChannelFutureListener.CLOSE);
        }
    }

    /**
     * The h2c upgrade, which makes this an HTTP/2 connection only once it happens: Netty asks for
     * the codec before it checks the request (an Upgrade: h2c without HTTP2-Settings is answered
     * as HTTP/1.1), and a connection taken for HTTP/2 while it still speaks HTTP/1.1 would skip
     * the HTTP/1.1 request checks (one Host, chunked as the only coding) and the close after a
     * refusal, for this request and every later one.
     */
    private final class H2cUpgrade implements HttpServerUpgradeHandler.UpgradeCodec {
        private final Http2FrameCodec frameCodec;
        private final Http2ServerUpgradeCodec codec;

        H2cUpgrade(Http2FrameCodec frameCodec) {
            this.frameCodec = frameCodec;
            this.codec = new Http2ServerUpgradeCodec(frameCodec, new Http2Streams(ConnectionHandler.this, frameCodec, true));
        }

        @Override
        public java.util.Collection<CharSequence> requiredUpgradeHeaders() {
            return codec.requiredUpgradeHeaders();
        }

        @Override
        public boolean prepareUpgradeResponse(ChannelHandlerContext ctx, io.netty.handler.codec.http.FullHttpRequest request,
                                              io.netty.handler.codec.http.HttpHeaders headers) {
            return codec.prepareUpgradeResponse(ctx, request, headers);
        }

        @Override
        public void upgradeTo(ChannelHandlerContext ctx, io.netty.handler.codec.http.FullHttpRequest request) {
            // before the codec goes in: the upgraded request (stream 1) starts inside upgradeTo
            h2 = true;
            proxy.stats().h2Connections.increment();
            codec.upgradeTo(ctx, request);
            // between this upgrade handler and the codec, which the upgrade put right after it
            ctx.pipeline().addAfter(ctx.name(), "h2-states", new StreamStateCheck(frameCodec).upgraded());
        }
    }

    /**
     * Decides the protocol from the first bytes, then leaves the pipeline (handing on what it
     * read). A client that sends nothing within the request-headers timeout is closed.
     */
    private final class Sniffer extends ByteToMessageDecoder {
        private ScheduledFuture<?> timer;

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) throws Exception {
            super.handlerAdded(ctx);
            timer = ctx.executor().schedule(() -> {
                ctx.close();
            }, settings.http().requestHeadersTimeout().toNanos(), TimeUnit.NANOSECONDS);
        }

        @Override
        protected void handlerRemoved0(ChannelHandlerContext ctx) {
            timer.cancel(false);
        }

        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
            int n = Math.min(in.readableBytes(), PREFACE.length);
            for (int i = 0; i < n; i++) {
                if (in.getByte(in.readerIndex() + i) != PREFACE[i]) {
                    installHttp1(ctx);
                    ctx.pipeline().remove(this);
                    return;
                }
            }
            if (n == PREFACE.length) {
                installHttp2(ctx);
                ctx.pipeline().remove(this);
            }
        }
    }

    /**
     * The TLS handshake's end. The protocol needs no decision here: a client that negotiated h2
     * by ALPN sends the HTTP/2 preface, and the sniffer sees it in the decrypted bytes.
     */
    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (tls != null && evt instanceof SslHandshakeCompletionEvent done) {
            if (done.isSuccess()) {
                SslHandler ssl = ctx.pipeline().get(SslHandler.class);
                tls.handshakeCompleted(ssl);
                // only an mTLS listener verifies what a client presents; elsewhere asking the
                // session would cost an exception per handshake (no peer certificate)
                if (ssl != null && tls.config().clientValidation() != null) {
                    clientCert = PeerIdentity.of(ssl.engine().getSession()).map(PeerIdentity::xfccElement).orElse(null);
                }
            } else {
                // a client that leaves mid-handshake (a TCP health check, a scanner) is not a failure
                if (!(done.cause() instanceof ClosedChannelException)) {
                    tls.handshakeFailed();
                }
                ctx.close();
                return;
            }
        }
        super.userEventTriggered(ctx, evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close();
    }

    /** A stray message at the end of the pipeline (e.g. connection frames after an upgrade). */
    static final class Sink extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ReferenceCountUtil.release(msg);
        }

        /**
         * An HTTP/2 connection error, reported here just before the codec sends its GOAWAY (with
         * the error's code) and closes; a read error, before the transport closes. Nothing is
         * left to do, and an attacker gets no log line per connection.
         */
        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        }
    }
}
