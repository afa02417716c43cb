package dev.sidecar.testkit;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersDecoder;
import io.netty.handler.codec.http2.DefaultHttp2HeadersEncoder;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2Headers;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * An HTTP/2 client that writes frames exactly as told, valid or not, over a blocking socket:
 * for sending what well-behaved clients never send (floods, resets, endless CONTINUATION) and
 * watching what the server answers. Header blocks are HPACK-encoded with Netty's encoder; a
 * reader thread collects the server's frames until the connection ends.
 */
public final class RawH2 implements AutoCloseable {
    public static final int DATA = 0, HEADERS = 1, PRIORITY = 2, RST_STREAM = 3, SETTINGS = 4, PING = 6, GOAWAY = 7, WINDOW_UPDATE = 8,
            CONTINUATION = 9;
    public static final int END_STREAM = 0x1, ACK = 0x1, END_HEADERS = 0x4;
    public static final int PROTOCOL_ERROR = 0x1, STREAM_CLOSED = 0x5, ENHANCE_YOUR_CALM = 0xb;
    private static final byte[] PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

    /** A frame the server sent. */
    public record Frame(int type, int flags, int stream, byte[] payload) {
        /** The error code of a RST_STREAM or GOAWAY. */
        public int errorCode() {
            int at = type == GOAWAY ? 4 : 0;
            return ((payload[at] & 0xff) << 24) | ((payload[at + 1] & 0xff) << 16) | ((payload[at + 2] & 0xff) << 8) | (payload[at + 3] & 0xff);
        }
    }

    private final Socket socket;
    private final OutputStream out;
    private final DefaultHttp2HeadersEncoder encoder = new DefaultHttp2HeadersEncoder();
    private final DefaultHttp2HeadersDecoder decoder = new DefaultHttp2HeadersDecoder(false);
    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();
    private final BlockingQueue<Frame> frames = new LinkedBlockingQueue<>();
    /** {@link #received} keeps the first frames only, so long runs (benchmarks) stay bounded. */
    private static final int MAX_RECORDED = 10_000;
    private final java.util.Queue<Frame> all = new java.util.concurrent.ConcurrentLinkedQueue<>();
    private int recorded;
    private final CompletableFuture<Void> closed = new CompletableFuture<>();
    private volatile Frame goAway;
    private final boolean reads;

    /** Connects, sends the preface and empty SETTINGS, and starts reading. */
    public RawH2(int port) throws IOException {
        this(port, 0);
    }

    /** As {@link #RawH2(int)}, with a small receive buffer when {@code receiveBuffer} > 0 (a slow reader). */
    public RawH2(int port, int receiveBuffer) throws IOException {
        this(connect(port, receiveBuffer), receiveBuffer);
    }

    /**
     * HTTP/2 on a socket that is already connected: a TLS socket that negotiated h2 by ALPN, or
     * a plain one whose HTTP/1.1 upgrade to h2c was answered with 101 (read up to the end of
     * that response's head, and not further). Sends the preface and empty SETTINGS, and starts reading.
     */
    public static RawH2 over(Socket connected) throws IOException {
        return new RawH2(connected, 0);
    }

    private static Socket connect(int port, int receiveBuffer) throws IOException {
        Socket socket = new Socket();
        if (receiveBuffer > 0) {
            socket.setReceiveBufferSize(receiveBuffer);
        }
        socket.connect(new InetSocketAddress("127.0.0.1", port), 5000);
        return socket;
    }

    private RawH2(Socket socket, int receiveBuffer) throws IOException {
        this.socket = socket;
        socket.setTcpNoDelay(true);
        out = socket.getOutputStream();
        out.write(PREFACE);
        frame(SETTINGS, 0, 0, new byte[0]);
        flush();
        reads = receiveBuffer <= 0;
        if (reads) {
            Thread reader = new Thread(this::readLoop, "raw-h2-reader");
            reader.setDaemon(true);
            reader.start();
        }
    }

