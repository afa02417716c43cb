package dev.sidecar.reliability;

import java.util.ArrayList;
import java.util.List;

/**
 * Malformed and ambiguous HTTP/1.1 requests, built from RFC 9112's MUST rules and the request
 * smuggling shapes of the Netty CVEs of 2019-2026 (CL+TE, duplicate, signed and huge
 * Content-Length, Transfer-Encoding obfuscation, obs-fold, bare CR and LF, bad chunk sizes and
 * extensions, bad header names and values, missing colons, over-long lines), plus valid
 * requests so that a parser that refuses everything fails too.
 *
 * <p>Every case that carries a second request hides it as {@code /smuggled}: whatever the proxy
 * answers, the upstream must never see that path.
 */
final class Http1Corpus {
    enum Expect {
        /** RFC 9112 says the message MUST be rejected: a 4xx answer, then the connection closed. */
        REJECT,
        /** Valid: answered by the upstream, exactly one request forwarded. */
        ACCEPT,
        /** Tolerable either way (accepted as one request, or rejected), never desynchronised. */
        EITHER
    }

    /**
     * One request. A case that may be accepted carries no second request after its own end (that
     * would be plain pipelining) and asks for {@code Connection: close}; a case that must be
     * rejected hides {@code /smuggled} where a second reading of its framing would find it.
     */
    record Case(String name, Expect expect, String request) {
        Case {
            if (expect != Expect.REJECT) {
                int smuggled = request.indexOf(SMUGGLED);
                if (smuggled >= 0) {
                    request = request.substring(0, smuggled);
                }
                int firstLineEnd = request.indexOf("\r\n");
                if (!request.toLowerCase().contains("\nconnection:") && firstLineEnd > 0) {
                    request = request.substring(0, firstLineEnd + 2) + "Connection: close\r\n" + request.substring(firstLineEnd + 2);
                }
            }
        }
    }

    private static final String SMUGGLED = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";

    private Http1Corpus() {}

