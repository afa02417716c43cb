package dev.sidecar.reliability.h2spec;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The client side of one conformance case, as h2spec's {@code spec.Conn} is: a blocking socket
 * that writes frames exactly as told and reads the server's frames one event at a time (a frame,
 * the connection's end, or nothing within the timeout). Header blocks are HPACK literals without
 * indexing and without Huffman coding (RFC 7541 6.2.2), in the order given, so blocks no encoder
 * would produce (upper-case names, pseudo-headers after regular ones) can be sent.
 */
final class H2Client implements AutoCloseable {
    static final int DATA = 0, HEADERS = 1, PRIORITY = 2, RST_STREAM = 3, SETTINGS = 4, PUSH_PROMISE = 5, PING = 6, GOAWAY = 7,
            WINDOW_UPDATE = 8, CONTINUATION = 9;
    static final int END_STREAM = 0x1, ACK = 0x1, END_HEADERS = 0x4, PADDED = 0x8, PRIORITY_FLAG = 0x20;
    static final int SETTINGS_HEADER_TABLE_SIZE = 1, SETTINGS_ENABLE_PUSH = 2, SETTINGS_MAX_CONCURRENT_STREAMS = 3,
            SETTINGS_INITIAL_WINDOW_SIZE = 4, SETTINGS_MAX_FRAME_SIZE = 5, SETTINGS_MAX_HEADER_LIST_SIZE = 6;
    static final byte[] PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

    /** What the server did next. */
    sealed interface Event permits Frame, Closed, Timeout {}

    record Frame(int type, int flags, int stream, byte[] payload) implements Event {
        boolean has(int flag) {
            return (flags & flag) != 0;
        }

        int errorCode() {
            int at = type == GOAWAY ? 4 : 0;
            return ((payload[at] & 0xff) << 24) | ((payload[at + 1] & 0xff) << 16) | ((payload[at + 2] & 0xff) << 8) | (payload[at + 3] & 0xff);
        }

        @Override
        public String toString() {
            String name = switch (type) {
                case DATA -> "DATA";
                case HEADERS -> "HEADERS";
                case RST_STREAM -> "RST_STREAM";
                case SETTINGS -> "SETTINGS";
                case PING -> "PING";
                case GOAWAY -> "GOAWAY";
                case WINDOW_UPDATE -> "WINDOW_UPDATE";
                case CONTINUATION -> "CONTINUATION";
                default -> "frame type " + type;
            };
            String code = type == GOAWAY || type == RST_STREAM ? ", " + H2Conformance.codeName(errorCode()) : "";
            return name + " (stream " + stream + ", flags 0x" + Integer.toHexString(flags) + ", length " + payload.length + code + ")";
        }
    }

    record Closed() implements Event {
        @Override
        public String toString() {
            return "connection closed";
        }
    }

    record Timeout() implements Event {
        @Override
        public String toString() {
            return "nothing (timeout)";
        }
    }

    private final Socket socket;
    private final OutputStream out;
    private final DataInputStream in;
    private final int timeoutMillis;
    private boolean closed;
    /** The server's SETTINGS from the handshake. */
    final Map<Integer, Long> serverSettings = new HashMap<>();
    final String authority;

    H2Client(int port, int timeoutMillis) throws IOException {
        this.timeoutMillis = timeoutMillis;
        socket = new Socket();
        socket.connect(new InetSocketAddress("127.0.0.1", port), 5000);
        socket.setTcpNoDelay(true);
        out = socket.getOutputStream();
        in = new DataInputStream(socket.getInputStream());
        authority = "127.0.0.1:" + port;
    }

    boolean closed() {
        return closed;
    }

    /**
     * h2spec's handshake: the preface and SETTINGS (INITIAL_WINDOW_SIZE 65535), then the
     * server's SETTINGS acknowledged and ours acknowledged by it.
     */
    void handshake() throws IOException {
        send(PREFACE);
        settings(SETTINGS_INITIAL_WINDOW_SIZE, 65_535);
        boolean local = false;
        boolean remote = false;
        while (!(local && remote)) {
            Event e = next();
            if (!(e instanceof Frame f)) {
                throw new IOException("handshake: " + e);
            }
            if (f.type() == SETTINGS) {
                if (f.has(ACK)) {
                    local = true;
                } else {
                    remote = true;
                    for (int i = 0; i + 6 <= f.payload().length; i += 6) {
                        int id = ((f.payload()[i] & 0xff) << 8) | (f.payload()[i + 1] & 0xff);
                        long v = ((f.payload()[i + 2] & 0xffL) << 24) | ((f.payload()[i + 3] & 0xff) << 16) | ((f.payload()[i + 4] & 0xff) << 8)
                                | (f.payload()[i + 5] & 0xff);
                        serverSettings.put(id, v);
                    }
                    frame(SETTINGS, ACK, 0, new byte[0]);
                }
            }
        }
    }

    // ---- writing ----

    void send(byte[] bytes) throws IOException {
        try {
            out.write(bytes);
            out.flush();
        } catch (IOException e) {
            // the server may already have closed; what it sent says why
        }
    }

    void frame(int type, int flags, int stream, byte[] payload) throws IOException {
        byte[] b = new byte[9 + payload.length];
        b[0] = (byte) (payload.length >>> 16);
        b[1] = (byte) (payload.length >>> 8);
        b[2] = (byte) payload.length;
        b[3] = (byte) type;
        b[4] = (byte) flags;
        b[5] = (byte) (stream >>> 24);
        b[6] = (byte) (stream >>> 16);
        b[7] = (byte) (stream >>> 8);
        b[8] = (byte) stream;
        System.arraycopy(payload, 0, b, 9, payload.length);
        send(b);
    }