    private void readLoop() {
        try {
            DataInputStream in = new DataInputStream(socket.getInputStream());
            while (true) {
                Frame f = readFrame(in);
                frames.add(f);
                if (recorded++ < MAX_RECORDED) {
                    all.add(f);
                }
            }
        } catch (IOException e) {
            closed.complete(null);
        }
    }

    /** One frame off the wire; a GOAWAY is also kept for {@link #goAway()}. */
    private Frame readFrame(DataInputStream in) throws IOException {
        int length = in.readUnsignedShort() << 8 | in.readUnsignedByte();
        int type = in.readUnsignedByte();
        int flags = in.readUnsignedByte();
        int stream = in.readInt() & 0x7fffffff;
        byte[] payload = new byte[length];
        in.readFully(payload);
        Frame f = new Frame(type, flags, stream, payload);
        if (type == GOAWAY) {
            goAway = f;
        }
        return f;
    }

    // ---- writing ----

    /** Buffers one frame; {@link #flush()} sends what is buffered. */
    public synchronized void frame(int type, int flags, int stream, byte[] payload) throws IOException {
        byte[] header = {(byte) (payload.length >>> 16), (byte) (payload.length >>> 8), (byte) payload.length, (byte) type, (byte) flags,
                (byte) (stream >>> 24), (byte) (stream >>> 16), (byte) (stream >>> 8), (byte) stream};
        pending.write(header, 0, header.length);
        pending.write(payload, 0, payload.length);
        if (pending.size() >= 64 * 1024) {
            flush();
        }
    }

    public synchronized void flush() throws IOException {
        pending.writeTo(out);
        pending.reset();
        out.flush();
    }

    /**
     * Sends what is buffered in writes of {@code chunk} bytes, each flushed on its own: with
     * TCP_NODELAY each leaves as its own segment, so the server reads frames (and their 9-byte
     * headers) split at many places.
     */
    public synchronized void flush(int chunk) throws IOException {
        byte[] all = pending.toByteArray();
        pending.reset();
        for (int i = 0; i < all.length; i += chunk) {
            out.write(all, i, Math.min(chunk, all.length - i));
            out.flush();
        }
    }

    /** An HPACK block for a GET of {@code path}, plus any extra name/value pairs. */
    public synchronized byte[] requestBlock(String method, String path, String... extra) {
        Http2Headers h = new DefaultHttp2Headers().method(method).scheme("http").path(path).authority("raw.local");
        for (int i = 0; i < extra.length; i += 2) {
            h.add(extra[i], extra[i + 1]);
        }
        ByteBuf buf = Unpooled.buffer();
        try {
            encoder.encodeHeaders(0, h, buf);
            byte[] b = new byte[buf.readableBytes()];
            buf.readBytes(b);
            return b;
        } catch (Http2Exception e) {
            throw new IllegalStateException(e);
        } finally {
            buf.release();
        }
    }

