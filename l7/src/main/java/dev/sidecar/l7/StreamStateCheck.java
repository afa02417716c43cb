package dev.sidecar.l7;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2ConnectionAdapter;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.util.ReferenceCountUtil;

/**
 * Just before an HTTP/2 server connection's {@link Http2FrameCodec}: follows the frame headers
 * in the bytes the client sends and answers the HEADERS frames that RFC 9113 section 5.1 makes
 * errors where Netty's decoder cannot tell them from legal ones, because it keeps no record of
 * the streams that have closed:
 * <ul>
 *   <li>HEADERS that would open a client stream numbered below one the client already opened
 *       (a stream it skipped): a connection error of type PROTOCOL_ERROR (section 5.1.1). Netty
 *       takes every id below the highest it created for a stream that may have existed.</li>
 *   <li>HEADERS on a stream the client ended with END_STREAM that is still half-closed
 *       (remote): a stream error of type STREAM_CLOSED (section 5.1). Netty reads the frame as
 *       a second trailer block and resets the stream with PROTOCOL_ERROR.</li>
 *   <li>HEADERS on a stream that closed after both sides sent END_STREAM, without a RST_STREAM
 *       either way: a connection error of type STREAM_CLOSED (section 5.1, "closed"). Netty
 *       answers a stream error, which is right only for a stream that a RST_STREAM closed, and
 *       cannot tell the two apart.</li>
 * </ul>
 * Everything else is the codec's to decide, as before: trailers on an open stream (also below
 * the highest id), PRIORITY, WINDOW_UPDATE and RST_STREAM in any state, frames on streams a
 * RST_STREAM closed (from either side; the codec answers with a stream error), CONTINUATION,
 * DATA.
 *
 * <p>The bytes pass on unchanged, in the buffers they came in, and nothing is allocated per
 * frame: per frame this reads its 9-byte header (byte by byte only when it is split across
 * reads) and skips its payload. Only a HEADERS frame on a stream the client already ended looks
 * at the codec's own state, and before it does, the bytes ahead of that frame are handed on (a
 * retained slice) so the codec has read them. A stream error is sent through the codec before
 * the frame is handed on (the codec then ignores the frame, having kept its HPACK state); on a
 * connection error the frame and everything after it are dropped, the codec sends GOAWAY and
 * the connection closes. (When such a HEADERS frame is split across reads, the reset stream may
 * have closed before the frame's rest reaches the codec, which answers that rest as it answers
 * any frame on a closed stream: a second RST_STREAM STREAM_CLOSED. Keeping the stream open until
 * then would mean writing the reset past the encoder, where it would not count towards the
 * resets a connection may provoke.)
 *
 * <p>Memory is bounded: two bits for each of the last {@value #WINDOW} client stream ids
 * (odd ids from the highest opened down), 256 bytes per connection. That is ten times the
 * default {@code max_concurrent_streams}; for older ids the codec's answer stands (a stream
 * error where a connection error would be exact).
 */
final class StreamStateCheck extends ChannelInboundHandlerAdapter {
    /** Client stream ids tracked, a power of two. */
    static final int WINDOW = 1024;
    private static final int IDLE = 0;
    /** Opened by HEADERS and not ended by the client, or reset by the client. */
    private static final int OPEN = 1;
    /** The client sent END_STREAM (on HEADERS or DATA). */
    private static final int ENDED = 2;
    /** Closed with END_STREAM both ways and no RST_STREAM: anything but PRIORITY, WINDOW_UPDATE, RST_STREAM is a connection error. */
    private static final int CLOSED = 3;
    private static final int TYPE_DATA = 0, TYPE_HEADERS = 1, TYPE_RST_STREAM = 3;
    private static final int END_STREAM = 0x1;
    /** "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", which the client sends first, also after an h2c upgrade (RFC 9113 section 3.4). */
    private static final int PREFACE_LENGTH = 24;

    private final Http2FrameCodec codec;
    /** Two bits of state per client stream id, at slot {@code (id >>> 1) & (WINDOW - 1)}, for ids in (highest - 2 * WINDOW, highest]. */
    private final long[] states = new long[WINDOW * 2 / 64];
    /** The highest client stream id opened by HEADERS; -1 before the first, so that ids from 1 up count as skipped. */
    private int highest = -1;
    /** Payload bytes (or connection preface bytes) still to skip before the next frame header. */
    private int skip = PREFACE_LENGTH;
    /** How many bytes of a frame header split across reads are in {@link #head} and {@link #headId}. */
    private int have;
    /** Length, type and flags of a split frame header, as read so far. */
    private long head;
    private int headId;
    /** A connection error was raised: the rest of the input is dropped. */
    private boolean failed;

