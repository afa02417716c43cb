package dev.sidecar.l7;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sidecar.config.HttpSettings;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersEncoder;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/** {@link ServerHttp2Codec} on an embedded channel, fed a whole MadeYouReset burst in one read. */
class ServerHttp2CodecTest {
    private static final int HEADERS = 1, RST_STREAM = 3, SETTINGS = 4, WINDOW_UPDATE = 8, END_HEADERS = 0x4;
    private static final int STREAMS = 2_000;

    /** The codec's answer to one burst: the RST_STREAM frames it wrote, and whether it began to close. */
    private record Run(int resets, boolean closing) {}

    private static Run burst() throws Exception {
        AtomicBoolean lingering = new AtomicBoolean();
        Http2FrameCodec codec = ServerHttp2Codec.build(HttpSettings.DEFAULT, lingering::get);
        EmbeddedChannel channel = new EmbeddedChannel();
        channel.pipeline().addLast(new ChannelOutboundHandlerAdapter() {
            @Override
            public void close(ChannelHandlerContext ctx, ChannelPromise promise) {
                // as ConnectionHandler's lingering close: the channel stays open, input still arrives
                lingering.set(true);
                promise.trySuccess();
            }
        }, codec, new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ReferenceCountUtil.release(msg);
            }

            @Override
            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            }
        });
        ByteBuf in = Unpooled.buffer();
        in.writeBytes("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        frame(in, SETTINGS, 0, 0, Unpooled.EMPTY_BUFFER);
        DefaultHttp2HeadersEncoder hpack = new DefaultHttp2HeadersEncoder();
        for (int i = 0, stream = 1; i < STREAMS; i++, stream += 2) {
            ByteBuf block = Unpooled.buffer();
            hpack.encodeHeaders(stream, new DefaultHttp2Headers().method("POST").scheme("http").path("/echo").authority("x"), block);
            frame(in, HEADERS, END_HEADERS, stream, block);
            block.release();
            frame(in, WINDOW_UPDATE, 0, stream, Unpooled.wrappedBuffer(new byte[4])); // increment 0: the server must reset
        }
        channel.writeInbound(in);
        channel.flushOutbound();
        int resets = 0;
        ByteBuf out = Unpooled.buffer();
        for (Object o; (o = channel.readOutbound()) != null; ) {
            out.writeBytes((ByteBuf) o);
            ((ByteBuf) o).release();
        }
        while (out.readableBytes() >= 9) {
            int length = out.readUnsignedMedium();
            int type = out.readByte();
            out.skipBytes(5 + length);
            if (type == RST_STREAM) {
                resets++;
            }
        }
        out.release();
        Run run = new Run(resets, lingering.get());
        channel.finishAndReleaseAll();
        return run;
    }

    private static void frame(ByteBuf out, int type, int flags, int stream, ByteBuf payload) {
        out.writeMedium(payload.readableBytes()).writeByte(type).writeByte(flags).writeInt(stream).writeBytes(payload, payload.readerIndex(),
                payload.readableBytes());
    }

    @Test
    void aConnectionClosedForItsResetsDecodesNothingMoreOfTheReadThatClosedIt() throws Exception {
        int limit = HttpSettings.DEFAULT.maxResetsPerWindow();
        Run run = burst();
        assertTrue(run.closing(), "closed past the reset limit");
        // a reset for each stream up to the limit, and one more that ends the connection; when
        // decoding went on, each of the 2,000 streams in the read was reset, each reset past the
        // limit with two exceptions of its own
        assertTrue(run.resets() <= limit + 1, run.resets() + " resets, limit " + limit);
        assertFalse(run.resets() < limit, run.resets() + " resets: the streams up to the limit were decoded and reset");
    }
}
