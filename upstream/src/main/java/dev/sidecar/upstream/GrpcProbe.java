package dev.sidecar.upstream;

import dev.sidecar.config.HealthCheckConfig;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFactory;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ScheduledFuture;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * grpc_health_check: one unary {@code grpc.health.v1.Health/Check} call on a connection of its
 * own, cleartext HTTP/2 with prior knowledge (h2c, RFC 9113 §3.3), as Envoy's gRPC health checker
 * does. The probe passes only when the answer is {@code :status 200}, one response message whose
 * status is SERVING, and {@code grpc-status 0}; anything else (another status, a trailers-only
 * error such as NOT_FOUND for an unknown service, RST_STREAM, GOAWAY, a protocol error, a closed
 * connection, the timeout) fails it.
 *
 * <p>The two messages are framed and (de)coded by hand rather than with grpc-java and protobuf:
 * they are a string and an enum, and the data plane should not carry a second HTTP/2 stack (and,
 * with grpc-netty, a second Netty) for them. The wire format is the gRPC-over-HTTP/2 spec
 * (PROTOCOL-HTTP2.md: a 5-byte prefix, 1 byte compressed flag then a 4-byte big-endian length)
 * and grpc/health/v1/health.proto:
 *
 * <pre>
 * message HealthCheckRequest  { string service = 1; }          // tag 0x0A: field 1, length-delimited
 * message HealthCheckResponse { ServingStatus status = 1; }    // tag 0x08: field 1, varint
 * enum ServingStatus { UNKNOWN = 0; SERVING = 1; NOT_SERVING = 2; SERVICE_UNKNOWN = 3; }
 * </pre>
 *
 * <p>Everything runs on the connection's event loop, so the verdict needs no synchronisation.
 */
final class GrpcProbe {
    private static final String PATH = "/grpc.health.v1.Health/Check";
    /** HealthCheckResponse field 1 ({@code status}) as a varint: (1 << 3) | 0. */
    private static final int STATUS_TAG = 0x08;
    /** HealthCheckRequest field 1 ({@code service}) length-delimited: (1 << 3) | 2. */
    private static final int SERVICE_TAG = 0x0A;
    private static final long SERVING = 1;
    /**
     * The whole response body, prefixes included. A HealthCheckResponse is at most 2 bytes; room
     * for fields a newer health.proto may add, but a server that streams more is not answering Check.
     */
    private static final int MAX_RESPONSE_BYTES = 4096;

    private GrpcProbe() {}