    void settings(int... idValue) throws IOException {
        byte[] p = new byte[idValue.length / 2 * 6];
        for (int i = 0, at = 0; i < idValue.length; i += 2, at += 6) {
            p[at] = (byte) (idValue[i] >>> 8);
            p[at + 1] = (byte) idValue[i];
            p[at + 2] = (byte) (idValue[i + 1] >>> 24);
            p[at + 3] = (byte) (idValue[i + 1] >>> 16);
            p[at + 4] = (byte) (idValue[i + 1] >>> 8);
            p[at + 5] = (byte) idValue[i + 1];
        }
        frame(SETTINGS, 0, 0, p);
    }

    void headers(int stream, boolean endStream, boolean endHeaders, byte[] block) throws IOException {
        frame(HEADERS, (endStream ? END_STREAM : 0) | (endHeaders ? END_HEADERS : 0), stream, block);
    }

    /** HEADERS with padding of {@code padLength} zero bytes. */
    void headersPadded(int stream, boolean endStream, byte[] block, int padLength) throws IOException {
        byte[] p = new byte[1 + block.length + padLength];
        p[0] = (byte) padLength;
        System.arraycopy(block, 0, p, 1, block.length);
        frame(HEADERS, (endStream ? END_STREAM : 0) | END_HEADERS | PADDED, stream, p);
    }

    /** HEADERS with the PRIORITY flag: dependency, exclusive bit, weight. */
    void headersWithPriority(int stream, boolean endStream, byte[] block, int dependency, boolean exclusive, int weight) throws IOException {
        byte[] p = new byte[5 + block.length];
        System.arraycopy(priorityPayload(dependency, exclusive, weight), 0, p, 0, 5);
        System.arraycopy(block, 0, p, 5, block.length);
        frame(HEADERS, (endStream ? END_STREAM : 0) | END_HEADERS | PRIORITY_FLAG, stream, p);
    }

    void continuation(int stream, boolean endHeaders, byte[] block) throws IOException {
        frame(CONTINUATION, endHeaders ? END_HEADERS : 0, stream, block);
    }

    void data(int stream, boolean endStream, byte[] data) throws IOException {
        frame(DATA, endStream ? END_STREAM : 0, stream, data);
    }

    void dataPadded(int stream, boolean endStream, byte[] data, int padLength) throws IOException {
        byte[] p = new byte[1 + data.length + padLength];
        p[0] = (byte) padLength;
        System.arraycopy(data, 0, p, 1, data.length);
        frame(DATA, (endStream ? END_STREAM : 0) | PADDED, stream, p);
    }

    void priority(int stream, int dependency, boolean exclusive, int weight) throws IOException {
        frame(PRIORITY, 0, stream, priorityPayload(dependency, exclusive, weight));
    }

    private static byte[] priorityPayload(int dependency, boolean exclusive, int weight) {
        int d = dependency | (exclusive ? 0x80000000 : 0);
        return new byte[] {(byte) (d >>> 24), (byte) (d >>> 16), (byte) (d >>> 8), (byte) d, (byte) weight};
    }

    void rst(int stream, int code) throws IOException {
        frame(RST_STREAM, 0, stream, int32(code));
    }

    void ping(boolean ack, byte[] data) throws IOException {
        frame(PING, ack ? ACK : 0, 0, data);
    }

    void goAway(int lastStream, int code, byte[] debug) throws IOException {
        byte[] p = new byte[8 + debug.length];
        System.arraycopy(int32(lastStream), 0, p, 0, 4);
        System.arraycopy(int32(code), 0, p, 4, 4);
        System.arraycopy(debug, 0, p, 8, debug.length);
        frame(GOAWAY, 0, 0, p);
    }

    void windowUpdate(int stream, int increment) throws IOException {
        frame(WINDOW_UPDATE, 0, stream, int32(increment));
    }

    static byte[] int32(int v) {
        return new byte[] {(byte) (v >>> 24), (byte) (v >>> 16), (byte) (v >>> 8), (byte) v};
    }

    /** h2spec's CommonHeaders: GET, http, {@code path}, this connection's authority. */
    List<String[]> common(String method, String path) {
        return new java.util.ArrayList<>(List.of(new String[] {":method", method}, new String[] {":scheme", "http"},
                new String[] {":path", path}, new String[] {":authority", authority}));
    }

    /** An HPACK block of literals without indexing, in order, no Huffman. */
    static byte[] block(List<String[]> fields) {
        return dev.sidecar.testkit.RawH2.literalBlock(fields);
    }

    static byte[] concat(byte[] a, byte[] b) {
        byte[] c = new byte[a.length + b.length];
        System.arraycopy(a, 0, c, 0, a.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    // ---- reading ----

    /** The next thing the server did, waiting at most the timeout. */
    Event next() throws IOException {
        if (closed) {
            return new Closed();
        }
        try {
            socket.setSoTimeout(timeoutMillis);
            int length = in.readUnsignedShort() << 8 | in.readUnsignedByte();
            int type = in.readUnsignedByte();
            int flags = in.readUnsignedByte();
            int stream = in.readInt() & 0x7fffffff;
            byte[] payload = new byte[length];
            in.readFully(payload);
            return new Frame(type, flags, stream, payload);
        } catch (SocketTimeoutException e) {
            return new Timeout();
        } catch (EOFException e) {
            closed = true;
            return new Closed();
        } catch (IOException e) {
            closed = true; // a reset
            return new Closed();
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
