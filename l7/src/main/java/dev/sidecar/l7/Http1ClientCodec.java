package dev.sidecar.l7;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.CombinedChannelDuplexHandler;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpRequestEncoder;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseDecoder;
import io.netty.util.AsciiString;
import java.util.ArrayDeque;
import java.util.List;

/**
 * The HTTP/1.1 codec of an upstream connection: Netty's response decoder and request encoder,
 * paired as HttpClientCodec pairs them for what the proxy sends (the method of each request is
 * remembered, so the response to HEAD is read without a body; informational responses do not
 * count as the answer). The decoder takes header names and the status line's words from the
 * event loop's {@link HeadCache}, so an upstream's repeated responses reuse them. CONNECT is never
 * sent upstream (the proxy answers it 501), so nothing here switches to raw bytes after one.
 * Header and trailer sections are {@link FlatHttpHeaders}, and the encoder writes a request's
 * fields straight from one.
 */
final class Http1ClientCodec extends CombinedChannelDuplexHandler<Http1ClientCodec.Decoder, Http1ClientCodec.Encoder> {
    Http1ClientCodec(int maxInitialLineLength, int maxHeaderSize, int maxChunkSize) {
        ArrayDeque<HttpMethod> methods = new ArrayDeque<>(4);
        init(new Decoder(FlatHttpHeaders.apply(new HttpDecoderConfig()
                        .setMaxInitialLineLength(maxInitialLineLength)
                        .setMaxHeaderSize(maxHeaderSize)
                        .setMaxChunkSize(maxChunkSize)), methods),
                new Encoder(methods));
    }

    static final class Decoder extends HttpResponseDecoder {
        private final ArrayDeque<HttpMethod> methods;
        private HeadCache cache;

        Decoder(HttpDecoderConfig config, ArrayDeque<HttpMethod> methods) {
            super(config);
            this.methods = methods;
        }

        @Override
        protected boolean isContentAlwaysEmpty(HttpMessage msg) {
            if (((HttpResponse) msg).status().code() >= 200) {
                // the final response to the oldest request still waiting for one
                HttpMethod method = methods.poll();
                if (HttpMethod.HEAD.equals(method)) {
                    return true;
                }
            }
            return super.isContentAlwaysEmpty(msg);
        }

        private HeadCache cache() {
            HeadCache c = cache;
            return c != null ? c : (cache = HeadCache.current());
        }

        @Override
        protected AsciiString splitHeaderName(byte[] sb, int start, int length) {
            return cache().name(sb, start, length);
        }

        @Override
        protected String splitFirstWordInitialLine(byte[] sb, int start, int length) {
            return cache().word(sb, start, length);
        }

        @Override
        protected String splitSecondWordInitialLine(byte[] sb, int start, int length) {
            return cache().word(sb, start, length);
        }

        @Override
        protected String splitThirdWordInitialLine(byte[] sb, int start, int length) {
            return cache().word(sb, start, length);
        }
    }

    static final class Encoder extends HttpRequestEncoder {
        private final ArrayDeque<HttpMethod> methods;

        Encoder(ArrayDeque<HttpMethod> methods) {
            this.methods = methods;
        }

        @Override
        protected void encode(ChannelHandlerContext ctx, Object msg, List<Object> out) throws Exception {
            if (msg instanceof HttpRequest r) {
                methods.add(r.method());
            }
            super.encode(ctx, msg, out);
        }

        @Override
        protected void encodeHeaders(HttpHeaders headers, ByteBuf buf) {
            if (headers instanceof FlatHttpHeaders f) {
                f.encode(buf);
            } else {
                super.encodeHeaders(headers, buf);
            }
        }
    }
}
