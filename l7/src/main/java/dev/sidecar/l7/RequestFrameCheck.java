package dev.sidecar.l7;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2StreamFrame;
import io.netty.util.ReferenceCountUtil;

/**
 * First on an HTTP/2 stream channel, before Netty's conversion to HTTP/1.x objects: a request
 * whose head lacks a pseudo-header RFC 9113 section 8.3.1 requires (:method, and :scheme and a
 * non-empty :path unless it is a CONNECT, which needs :authority) or whose :method is not a
 * token is malformed, a stream error of type PROTOCOL_ERROR. Checked here because the
 * conversion ({@code HttpConversionUtil.toFullHttpRequest}) allocates the request's content
 * buffer before it reads these and does not release it when it throws: every such request would
 * leak a buffer.
 *
 * <p>And a HEADERS or DATA frame after the client ended the stream (half-closed (remote), RFC
 * 9113 section 5.1) is a stream error of type STREAM_CLOSED: Netty hands a second HEADERS frame
 * on to the stream as trailers, and the conversion would refuse it with PROTOCOL_ERROR instead.
 * Everything after a refusal is dropped.
 */
final class RequestFrameCheck extends ChannelInboundHandlerAdapter {
    private boolean checked;
    private boolean refused;
    private boolean ended;

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (refused) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (msg instanceof Http2StreamFrame sf && (msg instanceof Http2HeadersFrame || msg instanceof Http2DataFrame)) {
            if (ended) {
                refused = true;
                ReferenceCountUtil.release(msg);
                ctx.fireExceptionCaught(Http2Exception.streamError(sf.stream().id(), Http2Error.STREAM_CLOSED,
                        "a frame after the end of the request stream"));
                return;
            }
            ended = msg instanceof Http2HeadersFrame h ? h.isEndStream() : ((Http2DataFrame) msg).isEndStream();
        }
        if (!checked && msg instanceof Http2HeadersFrame f) {
            checked = true;
            String problem = problem(f.headers());
            if (problem != null) {
                refused = true;
                ReferenceCountUtil.release(msg);
                ctx.fireExceptionCaught(Http2Exception.streamError(f.stream().id(), Http2Error.PROTOCOL_ERROR, "malformed request: %s", problem));
                return;
            }
        }
        ctx.fireChannelRead(msg);
    }

    /** Why a request head is malformed, or null. */
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
}
