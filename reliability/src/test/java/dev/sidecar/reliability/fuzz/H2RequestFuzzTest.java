package dev.sidecar.reliability.fuzz;

import static dev.sidecar.reliability.fuzz.Http1RequestFuzzTest.printable;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * An HTTP/2 request with arbitrary header names and values (any bytes, written as HPACK
 * literals without the checks an encoder makes) into an HTTP/2 listener's real pipeline, whose
 * cluster is an HTTP/1.1 upstream (embedded). Invariants: no exception escapes; whatever reaches
 * the upstream is a well-formed HTTP/1.1 head ({@link ForwardedHead}: no CR, LF or NUL, no
 * hop-by-hop or connection-specific header, no pseudo-header or Netty extension header); a
 * forwarded request without a body gets its response on stream 1 (one with a body may be reset
 * instead, when the body turns out malformed after the head went on); a refused one gets a
 * RST_STREAM, a GOAWAY or a 4xx HEADERS.
 *
 * <p>The input: one flags byte (bit 0..3: send :method GET, :scheme http, :path /f,
 * :authority a; bit 4: the HEADERS frame ends the stream, else a DATA frame ends it), then
 * header fields as {@code [name length][name][value length][value]} (lengths one byte each).
 */
class H2RequestFuzzTest {
    private static final byte[] PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] OK = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
    private static final Set<String> FORBIDDEN = Set.of("connection", "keep-alive", "proxy-connection", "upgrade", "http2-settings");

    private static EmbeddedProxy proxy;
    static long executions;

    @BeforeAll
    static void start() {
        proxy = new EmbeddedProxy("""
                listeners:
                  - { name: web, address: 127.0.0.1:0, protocol: http, cluster: app }
                clusters:
                  - { name: app, endpoints: [{ address: 127.0.0.1:9 }] }
                """);
    }

    @AfterAll
    static void stop() {
        release();
        FuzzStats.report("h2-request-headers", executions);
    }

    static void release() {
        proxy.close();
    }

    @FuzzTest
    void headers(byte[] input) {
        executions++;
        run(input);
    }

    /** The harness itself: a plain request is forwarded and answered; one with a CR in a value is not forwarded. */
    @Test
    void harnessSeesForwardsAndRefusals() {
        Assertions.assertEquals("forwarded 1, answered on stream 1", run(encode(0x1f, "x-fine", "ok")));
        Assertions.assertEquals("forwarded 0, refused", run(encode(0x1f, "x-evil", "a\r\nx-injected: 1")));
    }

    /** An input for {@link #headers} from a flags byte and name/value pairs. */
    static byte[] encode(int flags, String... pairs) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.write(flags);
        for (String s : pairs) {
            byte[] bytes = s.getBytes(StandardCharsets.ISO_8859_1);
            b.write(bytes.length);
            b.write(bytes, 0, bytes.length);
        }
        return b.toByteArray();
    }

    private static String run(byte[] input) {
        boolean hasBody = input.length > 0 && (input[0] & 0x10) == 0;
        return run0(wire(input), hasBody);
    }

    /** The client's bytes for an input: the preface, SETTINGS, the request. */
    static byte[] wire(byte[] input) {
        int flags = input.length > 0 ? input[0] & 0xff : 0x1f;
        ByteArrayOutputStream block = new ByteArrayOutputStream();
        String[][] pseudo = {{":method", "GET"}, {":scheme", "http"}, {":path", "/f"}, {":authority", "a"}};
        for (int i = 0; i < 4; i++) {
            if ((flags & (1 << i)) != 0) {
                literal(block, pseudo[i][0].getBytes(StandardCharsets.US_ASCII), pseudo[i][1].getBytes(StandardCharsets.US_ASCII));
            }
        }
        for (int at = 1; at < input.length; ) {
            int nl = input[at++] & 0xff;
            byte[] name = java.util.Arrays.copyOfRange(input, Math.min(at, input.length), Math.min(at + nl, input.length));
            at += nl;
            int vl = at < input.length ? input[at++] & 0xff : 0;
            byte[] value = java.util.Arrays.copyOfRange(input, Math.min(at, input.length), Math.min(at + vl, input.length));
            at += vl;
            literal(block, name, value);
        }
        boolean endStream = (flags & 0x10) != 0;
        ByteArrayOutputStream wire = new ByteArrayOutputStream();
        wire.write(PREFACE, 0, PREFACE.length);
        frame(wire, 4, 0, 0, new byte[0]); // SETTINGS
        frame(wire, 1, 0x4 | (endStream ? 0x1 : 0), 1, block.toByteArray());
        if (!endStream) {
            frame(wire, 0, 0x1, 1, "body".getBytes(StandardCharsets.US_ASCII));
        }
        return wire.toByteArray();
    }

    private static String run0(byte[] bytes, boolean hasBody) {
        EmbeddedChannel ch = proxy.connect();
        ByteBuf in = ch.alloc().buffer(bytes.length).writeBytes(bytes);
        String result;
        try {
            ch.writeInbound(in);
            ch.runPendingTasks();
            int forwarded = 0;
            for (EmbeddedChannel up : proxy.upstreams()) {
                byte[] sent = EmbeddedProxy.drainOutbound(up);
                if (sent.length == 0) {
                    continue;
                }
                forwarded++;
                for (String line : ForwardedHead.check(sent)) {
                    String name = line.contains(":") ? line.substring(0, line.indexOf(':')).toLowerCase(Locale.ROOT) : "";
                    if (FORBIDDEN.contains(name) || name.startsWith("x-http2-")
                            || (name.equals("te") && !line.substring(3).trim().equalsIgnoreCase("trailers"))
                            || (name.equals("transfer-encoding") && !line.substring(18).trim().equalsIgnoreCase("chunked"))) {
                        throw new AssertionError("a connection-specific header went upstream: " + printable(line));
                    }
                }
                if (up.isActive()) {
                    up.writeInbound(up.alloc().buffer().writeBytes(OK));
                    ch.runPendingTasks();
                }
            }
            String answer = answer(EmbeddedProxy.drainOutbound(ch));
            if (forwarded > 1) {
                throw new AssertionError("one HTTP/2 request went upstream " + forwarded + " times");
            }
            // a request with a body may be reset after its head went upstream, when the body turns
            // out malformed (a length that differs from its Content-Length): the proxy streams
            if (forwarded == 1 && !answer.equals("answered on stream 1") && !(hasBody && answer.equals("refused"))) {
                throw new AssertionError("forwarded, but the client got: " + answer);
            }
            ch.checkException();
            result = "forwarded " + forwarded + ", " + answer;
        } finally {
            proxy.finish(ch);
        }
        if (in.refCnt() != 0) {
            throw new AssertionError("the client's buffer was not released");
        }
        return result;
    }

    /** What the server's frames say about stream 1. */
    private static String answer(byte[] out) {
        String what = "no answer";
        for (int at = 0; at + 9 <= out.length; ) {
            int length = (out[at] & 0xff) << 16 | (out[at + 1] & 0xff) << 8 | (out[at + 2] & 0xff);
            int type = out[at + 3];
            int stream = (out[at + 5] & 0x7f) << 24 | (out[at + 6] & 0xff) << 16 | (out[at + 7] & 0xff) << 8 | (out[at + 8] & 0xff);
            if (at + 9 + length > out.length) {
                throw new AssertionError("a cut-off frame from the server");
            }
            if (stream == 1 && type == 1 && what.equals("no answer")) {
                what = "answered on stream 1";
            } else if ((stream == 1 && type == 3) || type == 7) {
                what = what.equals("no answer") ? "refused" : what;
            }
            at += 9 + length;
        }
        return what;
    }

    private static void literal(ByteArrayOutputStream b, byte[] name, byte[] value) {
        b.write(0x00); // literal header field without indexing, new name (RFC 7541 6.2.2)
        string(b, name);
        string(b, value);
    }

    private static void string(ByteArrayOutputStream b, byte[] s) {
        int n = s.length; // 7-bit prefix integer, no Huffman (RFC 7541 5.1, 5.2)
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

    private static void frame(ByteArrayOutputStream b, int type, int flags, int stream, byte[] payload) {
        b.write(payload.length >>> 16);
        b.write(payload.length >>> 8);
        b.write(payload.length);
        b.write(type);
        b.write(flags);
        b.write(stream >>> 24);
        b.write(stream >>> 16);
        b.write(stream >>> 8);
        b.write(stream);
        b.write(payload, 0, payload.length);
    }
}
