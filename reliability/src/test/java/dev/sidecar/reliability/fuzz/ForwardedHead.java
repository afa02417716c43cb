package dev.sidecar.reliability.fuzz;

import static dev.sidecar.reliability.fuzz.Http1RequestFuzzTest.printable;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.regex.Pattern;

/**
 * What any request head the proxy writes to an HTTP/1.1 upstream must be, whatever the client
 * sent: a token method, a target without controls or spaces, token header names, values without
 * CR, LF, NUL or other controls, exactly one Host, no hop-by-hop header (Connection only for an
 * upgrade it carries on), not both Content-Length and Transfer-Encoding, and nothing after the
 * body (no second, hidden request).
 */
final class ForwardedHead {
    private static final Pattern REQUEST_LINE = Pattern.compile("[!#$%&'*+.^_`|~0-9A-Za-z-]+ [\\x21-\\x7e\\x80-\\xff]+ HTTP/1\\.1");
    private static final Pattern TOKEN = Pattern.compile("[!#$%&'*+.^_`|~0-9A-Za-z-]+");

    private ForwardedHead() {}

    /** A head that went upstream (its body may follow); returns its lines. */
    static List<String> check(byte[] sent) {
        String s = new String(sent, StandardCharsets.ISO_8859_1);
        int end = s.indexOf("\r\n\r\n");
        if (end < 0) {
            throw new AssertionError("an incomplete head went upstream: " + printable(s));
        }
        String[] lines = s.substring(0, end).split("\r\n", -1);
        if (!REQUEST_LINE.matcher(lines[0]).matches()) {
            throw new AssertionError("a bad request line went upstream: " + printable(lines[0]));
        }
        int hosts = 0;
        long contentLength = -1;
        boolean chunked = false;
        for (int i = 1; i < lines.length; i++) {
            String line = lines[i];
            int colon = line.indexOf(':');
            if (colon <= 0 || !TOKEN.matcher(line.substring(0, colon)).matches()) {
                throw new AssertionError("a bad header line went upstream: " + printable(line));
            }
            String name = line.substring(0, colon).toLowerCase(java.util.Locale.ROOT);
            String value = line.substring(colon + 1).trim();
            for (int k = 0; k < value.length(); k++) {
                char c = value.charAt(k);
                if ((c < 0x20 && c != '\t') || c == 0x7f) {
                    throw new AssertionError("a control character in a header value went upstream: " + printable(line));
                }
            }
            switch (name) {
                case "host" -> hosts++;
                case "content-length" -> contentLength = Long.parseLong(value);
                case "transfer-encoding" -> chunked = true;
                case "keep-alive", "proxy-connection" -> throw new AssertionError("a hop-by-hop header went upstream: " + printable(line));
                case "connection" -> {
                    if (!value.equalsIgnoreCase("upgrade")) {
                        throw new AssertionError("a Connection header other than an upgrade's went upstream: " + printable(line));
                    }
                }
                default -> { }
            }
        }
        if (hosts != 1) {
            throw new AssertionError(hosts + " Host headers went upstream: " + printable(s.substring(0, end)));
        }
        if (chunked && contentLength >= 0) {
            throw new AssertionError("both Content-Length and Transfer-Encoding went upstream: " + printable(s.substring(0, end)));
        }
        int bodyStart = end + 4;
        int left = sent.length - bodyStart;
        if (!chunked && contentLength >= 0 && left > contentLength) {
            throw new AssertionError("bytes after the body went upstream (a hidden request?): "
                    + printable(s.substring(bodyStart + (int) contentLength)));
        }
        if (!chunked && contentLength < 0 && left > 0) {
            throw new AssertionError("bytes after a body-less request went upstream: " + printable(s.substring(bodyStart)));
        }
        return List.of(lines);
    }

}
