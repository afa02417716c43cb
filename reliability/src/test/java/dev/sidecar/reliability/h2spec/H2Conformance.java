package dev.sidecar.reliability.h2spec;

import static dev.sidecar.reliability.h2spec.H2Client.ACK;
import static dev.sidecar.reliability.h2spec.H2Client.DATA;
import static dev.sidecar.reliability.h2spec.H2Client.END_STREAM;
import static dev.sidecar.reliability.h2spec.H2Client.GOAWAY;
import static dev.sidecar.reliability.h2spec.H2Client.HEADERS;
import static dev.sidecar.reliability.h2spec.H2Client.PING;
import static dev.sidecar.reliability.h2spec.H2Client.RST_STREAM;
import static dev.sidecar.reliability.h2spec.H2Client.SETTINGS;
import static dev.sidecar.reliability.h2spec.H2Client.block;
import static dev.sidecar.reliability.h2spec.H2Client.concat;

import dev.sidecar.reliability.h2spec.H2Client.Closed;
import dev.sidecar.reliability.h2spec.H2Client.Event;
import dev.sidecar.reliability.h2spec.H2Client.Frame;
import dev.sidecar.reliability.h2spec.H2Client.Timeout;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * HTTP/2 conformance cases after h2spec 2.x (github.com/summerwind/h2spec: its {@code generic/},
 * {@code http2/} and {@code hpack/} packages), numbered as h2spec numbers them ({@code
 * http2/6.5.3/2}: group, then the case's position in it), each sending what h2spec sends and
 * judging the answer as h2spec's verifiers do ({@code spec/verifier.go}): a connection error
 * passes on a GOAWAY with one of the codes or the connection's end; a stream error also on a
 * RST_STREAM with one of the codes; a wait for a frame type skips other frames. The 146 cases
 * of h2spec's default run (its one "strict" case, 5.4.1/2, is not among them). A case is a MUST
 * when its requirement says MUST (all but http2/6.10/1, whose text says "must").
 *
 * <p>Requests go to {@code path} on the server (h2spec's {@code -P}); cases that need a response
 * body of a few bytes (6.5.3/1, 6.9.1/1, 6.9.2/1-2) need one there.
 */
public final class H2Conformance {
    /** h2spec's per-wait timeout is 2 s; only a failing case waits that long. */
    static final int TIMEOUT_MILLIS = 2000;
    static final int PROTOCOL_ERROR = 0x1, INTERNAL_ERROR = 0x2, FLOW_CONTROL_ERROR = 0x3, STREAM_CLOSED = 0x5, FRAME_SIZE_ERROR = 0x6,
            REFUSED_STREAM = 0x7, CANCEL = 0x8, COMPRESSION_ERROR = 0x9;
    /** The path the cases request: the test upstream answers it with 64 bytes (flow-control cases need a body). */
    public static final String PATH = "/bytes/64";
    private static final String DUMMY = "x".repeat(4000); // h2spec's default max header length

    /** One case's outcome. */
    public record Result(String id, String description, boolean must, boolean passed, String expected, String actual) {
        @Override
        public String toString() {
            return id + (passed ? " PASS " : " FAIL ") + description + (passed ? "" : " — expected " + expected + ", got " + actual);
        }
    }

    interface Body {
        /** Runs the case on a fresh connection; returns null when it passed, else what happened instead. */
        String run(H2Client c) throws IOException;
    }

    record Case(String id, String description, String expected, Body body) {
        boolean must() {
            return !id.equals("http2/6.10/1");
        }
    }

    private final int port;
    private final String path;
    private final List<Case> cases = new ArrayList<>();

    public H2Conformance(int port, String path) {
        this.port = port;
        this.path = path;
        define();
    }

    /** Every case, each on its own connection, in h2spec's order, after one ordinary request (a cold process is slow to answer its first). */
    public List<Result> run() {
        warmUp();
        List<Result> out = new ArrayList<>();
        for (Case k : cases) {
            String failure;
            try (H2Client c = new H2Client(port, TIMEOUT_MILLIS)) {
                failure = k.body().run(c);
            } catch (IOException e) {
                failure = "error: " + e.getMessage();
            }
            out.add(new Result(k.id(), k.description(), k.must(), failure == null, k.expected(), failure));
        }
        return out;
    }

    private void warmUp() {
        try (H2Client c = new H2Client(port, 10_000)) {
            c.handshake();
            c.headers(1, true, true, block(c.common("GET", path)));
            headersFrame(c, 1);
        } catch (IOException e) {
            // the cases will say what is wrong
        }
    }

    /** Every MUST case passed (only the one SHOULD, {@code http2/6.10/1}, may fail). */
    public static boolean acceptable(List<Result> results) {
        return results.stream().noneMatch(r -> !r.passed() && r.must());
    }

    public int size() {
        return cases.size();
    }

    static String codeName(int code) {
        return switch (code) {
            case 0 -> "NO_ERROR";
            case PROTOCOL_ERROR -> "PROTOCOL_ERROR";
            case INTERNAL_ERROR -> "INTERNAL_ERROR";
            case FLOW_CONTROL_ERROR -> "FLOW_CONTROL_ERROR";
            case 0x4 -> "SETTINGS_TIMEOUT";
            case STREAM_CLOSED -> "STREAM_CLOSED";
            case FRAME_SIZE_ERROR -> "FRAME_SIZE_ERROR";
            case REFUSED_STREAM -> "REFUSED_STREAM";
            case CANCEL -> "CANCEL";
            case COMPRESSION_ERROR -> "COMPRESSION_ERROR";
            case 0xb -> "ENHANCE_YOUR_CALM";
            default -> "0x" + Integer.toHexString(code);
        };
    }

    // ---- verifiers, as h2spec's ----

    private static String codes(int... codes) {
        return String.join(" or ", Arrays.stream(codes).mapToObj(H2Conformance::codeName).toList());
    }

    private static boolean in(int code, int... codes) {
        return Arrays.stream(codes).anyMatch(c -> c == code);
    }

    /** GOAWAY with one of {@code codes}, or the connection closed. */
    static String connectionError(H2Client c, int... codes) throws IOException {
        String actual = null;
        for (int i = 0; i < 10_000; i++) {
            Event e = c.next();
            if (e instanceof Closed) {
                return null;
            }
            if (e instanceof Frame f && f.type() == GOAWAY && in(f.errorCode(), codes)) {
                return null;
            }
            if (e instanceof Timeout) {
                return actual == null ? e.toString() : actual;
            }
            actual = e.toString();
        }
        return actual;
    }

    /** RST_STREAM or GOAWAY with one of {@code codes}, or the connection closed. */
    static String streamError(H2Client c, int... codes) throws IOException {
        String actual = null;
        for (int i = 0; i < 10_000; i++) {
            Event e = c.next();
            if (e instanceof Closed) {
                return null;
            }
            if (e instanceof Frame f && (f.type() == GOAWAY || f.type() == RST_STREAM) && in(f.errorCode(), codes)) {
                return null;
            }
            if (e instanceof Timeout) {
                return actual == null ? e.toString() : actual;
            }
            actual = e.toString();
        }
        return actual;
    }

    /** The connection closed (frames before it are skipped). */
    static String connectionClose(H2Client c) throws IOException {
        String actual = null;
        for (int i = 0; i < 10_000; i++) {
            Event e = c.next();
            if (e instanceof Closed) {
                return null;
            }
            if (e instanceof Timeout) {
                return actual == null ? e.toString() : actual;
            }
            actual = e.toString();
        }
        return actual;
    }

    /** A DATA or HEADERS frame ending a stream, or RST_STREAM NO_ERROR. */
    static String streamClose(H2Client c) throws IOException {
        String actual = null;
        for (int i = 0; i < 10_000; i++) {
            Event e = c.next();
            if (e instanceof Frame f && (((f.type() == DATA || f.type() == HEADERS) && f.has(END_STREAM))
                    || (f.type() == RST_STREAM && f.errorCode() == 0))) {
                return null;
            }
            if (!(e instanceof Frame)) {
                return actual == null ? e.toString() : actual;
            }
            actual = e.toString();
        }
        return actual;
    }

    /** The next frame of {@code type} (others skipped), or what ended the wait. */
    static Event byType(H2Client c, int type) throws IOException {
        for (int i = 0; i < 10_000; i++) {
            Event e = c.next();
            if (!(e instanceof Frame f) || f.type() == type) {
                return e;
            }
        }
        return new Timeout();
    }

    static String headersFrame(H2Client c, int stream) throws IOException {
        Event e = byType(c, HEADERS);
        return e instanceof Frame f && f.stream() == stream ? null : e.toString();
    }

    static String settingsAck(H2Client c) throws IOException {
        Event e = byType(c, SETTINGS);
        return e instanceof Frame f && f.has(ACK) ? null : e.toString();
    }

    static String pingAck(H2Client c, byte[] data) throws IOException {
        Event e = byType(c, PING);
        return e instanceof Frame f && f.has(ACK) && Arrays.equals(f.payload(), data) ? null : e.toString();
    }

    static String pingAckOrClose(H2Client c, byte[] data) throws IOException {
        String actual = null;
        for (int i = 0; i < 10_000; i++) {
            Event e = c.next();
            if (e instanceof Closed || (e instanceof Frame f && f.type() == PING && f.has(ACK) && Arrays.equals(f.payload(), data))) {
                return null;
            }
            if (e instanceof Timeout) {
                return actual == null ? e.toString() : actual;
            }
            actual = e.toString();
        }
        return actual;
    }

    static String eventType(H2Client c, int type) throws IOException {
        Event e = byType(c, type);
        return e instanceof Frame ? null : e.toString();
    }

    /** The next DATA frame carries exactly {@code length} bytes (flow control at work). */
    static String dataOfLength(H2Client c, int length) throws IOException {
        Event e = byType(c, DATA);
        return e instanceof Frame f && f.payload().length == length ? null : e.toString();
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }

    private static byte[] hex(String s) {
        byte[] b = new byte[s.length() / 2];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) Integer.parseInt(s.substring(2 * i, 2 * i + 2), 16);
        }
        return b;
    }

    private static final byte[] ZERO8 = new byte[8];
    private static final byte[] H2SPEC8 = {'h', '2', 's', 'p', 'e', 'c', 0, 0};

    private static List<String[]> dummy(int n) {
        List<String[]> l = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            l.add(new String[] {"x-dummy" + i, DUMMY});
        }
        return l;
    }

    private static List<String[]> plus(List<String[]> l, String name, String value) {
        List<String[]> c = new ArrayList<>(l);
        c.add(new String[] {name, value});
        return c;
    }

    private void add(String id, String description, String expected, Body body) {
        cases.add(new Case(id, description, expected, body));
    }

    private byte[] get(H2Client c) {
        return block(c.common("GET", path));
    }

    private byte[] post(H2Client c) {
        return block(c.common("POST", path));
    }

    private static final String HEADERS_1 = "HEADERS on stream 1";
    private static final String PING_ACK = "PING with ACK";
    private static final String SETTINGS_ACK = "SETTINGS with ACK";

    private static String connErr(int... codes) {
        return "GOAWAY " + codes(codes) + " or close";
    }

    private static String streamErr(int... codes) {
        return "RST_STREAM/GOAWAY " + codes(codes) + " or close";
    }

    // ---- the cases ----

    private void define() {
        generic();
        hpack();
        http2();
    }

    private void generic() {
        add("generic/1/1", "Sends a client connection preface", "SETTINGS (not ACK)", c -> {
            c.send(H2Client.PREFACE);
            c.settings(H2Client.SETTINGS_INITIAL_WINDOW_SIZE, 65_535);
            Event e = c.next();
            return e instanceof Frame f && f.type() == SETTINGS && !f.has(ACK) ? null : e.toString();
        });
        add("generic/2/1", "Sends a PRIORITY frame on idle stream", PING_ACK, c -> {
            c.handshake();
            c.priority(1, 0, false, 255);
            c.ping(false, ZERO8);
            return pingAck(c, ZERO8);
        });
        add("generic/2/2", "Sends a WINDOW_UPDATE frame on half-closed (remote) stream", "DATA", c -> {
            c.handshake();
            c.settings(H2Client.SETTINGS_INITIAL_WINDOW_SIZE, 0);
            c.headers(1, true, true, get(c));
            c.windowUpdate(1, 1);
            return eventType(c, DATA);
        });
        add("generic/2/3", "Sends a PRIORITY frame on half-closed (remote) stream", "DATA", c -> {
            c.handshake();
            c.settings(H2Client.SETTINGS_INITIAL_WINDOW_SIZE, 0);
            c.headers(1, true, true, get(c));
            c.priority(1, 0, false, 255);
            c.windowUpdate(1, 1);
            return eventType(c, DATA);
        });
        add("generic/2/4", "Sends a RST_STREAM frame on half-closed (remote) stream", "PING with ACK or close", c -> {
            c.handshake();
            c.headers(1, true, true, get(c));
            c.rst(1, CANCEL);
            c.ping(false, ZERO8);
            return pingAckOrClose(c, ZERO8);
        });
        add("generic/2/5", "Sends a PRIORITY frame on closed stream", "stream closed, then PING with ACK", c -> {
            c.handshake();
            c.headers(1, true, true, get(c));
            String r = streamClose(c);
            if (r != null) {
                return r;
            }
            c.priority(1, 0, false, 255);
            c.ping(false, ZERO8);
            return pingAck(c, ZERO8);
        });
        add("generic/3.1/1", "Sends a DATA frame", HEADERS_1, c -> {
            c.handshake();
            c.headers(1, false, true, post(c));
            c.data(1, true, ascii("test"));
            return headersFrame(c, 1);
        });
        add("generic/3.1/2", "Sends multiple DATA frames", HEADERS_1, c -> {
            c.handshake();
            c.headers(1, false, true, post(c));
            c.data(1, false, ascii("test"));
            c.data(1, true, ascii("test"));
            return headersFrame(c, 1);
        });
        add("generic/3.1/3", "Sends a DATA frame with padding", HEADERS_1, c -> {
            c.handshake();
            c.headers(1, false, true, post(c));
            c.dataPadded(1, true, ascii("test"), 5);
            return headersFrame(c, 1);
        });
        add("generic/3.2/1", "Sends a HEADERS frame", HEADERS_1, c -> {
            c.handshake();
            c.headers(1, true, true, get(c));
            return headersFrame(c, 1);
        });
        add("generic/3.2/2", "Sends a HEADERS frame with padding", HEADERS_1, c -> {
            c.handshake();
            c.headersPadded(1, true, get(c), 8);
            return headersFrame(c, 1);
        });
        add("generic/3.2/3", "Sends a HEADERS frame with priority", HEADERS_1, c -> {
            c.handshake();
            c.headersWithPriority(1, true, get(c), 0, false, 255);
            return headersFrame(c, 1);
        });
        int[][] priorities = {{1, 0, 0, 0}, {1, 0, 0, 255}, {3, 1, 0, 0}, {1, 0, 1, 0}, {3, 0, 0, 255}};
        String[] priorityNames = {"Sends a PRIORITY frame with priority 1", "Sends a PRIORITY frame with priority 256",
                "Sends a PRIORITY frame with stream dependency", "Sends a PRIORITY frame with exclusive",
                "Sends a PRIORITY frame for an idle stream, then send a HEADER frame for a lower stream ID"};
        for (int i = 0; i < priorities.length; i++) {
            int[] p = priorities[i];
            add("generic/3.3/" + (i + 1), priorityNames[i], HEADERS_1, c -> {
                c.handshake();
                c.priority(p[0], p[1], p[2] == 1, p[3]);
                c.headers(1, true, true, get(c));
                return headersFrame(c, 1);
            });
        }
        add("generic/3.4/1", "Sends a RST_STREAM frame", "PING with ACK or close", c -> {
            c.handshake();
            c.headers(1, false, true, get(c));
            c.rst(1, CANCEL);
            c.ping(false, ZERO8);
            return pingAckOrClose(c, ZERO8);
        });
        add("generic/3.5/1", "Sends a SETTINGS frame", SETTINGS_ACK, c -> {
            c.handshake();
            c.settings(H2Client.SETTINGS_HEADER_TABLE_SIZE, 4096, H2Client.SETTINGS_ENABLE_PUSH, 1, H2Client.SETTINGS_MAX_CONCURRENT_STREAMS, 100,
                    H2Client.SETTINGS_INITIAL_WINDOW_SIZE, 65_535, H2Client.SETTINGS_MAX_FRAME_SIZE, 16_384, H2Client.SETTINGS_MAX_HEADER_LIST_SIZE, 100);
            return settingsAck(c);
        });
        add("generic/3.7/1", "Sends a PING frame", PING_ACK, c -> {
            c.handshake();
            c.ping(false, H2SPEC8);
            return pingAck(c, H2SPEC8);
        });
        add("generic/3.8/1", "Sends a GOAWAY frame", "PING with ACK or close", c -> {
            c.handshake();
            c.goAway(0, 0, ascii("h2spec"));
            c.ping(false, H2SPEC8);
            return pingAckOrClose(c, H2SPEC8);
        });
        add("generic/3.9/1", "Sends a WINDOW_UPDATE frame with stream ID 0", PING_ACK, c -> {
            c.handshake();
            c.windowUpdate(0, 1);
            c.ping(false, ZERO8);
            return pingAck(c, ZERO8);
        });
        add("generic/3.9/2", "Sends a WINDOW_UPDATE frame with stream ID 1", HEADERS_1, c -> {
            c.handshake();
            c.headers(1, true, true, get(c));
            c.windowUpdate(1, 1);
            return headersFrame(c, 1);
        });
        add("generic/3.10/1", "Sends a CONTINUATION frame", HEADERS_1, c -> {
            c.handshake();
            byte[] b = get(c);
            c.headers(1, true, false, Arrays.copyOfRange(b, 0, 5));
            c.continuation(1, true, Arrays.copyOfRange(b, 5, b.length));
            return headersFrame(c, 1);
        });
        add("generic/3.10/2", "Sends multiple CONTINUATION frames", HEADERS_1, c -> {
            c.handshake();
            byte[] b = get(c);
            c.headers(1, true, false, Arrays.copyOfRange(b, 0, 5));
            c.continuation(1, false, Arrays.copyOfRange(b, 5, 10));
            c.continuation(1, true, Arrays.copyOfRange(b, 10, b.length));
            return headersFrame(c, 1);
        });
        add("generic/4/1", "Sends a GET request", HEADERS_1, c -> {
            c.handshake();
            c.headers(1, true, true, get(c));
            return headersFrame(c, 1);
        });
        add("generic/4/2", "Sends a HEAD request", HEADERS_1, c -> {
            c.handshake();
            c.headers(1, true, true, block(c.common("HEAD", path)));
            return headersFrame(c, 1);
        });
        add("generic/4/3", "Sends a POST request", HEADERS_1, c -> {
            c.handshake();
            c.headers(1, false, true, post(c));
            c.data(1, true, ascii("test"));
            return headersFrame(c, 1);
        });
        add("generic/4/4", "Sends a POST request with trailers", HEADERS_1, c -> {
            c.handshake();
            c.headers(1, false, true, block(plus(c.common("POST", path), "trailer", "x-test")));
            c.data(1, false, ascii("test"));
            c.headers(1, true, true, block(List.<String[]>of(new String[] {"x-test", "ok"})));
            return headersFrame(c, 1);
        });
        // generic/5: header field representations appended to the common block (h2spec's bytes)
        String[][] reps = {
                {"Sends a indexed header field representation", "ba"},
                {"Sends a literal header field with incremental indexing - indexed name", "4087b505b161cc5a93849c48aca4"},
                {"Sends a literal header field with incremental indexing - indexed name (with Huffman coding)", "400a757365722d6167656e7406683273706563"},
                {"Sends a literal header field with incremental indexing - new name", "4006782d7465737406683273706563"},
                {"Sends a literal header field with incremental indexing - new name (with Huffman coding)", "4085f2b24a84ff849c48aca4"},
                {"Sends a literal header field without indexing - indexed name", "000a757365722d6167656e7406683273706563"},
                {"Sends a literal header field without indexing - indexed name (with Huffman coding)", "0087b505b161cc5a93849c48aca4"},
                {"Sends a literal header field without indexing - new name", "0006782d7465737406683273706563"},
                {"Sends a literal header field without indexing - new name (huffman encoded)", "0085f2b24a84ff849c48aca4"},
                {"Sends a literal header field never indexed - indexed name", "100a757365722d6167656e7406683273706563"},
                {"Sends a literal header field never indexed - indexed name (huffman encoded)", "1087b505b161cc5a93849c48aca4"},
                {"Sends a literal header field never indexed - new name", "1085f2b24a84ff849c48aca4"},
                {"Sends a literal header field never indexed - new name (huffman encoded)", "1085f2b24a84ff849c48aca4"}};
        for (int i = 0; i < reps.length; i++) {
            byte[] rep = hex(reps[i][1]);
            add("generic/5/" + (i + 1), reps[i][0], HEADERS_1, c -> {
                c.handshake();
                c.headers(1, true, true, concat(get(c), rep));
                return headersFrame(c, 1);
            });
        }
        add("generic/5/14", "Sends a dynamic table size update", HEADERS_1, c -> {
            c.handshake();
            c.headers(1, true, true, concat(hex("3f61"), get(c)));
            return headersFrame(c, 1);
        });
        add("generic/5/15", "Sends multiple dynamic table size update", HEADERS_1, c -> {
            c.handshake();
            c.headers(1, true, true, concat(hex("3f613fe11f"), get(c)));
            return headersFrame(c, 1);
        });
    }

    private void hpack() {
        String compression = connErr(COMPRESSION_ERROR);
        String[][] appended = {
                {"hpack/2.3.3/1", "Sends a indexed header field representation with invalid index", "c6"},
                {"hpack/2.3.3/2", "Sends a literal header field representation with invalid index", "7f0700"},
                {"hpack/4.2/1", "Sends a dynamic table size update at the end of header block", "21"},
                {"hpack/5.2/1", "Sends a Huffman-encoded string literal representation with padding longer than 7 bits", "0085f2b24a84ff8449509fff"},
                {"hpack/5.2/2", "Sends a Huffman-encoded string literal representation padded by zero", "0085f2b24a84ff83495090"},
                {"hpack/5.2/3", "Sends a Huffman-encoded string literal representation containing the EOS symbol", "0085f2b24a84ff874951fffffffa7f"},
                {"hpack/6.1/1", "Sends a indexed header field representation with index 0", "80"}};
        for (String[] a : appended) {
            byte[] rep = hex(a[2]);
            add(a[0], a[1], compression, c -> {
                c.handshake();
                c.headers(1, true, true, concat(get(c), rep));
                return connectionError(c, COMPRESSION_ERROR);
            });
        }
        add("hpack/6.3/1", "Sends a dynamic table size update larger than the value of SETTINGS_HEADER_TABLE_SIZE", compression, c -> {
            c.handshake();
            long size = c.serverSettings.getOrDefault(H2Client.SETTINGS_HEADER_TABLE_SIZE, 4096L) + 1;
            java.io.ByteArrayOutputStream rep = new java.io.ByteArrayOutputStream();
            rep.write(0x20 | 31);
            size -= 31;
            while (size >= 128) {
                rep.write((int) (0x80 | (size & 0x7f)));
                size >>= 7;
            }
            rep.write((int) size);
            c.headers(1, true, true, concat(rep.toByteArray(), get(c)));
            return connectionError(c, COMPRESSION_ERROR);
        });
    }

    private void http2() {
        add("http2/3.5/1", "Sends client connection preface", "SETTINGS (not ACK)", c -> {
            c.send(H2Client.PREFACE);
            c.settings(H2Client.SETTINGS_INITIAL_WINDOW_SIZE, 65_535);
            Event e = c.next();
            return e instanceof Frame f && f.type() == SETTINGS && !f.has(ACK) ? null : e.toString();
        });
        add("http2/3.5/2", "Sends invalid connection preface", connErr(PROTOCOL_ERROR), c -> {
            c.send(ascii("INVALID CONNECTION PREFACE\r\n\r\n"));
            return connectionError(c, PROTOCOL_ERROR);
        });
        add("http2/4.1/1", "Sends a frame with unknown type", PING_ACK, c -> {
            c.handshake();
            c.send(hex("000008160000000000" + "0000000000000000"));
            c.ping(false, ZERO8);
            return pingAck(c, ZERO8);
        });
        add("http2/4.1/2", "Sends a frame with undefined flag", "PING", c -> {
            c.handshake();
            c.send(hex("000008061600000000" + "0000000000000000"));
            return eventType(c, PING);
        });
        add("http2/4.1/3", "Sends a frame with reserved field bit", "PING", c -> {
            c.handshake();
            c.send(hex("000008061680000000" + "0000000000000000"));
            return eventType(c, PING);
        });
        add("http2/4.2/1", "Sends a DATA frame with 2^14 octets in length", HEADERS_1, c -> {
            c.handshake();
            c.headers(1, false, true, post(c));
            c.data(1, true, ascii("x".repeat(maxFrameSize(c))));
            return headersFrame(c, 1);
        });
        add("http2/4.2/2", "Sends a large size DATA frame that exceeds the SETTINGS_MAX_FRAME_SIZE", streamErr(FRAME_SIZE_ERROR), c -> {
            c.handshake();
            c.headers(1, false, true, post(c));
            c.data(1, true, ascii("x".repeat(maxFrameSize(c) + 1)));
            return streamError(c, FRAME_SIZE_ERROR);
        });
        add("http2/4.2/3", "Sends a large size HEADERS frame that exceeds the SETTINGS_MAX_FRAME_SIZE", connErr(FRAME_SIZE_ERROR), c -> {
            c.handshake();
            List<String[]> h = c.common("GET", path);
            h.addAll(dummy(5));
            c.headers(1, true, true, block(h));
            return connectionError(c, FRAME_SIZE_ERROR);
        });
        add("http2/4.3/1", "Sends invalid header block fragment", connErr(COMPRESSION_ERROR), c -> {
            c.handshake();
            c.send(hex("00000101050000000140"));
            return connectionError(c, COMPRESSION_ERROR);
        });
        add("http2/4.3/2", "Sends a PRIORITY frame while sending the header blocks", connErr(PROTOCOL_ERROR), c -> {
            c.handshake();
            c.headers(1, false, false, get(c));
            c.priority(1, 0, false, 255);
            c.continuation(1, true, block(dummy(1)));
            return connectionError(c, PROTOCOL_ERROR);
        });
        add("http2/4.3/3", "Sends a HEADERS frame to another stream while sending the header blocks", connErr(PROTOCOL_ERROR), c -> {
            c.handshake();
            c.headers(1, false, false, get(c));
            c.headers(3, true, true, get(c));
            c.continuation(1, true, block(dummy(1)));
            return connectionError(c, PROTOCOL_ERROR);
        });
        // 5.1 stream states
        add("http2/5.1/1", "idle: Sends a DATA frame", streamErr(PROTOCOL_ERROR, STREAM_CLOSED), c -> {
            c.handshake();
            c.data(1, true, ascii("test"));
            return streamError(c, PROTOCOL_ERROR, STREAM_CLOSED);
        });
        add("http2/5.1/2", "idle: Sends a RST_STREAM frame", connErr(PROTOCOL_ERROR), c -> {
            c.handshake();
            c.rst(1, CANCEL);
            return connectionError(c, PROTOCOL_ERROR);
        });
        add("http2/5.1/3", "idle: Sends a WINDOW_UPDATE frame", connErr(PROTOCOL_ERROR), c -> {
            c.handshake();
            c.windowUpdate(1, 100);
            return connectionError(c, PROTOCOL_ERROR);
        });
        add("http2/5.1/4", "idle: Sends a CONTINUATION frame", connErr(PROTOCOL_ERROR), c -> {
            c.handshake();
            c.continuation(1, true, get(c));
            return connectionError(c, PROTOCOL_ERROR);
        });
        add("http2/5.1/5", "half closed (remote): Sends a DATA frame", streamErr(STREAM_CLOSED), c -> {
            c.handshake();
            c.headers(1, true, true, get(c));
            c.data(1, true, ascii("test"));
            return streamError(c, STREAM_CLOSED);
        });
        add("http2/5.1/6", "half closed (remote): Sends a HEADERS frame", streamErr(STREAM_CLOSED), c -> {
            c.handshake();
            c.headers(1, true, true, get(c));
            c.headers(1, true, true, get(c));
            return streamError(c, STREAM_CLOSED);
        });
        add("http2/5.1/7", "half closed (remote): Sends a CONTINUATION frame", streamErr(STREAM_CLOSED, PROTOCOL_ERROR), c -> {
            c.handshake();
            byte[] b = get(c);
            c.headers(1, true, true, b);
            c.continuation(1, true, b);
            return streamError(c, STREAM_CLOSED, PROTOCOL_ERROR);
        });
        add("http2/5.1/8", "closed: Sends a DATA frame after sending RST_STREAM frame", streamErr(STREAM_CLOSED), c -> {
            c.handshake();
            c.headers(1, false, true, get(c));
            c.rst(1, CANCEL);
            c.data(1, true, ascii("test"));
            return streamError(c, STREAM_CLOSED);
        });
        add("http2/5.1/9", "closed: Sends a HEADERS frame after sending RST_STREAM frame", streamErr(STREAM_CLOSED), c -> {
            c.handshake();
            c.headers(1, false, true, get(c));
            c.rst(1, CANCEL);
            c.headers(1, true, true, get(c));
            return streamError(c, STREAM_CLOSED);
        });
        add("http2/5.1/10", "closed: Sends a CONTINUATION frame after sending RST_STREAM frame", streamErr(STREAM_CLOSED, PROTOCOL_ERROR), c -> {
            c.handshake();
            c.headers(1, false, true, get(c));
            c.rst(1, CANCEL);
            c.continuation(1, true, block(dummy(1)));
            return streamError(c, STREAM_CLOSED, PROTOCOL_ERROR);
        });
        add("http2/5.1/11", "closed: Sends a DATA frame", streamErr(STREAM_CLOSED), c -> {
            c.handshake();
            c.headers(1, true, true, get(c));
            String r = streamClose(c);
            if (r != null) {
                return r;
            }
            c.data(1, true, ascii("test"));
            return streamError(c, STREAM_CLOSED);
        });
        add("http2/5.1/12", "closed: Sends a HEADERS frame", connErr(STREAM_CLOSED), c -> {
            c.handshake();
            c.headers(1, true, true, get(c));
            String r = streamClose(c);
            if (r != null) {
                return r;
            }
            c.headers(1, true, true, get(c));
            return connectionError(c, STREAM_CLOSED);
        });
        add("http2/5.1/13", "closed: Sends a CONTINUATION frame", connErr(STREAM_CLOSED, PROTOCOL_ERROR), c -> {
            c.handshake();
            c.headers(1, true, true, get(c));
            String r = streamClose(c);
            if (r != null) {
                return r;
            }
            c.continuation(1, true, block(dummy(1)));
            return connectionError(c, STREAM_CLOSED, PROTOCOL_ERROR);
        });
        add("http2/5.1.1/1", "Sends even-numbered stream identifier", connErr(PROTOCOL_ERROR), c -> {
            c.handshake();
            c.headers(2, true, true, get(c));
            return connectionError(c, PROTOCOL_ERROR);
        });
        add("http2/5.1.1/2", "Sends stream identifier that is numerically smaller than previous", connErr(PROTOCOL_ERROR), c -> {
            c.handshake();
            c.headers(5, true, true, get(c));
            c.headers(3, true, true, get(c));
            return connectionError(c, PROTOCOL_ERROR);
        });
        add("http2/5.1.2/1", "Sends HEADERS frames that causes their advertised concurrent stream limit to be exceeded",
                streamErr(PROTOCOL_ERROR, REFUSED_STREAM), c -> {
            c.handshake();
            Long max = c.serverSettings.get(H2Client.SETTINGS_MAX_CONCURRENT_STREAMS);
            if (max == null) {
                return "the server set no SETTINGS_MAX_CONCURRENT_STREAMS (h2spec skips the case)";
            }
            c.settings(H2Client.SETTINGS_INITIAL_WINDOW_SIZE, 0);
            byte[] b = get(c);
            int stream = 1;
            for (long i = 0; i <= max; i++) {
                c.headers(stream, true, true, b);
                stream += 2;
            }
            return streamError(c, PROTOCOL_ERROR, REFUSED_STREAM);
        });
        add("http2/5.3.1/1", "Sends HEADERS frame that depends on itself", streamErr(PROTOCOL_ERROR), c -> {
            c.handshake();
            c.headersWithPriority(1, true, get(c), 1, false, 255);
            return streamError(c, PROTOCOL_ERROR);
        });
        add("http2/5.3.1/2", "Sends PRIORITY frame that depend on itself", streamErr(PROTOCOL_ERROR), c -> {
            c.handshake();
            c.priority(1, 1, false, 255);
            return streamError(c, PROTOCOL_ERROR);
        });
        add("http2/5.4.1/1", "Sends an invalid PING frame for connection close", "connection closed", c -> {
            c.handshake();
            c.send(hex("000008060000000003" + "0000000000000000"));
            return connectionClose(c);
        });
        add("http2/5.5/1", "Sends an unknown extension frame", PING_ACK, c -> {
            c.handshake();
            c.send(hex("000008160000000000" + "0000000000000000"));
            c.ping(false, ZERO8);
            return pingAck(c, ZERO8);
        });
        add("http2/5.5/2", "Sends an unknown extension frame in the middle of a header block", connErr(PROTOCOL_ERROR), c -> {
            c.handshake();
            c.headers(1, true, false, get(c));
            c.send(hex("000008160000000000" + "0000000000000000"));
            return connectionError(c, PROTOCOL_ERROR);
        });
        // 6.1 DATA
        add("http2/6.1/1", "Sends a DATA frame with 0x0 stream identifier", connErr(PROTOCOL_ERROR), c -> {
            c.handshake();
            c.data(0, true, ascii("test"));
            return connectionError(c, PROTOCOL_ERROR);
        });
        add("http2/6.1/2", "Sends a DATA frame on the stream that is not in \"open\" or \"half-closed (local)\" state", streamErr(STREAM_CLOSED), c -> {
            c.handshake();
            c.headers(1, true, true, post(c));
            c.data(1, true, ascii("test"));
            return streamError(c, STREAM_CLOSED);
        });
        add("http2/6.1/3", "Sends a DATA frame with invalid pad length", connErr(PROTOCOL_ERROR), c -> {
            c.handshake();
            c.headers(1, false, true, block(plus(c.common("POST", path), "content-length", "4")));
            c.send(hex("000005000900000001" + "0654657374"));
            return connectionError(c, PROTOCOL_ERROR);
        });
        // 6.2 HEADERS
        add("http2/6.2/1", "Sends a HEADERS frame without the END_HEADERS flag, and a PRIORITY frame", connErr(PROTOCOL_ERROR), c -> {
            c.handshake();
            c.headers(1, false, false, get(c));
            c.priority(1, 0, false, 255);
            c.continuation(1, true, block(dummy(1)));
            return connectionError(c, PROTOCOL_ERROR);
        });
        add("http2/6.2/2", "Sends a HEADERS frame to another stream while sending a HEADERS frame", connErr(PROTOCOL_ERROR), c -> {
            c.handshake();
            c.headers(1, false, false, get(c));
            c.headers(3, true, true, get(c));
            c.continuation(1, true, block(dummy(1)));
            return connectionError(c, PROTOCOL_ERROR);
        });
        add("http2/6.2/3", "Sends a HEADERS frame with 0x0 stream identifier", connErr(PROTOCOL_ERROR), c -> {
            c.handshake();
            c.headers(0, true, true, get(c));
            return connectionError(c, PROTOCOL_ERROR);
        });
        add("http2/6.2/4", "Sends a HEADERS frame with invalid pad length", streamErr(PROTOCOL_ERROR), c -> {
            c.handshake();
            byte[] b = get(c);
            byte[] fh = hex("000000010d00000001");
            fh[2] = (byte) (b.length + 1);
            c.send(fh);
            c.send(new byte[] {(byte) (b.length + 2)});
            c.send(b);
            return streamError(c, PROTOCOL_ERROR);
        });
        // 6.3 PRIORITY
        add("http2/6.3/1", "Sends a PRIORITY frame with 0x0 stream identifier", connErr(PROTOCOL_ERROR), c -> {
            c.handshake();
            c.priority(0, 0, false, 255);
            return connectionError(c, PROTOCOL_ERROR);
        });
        add("http2/6.3/2", "Sends a PRIORITY frame with a length other than 5 octets", streamErr(FRAME_SIZE_ERROR), c -> {
            c.handshake();
            c.headers(1, true, true, get(c));
            c.send(hex("000004020000000001" + "80000001"));
            return streamError(c, FRAME_SIZE_ERROR);
        });
        // 6.4 RST_STREAM
        add("http2/6.4/1", "Sends a RST_STREAM frame with 0x0 stream identifier", connErr(PROTOCOL_ERROR), c -> {
            c.handshake();
            c.rst(0, CANCEL);
            return connectionError(c, PROTOCOL_ERROR);
        });
        add("http2/6.4/2", "Sends a RST_STREAM frame on a idle stream", connErr(PROTOCOL_ERROR), c -> {
            c.handshake();
            c.rst(1, CANCEL);
            return connectionError(c, PROTOCOL_ERROR);
        });
        add("http2/6.4/3", "Sends a RST_STREAM frame with a length other than 4 octets", streamErr(FRAME_SIZE_ERROR), c -> {
            c.handshake();
            c.headers(1, true, true, get(c));
            c.send(hex("000003030000000001" + "000000"));
            return streamError(c, FRAME_SIZE_ERROR);
        });
        // 6.5 SETTINGS
        add("http2/6.5/1", "Sends a SETTINGS frame with ACK flag and payload", connErr(FRAME_SIZE_ERROR), c -> {
            c.handshake();
            c.send(hex("000001040100000000" + "00"));
            return connectionError(c, FRAME_SIZE_ERROR);
        });
        add("http2/6.5/2", "Sends a SETTINGS frame with a stream identifier other than 0x0", connErr(PROTOCOL_ERROR), c -> {
            c.handshake();
            c.send(hex("000006040000000001" + "000300000064"));
            return connectionError(c, PROTOCOL_ERROR);
        });
        add("http2/6.5/3", "Sends a SETTINGS frame with a length other than a multiple of 6 octets", streamErr(PROTOCOL_ERROR, FRAME_SIZE_ERROR), c -> {
            c.handshake();
            c.send(hex("000003040000000000" + "000300"));
            return streamError(c, PROTOCOL_ERROR, FRAME_SIZE_ERROR);
        });
        add("http2/6.5.2/1", "SETTINGS_ENABLE_PUSH (0x2): Sends the value other than 0 or 1", connErr(PROTOCOL_ERROR), c -> {
            c.handshake();
            c.settings(H2Client.SETTINGS_ENABLE_PUSH, 2);
            return connectionError(c, PROTOCOL_ERROR);
        });
        add("http2/6.5.2/2", "SETTINGS_INITIAL_WINDOW_SIZE (0x4): Sends the value above the maximum flow control window size",
                connErr(FLOW_CONTROL_ERROR), c -> {
            c.handshake();
            c.settings(H2Client.SETTINGS_INITIAL_WINDOW_SIZE, 0x80000000);
            return connectionError(c, FLOW_CONTROL_ERROR);
        });
        add("http2/6.5.2/3", "SETTINGS_MAX_FRAME_SIZE (0x5): Sends the value below the initial value", connErr(PROTOCOL_ERROR), c -> {
            c.handshake();
            c.settings(H2Client.SETTINGS_MAX_FRAME_SIZE, 16_383);
            return connectionError(c, PROTOCOL_ERROR);
        });
        add("http2/6.5.2/4", "SETTINGS_MAX_FRAME_SIZE (0x5): Sends the value above the maximum allowed frame size", connErr(PROTOCOL_ERROR), c -> {
            c.handshake();
            c.settings(H2Client.SETTINGS_MAX_FRAME_SIZE, 16_777_216);
            return connectionError(c, PROTOCOL_ERROR);
        });
        add("http2/6.5.2/5", "Sends a SETTINGS frame with unknown identifier", PING_ACK, c -> {
            c.handshake();
            c.settings(0xff, 1);
            c.ping(false, ZERO8);
            return pingAck(c, ZERO8);
        });
        add("http2/6.5.3/1", "Sends multiple values of SETTINGS_INITIAL_WINDOW_SIZE", "SETTINGS ACK, then DATA of 1 byte", c -> {
            c.handshake();
            c.settings(H2Client.SETTINGS_INITIAL_WINDOW_SIZE, 100, H2Client.SETTINGS_INITIAL_WINDOW_SIZE, 1);
            String r = settingsAck(c);
            if (r != null) {
                return r;
            }
            c.headers(1, true, true, get(c));
            return dataOfLength(c, 1);
        });
        add("http2/6.5.3/2", "Sends a SETTINGS frame without ACK flag", SETTINGS_ACK, c -> {
            c.handshake();
            c.settings(H2Client.SETTINGS_ENABLE_PUSH, 0);
            return settingsAck(c);
        });
        // 6.7 PING
        add("http2/6.7/1", "Sends a PING frame", PING_ACK, c -> {
            c.handshake();
            c.ping(false, H2SPEC8);
            return pingAck(c, H2SPEC8);
        });
        add("http2/6.7/2", "Sends a PING frame with ACK", "PING with ACK of the second PING only", c -> {
            c.handshake();
            c.ping(true, new byte[] {'i', 'n', 'v', 'a', 'l', 'i', 'd', 0});
            c.ping(false, H2SPEC8);
            return pingAck(c, H2SPEC8);
        });
        add("http2/6.7/3", "Sends a PING frame with a stream identifier field value other than 0x0", connErr(PROTOCOL_ERROR), c -> {
            c.handshake();
            c.send(hex("000008060000000001" + "0000000000000000"));
            return connectionError(c, PROTOCOL_ERROR);
        });
        add("http2/6.7/4", "Sends a PING frame with a length field value other than 8", connErr(FRAME_SIZE_ERROR), c -> {
            c.handshake();
            c.send(hex("000006060000000000" + "000000000000"));
            return connectionError(c, FRAME_SIZE_ERROR);
        });
        add("http2/6.8/1", "Sends a GOAWAY frame with a stream identifier other than 0x0", connErr(PROTOCOL_ERROR), c -> {
            c.handshake();
            c.send(hex("000008070000000001" + "0000000000000000"));
            return connectionError(c, PROTOCOL_ERROR);
        });
        // 6.9 WINDOW_UPDATE
        add("http2/6.9/1", "Sends a WINDOW_UPDATE frame with a flow control window increment of 0", connErr(PROTOCOL_ERROR), c -> {
            c.handshake();
            c.windowUpdate(0, 0);
            return connectionError(c, PROTOCOL_ERROR);
        });
        add("http2/6.9/2", "Sends a WINDOW_UPDATE frame with a flow control window increment of 0 on a stream", streamErr(PROTOCOL_ERROR), c -> {
            c.handshake();
            c.headers(1, false, true, get(c));
            c.windowUpdate(1, 0);
            return streamError(c, PROTOCOL_ERROR);
        });
        add("http2/6.9/3", "Sends a WINDOW_UPDATE frame with a length other than 4 octets", connErr(FRAME_SIZE_ERROR), c -> {
            c.handshake();
            c.send(hex("000003080000000000" + "000001"));
            return connectionError(c, FRAME_SIZE_ERROR);
        });
        add("http2/6.9.1/1", "Sends SETTINGS frame to set the initial window size to 1 and sends HEADERS frame", "SETTINGS ACK, then DATA of 1 byte", c -> {
            c.handshake();
            c.settings(H2Client.SETTINGS_INITIAL_WINDOW_SIZE, 1);
            String r = settingsAck(c);
            if (r != null) {
                return r;
            }
            c.headers(1, true, true, get(c));
            return dataOfLength(c, 1);
        });
        add("http2/6.9.1/2", "Sends multiple WINDOW_UPDATE frames increasing the flow control window to above 2^31-1",
                "GOAWAY FLOW_CONTROL_ERROR", c -> {
            c.handshake();
            c.windowUpdate(0, 0x7fffffff);
            c.windowUpdate(0, 0x7fffffff);
            Event e = byType(c, GOAWAY);
            return e instanceof Frame f && f.errorCode() == FLOW_CONTROL_ERROR ? null : e.toString();
        });
        add("http2/6.9.1/3", "Sends multiple WINDOW_UPDATE frames increasing the flow control window to above 2^31-1 on a stream",
                "RST_STREAM FLOW_CONTROL_ERROR", c -> {
            c.handshake();
            c.headers(1, false, true, get(c));
            c.windowUpdate(1, 0x7fffffff);
            c.windowUpdate(1, 0x7fffffff);
            Event e = byType(c, RST_STREAM);
            return e instanceof Frame f && f.stream() == 1 && f.errorCode() == FLOW_CONTROL_ERROR ? null : e.toString();
        });
        add("http2/6.9.2/1", "Changes SETTINGS_INITIAL_WINDOW_SIZE after sending HEADERS frame", "SETTINGS ACK, then DATA of 1 byte", c -> {
            c.handshake();
            c.settings(H2Client.SETTINGS_INITIAL_WINDOW_SIZE, 0);
            String r = settingsAck(c);
            if (r != null) {
                return r;
            }
            c.headers(1, true, true, get(c));
            c.settings(H2Client.SETTINGS_INITIAL_WINDOW_SIZE, 1);
            return dataOfLength(c, 1);
        });
        add("http2/6.9.2/2", "Sends a SETTINGS frame for window size to be negative", "DATA, SETTINGS ACK, then DATA of 1 byte", c -> {
            c.handshake();
            c.settings(H2Client.SETTINGS_INITIAL_WINDOW_SIZE, 3);
            String r = settingsAck(c);
            if (r != null) {
                return r;
            }
            c.headers(1, true, true, get(c));
            r = eventType(c, DATA);
            if (r != null) {
                return r;
            }
            c.settings(H2Client.SETTINGS_INITIAL_WINDOW_SIZE, 2);
            r = settingsAck(c);
            if (r != null) {
                return r;
            }
            c.windowUpdate(1, 2);
            return dataOfLength(c, 1);
        });
        add("http2/6.9.2/3", "Sends a SETTINGS_INITIAL_WINDOW_SIZE settings with an exceeded maximum window size value", connErr(FLOW_CONTROL_ERROR), c -> {
            c.handshake();
            c.send(hex("000006040000000000" + "000480000000"));
            return connectionError(c, FLOW_CONTROL_ERROR);
        });
        // 6.10 CONTINUATION
        add("http2/6.10/1", "Sends multiple CONTINUATION frames preceded by a HEADERS frame", HEADERS_1, c -> {
            c.handshake();
            c.headers(1, true, false, get(c));
            c.continuation(1, false, block(dummy(1)));
            c.continuation(1, true, block(dummy(1)));
            return headersFrame(c, 1);
        });
        add("http2/6.10/2", "Sends a CONTINUATION frame followed by any frame other than CONTINUATION", connErr(PROTOCOL_ERROR), c -> {
            c.handshake();
            c.headers(1, false, false, post(c));
            c.continuation(1, false, block(dummy(1)));
            c.data(1, true, ascii("test"));
            return connectionError(c, PROTOCOL_ERROR);
        });
        add("http2/6.10/3", "Sends a CONTINUATION frame with 0x0 stream identifier", connErr(PROTOCOL_ERROR), c -> {
            c.handshake();
            c.headers(1, true, false, get(c));
            c.continuation(0, true, block(dummy(1)));
            return connectionError(c, PROTOCOL_ERROR);
        });
        add("http2/6.10/4", "Sends a CONTINUATION frame preceded by a HEADERS frame with END_HEADERS flag", connErr(PROTOCOL_ERROR), c -> {
            c.handshake();
            c.headers(1, true, true, get(c));
            c.continuation(1, true, block(dummy(1)));
            return connectionError(c, PROTOCOL_ERROR);
        });
        add("http2/6.10/5", "Sends a CONTINUATION frame preceded by a CONTINUATION frame with END_HEADERS flag", connErr(PROTOCOL_ERROR), c -> {
            c.handshake();
            c.headers(1, true, false, get(c));
            c.continuation(1, true, block(dummy(1)));
            c.continuation(1, true, block(dummy(1)));
            return connectionError(c, PROTOCOL_ERROR);
        });
        add("http2/6.10/6", "Sends a CONTINUATION frame preceded by a DATA frame", connErr(PROTOCOL_ERROR), c -> {
            c.handshake();
            c.headers(1, false, true, post(c));
            c.data(1, true, ascii("test"));
            c.continuation(1, false, block(dummy(1)));
            c.continuation(0, true, block(dummy(1)));
            return connectionError(c, PROTOCOL_ERROR);
        });
        add("http2/7/1", "Sends a GOAWAY frame with unknown error code", "PING with ACK or close", c -> {
            c.handshake();
            c.goAway(0, 0xff, new byte[0]);
            c.ping(false, H2SPEC8);
            return pingAckOrClose(c, H2SPEC8);
        });
        add("http2/7/2", "Sends a RST_STREAM frame with unknown error code", "PING with ACK or close", c -> {
            c.handshake();
            c.headers(1, false, true, post(c));
            c.rst(1, 0xff);
            c.ping(false, ZERO8);
            return pingAckOrClose(c, ZERO8);
        });
        add("http2/8.1/1", "Sends a second HEADERS frame without the END_STREAM flag", streamErr(PROTOCOL_ERROR), c -> {
            c.handshake();
            c.headers(1, false, true, post(c));
            c.data(1, false, ascii("test"));
            c.headers(1, false, true, block(List.<String[]>of(new String[] {"x-test", "ok"})));
            return streamError(c, PROTOCOL_ERROR);
        });
        add("http2/8.1.2/1", "Sends a HEADERS frame that contains the header field name in uppercase letters", streamErr(PROTOCOL_ERROR), c -> {
            c.handshake();
            c.headers(1, true, true, block(plus(c.common("GET", path), "X-TEST", "ok")));
            return streamError(c, PROTOCOL_ERROR);
        });
        add("http2/8.1.2.1/1", "Sends a HEADERS frame that contains a unknown pseudo-header field", streamErr(PROTOCOL_ERROR), c -> {
            c.handshake();
            c.headers(1, true, true, block(plus(c.common("GET", path), ":test", "ok")));
            return streamError(c, PROTOCOL_ERROR);
        });
        add("http2/8.1.2.1/2", "Sends a HEADERS frame that contains the pseudo-header field defined for response", streamErr(PROTOCOL_ERROR), c -> {
            c.handshake();
            c.headers(1, true, true, block(plus(c.common("GET", path), ":status", "200")));
            return streamError(c, PROTOCOL_ERROR);
        });
        add("http2/8.1.2.1/3", "Sends a HEADERS frame that contains a pseudo-header field as trailers", streamErr(PROTOCOL_ERROR), c -> {
            c.handshake();
            c.headers(1, false, true, post(c));
            c.data(1, false, ascii("test"));
            c.headers(1, true, true, block(List.<String[]>of(new String[] {":method", "POST"})));
            return streamError(c, PROTOCOL_ERROR);
        });
        add("http2/8.1.2.1/4", "Sends a HEADERS frame that contains a pseudo-header field that appears in a header block after a regular header field",
                streamErr(PROTOCOL_ERROR), c -> {
            c.handshake();
            List<String[]> h = new ArrayList<>();
            h.add(new String[] {"x-test", "ok"});
            h.addAll(c.common("GET", path));
            c.headers(1, true, true, block(h));
            return streamError(c, PROTOCOL_ERROR);
        });
        add("http2/8.1.2.2/1", "Sends a HEADERS frame that contains the connection-specific header field", streamErr(PROTOCOL_ERROR), c -> {
            c.handshake();
            c.headers(1, true, true, block(plus(c.common("GET", path), "connection", "keep-alive")));
            return streamError(c, PROTOCOL_ERROR);
        });
        add("http2/8.1.2.2/2", "Sends a HEADERS frame that contains the TE header field with any value other than \"trailers\"", streamErr(PROTOCOL_ERROR), c -> {
            c.handshake();
            c.headers(1, true, true, block(plus(plus(c.common("GET", path), "trailers", "test"), "te", "trailers, deflate")));
            return streamError(c, PROTOCOL_ERROR);
        });
        add("http2/8.1.2.3/1", "Sends a HEADERS frame with empty \":path\" pseudo-header field", streamErr(PROTOCOL_ERROR), c -> {
            c.handshake();
            List<String[]> h = c.common("GET", path);
            h.set(2, new String[] {":path", ""});
            c.headers(1, true, true, block(h));
            return streamError(c, PROTOCOL_ERROR);
        });
        String[] omitted = {":method", ":scheme", ":path"};
        for (int i = 0; i < 3; i++) {
            int drop = i;
            add("http2/8.1.2.3/" + (i + 2), "Sends a HEADERS frame that omits \"" + omitted[i] + "\" pseudo-header field", streamErr(PROTOCOL_ERROR), c -> {
                c.handshake();
                List<String[]> h = c.common("GET", path);
                h.remove(drop);
                c.headers(1, true, true, block(h));
                return streamError(c, PROTOCOL_ERROR);
            });
        }
        for (int i = 0; i < 3; i++) {
            int dup = i;
            add("http2/8.1.2.3/" + (i + 5), "Sends a HEADERS frame with duplicated \"" + omitted[i] + "\" pseudo-header field", streamErr(PROTOCOL_ERROR), c -> {
                c.handshake();
                List<String[]> h = c.common("GET", path);
                h.add(h.get(dup).clone());
                c.headers(1, true, true, block(h));
                return streamError(c, PROTOCOL_ERROR);
            });
        }
        add("http2/8.1.2.6/1", "Sends a HEADERS frame with the \"content-length\" header field which does not equal the DATA frame payload length",
                streamErr(PROTOCOL_ERROR), c -> {
            c.handshake();
            c.headers(1, false, true, block(plus(c.common("POST", path), "content-length", "1")));
            c.data(1, true, ascii("test"));
            return streamError(c, PROTOCOL_ERROR);
        });
        add("http2/8.1.2.6/2", "Sends a HEADERS frame with the \"content-length\" header field which does not equal the sum of the multiple DATA frames payload length",
                streamErr(PROTOCOL_ERROR), c -> {
            c.handshake();
            c.headers(1, false, true, block(plus(c.common("POST", path), "content-length", "1")));
            c.data(1, false, ascii("test"));
            c.data(1, true, ascii("test"));
            return streamError(c, PROTOCOL_ERROR);
        });
        add("http2/8.2/1", "Sends a PUSH_PROMISE frame", connErr(PROTOCOL_ERROR), c -> {
            c.handshake();
            byte[] b = get(c);
            byte[] p = new byte[4 + b.length];
            p[3] = 3; // promised stream 3
            System.arraycopy(b, 0, p, 4, b.length);
            c.frame(H2Client.PUSH_PROMISE, H2Client.END_HEADERS, 1, p);
            return connectionError(c, PROTOCOL_ERROR);
        });
    }

    private static int maxFrameSize(H2Client c) {
        return (int) (long) c.serverSettings.getOrDefault(H2Client.SETTINGS_MAX_FRAME_SIZE, 16_384L);
    }
}
