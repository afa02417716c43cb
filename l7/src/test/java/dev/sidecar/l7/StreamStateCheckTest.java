package dev.sidecar.l7;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersEncoder;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2FrameStream;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.util.ReferenceCountUtil;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@link StreamStateCheck} in front of a real {@link Http2FrameCodec} on an embedded channel,
 * with the client's bytes delivered in every split: one read, reads of each size from 1 to 20
 * bytes, and every two-read split. Each run must end with the same frames from the codec.
 */
class StreamStateCheckTest {
    private static final int DATA = 0, HEADERS = 1, RST_STREAM = 3, SETTINGS = 4, GOAWAY = 7;
    private static final int END_STREAM = 0x1, END_HEADERS = 0x4;
    private static final int PROTOCOL_ERROR = 0x1, STREAM_CLOSED = 0x5;

    /** A frame the codec wrote. */
    record Out(int type, int stream, int code) {}

    /** The client's side: HPACK state and the bytes to send. */
    private static final class Client {
        final DefaultHttp2HeadersEncoder encoder = new DefaultHttp2HeadersEncoder();
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

        Client() {
            bytes.writeBytes("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            frame(SETTINGS, 0, 0, new byte[0]);
        }

        Client frame(int type, int flags, int stream, byte[] payload) {
            bytes.writeBytes(new byte[] {(byte) (payload.length >>> 16), (byte) (payload.length >>> 8), (byte) payload.length,
                    (byte) type, (byte) flags, (byte) (stream >>> 24), (byte) (stream >>> 16), (byte) (stream >>> 8), (byte) stream});
            bytes.writeBytes(payload);
            return this;
        }

        Client request(int stream, int flags, String path) {
            Http2Headers h = new DefaultHttp2Headers().method("GET").scheme("http").path(path).authority("x");
            ByteBuf b = Unpooled.buffer();
            try {
                encoder.encodeHeaders(stream, h, b);
            } catch (Http2Exception e) {
                throw new IllegalStateException(e);
            } finally {
                byte[] block = new byte[b.readableBytes()];
                b.readBytes(block);
                b.release();
                frame(HEADERS, flags | END_HEADERS, stream, block);
            }
            return this;
        }

        Client trailers(int stream) {
            // literal without indexing, new name: x-t: 1
            return frame(HEADERS, END_STREAM | END_HEADERS, stream, new byte[] {0, 3, 'x', '-', 't', 1, '1'});
        }

        byte[] take() {
            byte[] b = bytes.toByteArray();
            bytes.reset();
            return b;
        }
    }

    /** The server: the check and the codec, and a handler that answers each request on the streams named in {@code answer}. */
    private static final class Server {
        final EmbeddedChannel channel;
        final Map<Integer, Http2FrameStream> streams = new HashMap<>();
        final List<Out> out = new ArrayList<>();

