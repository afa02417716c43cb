package dev.sidecar.testkit;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpChunkedInput;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerUpgradeHandler;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshaker;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshakerFactory;
import io.netty.handler.codec.http2.CleartextHttp2ServerUpgradeHandler;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.stream.ChunkedInput;
import io.netty.handler.stream.ChunkedWriteHandler;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SSLException;

/**
 * An HTTP/1.1 and cleartext HTTP/2 (prior knowledge) server on 127.0.0.1 and an ephemeral port,
 * on its own NIO event loop: the upstream of L7 tests. It records every request it receives
 * (what the proxy actually forwarded) and answers by path:
 * <ul>
 *   <li>{@code /status/N} answers status N;</li>
 *   <li>{@code /echo} answers the request body;</li>
 *   <li>{@code /bytes/N} streams N bytes (chunked, with backpressure);</li>
 *   <li>{@code /delay/MS} answers after MS milliseconds ({@code ?status=N}: with status N);</li>
 *   <li>{@code /close} closes the connection without answering;</li>
 *   <li>{@code /ws} with {@code Upgrade: websocket} (HTTP/1.1) becomes a WebSocket that echoes every frame;</li>
 *   <li>{@code /trailers} answers with a trailer {@code x-trailer: done};</li>
 *   <li>anything else: 200 with the server's name as the body.</li>
 * </ul>
 * Every response carries {@code x-upstream: NAME} and {@code x-upstream-protocol: h1|h2}.
 */
public final class HttpUpstream implements AutoCloseable {
    /** A request as the upstream saw it. */
    public record Received(String method, String uri, List<Map.Entry<String, String>> headers, int bodyLength, boolean h2) {
        public String header(String name) {
            return headers.stream().filter(e -> e.getKey().equalsIgnoreCase(name)).map(Map.Entry::getValue).findFirst().orElse(null);
        }
    }

