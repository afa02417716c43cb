package dev.sidecar.l7;

import dev.sidecar.config.HttpSettings;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http2.DecoratingHttp2ConnectionDecoder;
import io.netty.handler.codec.http2.DefaultHttp2Connection;
import io.netty.handler.codec.http2.DefaultHttp2RemoteFlowController;
import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.UniformStreamByteDistributor;
import io.netty.handler.codec.http2.Http2ConnectionDecoder;
import io.netty.handler.codec.http2.Http2ConnectionEncoder;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2Settings;
import java.util.List;
import java.util.function.BooleanSupplier;

/**
 * Netty's HTTP/2 server codec with a listener's limits, and a decoder that stops for good once
 * the connection is closing.
 */
final class ServerHttp2Codec extends Http2FrameCodecBuilder {
    private final BooleanSupplier closing;

    private ServerHttp2Codec(BooleanSupplier closing) {
        this.closing = closing;
        connection(uniformConnection(true)); // a server's, as server(true) would make it
        gracefulShutdownTimeoutMillis(0); // as forServer() has it
    }

    /**
     * A connection whose streams share the peer's connection window round robin, in chunks,
     * instead of by RFC 7540 priority weights: RFC 9113 deprecates the priority scheme, clients
     * rarely send it, and Netty's weighted-fair distributor kept a priority tree per connection
     * and per stream for nothing, updated on every stream's open and close.
     */
    static Http2Connection uniformConnection(boolean server) {
        DefaultHttp2Connection c = new DefaultHttp2Connection(server);
        c.remote().flowController(new DefaultHttp2RemoteFlowController(c, new UniformStreamByteDistributor(c)));
        return c;
    }

    /** A codec for one connection; {@code closing} says when its close has begun. */
    static Http2FrameCodec build(HttpSettings s, BooleanSupplier closing) {
        int windowSeconds = (int) Math.max(1, s.resetWindow().toSeconds());
        return new ServerHttp2Codec(closing)
                .initialSettings(Http2Settings.defaultSettings()
                        .maxConcurrentStreams(s.maxConcurrentStreams())
                        .initialWindowSize(s.initialStreamWindow())
                        .maxHeaderListSize(s.maxHeaderListSize()))
                .validateHeaders(true)
                .decoderEnforceMaxRstFramesPerWindow(s.maxResetsPerWindow(), windowSeconds)
                .encoderEnforceMaxRstFramesPerWindow(s.maxResetsPerWindow(), windowSeconds)
                .decoderEnforceMaxConsecutiveEmptyDataFrames(s.maxConsecutiveEmptyFrames())
                .decoderEnforceMaxSmallContinuationFrames(s.maxContinuationFrames())
                .encoderEnforceMaxQueuedControlFrames(s.maxQueuedControlFrames())
                .build();
    }

    @Override
    protected Http2FrameCodec build(Http2ConnectionDecoder decoder, Http2ConnectionEncoder encoder, Http2Settings settings) {
        return super.build(new UntilClosing(decoder, closing), encoder, settings);
    }

    /**
     * Drops what is left of a read once the connection is closing. The codec decodes a read's
     * frames one after another, and goes on after an error with the frames behind it: when a
     * client's resets end the connection (MadeYouReset: each stream made to fail, and the codec
     * closes the connection past {@code max_resets_per_window}), the rest of a 64 KiB read held
     * some 1,700 more such streams, each costing two exceptions and their stack traces on the
     * event loop, all for a connection already closed. Later reads are dropped before the codec
     * while the close lingers ({@link ConnectionHandler}).
     */
    static final class UntilClosing extends DecoratingHttp2ConnectionDecoder {
        private final BooleanSupplier closing;

        UntilClosing(Http2ConnectionDecoder delegate, BooleanSupplier closing) {
            super(delegate);
            this.closing = closing;
        }

        @Override
        public void decodeFrame(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws Http2Exception {
            if (closing.getAsBoolean() || !ctx.channel().isActive()) {
                in.skipBytes(in.readableBytes());
                return;
            }
            super.decodeFrame(ctx, in, out);
        }
    }
}