    StreamStateCheck(Http2FrameCodec codec) {
        this.codec = codec;
        codec.connection().addListener(new Http2ConnectionAdapter() {
            @Override
            public void onStreamClosed(Http2Stream stream) {
                int id = stream.id();
                // a stream closed by END_STREAM both ways (the client's was seen: ENDED) and not by a RST_STREAM
                // the proxy sent (a client's RST_STREAM set it back to OPEN before the codec read it)
                if ((id & 1) == 1 && tracked(id) && state(id) == ENDED && !stream.isResetSent()) {
                    state(id, CLOSED);
                }
            }
        });
    }

    /** After an h2c upgrade: the request that carried it is stream 1, half-closed (remote) from the start (RFC 7540 section 3.2). */
    StreamStateCheck upgraded() {
        highest = 1;
        state(1, ENDED);
        return this;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof ByteBuf buf)) {
            ctx.fireChannelRead(msg);
            return;
        }
        if (failed) {
            ReferenceCountUtil.release(msg);
            return;
        }
        int i = buf.readerIndex();
        int end = buf.writerIndex();
        while (i < end) {
            if (skip > 0) {
                int n = Math.min(skip, end - i);
                skip -= n;
                i += n;
                continue;
            }
            int start = i;
            int length, type, flags, stream;
            if (have == 0 && end - i >= Http2CodecUtil.FRAME_HEADER_LENGTH) {
                // two reads, not four: each checks bounds and the buffer's reference count
                long h = buf.getLong(i); // length (3 bytes), type, flags, the stream id's first 3 bytes
                length = (int) (h >>> 40);
                type = (int) (h >>> 32) & 0xff;
                flags = (int) (h >>> 24) & 0xff;
                stream = ((int) h << 8 | buf.getUnsignedByte(i + 8)) & Integer.MAX_VALUE;
                i += Http2CodecUtil.FRAME_HEADER_LENGTH;
            } else {
                if (have > 0) {
                    start = buf.readerIndex(); // the header began in an earlier read, all of which the codec has
                }
                for (; have < Http2CodecUtil.FRAME_HEADER_LENGTH && i < end; have++, i++) {
                    if (have < 5) {
                        head = head << 8 | buf.getUnsignedByte(i);
                    } else {
                        headId = headId << 8 | buf.getUnsignedByte(i);
                    }
                }
                if (have < Http2CodecUtil.FRAME_HEADER_LENGTH) {
                    break;
                }
                have = 0;
                length = (int) (head >>> 16);
                type = (int) (head >>> 8) & 0xff;
                flags = (int) head & 0xff;
                stream = headId & Integer.MAX_VALUE;
                head = 0;
                headId = 0;
            }
            skip = length;
            if (!frame(ctx, buf, start, type, flags, stream)) {
                buf.release();
                return;
            }
        }
        if (buf.isReadable()) {
            ctx.fireChannelRead(buf);
        } else {
            buf.release();
        }
    }

    /**
     * One frame header, the frame starting at {@code start} in {@code buf}; false when it is a
     * connection error (raised, the frame and the rest of the input not handed on).
     */
    private boolean frame(ChannelHandlerContext ctx, ByteBuf buf, int start, int type, int flags, int stream) {
        if ((stream & 1) == 0) {
            return true; // the connection (0) or a server id: the codec's to judge
        }
        boolean endStream = (flags & END_STREAM) != 0; // on DATA and HEADERS
        if (type == TYPE_DATA) {
            if (endStream && tracked(stream) && state(stream) == OPEN) {
                state(stream, ENDED);
            }
            return true;
        }
        if (type == TYPE_RST_STREAM) {
            if (tracked(stream) && state(stream) == ENDED) {
                state(stream, OPEN); // closed by the client's reset: later frames are stream errors, the codec's answer
            }
            return true;
        }
        if (type != TYPE_HEADERS) {
            return true;
        }
        if (stream > highest) {
            open(stream, endStream ? ENDED : OPEN);
            return true;
        }
        if (!tracked(stream)) {
            return true;
        }
        switch (state(stream)) {
            case IDLE:
                return connectionError(ctx, buf, start, Http2Error.PROTOCOL_ERROR,
                        "HEADERS on stream %d, below stream %d the client already opened", stream, highest);
            case OPEN:
                if (endStream) {
                    state(stream, ENDED); // trailers
                }
                return true;
            case CLOSED:
                return connectionError(ctx, buf, start, Http2Error.STREAM_CLOSED, "HEADERS on closed stream %d", stream);
            default:
                return afterEnd(ctx, buf, start, stream);
        }
    }

    /** HEADERS on a stream the client ended: a stream error while the stream is half-closed (remote), a connection error once it has closed. */
    private boolean afterEnd(ChannelHandlerContext ctx, ByteBuf buf, int start, int stream) {
        ChannelHandlerContext codecCtx = ctx.pipeline().context(codec);
        if (codecCtx == null) {
            return true;
        }
        handOn(ctx, buf, start); // the codec's state as of this frame
        if (state(stream) == CLOSED) {
            return connectionError(ctx, buf, start, Http2Error.STREAM_CLOSED, "HEADERS on closed stream %d", stream);
        }
        Http2Stream s = codec.connection().stream(stream);
        if (s != null && !s.isResetSent()
                && (s.state() == Http2Stream.State.HALF_CLOSED_REMOTE || s.state() == Http2Stream.State.CLOSED)) {
            // the codec then ignores the frame (a reset was sent) after decoding its header block. Through the
            // encoder, as a stream's own reset goes, so that it counts towards the resets a connection may
            // provoke (encoderEnforceMaxRstFramesPerWindow: MadeYouReset)
            codec.encoder().writeRstStream(codecCtx, stream, Http2Error.STREAM_CLOSED.code(), codecCtx.newPromise());
        }
        return true;
    }

    /**
     * A connection error: the bytes ahead of the frame go to the codec first (their frames are
     * read as usual), then the codec sends GOAWAY with {@code error} and closes.
     */
    private boolean connectionError(ChannelHandlerContext ctx, ByteBuf buf, int start, Http2Error error, String message, Object... args) {
        ChannelHandlerContext codecCtx = ctx.pipeline().context(codec);
        if (codecCtx == null) {
            return true;
        }
        handOn(ctx, buf, start);
        failed = true;
        // GOAWAY names the last stream the codec opened (every frame ahead of this one was read), where the
        // codec's own connection errors name 2^31-1; then the close, from below the codec, which would
        // otherwise wait for the open streams to finish (a graceful close): RFC 9113 section 5.4.1
        ByteBuf debug = ByteBufUtil.writeUtf8(ctx.alloc(), String.format(message, args));
        codec.goAway(codecCtx, codec.connection().remote().lastStreamCreated(), error.code(), debug, codecCtx.newPromise());
        codecCtx.flush();
        ctx.close();
        return false;
    }

    /** Hands the bytes of {@code buf} ahead of {@code start} to the codec, which reads them before this returns. */
    private static void handOn(ChannelHandlerContext ctx, ByteBuf buf, int start) {
        int from = buf.readerIndex();
        if (start > from) {
            ctx.fireChannelRead(buf.retainedSlice(from, start - from));
            buf.readerIndex(start);
        }
    }

    /** A new highest client stream: ids skipped since the last one are idle (and closed by this, section 5.1.1). */
    private void open(int stream, int state) {
        int skipped = (stream - highest) >>> 1; // ids from highest + 2 to stream
        if (skipped >= WINDOW) {
            java.util.Arrays.fill(states, 0L);
        } else {
            for (int id = highest + 2; id < stream; id += 2) {
                state(id, IDLE);
            }
        }
        highest = stream;
        state(stream, state);
    }

    private boolean tracked(int stream) {
        return stream <= highest && highest - stream < 2 * WINDOW;
    }

    private int state(int stream) {
        int slot = (stream >>> 1) & (WINDOW - 1);
        return (int) (states[slot >>> 5] >>> ((slot & 31) << 1)) & 3;
    }

    private void state(int stream, int state) {
        int slot = (stream >>> 1) & (WINDOW - 1);
        int shift = (slot & 31) << 1;
        long word = states[slot >>> 5];
        states[slot >>> 5] = word & ~(3L << shift) | (long) state << shift;
    }
}