    private final String name;
    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("http-upstream", true),
            NioIoHandler.newFactory());
    private final Channel server;
    private final ConcurrentLinkedQueue<Received> received = new ConcurrentLinkedQueue<>();
    private final AtomicInteger connections = new AtomicInteger();
    private final AtomicLong produced = new AtomicLong();
    private final io.netty.channel.group.ChannelGroup accepted =
            new io.netty.channel.group.DefaultChannelGroup("http-upstream", io.netty.util.concurrent.GlobalEventExecutor.INSTANCE);

    public HttpUpstream(String name) {
        this(name, null);
    }

    /**
     * The same server behind TLS with this key and certificate chain, offering h2 and http/1.1
     * by ALPN (HTTP/2 is then told apart by its preface, as in cleartext).
     */
    public static HttpUpstream tls(String name, PrivateKey key, X509Certificate... chain) {
        try {
            SslContext ctx = SslContextBuilder.forServer(key, chain)
                    .applicationProtocolConfig(new ApplicationProtocolConfig(
                            ApplicationProtocolConfig.Protocol.ALPN,
                            ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                            ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT, "h2", "http/1.1"))
                    .build();
            return new HttpUpstream(name, ctx);
        } catch (SSLException e) {
            throw new IllegalStateException(e);
        }
    }

    private HttpUpstream(String name, SslContext ssl) {
        this.name = name;
        server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        connections.incrementAndGet();
                        accepted.add(ch);
                        if (ssl != null) {
                            ch.pipeline().addLast(ssl.newHandler(ch.alloc()));
                        }
                        HttpServerCodec codec = new HttpServerCodec();
                        ChannelInitializer<Channel> app = new ChannelInitializer<>() {
                            @Override
                            protected void initChannel(Channel c) {
                                c.pipeline().addLast(new HttpObjectAggregator(64 * 1024 * 1024), new ChunkedWriteHandler(), new App(false));
                            }
                        };
                        ChannelInitializer<Http2StreamChannel> stream = new ChannelInitializer<>() {
                            @Override
                            protected void initChannel(Http2StreamChannel c) {
                                c.pipeline().addLast(new Http2StreamFrameToHttpObjectCodec(true), new HttpObjectAggregator(64 * 1024 * 1024),
                                        new ChunkedWriteHandler(), new App(true));
                            }
                        };
                        ch.pipeline().addLast(new CleartextHttp2ServerUpgradeHandler(codec,
                                new HttpServerUpgradeHandler(codec, p -> null),
                                new ChannelInitializer<>() {
                                    @Override
                                    protected void initChannel(Channel c) {
                                        c.pipeline().addLast(Http2FrameCodecBuilder.forServer().build(), new Http2MultiplexHandler(stream));
                                    }
                                }));
                        ch.pipeline().addLast(app);
                    }
                })
                .bind(new InetSocketAddress("127.0.0.1", 0)).syncUninterruptibly().channel();
    }

    public int port() {
        return ((InetSocketAddress) server.localAddress()).getPort();
    }

    public String address() {
        return "127.0.0.1:" + port();
    }

    public String name() {
        return name;
    }

    /** Requests received so far, oldest first. */
    public List<Received> received() {
        return new ArrayList<>(received);
    }

    public int requestCount() {
        return received.size();
    }

    /** Bytes of {@code /bytes/N} bodies made so far: made only as fast as the connection takes them. */
    public long bytesProduced() {
        return produced.get();
    }

    /** TCP connections accepted so far. */
    public int connections() {
        return connections.get();
    }

    /** TCP connections open now. */
    public int openConnections() {
        return accepted.size();
    }

    @Override
    public void close() {
        server.close().syncUninterruptibly();
        // connections close while the loop still runs, so every stream's handlers see the end and
        // release what they hold (a half-aggregated request, say); a loop that stops first drops them
        accepted.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    private final class App extends SimpleChannelInboundHandler<FullHttpRequest> {
        private final boolean h2;

        App(boolean h2) {
            this.h2 = h2;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
            List<Map.Entry<String, String>> headers = new ArrayList<>();
            req.headers().forEach(e -> headers.add(Map.entry(e.getKey().toLowerCase(), e.getValue())));
            received.add(new Received(req.method().name(), req.uri(), headers, req.content().readableBytes(), h2));
            String path = req.uri();
            boolean keepAlive = h2 || HttpUtil.isKeepAlive(req);
            if (path.startsWith("/close")) {
                ctx.close();
                return;
            }
            if (path.startsWith("/ws") && !h2 && req.headers().containsValue(HttpHeaderNames.UPGRADE, HttpHeaderValues.WEBSOCKET, true)) {
                WebSocketServerHandshaker hs = new WebSocketServerHandshakerFactory(
                        "ws://" + req.headers().get(HttpHeaderNames.HOST) + path, null, true, 16 * 1024 * 1024).newHandshaker(req);
                if (hs == null) {
                    WebSocketServerHandshakerFactory.sendUnsupportedVersionResponse(ctx.channel());
                    return;
                }
                ctx.pipeline().addLast(new WebSocketEcho(hs));
                hs.handshake(ctx.channel(), req);
                return;
            }
            if (path.startsWith("/delay/")) {
                long ms = Long.parseLong(path.substring(7).split("[?/]")[0]);
                int q = path.indexOf("?status=");
                HttpResponseStatus status = q < 0 ? HttpResponseStatus.OK : HttpResponseStatus.valueOf(Integer.parseInt(path.substring(q + 8)));
                ctx.executor().schedule(() -> send(ctx, text(status, name), keepAlive), ms, TimeUnit.MILLISECONDS);
                return;
            }
            if (path.startsWith("/status/")) {
                int code = Integer.parseInt(path.substring(8).split("[?/]")[0]);
                send(ctx, text(HttpResponseStatus.valueOf(code), name), keepAlive);
                return;
            }
            if (path.startsWith("/echo")) {
                FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, req.content().retain());
                r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, r.content().readableBytes());
                send(ctx, r, keepAlive);
                return;
            }
            if (path.startsWith("/trailers")) {
                FullHttpResponse r = text(HttpResponseStatus.OK, name);
                r.headers().remove(HttpHeaderNames.CONTENT_LENGTH);
                r.headers().set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
                r.trailingHeaders().set("x-trailer", "done");
                send(ctx, r, keepAlive);
                return;
            }
            if (path.startsWith("/bytes/")) {
                long n = Long.parseLong(path.substring(7).split("[?/]")[0]);
                HttpResponse r = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
                r.headers().set(HttpHeaderNames.CONTENT_LENGTH, n);
                tag(r);
                ctx.write(r);
                ctx.writeAndFlush(new HttpChunkedInput(new Zeros(n, produced)));
                return;
            }
            send(ctx, text(HttpResponseStatus.OK, name), keepAlive);
        }

        private void tag(HttpResponse r) {
            r.headers().set("x-upstream", name);
            r.headers().set("x-upstream-protocol", h2 ? "h2" : "h1");
        }

        private FullHttpResponse text(HttpResponseStatus status, String body) {
            FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
                    Unpooled.copiedBuffer(body, StandardCharsets.UTF_8));
            r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, r.content().readableBytes());
            return r;
        }

        private void send(ChannelHandlerContext ctx, FullHttpResponse r, boolean keepAlive) {
            tag(r);
            if (!keepAlive && !h2) {
                r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
                ctx.writeAndFlush(r).addListener(ChannelFutureListener.CLOSE);
            } else {
                ctx.writeAndFlush(r);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    /** Answers every WebSocket data frame with the same frame; a close is answered with a close. */
    private static final class WebSocketEcho extends ChannelInboundHandlerAdapter {
        private final WebSocketServerHandshaker handshaker;

        WebSocketEcho(WebSocketServerHandshaker handshaker) {
            this.handshaker = handshaker;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof CloseWebSocketFrame close) {
                handshaker.close(ctx, close);
            } else if (msg instanceof PingWebSocketFrame ping) {
                ctx.writeAndFlush(new PongWebSocketFrame(ping.content()));
            } else if (msg instanceof WebSocketFrame frame) {
                ctx.writeAndFlush(frame);
            } else {
                ReferenceCountUtil.release(msg);
            }
        }
    }

    /** N zero bytes in 16 KiB chunks, produced only as fast as the channel takes them. */
    private static final class Zeros implements ChunkedInput<ByteBuf> {
        private final long length;
        private final AtomicLong produced;
        private long sent;

        Zeros(long length, AtomicLong produced) {
            this.length = length;
            this.produced = produced;
        }

        @Override
        public boolean isEndOfInput() {
            return sent >= length;
        }

        @Override
        public void close() {
        }

        @Override
        public ByteBuf readChunk(ChannelHandlerContext ctx) {
            return readChunk(ctx.alloc());
        }

        @Override
        public ByteBuf readChunk(ByteBufAllocator allocator) {
            if (isEndOfInput()) {
                return null;
            }
            int n = (int) Math.min(16 * 1024, length - sent);
            sent += n;
            produced.addAndGet(n);
            return allocator.buffer(n).writeZero(n);
        }

        @Override
        public long length() {
            return length;
        }

        @Override
        public long progress() {
            return sent;
        }
    }
}