    /**
     * A request block whose extra header is written byte for byte, without the checks an HPACK
     * encoder would make (literal without indexing, no Huffman): for names and values no valid
     * client sends.
     */
    public synchronized byte[] literalRequestBlock(String method, String path, String name, String value) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        byte[] standard = requestBlock(method, path);
        b.write(standard, 0, standard.length);
        b.write(0x00); // literal header field without indexing, new name
        writeString(b, name.getBytes(StandardCharsets.ISO_8859_1));
        writeString(b, value.getBytes(StandardCharsets.ISO_8859_1));
        return b.toByteArray();
    }

    /**
     * An HPACK block of literal fields without indexing (RFC 7541 6.2.2), new names, no Huffman,
     * in the order given: blocks no encoder would produce (upper-case names, pseudo-headers after
     * regular ones) can be sent.
     */
    public static byte[] literalBlock(List<String[]> fields) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        for (String[] f : fields) {
            b.write(0x00);
            writeString(b, f[0].getBytes(StandardCharsets.ISO_8859_1));
            writeString(b, f[1].getBytes(StandardCharsets.ISO_8859_1));
        }
        return b.toByteArray();
    }

    private static void writeString(ByteArrayOutputStream b, byte[] s) {
        // 7-bit prefix integer, Huffman bit off (RFC 7541 5.1, 5.2)
        int n = s.length;
        if (n < 127) {
            b.write(n);
        } else {
            b.write(127);
            n -= 127;
            while (n >= 128) {
                b.write((n & 0x7f) | 0x80);
                n >>>= 7;
            }
            b.write(n);
        }
        b.write(s, 0, s.length);
    }

    public void headers(int stream, int flags, byte[] block) throws IOException {
        frame(HEADERS, flags, stream, block);
    }

    /** A complete GET request on {@code stream}, flushed. */
    public void get(int stream, String path) throws IOException {
        headers(stream, END_STREAM | END_HEADERS, requestBlock("GET", path));
        flush();
    }

    public void rst(int stream, int code) throws IOException {
        frame(RST_STREAM, 0, stream, int32(code));
    }

    public void windowUpdate(int stream, int increment) throws IOException {
        frame(WINDOW_UPDATE, 0, stream, int32(increment));
    }

    public void ping(long data) throws IOException {
        byte[] p = new byte[8];
        for (int i = 0; i < 8; i++) {
            p[i] = (byte) (data >>> (56 - 8 * i));
        }
        frame(PING, 0, 0, p);
    }

    private static byte[] int32(int v) {
        return new byte[] {(byte) (v >>> 24), (byte) (v >>> 16), (byte) (v >>> 8), (byte) v};
    }

    // ---- reading ----

    /** The next frame the server sent that matches, or null when none does within the limit. */
    public Frame await(Predicate<Frame> match, Duration limit) throws InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        for (long left; (left = deadline - System.nanoTime()) > 0; ) {
            Frame f = frames.poll(left, TimeUnit.NANOSECONDS);
            if (f != null && match.test(f)) {
                return f;
            }
        }
        return null;
    }

    /** The response status of {@code stream} from its HEADERS frame, or -1 if none came within the limit. */
    public int awaitStatus(int stream, Duration limit) throws InterruptedException {
        Frame f = await(x -> x.type == HEADERS && x.stream == stream, limit);
        return f == null ? -1 : status(f);
    }

    /**
     * For a client made without a reader: reads and drops the server's frames (noting a GOAWAY)
     * until the server ends the connection, true, or the limit passes, false.
     */
    public boolean readUntilClosed(Duration limit) throws IOException {
        long deadline = System.nanoTime() + limit.toNanos();
        DataInputStream in = new DataInputStream(socket.getInputStream());
        try {
            while (System.nanoTime() < deadline) {
                socket.setSoTimeout((int) Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
                readFrame(in);
            }
            return false;
        } catch (java.net.SocketTimeoutException e) {
            return false;
        } catch (IOException e) {
            return true; // end of stream, or a reset
        }
    }

    /** True once the server has closed the connection (only when this client reads). */
    public boolean awaitClosed(Duration limit) {
        try {
            closed.get(limit.toMillis(), TimeUnit.MILLISECONDS);
            return true;
        } catch (Exception e) {
            return false;
        }
    }

    /** The frames the server has sent so far (the first 10,000), in order, whether or not {@link #await} took them. */
    public java.util.List<Frame> received() {
        return new java.util.ArrayList<>(all);
    }

    /** The status in a HEADERS frame's block (decoded with this connection's HPACK state; call in frame order). */
    public int status(Frame headers) {
        ByteBuf buf = Unpooled.wrappedBuffer(headers.payload);
        try {
            return Integer.parseInt(decoder.decodeHeaders(headers.stream, buf).status().toString());
        } catch (Http2Exception e) {
            throw new IllegalStateException(e);
        } finally {
            buf.release();
        }
    }

    /** Whether a reader thread takes the server's frames (false for a slow reader, {@link #RawH2(int, int)}). */
    public boolean reads() {
        return reads;
    }

    /** The GOAWAY the server sent, if any. */
    public Frame goAway() {
        return goAway;
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
