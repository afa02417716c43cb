package dev.sidecar.l7;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.CombinedChannelDuplexHandler;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpRequestDecoder;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseEncoder;
import io.netty.handler.codec.http.HttpServerUpgradeHandler;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.AsciiString;
import java.util.ArrayDeque;
import java.util.List;

/**
 * The HTTP/1.1 server codec of a listener, stricter than Netty's HttpServerCodec where request
 * smuggling lives (RFC 9112 section 6.1 and 5.2): a request carrying both Content-Length and
 * Transfer-Encoding, or a header folded onto a continuation line (obs-fold), is marked failed so
 * the proxy answers 400 and closes instead of forwarding something two servers could read two
 * ways. Netty already refuses bare LF and CR (strict line parsing), differing or duplicate
 * Content-Length, bad chunk sizes and whitespace before a colon.
 *
 * <p>The encoder remembers each request's method so the response to HEAD is encoded without a
 * body, as HttpServerCodec does. Header names and the request line's words come from the event
 * loop's {@link HeadCache}, and header and trailer sections are {@link FlatHttpHeaders}, as on
 * the upstream side.
 */
final class Http1ServerCodec extends CombinedChannelDuplexHandler<Http1ServerCodec.Decoder, Http1ServerCodec.Encoder>
        implements HttpServerUpgradeHandler.SourceCodec {
    private final ArrayDeque<HttpMethod> methods = new ArrayDeque<>();

    Http1ServerCodec(HttpDecoderConfig config) {
        init(new Decoder(FlatHttpHeaders.apply(config), methods), new Encoder(methods));
    }

    @Override
    public void upgradeFrom(ChannelHandlerContext ctx) {
        ctx.pipeline().remove(this);
    }

    static final class Decoder extends HttpRequestDecoder {
        private final ArrayDeque<HttpMethod> methods;
        /** True while reading a request head (until its message is emitted). */
        private boolean inHead = true;
        /** The byte before the current scan position, across reads: a line start follows '\n'. */
        private byte previous = '\n';
        private boolean folded;
        private HeadCache cache;

        Decoder(HttpDecoderConfig config, ArrayDeque<HttpMethod> methods) {
            super(config);
            this.methods = methods;
        }

        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf buffer, List<Object> out) throws Exception {
            int from = buffer.readerIndex();
            int emitted = out.size();
            super.decode(ctx, buffer, out);
            if (inHead) {
                scanForFolding(buffer, from, buffer.readerIndex());
            }
            for (int i = emitted; i < out.size(); i++) {
                Object o = out.get(i);
                if (o instanceof HttpRequest r) {
                    methods.add(r.method());
                    if (folded && r.decoderResult().isSuccess()) {
                        r.setDecoderResult(DecoderResult.failure(new IllegalArgumentException("obs-fold (a header line starting with whitespace)")));
                    }
                    folded = false;
                    inHead = false;
                }
                if (o instanceof LastHttpContent) {
                    inHead = true;
                    previous = '\n';
                }
            }
        }

        /** A line of the head that starts with SP or HTAB continues the previous one: obs-fold. */
        private void scanForFolding(ByteBuf buffer, int from, int to) {
            byte prev = previous;
            for (int i = from; i < to; i++) {
                byte b = buffer.getByte(i);
                if (prev == '\n' && (b == ' ' || b == '\t')) {
                    folded = true;
                }
                prev = b;
            }
            previous = prev;
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

        @Override
        protected void handleTransferEncodingChunkedWithContentLength(HttpMessage message) {
            super.handleTransferEncodingChunkedWithContentLength(message);
            message.setDecoderResult(DecoderResult.failure(new IllegalArgumentException("both Content-Length and Transfer-Encoding")));
        }
    }

    static final class Encoder extends HttpResponseEncoder {
        private final ArrayDeque<HttpMethod> methods;
        private HttpMethod method;

        Encoder(ArrayDeque<HttpMethod> methods) {
            this.methods = methods;
        }

        @Override
        protected void encode(ChannelHandlerContext ctx, Object msg, List<Object> out) throws Exception {
            if (msg instanceof HttpResponse r && r.status().code() >= 200) {
                method = methods.poll();
            }
            super.encode(ctx, msg, out);
        }

        @Override
        protected boolean isContentAlwaysEmpty(HttpResponse msg) {
            return HttpMethod.HEAD.equals(method) || super.isContentAlwaysEmpty(msg);
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