    static void run(EventLoopGroup loops, Dialer dialer, Endpoint endpoint,
                    HealthCheckConfig check, dev.sidecar.config.ProxyProtocolVersion header, Consumer<Boolean> result) {
        String service = ((HealthCheckConfig.Grpc) check.kind()).serviceName();
        String authority = endpoint.address().toString();
        long timeoutMillis = Math.max(1, check.timeout().toMillis());
        Verdict verdict = new Verdict(result);
        HealthChecker.probeBootstrap(loops, dialer, timeoutMillis)
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        verdict.connection = ch;
                        HealthChecker.addProxyHeader(ch, header);
                        ch.pipeline().addLast(
                                Http2FrameCodecBuilder.forClient()
                                        .initialSettings(Http2Settings.defaultSettings().pushEnabled(false))
                                        .build(),
                                // Pushes are disabled, so no inbound stream should ever reach this handler.
                                new Http2MultiplexHandler(new ChannelInboundHandlerAdapter()),
                                new ConnectionWatch(verdict));
                    }
                })
                .connect(endpoint.socketAddress())
                .addListener((ChannelFutureListener) f -> {
                    if (!f.isSuccess()) {
                        verdict.report(false);
                        return;
                    }
                    Channel ch = f.channel();
                    if (verdict.reported) {
                        return; // already failed (and closed) as it connected
                    }
                    ScheduledFuture<?> timeout = ch.eventLoop().schedule(
                            () -> verdict.report(false), timeoutMillis, TimeUnit.MILLISECONDS);
                    ch.closeFuture().addListener(c -> timeout.cancel(false));
                    new Http2StreamChannelBootstrap(ch)
                            .handler(new CheckCall(verdict))
                            .open()
                            .addListener((Future<Http2StreamChannel> s) -> {
                                if (!s.isSuccess()) {
                                    verdict.report(false);
                                } else {
                                    send(s.getNow(), authority, service, verdict);
                                }
                            });
                });
    }

    private static void send(Http2StreamChannel stream, String authority, String service, Verdict verdict) {
        Http2Headers headers = new DefaultHttp2Headers()
                .method("POST")
                .scheme("http")
                .path(PATH)
                .authority(authority)
                .add("content-type", "application/grpc")
                .add("te", "trailers") // required by gRPC: it detects proxies that drop trailers
                .add("user-agent", "sidecar-health-check");
        byte[] name = service.getBytes(StandardCharsets.UTF_8);
        // proto3 leaves a default (empty) string off the wire: the empty name is the empty message.
        int message = name.length == 0 ? 0 : 1 + varintSize(name.length) + name.length;
        ByteBuf body = stream.alloc().buffer(5 + message);
        body.writeByte(0); // not compressed
        body.writeInt(message);
        if (name.length > 0) {
            body.writeByte(SERVICE_TAG);
            writeVarint(body, name.length);
            body.writeBytes(name);
        }
        stream.write(new DefaultHttp2HeadersFrame(headers));
        stream.writeAndFlush(new DefaultHttp2DataFrame(body, true)).addListener(w -> {
            if (!w.isSuccess()) {
                verdict.report(false); // the failed write released the body
            }
        });
    }

    private static int varintSize(int value) {
        int size = 1;
        while ((value >>>= 7) != 0) {
            size++;
        }
        return size;
    }

    private static void writeVarint(ByteBuf out, int value) {
        while ((value & ~0x7F) != 0) {
            out.writeByte((value & 0x7F) | 0x80);
            value >>>= 7;
        }
        out.writeByte(value);
    }

    /** Reports the first verdict only, then closes the connection (which cancels the timeout). */
    private static final class Verdict {
        private final Consumer<Boolean> result;
        private Channel connection;
        private boolean reported;

        Verdict(Consumer<Boolean> result) {
            this.result = result;
        }

        void report(boolean passed) {
            if (!reported) {
                reported = true;
                result.accept(passed);
            }
            if (connection != null) {
                connection.close();
            }
        }
    }

    /**
     * The connection's own events, after the multiplexer: a GOAWAY (the server is leaving, or
     * found a protocol error), an exception, or the connection closing all fail the probe.
     * Connection-level frames that reach here are released.
     */
    private static final class ConnectionWatch extends ChannelInboundHandlerAdapter {
        private final Verdict verdict;

        ConnectionWatch(Verdict verdict) {
            this.verdict = verdict;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof Http2GoAwayFrame) {
                    verdict.report(false);
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            verdict.report(false);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            verdict.report(false);
        }
    }

    /** The one stream: collects the response and judges it when the stream ends. */
    private static final class CheckCall extends ChannelInboundHandlerAdapter {
        private final Verdict verdict;
        private boolean headersSeen;
        private byte[] body = new byte[16];
        private int bodyLength;

        CheckCall(Verdict verdict) {
            this.verdict = verdict;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof Http2HeadersFrame headers) {
                    onHeaders(headers);
                } else if (msg instanceof Http2DataFrame data) {
                    onData(data);
                } else if (msg instanceof Http2ResetFrame) {
                    verdict.report(false);
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        private void onHeaders(Http2HeadersFrame frame) {
            Http2Headers headers = frame.headers();
            if (!headersSeen) {
                headersSeen = true;
                if (!"200".contentEquals(nonNull(headers.status()))) {
                    verdict.report(false);
                    return;
                }
                if (!frame.isEndStream()) {
                    return; // the response headers; the message and the trailers follow
                }
                // Trailers-only: an error such as NOT_FOUND, and in any case no message.
            } else if (!frame.isEndStream()) {
                verdict.report(false); // a third header block: not gRPC
                return;
            }
            verdict.report("0".contentEquals(nonNull(headers.get("grpc-status"))) && serving());
        }

        private void onData(Http2DataFrame frame) {
            ByteBuf content = frame.content();
            int n = content.readableBytes();
            if (!headersSeen || bodyLength + n > MAX_RESPONSE_BYTES) {
                verdict.report(false);
                return;
            }
            if (bodyLength + n > body.length) {
                body = Arrays.copyOf(body, Math.max(bodyLength + n, body.length * 2));
            }
            content.getBytes(content.readerIndex(), body, bodyLength, n);
            bodyLength += n;
            if (frame.isEndStream()) {
                verdict.report(false); // ended without trailers, so without a grpc-status
            }
        }

        /** Exactly one uncompressed HealthCheckResponse whose status is SERVING. */
        private boolean serving() {
            if (bodyLength < 5 || body[0] != 0) {
                return false; // no message, or a compressed one we never asked for
            }
            int length = ((body[1] & 0xFF) << 24) | ((body[2] & 0xFF) << 16) | ((body[3] & 0xFF) << 8) | (body[4] & 0xFF);
            if (length < 0 || 5 + length != bodyLength) {
                return false; // truncated, or more than one message
            }
            return status(new Reader(body, 5, bodyLength)) == SERVING;
        }

        /** HealthCheckResponse.status; proto3 omits UNKNOWN (0); the last occurrence wins; -1 if malformed. */
        private static long status(Reader in) {
            long status = 0;
            while (in.hasMore()) {
                long tag = in.varint();
                if (tag < 0) {
                    return -1;
                }
                if (tag == STATUS_TAG) {
                    status = in.varint();
                    if (status < 0) {
                        return -1;
                    }
                } else if (!in.skip((int) (tag & 7))) {
                    return -1; // an unknown field we cannot step over
                }
            }
            return status;
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            // The multiplexer hands each stream a retained copy of a GOAWAY that excludes it.
            try {
                if (evt instanceof Http2GoAwayFrame) {
                    verdict.report(false);
                }
            } finally {
                ReferenceCountUtil.release(evt);
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            verdict.report(false); // the stream closed before a verdict (a no-op after one)
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            verdict.report(false);
        }

        private static CharSequence nonNull(CharSequence s) {
            return s == null ? "" : s;
        }
    }

    /** Just enough of the protobuf wire format to read HealthCheckResponse and skip what it does not know. */
    private static final class Reader {
        private final byte[] bytes;
        private final int end;
        private int pos;

        Reader(byte[] bytes, int from, int end) {
            this.bytes = bytes;
            this.pos = from;
            this.end = end;
        }

        boolean hasMore() {
            return pos < end;
        }

        /** An unsigned varint of at most 63 bits, or -1 if it is truncated or longer. */
        long varint() {
            long value = 0;
            for (int shift = 0; shift < 63; shift += 7) {
                if (pos >= end) {
                    return -1;
                }
                byte b = bytes[pos++];
                value |= (long) (b & 0x7F) << shift;
                if (b >= 0) {
                    return value;
                }
            }
            return -1;
        }

        /** Skips one value of the given wire type (0 varint, 1 fixed64, 2 length-delimited, 5 fixed32). */
        boolean skip(int wireType) {
            long n;
            switch (wireType) {
                case 0 -> n = varint() < 0 ? -1 : 0;
                case 1 -> n = 8;
                case 2 -> n = varint();
                case 5 -> n = 4;
                default -> n = -1; // groups (3, 4) are gone from proto3; 6 and 7 do not exist
            }
            if (n < 0 || n > end - pos) {
                return false;
            }
            pos += (int) n;
            return true;
        }
    }
}
