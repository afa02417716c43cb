package dev.sidecar.testkit;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.haproxy.HAProxyMessage;
import io.netty.handler.codec.haproxy.HAProxyMessageDecoder;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;

/**
 * An upstream behind {@code accept-proxy}: every connection must open with a PROXY v1 or v2
 * header, decoded by Netty's HAProxyMessageDecoder (independent of the proxy's own encoder), and
 * each header is recorded. After the header it echoes bytes ({@link #tcp()}) or answers every
 * HTTP/1.1 request 200 with the header's source address as the body ({@link #http()}). A
 * connection without a valid header is counted and closed.
 */
public final class ProxyProtocolUpstream implements AutoCloseable {
    /** A header as received: {@code command} is PROXY or LOCAL; the addresses are null for LOCAL / UNKNOWN. */
    public record Header(String version, String command, String protocol, String source, int sourcePort, String destination,
                         int destinationPort) {
        /** {@code address:port} of the source, as the proxy's access log writes an IPv4 one. */
        public String sourceAddress() {
            return source + ":" + sourcePort;
        }
    }

    private static final AttributeKey<Header> HEADER = AttributeKey.valueOf("proxy-protocol-upstream.header");

    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("proxy-protocol-upstream", true),
            NioIoHandler.newFactory());
    private final ChannelGroup accepted = new DefaultChannelGroup("proxy-protocol-upstream", GlobalEventExecutor.INSTANCE);
    private final ConcurrentLinkedQueue<Header> headers = new ConcurrentLinkedQueue<>();
    private final ConcurrentLinkedQueue<Throwable> invalid = new ConcurrentLinkedQueue<>();
    private final Channel server;

    private ProxyProtocolUpstream(boolean http) {
        server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        accepted.add(ch);
                        ch.pipeline().addLast(new HAProxyMessageDecoder(), new Recorder());
                        if (http) {
                            ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(1024 * 1024), new Answer());
                        } else {
                            ch.pipeline().addLast(new Echo());
                        }
                    }
                })
                .bind(new InetSocketAddress("127.0.0.1", 0)).syncUninterruptibly().channel();
    }

    /** Echoes what follows the header. */
    public static ProxyProtocolUpstream tcp() {
        return new ProxyProtocolUpstream(false);
    }

    /** Answers each request 200 with body {@code source=ADDRESS:PORT} from the connection's header. */
    public static ProxyProtocolUpstream http() {
        return new ProxyProtocolUpstream(true);
    }

    public int port() {
        return ((InetSocketAddress) server.localAddress()).getPort();
    }

    public String address() {
        return "127.0.0.1:" + port();
    }

    /** Headers received so far, oldest first: one per connection. */
    public List<Header> headers() {
        return new ArrayList<>(headers);
    }

    /** Connections closed because they did not start with a valid PROXY header. */
    public int invalid() {
        return invalid.size();
    }

    @Override
    public void close() {
        server.close().syncUninterruptibly();
        accepted.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    private final class Recorder extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof HAProxyMessage m) {
                try {
                    Header h = new Header(m.protocolVersion().name(), m.command().name(), m.proxiedProtocol().name(), m.sourceAddress(),
                            m.sourcePort(), m.destinationAddress(), m.destinationPort());
                    headers.add(h);
                    ctx.channel().attr(HEADER).set(h);
                } finally {
                    m.release();
                }
                return;
            }
            ctx.fireChannelRead(msg);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            invalid.add(cause);
            ctx.close();
        }
    }

    private static final class Echo extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ctx.writeAndFlush(msg);
        }
    }

    private static final class Answer extends SimpleChannelInboundHandler<FullHttpRequest> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
            Header h = ctx.channel().attr(HEADER).get();
            ByteBuf body = Unpooled.copiedBuffer("source=" + (h == null ? "none" : h.sourceAddress()), StandardCharsets.US_ASCII);
            DefaultFullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, body);
            res.headers().set(HttpHeaderNames.CONTENT_LENGTH, body.readableBytes());
            boolean keepAlive = HttpUtil.isKeepAlive(req);
            if (!keepAlive) {
                ctx.writeAndFlush(res).addListener(ChannelFutureListener.CLOSE);
            } else {
                ctx.writeAndFlush(res);
            }
        }
    }
}