    static List<Case> cases() {
        List<Case> c = new ArrayList<>();
        // valid controls
        c.add(new Case("get", Expect.ACCEPT, "GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
        c.add(new Case("post-cl", Expect.ACCEPT, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"));
        c.add(new Case("post-chunked", Expect.ACCEPT,
                "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n"));
        c.add(new Case("chunked-trailer", Expect.ACCEPT,
                "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\nx-t: 1\r\n\r\n"));
        c.add(new Case("cl-ows", Expect.ACCEPT, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length:  5 \r\nConnection: close\r\n\r\nhello"));
        c.add(new Case("options-star", Expect.EITHER, "OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
        c.add(new Case("absolute-form", Expect.ACCEPT, "GET http://x/ok HTTP/1.1\r\nHost: y\r\nConnection: close\r\n\r\n"));
        c.add(new Case("http10", Expect.ACCEPT, "GET /ok HTTP/1.0\r\nHost: x\r\n\r\n"));

        // Content-Length: smuggling through a second message in the body's place
        String[] badLengths = {"+5", "-5", "0x5", "5.0", "5 5", "5,5", "5, 6", "abc", "", "99999999999999999999", "18446744073709551621",
                "5\u0000", "\t", "0005x", "1e1"};
        for (String v : badLengths) {
            c.add(new Case("cl[" + printable(v) + "]", Expect.REJECT,
                    "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + v + "\r\n\r\nhello" + SMUGGLED));
        }
        c.add(new Case("cl-dup-differ", Expect.REJECT,
                "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 41\r\n\r\nhello" + SMUGGLED));
        for (String v : new String[] {"05", "0", "00000005"}) {
            String body = v.equals("0") ? "" : "hello";
            c.add(new Case("cl-valid[" + v + "]", Expect.ACCEPT, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + v
                    + "\r\nConnection: close\r\n\r\n" + body));
        }
        for (String v : badLengths) {
            c.add(new Case("cl-dup[" + printable(v) + "]", Expect.REJECT,
                    "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: " + v + "\r\n\r\nhello" + SMUGGLED));
        }
        c.add(new Case("cl-dup-same", Expect.REJECT,
                "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello" + SMUGGLED));

        // Transfer-Encoding obfuscations, alone and with a Content-Length (both: MUST reject)
        String[] tes = {"chunked", "Chunked", " chunked", "chunked ", "\tchunked", "chunked\t", "identity, chunked", "chunked, identity",
                "chunked, chunked", "x-chunked", "chunk", "chunked;x=1", "\"chunked\"", "chunked\u0000", "gzip, chunked", "cHuNkEd",
                "identity", "chunkedx", "chunked,", ",chunked", "chunked\u000b", "\u000bchunked", "chunked\u000c", "chunked, gzip", "deflate",
                "gzip", "compress, chunked", "CHUNKED", "chunked\r"};
        String chunkedBody = "0\r\n\r\n" + SMUGGLED;
        for (String te : tes) {
            c.add(new Case("te+cl[" + printable(te) + "]", Expect.REJECT,
                    "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: " + te + "\r\n\r\n" + chunkedBody));
            c.add(new Case("cl+te[" + printable(te) + "]", Expect.REJECT,
                    "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + te + "\r\nContent-Length: 5\r\n\r\n" + chunkedBody));
            // optional whitespace around a field value is not part of it, and codings are case-insensitive
            boolean plainChunked = te.replaceAll("^[ \t]+|[ \t]+$", "").equalsIgnoreCase("chunked");
            c.add(new Case("te[" + printable(te) + "]", plainChunked ? Expect.EITHER : Expect.REJECT,
                    "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + te + "\r\n\r\n" + chunkedBody));
        }
        c.add(new Case("te-two-headers", Expect.REJECT,
                "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n" + chunkedBody));
        c.add(new Case("te-http10", Expect.REJECT, "POST /echo HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunkedBody));
        c.add(new Case("te-space-before-colon", Expect.REJECT,
                "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\n" + chunkedBody));
        c.add(new Case("cl-space-before-colon", Expect.REJECT,
                "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\nhello" + SMUGGLED));

        // obs-fold on every kind of header
        for (String h : new String[] {"Host: x", "Content-Length: 5", "Transfer-Encoding: chunked", "X-A: 1", "Connection: close"}) {
            c.add(new Case("obs-fold[" + h.substring(0, h.indexOf(':')) + "]", Expect.REJECT,
                    "POST /echo HTTP/1.1\r\nHost: x\r\n" + h + "\r\n x\r\nContent-Length: 5\r\n\r\nhello" + SMUGGLED));
            c.add(new Case("obs-fold-tab[" + h.substring(0, h.indexOf(':')) + "]", Expect.REJECT,
                    "POST /echo HTTP/1.1\r\nHost: x\r\n" + h + "\r\n\tx\r\nContent-Length: 5\r\n\r\nhello" + SMUGGLED));
        }

        // bad bytes in every place of the head
        String[] bad = {"\r", "\n", "\u0000", "\u0001", "\u0002", "\u0008", "\u000b", "\u000c", "\u0010", "\u001b", "\u001f", "\u007f"};
        for (String b : bad) {
            String n = printable(b);
            c.add(new Case("method[" + n + "]", Expect.REJECT, "GE" + b + "T /ok HTTP/1.1\r\nHost: x\r\n\r\n" + SMUGGLED));
            c.add(new Case("target[" + n + "]", mustReject(b) ? Expect.REJECT : Expect.EITHER,
                    "GET /o" + b + "k HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" + SMUGGLED));
            c.add(new Case("version[" + n + "]", Expect.REJECT, "GET /ok HTTP/1" + b + ".1\r\nHost: x\r\n\r\n" + SMUGGLED));
            c.add(new Case("name[" + n + "]", Expect.REJECT, "GET /ok HTTP/1.1\r\nHost: x\r\nX-B" + b + "ad: 1\r\n\r\n" + SMUGGLED));
            // RFC 9110 5.5: CR, LF and NUL in a field value MUST be rejected (or replaced); other controls MAY be kept
            boolean mustReject = b.equals("\r") || b.equals("\n") || b.equals("\u0000");
            c.add(new Case("value[" + n + "]", mustReject ? Expect.REJECT : Expect.EITHER,
                    "GET /ok HTTP/1.1\r\nHost: x\r\nX-Bad: a" + b + "b\r\nConnection: close\r\n\r\n" + SMUGGLED));
            c.add(new Case("chunk-size[" + n + "]", Expect.REJECT,
                    "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5" + b + "\r\nhello\r\n0\r\n\r\n" + SMUGGLED));
            c.add(new Case("line-end[" + n + "]", b.equals("\n") ? Expect.REJECT : Expect.REJECT,
                    "GET /ok HTTP/1.1" + (b.equals("\r") || b.equals("\n") ? b : "\r\n" + b) + "Host: x\r\n\r\n" + SMUGGLED));
        }
        c.add(new Case("bare-lf-everywhere", Expect.REJECT, "GET /ok HTTP/1.1\nHost: x\n\n" + SMUGGLED));
        c.add(new Case("bare-cr-between-headers", Expect.REJECT, "GET /ok HTTP/1.1\r\nHost: x\rX-A: 1\r\n\r\n" + SMUGGLED));

        // header names that are not tokens
        for (String name : new String[] {"Bad Header", "(x)", "x@y", "[x]", "x/y", "x=y", "x\"y", "x,y", "x;y", "x:y", "{x}", "x\\y", "x?y"}) {
            c.add(new Case("token[" + name + "]", name.equals("x:y") ? Expect.EITHER : Expect.REJECT,
                    "GET /ok HTTP/1.1\r\nHost: x\r\n" + name + ": 1\r\nConnection: close\r\n\r\n" + SMUGGLED));
        }
        c.add(new Case("empty-name", Expect.REJECT, "GET /ok HTTP/1.1\r\nHost: x\r\n: 1\r\n\r\n" + SMUGGLED));
        c.add(new Case("no-colon", Expect.REJECT, "GET /ok HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n" + SMUGGLED));
        c.add(new Case("no-colon-host", Expect.REJECT, "GET /ok HTTP/1.1\r\nHost x\r\n\r\n" + SMUGGLED));
        c.add(new Case("leading-space-first-header", Expect.REJECT, "GET /ok HTTP/1.1\r\n Host: x\r\n\r\n" + SMUGGLED));

        // chunked framing
        String[] sizes = {"-5", "+5", "0x5", "5 5", "g", "", "ffffffffffffffffff", "10000000000000000", " 5", "5 ", "5\t", "0005x",
                "5;", "5;=", "5;a=\"b", "5;a=b\u0000", "5;a b", "5;\r"};
        for (String size : sizes) {
            // chunk extensions are ignored (RFC 9112 7.1.1), so an odd one does not change the framing
            boolean lenient = size.equals("5;") || size.equals("5 ") || size.equals("5\t") || size.equals("5;a b");
            c.add(new Case("chunk[" + printable(size) + "]", lenient ? Expect.EITHER : Expect.REJECT,
                    "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + size + "\r\nhello\r\n0\r\n\r\n" + SMUGGLED));
        }
        c.add(new Case("chunk-data-too-long", Expect.REJECT,
                "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n" + SMUGGLED));
        c.add(new Case("chunk-no-crlf-after-data", Expect.REJECT,
                "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n" + SMUGGLED));
        c.add(new Case("chunk-lf-only", Expect.REJECT,
                "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n" + SMUGGLED));

        // request lines
        String[] lines = {"GET  /ok HTTP/1.1", "GET /ok  HTTP/1.1", " GET /ok HTTP/1.1", "GET /ok HTTP/1.1 ", "GET /ok", "GET", "/ok HTTP/1.1",
                "GET /ok HTTP/1.1 extra", "GET /ok HTTP/2.0", "GET /ok HTTP/1.x", "GET /ok HTTP/11", "GET /ok http/1.1", "GET\t/ok HTTP/1.1",
                "G ET /ok HTTP/1.1", "GET ok HTTP/1.1", "GET * HTTP/1.1", "GET //x HTTP/1.1", "GET /ok\u00ff HTTP/1.1", "CONNECT x:443 HTTP/1.1",
                "GET /ok HTTP/0.9"};
        for (String line : lines) {
            // RFC 9112 3: recipients MAY split the request line on any whitespace; the request goes
            // upstream re-serialized with single spaces, so no second reading of it exists
            boolean either = line.equals("GET //x HTTP/1.1") || line.equals("GET /ok\u00ff HTTP/1.1") || line.equals("GET  /ok HTTP/1.1")
                    || line.equals("GET /ok  HTTP/1.1") || line.equals("GET\t/ok HTTP/1.1") || line.equals("GET /ok http/1.1")
                    || line.equals(" GET /ok HTTP/1.1") || line.equals("GET /ok HTTP/1.1 ");
            c.add(new Case("line[" + printable(line) + "]", either ? Expect.EITHER : Expect.REJECT,
                    line + "\r\nHost: x\r\nConnection: close\r\n\r\n" + SMUGGLED));
        }

        // Host
        c.add(new Case("host-missing", Expect.REJECT, "GET /ok HTTP/1.1\r\nConnection: close\r\n\r\n" + SMUGGLED));
        c.add(new Case("host-twice", Expect.REJECT, "GET /ok HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n" + SMUGGLED));
        c.add(new Case("host-twice-same", Expect.REJECT, "GET /ok HTTP/1.1\r\nHost: x\r\nHost: x\r\n\r\n" + SMUGGLED));

        // over-long lines and sections
        c.add(new Case("uri-too-long", Expect.REJECT, "GET /" + "a".repeat(20_000) + " HTTP/1.1\r\nHost: x\r\n\r\n" + SMUGGLED));
        c.add(new Case("header-too-long", Expect.REJECT, "GET /ok HTTP/1.1\r\nHost: x\r\nX-Big: " + "a".repeat(70_000) + "\r\n\r\n" + SMUGGLED));
        c.add(new Case("too-many-headers", Expect.REJECT, "GET /ok HTTP/1.1\r\nHost: x\r\n" + "X-H: 1\r\n".repeat(150) + "\r\n" + SMUGGLED));
        c.add(new Case("name-too-long", Expect.REJECT, "GET /ok HTTP/1.1\r\nHost: x\r\n" + "x".repeat(70_000) + ": 1\r\n\r\n" + SMUGGLED));

        // a lone CR or LF (or a NUL) inside a value, hoping one parser sees a new header line where
        // another does not; and an encoded CRLF, which must stay the literal text it is
        for (String inj : new String[] {"a\nX-Injected: 1", "a\rX-Injected: 1", "a\u0000\r\nX-Injected: 1", "%0d%0aX-Injected: 1"}) {
            for (String header : new String[] {"X-Forwarded-For", "User-Agent", "Cookie"}) {
                boolean encoded = inj.startsWith("%");
                c.add(new Case("inject[" + header + ":" + printable(inj) + "]", encoded ? Expect.EITHER : Expect.REJECT,
                        "GET /ok HTTP/1.1\r\nHost: x\r\n" + header + ": " + inj + "\r\n\r\n" + SMUGGLED));
            }
        }

        // Expect and upgrade oddities that must not open a second reading of the body
        c.add(new Case("expect-bad", Expect.EITHER, "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"));
        c.add(new Case("upgrade-h2c-with-body", Expect.EITHER,
                "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n"
                        + "Content-Length: 5\r\n\r\nhello" + SMUGGLED));
        return c;
    }

    /** Bytes that may never appear anywhere in a request head (a line break outside its place, NUL). */
    private static boolean mustReject(String b) {
        return b.equals("\r") || b.equals("\n") || b.equals("\u0000");
    }

    static String printable(String s) {
        StringBuilder b = new StringBuilder();
        for (char ch : s.toCharArray()) {
            if (ch < 0x20 || ch >= 0x7f) {
                b.append(String.format("\\x%02x", (int) ch));
            } else {
                b.append(ch);
            }
        }
        return b.length() > 40 ? b.substring(0, 40) + "..." : b.toString();
    }
}