        Server(List<Integer> answer) {
            Http2FrameCodec codec = Http2FrameCodecBuilder.forServer().build();
            channel = new EmbeddedChannel(new StreamStateCheck(codec), codec, new ChannelInboundHandlerAdapter() {
                @Override
                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                    if (msg instanceof Http2HeadersFrame h && h.isEndStream() && answer.contains(h.stream().id())
                            && !streams.containsKey(h.stream().id())) {
                        streams.put(h.stream().id(), h.stream());
                        ctx.writeAndFlush(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().status("200"), true).stream(h.stream()));
                    }
                    ReferenceCountUtil.release(msg);
                }

                @Override
                public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                }
            });
        }

        /** Delivers {@code bytes} in reads ending at {@code cuts}, then collects what the codec wrote. */
        void read(byte[] bytes, int... cuts) {
            int from = 0;
            for (int cut : cuts) {
                if (cut > from && cut < bytes.length && channel.isOpen()) {
                    channel.writeInbound(Unpooled.wrappedBuffer(bytes, from, cut - from));
                    from = cut;
                }
            }
            if (channel.isOpen()) {
                channel.writeInbound(Unpooled.wrappedBuffer(bytes, from, bytes.length - from));
                channel.runPendingTasks();
            }
            collect();
        }

        void collect() {
            ByteBuf all = Unpooled.buffer();
            for (Object o; (o = channel.readOutbound()) != null; ) {
                all.writeBytes((ByteBuf) o);
                ((ByteBuf) o).release();
            }
            while (all.readableBytes() >= 9) {
                int length = all.readUnsignedMedium();
                int type = all.readUnsignedByte();
                all.readUnsignedByte();
                int stream = all.readInt() & Integer.MAX_VALUE;
                ByteBuf payload = all.readSlice(length);
                int code = type == RST_STREAM ? payload.getInt(0) : type == GOAWAY ? payload.getInt(4) : -1;
                if (type == RST_STREAM || type == GOAWAY) {
                    out.add(new Out(type, type == GOAWAY ? payload.getInt(0) : stream, code));
                }
            }
            all.release();
        }

        List<Out> finish() {
            channel.finishAndReleaseAll();
            return out;
        }
    }

    /** Every way of splitting the first part of the exchange: one read, reads of n bytes, two reads cut anywhere. */
    private static List<int[]> splits(int length) {
        List<int[]> s = new ArrayList<>();
        s.add(new int[0]);
        for (int n = 1; n <= 20; n++) {
            int[] cuts = new int[length / n + 1];
            for (int i = 0; i < cuts.length; i++) {
                cuts[i] = (i + 1) * n;
            }
            s.add(cuts);
        }
        for (int cut = 1; cut < length; cut++) {
            s.add(new int[] {cut});
        }
        return s;
    }

    private static void everySplit(byte[] bytes, List<Integer> answer, List<Out> expected) {
        for (int[] cuts : splits(bytes.length)) {
            Server server = new Server(answer);
            server.read(bytes, cuts);
            assertEquals(expected, server.finish(), "cuts " + java.util.Arrays.toString(cuts));
        }
    }

    /**
     * RST_STREAM STREAM_CLOSED, and nothing else. When the frame is split across reads, the
     * stream has closed (its reset written) before the rest of the frame reaches the codec, which
     * then answers that rest as a frame on a closed stream: a second RST_STREAM STREAM_CLOSED,
     * as it answers any late frame after a reset.
     */
    @Test
    void headers_on_a_half_closed_remote_stream_is_reset_stream_closed() {
        byte[] bytes = new Client().request(1, END_STREAM, "/a").request(1, END_STREAM, "/b").request(3, END_STREAM, "/c").take();
        for (int[] cuts : splits(bytes.length)) {
            Server server = new Server(List.of());
            server.read(bytes, cuts);
            List<Out> out = server.finish();
            assertFalse(out.isEmpty(), "a reset");
            assertEquals(List.of(new Out(RST_STREAM, 1, STREAM_CLOSED)), out.stream().distinct().toList(),
                    "cuts " + java.util.Arrays.toString(cuts));
        }
    }

    @Test
    void headers_opening_a_stream_below_the_highest_is_goaway_protocol_error() {
        Client c = new Client().request(5, END_STREAM, "/a").request(3, END_STREAM, "/b").request(7, END_STREAM, "/c");
        everySplit(c.take(), List.of(), List.of(new Out(GOAWAY, 5, PROTOCOL_ERROR)));
    }

    @Test
    void trailers_below_the_highest_stream_and_resets_are_no_error() {
        Client c = new Client().request(1, 0, "/a").frame(DATA, 0, 1, new byte[10]).request(3, END_STREAM, "/b")
                .trailers(1).request(5, END_STREAM, "/c").frame(RST_STREAM, 0, 5, new byte[] {0, 0, 0, 8});
        everySplit(c.take(), List.of(), List.of());
    }

    @Test
    void headers_after_the_clients_reset_is_a_stream_error() {
        Client c = new Client().request(1, END_STREAM, "/a").frame(RST_STREAM, 0, 1, new byte[] {0, 0, 0, 8}).trailers(1)
                .request(3, END_STREAM, "/b");
        everySplit(c.take(), List.of(), List.of(new Out(RST_STREAM, 1, STREAM_CLOSED)));
    }

    @Test
    void headers_on_a_stream_closed_by_end_stream_both_ways_is_goaway_stream_closed() {
        Client c = new Client().request(1, END_STREAM, "/a").request(3, END_STREAM, "/b");
        byte[] first = c.take();
        // the client's RST_STREAM on the closed stream 3 is ignored; then HEADERS on 1
        byte[] next = c.frame(RST_STREAM, 0, 3, new byte[] {0, 0, 0, 8}).trailers(1).take();
        for (int[] cuts : splits(first.length)) {
            Server server = new Server(List.of(1, 3));
            server.read(first, cuts);
            assertEquals(List.of(), server.out);
            assertEquals(2, server.streams.size(), "streams 1 and 3 answered");
            server.read(next);
            assertEquals(List.of(new Out(GOAWAY, 3, STREAM_CLOSED)), server.finish(), "cuts " + java.util.Arrays.toString(cuts));
        }
    }

    @Test
    void reads_pass_through_as_they_came() {
        byte[] bytes = new Client().request(1, 0, "/a").frame(DATA, END_STREAM, 1, new byte[100]).request(3, END_STREAM, "/b").take();
        for (int cut = 1; cut < bytes.length; cut += 7) {
            List<Object> seen = new ArrayList<>();
            EmbeddedChannel channel = new EmbeddedChannel(new StreamStateCheck(Http2FrameCodecBuilder.forServer().build()),
                    new ChannelInboundHandlerAdapter() {
                        @Override
                        public void channelRead(ChannelHandlerContext ctx, Object msg) {
                            seen.add(msg);
                            ReferenceCountUtil.release(msg);
                        }
                    });
            ByteBuf a = Unpooled.wrappedBuffer(bytes, 0, cut);
            ByteBuf b = Unpooled.wrappedBuffer(bytes, cut, bytes.length - cut);
            channel.writeInbound(a);
            channel.writeInbound(b);
            assertEquals(2, seen.size());
            assertSame(a, seen.get(0), "the same buffer, not a copy");
            assertSame(b, seen.get(1));
            assertFalse(channel.finishAndReleaseAll());
        }
    }
}
