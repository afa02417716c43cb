package dev.sidecar.l7;

import dev.sidecar.bench.BenchmarkBase;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.util.ReferenceCountUtil;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * The cost of {@link StreamStateCheck}, the HTTP/2 frame-header follower in front of the codec:
 * one read of {@value #FRAMES} frames per operation (a request's HEADERS, two DATA, trailers on
 * a lower stream, a second request and its reset, WINDOW_UPDATE, PING), stream ids advanced
 * every operation so each HEADERS opens a new stream, handed to a handler that drops it.
 * {@code check=false} is the same pipeline without the check; the difference divided by
 * {@value #FRAMES} is its cost per frame, and {@code -prof gc} shows it allocates nothing.
 */
@State(Scope.Benchmark)
public class StreamStateCheckBenchmark extends BenchmarkBase {
    static final int FRAMES = 8;

    @Param({"true", "false"})
    public boolean check;

    private EmbeddedChannel channel;
    private ByteBuf read;
    /** Offsets of the stream ids to advance in {@link #read}. */
    private final int[] ids = new int[FRAMES];
    private int idCount;
    private int stream = 1;

    /** A new connection per iteration, so the stream ids (4 per operation) stay far from 2^31. */
    @Setup(Level.Iteration)
    public void connection() {
        if (channel != null) {
            channel.finishAndReleaseAll();
        }
        stream = 1;
        ChannelHandler sink = new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ReferenceCountUtil.release(msg);
            }
        };
        channel = check ? new EmbeddedChannel(new StreamStateCheck(Http2FrameCodecBuilder.forServer().build()), sink) : new EmbeddedChannel(sink);
        channel.writeInbound(Unpooled.wrappedBuffer(new byte[24])); // the preface
    }

    @Setup
    public void setUp() {
        read = Unpooled.directBuffer(4096);
        frame(1, 0x4, 0, 30);        // HEADERS, request 1 (END_HEADERS)
        frame(0, 0, 0, 1000);        // DATA
        frame(0, 0, 0, 100);         // DATA
        frame(1, 0x5, 2, 12);        // HEADERS, request 2 (END_STREAM | END_HEADERS)
        frame(1, 0x5, 0, 8);         // trailers on request 1, below request 2
        frame(3, 0, 2, 4);           // RST_STREAM request 2
        frame(8, 0, -1, 4);          // WINDOW_UPDATE, connection
        frame(6, 0, -1, 8);          // PING
    }

    /** A frame on the stream {@code streamOffset} after the operation's first one (-1: the connection). */
    private void frame(int type, int flags, int streamOffset, int length) {
        read.writeMedium(length).writeByte(type).writeByte(flags);
        if (streamOffset >= 0) {
            ids[idCount++] = read.writerIndex() << 4 | streamOffset;
        }
        read.writeInt(0).writeZero(length);
    }

    @TearDown
    public void tearDown() {
        read.release();
        channel.finishAndReleaseAll();
    }

    @Benchmark
    public int read() {
        for (int i = 0; i < idCount; i++) {
            read.setInt(ids[i] >>> 4, stream + (ids[i] & 0xf));
        }
        stream += 4;
        read.readerIndex(0).retain();
        channel.pipeline().fireChannelRead(read);
        return stream;
    }
}
