package dev.sidecar.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.Channel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.nio.charset.StandardCharsets;
import java.util.function.Supplier;

/**
 * The admin API over HTTP/1.1. Small and separate from the data plane: it reads state that the
 * proxy publishes and never blocks an event loop (a scrape formats counters already in memory).
 *
 * <ul>
 *   <li>{@code GET /ready}: 200 once listeners are bound; 503 while starting or draining.
 *   <li>{@code GET /healthz}: 200 while the process runs (liveness).
 *   <li>{@code GET /stats/prometheus}: metrics in the Prometheus text format.
 * </ul>
 */
final class AdminServer {
    /** Admin requests are tiny; anything larger is refused rather than buffered. */
    private static final int MAX_REQUEST_BYTES = 64 * 1024;

    private final Supplier<Readiness> readiness;
    private final ProxyMetrics metrics;

    AdminServer(Supplier<Readiness> readiness, ProxyMetrics metrics) {
        this.readiness = readiness;
        this.metrics = metrics;
    }

    enum Readiness {
        STARTING("starting"), READY("ready"), DRAINING("draining");

        final String text;

        Readiness(String text) {
            this.text = text;
        }
    }

    ChannelInitializer<Channel> initializer() {
        return new ChannelInitializer<>() {
            @Override
            protected void initChannel(Channel ch) {
                ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(MAX_REQUEST_BYTES), new Handler());
            }
        };
    }

    private final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
            FullHttpResponse response;
            if (!request.decoderResult().isSuccess()) {
                response = text(HttpResponseStatus.BAD_REQUEST, "bad request: " + request.decoderResult().cause().getMessage() + "\n");
                HttpUtil.setKeepAlive(response, false);
                ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
                return;
            }
            response = route(request);
            boolean keepAlive = HttpUtil.isKeepAlive(request);
            HttpUtil.setKeepAlive(response, keepAlive);
            if (request.method().equals(HttpMethod.HEAD)) {
                FullHttpResponse head = response.replace(Unpooled.EMPTY_BUFFER);
                response.release();
                response = head;
            }
            var write = ctx.writeAndFlush(response);
            if (!keepAlive) {
                write.addListener(ChannelFutureListener.CLOSE);
            }
        }

        private FullHttpResponse route(FullHttpRequest request) {
            String path = new QueryStringDecoder(request.uri()).path();
            boolean get = request.method().equals(HttpMethod.GET) || request.method().equals(HttpMethod.HEAD);
            return switch (path) {
                case "/ready" -> get ? ready() : notAllowed();
                case "/healthz" -> get ? text(HttpResponseStatus.OK, "ok\n") : notAllowed();
                case "/stats/prometheus" -> get ? prometheus() : notAllowed();
                default -> text(HttpResponseStatus.NOT_FOUND, "no admin endpoint " + path + " (try /ready, /healthz, /stats/prometheus)\n");
            };
        }

        private FullHttpResponse ready() {
            Readiness r = readiness.get();
            return text(r == Readiness.READY ? HttpResponseStatus.OK : HttpResponseStatus.SERVICE_UNAVAILABLE, r.text + "\n");
        }

        private FullHttpResponse prometheus() {
            FullHttpResponse response = text(HttpResponseStatus.OK, metrics.scrape());
            response.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
            return response;
        }

        private FullHttpResponse notAllowed() {
            FullHttpResponse response = text(HttpResponseStatus.METHOD_NOT_ALLOWED, "use GET\n");
            response.headers().set(HttpHeaderNames.ALLOW, "GET, HEAD");
            return response;
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    private static FullHttpResponse text(HttpResponseStatus status, String body) {
        ByteBuf content = Unpooled.copiedBuffer(body, StandardCharsets.UTF_8);
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, content);
        response.headers()
                .set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.TEXT_PLAIN + "; charset=utf-8")
                .setInt(HttpHeaderNames.CONTENT_LENGTH, content.readableBytes());
        return response;
    }
}
