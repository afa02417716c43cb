package dev.sidecar.reliability.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Arbitrary bytes from a client into an HTTP/1.1 listener's real pipeline (the sniffer, the
 * strict codec, the request checks, routing and the upstream side), with an embedded upstream
 * that answers every request it is sent with an empty 200. Invariants:
 * <ul>
 *   <li>no exception reaches the end of the pipeline or escapes the write;</li>
 *   <li>the client reads a sequence of well-formed responses: 200s (one per request the upstream
 *       answered), 404 (no route), interim 100, a 101 (h2c upgrade; HTTP/2 follows), or one
 *       refusal (400, 413, 414, 417, 431, 501, 505) after which the connection is closed;</li>
 *   <li>every head that reaches the upstream is well-formed HTTP/1.1 (token method, no control
 *       character in the target, token header names, no CR, LF or NUL in values, exactly one
 *       Host, not both Content-Length and Transfer-Encoding), and nothing follows its body on the
 *       upstream connection before the answer (no second, hidden request);</li>
 *   <li>the client's buffer is released (leak detection at PARANOID checks the rest).</li>
 * </ul>
 */
class Http1RequestFuzzTest {
    private static final Set<Integer> REFUSALS = Set.of(400, 413, 414, 417, 431, 501, 505);
    private static final byte[] OK = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

    private static EmbeddedProxy proxy;

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
        FuzzStats.report("http1-request", executions);
    }

    static void release() {
        proxy.close();
    }

    static long executions;

    @FuzzTest
    void requestHead(byte[] input) {
        executions++;
        run(input);
    }

    /** The harness itself: a plain GET reaches the upstream and its 200 the client; CL with TE is refused and closed. */
    @org.junit.jupiter.api.Test
    void harnessSeesForwardsAndRefusals() {
        org.junit.jupiter.api.Assertions.assertEquals("1 forwarded, closed false, HTTP/1.1 200",
                run("GET / HTTP/1.1\r\nHost: a\r\n\r\n".getBytes(StandardCharsets.US_ASCII)));
        org.junit.jupiter.api.Assertions.assertEquals("0 forwarded, closed true, HTTP/1.1 400",
                run("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                        .getBytes(StandardCharsets.US_ASCII)));
    }

    /** One connection with {@code input}; what happened, for the harness check. */
    private static String run(byte[] input) {
        EmbeddedChannel ch = proxy.connect();
        ByteBuf in = ch.alloc().buffer(input.length).writeBytes(input);
        String result;
        try {
            ch.writeInbound(in);
            ch.runPendingTasks();
            int forwarded = 0;
            // answer what reaches the upstream, a bounded number of rounds (pipelined requests follow)
            for (int round = 0; round < 16; round++) {
                boolean any = false;
                for (EmbeddedChannel up : proxy.upstreams()) {
                    byte[] sent = EmbeddedProxy.drainOutbound(up);
                    if (sent.length == 0) {
                        continue;
                    }
                    any = true;
                    ForwardedHead.check(sent);
                    forwarded++;
                    if (up.isActive()) {
                        up.writeInbound(up.alloc().buffer().writeBytes(OK));
                        ch.runPendingTasks();
                    }
                }
                if (!any) {
                    break;
                }
            }
            byte[] answer = EmbeddedProxy.drainOutbound(ch);
            if (!startsWithPreface(input)) { // else HTTP/2 by prior knowledge: H2RequestFuzzTest's ground
                checkResponses(answer, forwarded, ch.isActive());
            }
            ch.checkException();
            String a = new String(answer, StandardCharsets.ISO_8859_1);
            result = forwarded + " forwarded, closed " + !ch.isActive() + ", " + a.substring(0, Math.min(12, a.length()));
        } finally {
            proxy.finish(ch);
        }
        if (in.refCnt() != 0) {
            throw new AssertionError("the client's buffer was not released");
        }
        return result;
    }

    /** The client's bytes: well-formed responses, refusals last and followed by the close. */
    private static void checkResponses(byte[] bytes, int forwarded, boolean open) {
        String s = new String(bytes, StandardCharsets.ISO_8859_1);
        int at = 0;
        int oks = 0;
        while (at < s.length()) {
            if (!s.startsWith("HTTP/1.1 ", at) || s.length() < at + 12) {
                throw new AssertionError("not a response at byte " + at + ": " + printable(s.substring(at, Math.min(s.length(), at + 80))));
            }
            int status = Integer.parseInt(s.substring(at + 9, at + 12));
            int end = s.indexOf("\r\n\r\n", at);
            if (end < 0) {
                throw new AssertionError("an incomplete response head: " + printable(s.substring(at)));
            }
            if (status == 101) {
                return; // h2c upgrade: HTTP/2 frames follow
            }
            long length = 0;
            for (String line : s.substring(at, end).split("\r\n")) {
                if (line.regionMatches(true, 0, "content-length:", 0, 15)) {
                    length = Long.parseLong(line.substring(15).trim());
                }
            }
            at = end + 4;
            if (!s.startsWith("HTTP/1.1 ", at)) {
                at += (int) Math.min(length, s.length() - at); // a HEAD's answer has no body
            }
            if (status == 200) {
                oks++;
            } else if (REFUSALS.contains(status)) {
                if (at < s.length()) {
                    throw new AssertionError("a response after the refusal " + status + ": " + printable(s.substring(at)));
                }
                if (open) {
                    throw new AssertionError("the connection stayed open after the refusal " + status + ": " + printable(s));
                }
            } else if (status != 404 && status != 100) {
                throw new AssertionError("unexpected status " + status + " in " + printable(s));
            }
        }
        if (oks != forwarded) {
            throw new AssertionError(forwarded + " requests forwarded but " + oks + " 200s reached the client: " + printable(s));
        }
    }

    private static boolean startsWithPreface(byte[] input) {
        byte[] preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
        return input.length >= preface.length && java.util.Arrays.equals(input, 0, preface.length, preface, 0, preface.length);
    }

    static String printable(String s) {
        StringBuilder b = new StringBuilder();
        for (char c : s.toCharArray()) {
            if (c >= 0x20 && c < 0x7f) {
                b.append(c);
            } else {
                b.append(String.format("\\x%02x", (int) c));
            }
        }
        return b.length() > 400 ? b.substring(0, 400) + "..." : b.toString();
    }
}
