package dev.sidecar.l7;

import dev.sidecar.config.RouteConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http2.HttpConversionUtil;
import io.netty.util.AsciiString;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * What the proxy does to headers on the way through: hop-by-hop headers end at each hop
 * (RFC 9110 section 7.6.1), forwarding headers are added, a request id and a trace context are
 * created when missing, and the route's own additions and removals are applied.
 */
final class HeaderPolicy {
    static final AsciiString X_FORWARDED_FOR = AsciiString.cached("x-forwarded-for");
    static final AsciiString X_FORWARDED_PROTO = AsciiString.cached("x-forwarded-proto");
    static final AsciiString X_REQUEST_ID = AsciiString.cached("x-request-id");
    /** The client certificate the proxy verified (mTLS); one arriving from a client is never passed on. */
    static final AsciiString X_FORWARDED_CLIENT_CERT = AsciiString.cached("x-forwarded-client-cert");
    static final AsciiString TRACEPARENT = AsciiString.cached("traceparent");
    static final AsciiString GRPC_TIMEOUT = AsciiString.cached("grpc-timeout");
    static final AsciiString GRPC_STATUS = AsciiString.cached("grpc-status");
    static final AsciiString GRPC_MESSAGE = AsciiString.cached("grpc-message");
    static final AsciiString OVERLOADED = AsciiString.cached("x-sidecar-overloaded");
    static final AsciiString KEEP_ALIVE = AsciiString.cached("keep-alive");
    static final AsciiString PROXY_CONNECTION = AsciiString.cached("proxy-connection");
    /** The h2c upgrade's settings (RFC 7540 3.2.1): connection-specific, whoever sends it. */
    static final AsciiString HTTP2_SETTINGS = AsciiString.cached("http2-settings");
    /** Netty's HTTP/2 conversion carries pseudo-headers in these; a client must never set them. */
    private static final String NETTY_EXTENSION_PREFIX = "x-http2-";

    private HeaderPolicy() {}

    /**
     * Removes hop-by-hop headers: Connection and every header it names, Keep-Alive,
     * Proxy-Connection, HTTP2-Settings, TE except {@code trailers}, Transfer-Encoding and Upgrade (the caller
     * restores framing and an upgrade it carries on), and Netty's HTTP/2 extension headers.
     */
    static void stripHopByHop(HttpHeaders h) {
        if (h.contains(HttpHeaderNames.CONNECTION)) {
            List<String> named = null;
            for (Iterator<? extends CharSequence> it = h.valueCharSequenceIterator(HttpHeaderNames.CONNECTION); it.hasNext(); ) {
                CharSequence value = it.next();
                int start = 0;
                while (start <= value.length()) {
                    int comma = indexOf(value, ',', start);
                    int from = start;
                    int to = comma;
                    while (from < to && isBlank(value.charAt(from))) {
                        from++;
                    }
                    while (to > from && isBlank(value.charAt(to - 1))) {
                        to--;
                    }
                    // keep-alive, close and upgrade are the usual tokens, and the first and the
                    // last go below anyway: only other names are collected
                    if (to > from && !regionIs(value, from, to, KEEP_ALIVE) && !regionIs(value, from, to, HttpHeaderValues.CLOSE)
                            && !regionIs(value, from, to, HttpHeaderValues.UPGRADE)) {
                        if (named == null) {
                            named = new java.util.ArrayList<>(2);
                        }
                        named.add(value.subSequence(from, to).toString());
                    }
                    start = comma + 1;
                }
            }
            if (named != null) {
                named.forEach(h::remove);
            }
            h.remove(HttpHeaderNames.CONNECTION);
        }
        h.remove(KEEP_ALIVE);
        h.remove(PROXY_CONNECTION);
        h.remove(HTTP2_SETTINGS);
        h.remove(HttpHeaderNames.TRANSFER_ENCODING);
        h.remove(HttpHeaderNames.UPGRADE);
        String te = h.get(HttpHeaderNames.TE);
        if (te != null) {
            h.remove(HttpHeaderNames.TE);
            if (containsToken(te, "trailers")) {
                h.set(HttpHeaderNames.TE, HttpHeaderValues.TRAILERS);
            }
        }
        stripExtensions(h);
    }

    private static int indexOf(CharSequence s, char c, int from) {
        for (int i = from; i < s.length(); i++) {
            if (s.charAt(i) == c) {
                return i;
            }
        }
        return s.length();
    }

    private static boolean isBlank(char c) {
        return c == ' ' || c == '\t';
    }

    private static boolean regionIs(CharSequence s, int from, int to, AsciiString token) {
        return to - from == token.length() && AsciiString.regionMatches(s, true, from, token, 0, token.length());
    }

    /**
     * The protocol an HTTP/1.1 request asks to switch to ({@code Upgrade} named by
     * {@code Connection}), or null. h2c is not carried on: the listener itself answers it.
     */
    static String upgradeRequested(HttpHeaders h) {
        String upgrade = h.get(HttpHeaderNames.UPGRADE);
        if (upgrade == null || upgrade.isBlank() || containsToken(upgrade, "h2c")) {
            return null;
        }
        for (String value : h.getAll(HttpHeaderNames.CONNECTION)) {
            if (containsToken(value, "upgrade")) {
                return upgrade.trim();
            }
        }
        return null;
    }

    static void stripExtensions(HttpHeaders h) {
        if (h.isEmpty()) {
            return;
        }
        // the names Netty's conversion sets on every HTTP/2 request go by lookup; a scan then finds any other
        for (HttpConversionUtil.ExtensionHeaderNames n : EXTENSIONS) {
            h.remove(n.text());
        }
        List<CharSequence> others = null;
        if (h instanceof FlatHttpHeaders f) {
            for (int i = 0, n = f.size(); i < n; i++) {
                others = collectExtension(f.name(i), others);
            }
        } else {
            for (Iterator<Map.Entry<CharSequence, CharSequence>> it = h.iteratorCharSequence(); it.hasNext(); ) {
                others = collectExtension(it.next().getKey(), others);
            }
        }
        if (others != null) {
            others.forEach(h::remove);
        }
    }

    private static List<CharSequence> collectExtension(CharSequence name, List<CharSequence> others) {
        if (name.length() >= NETTY_EXTENSION_PREFIX.length() && AsciiString.regionMatches(name, true, 0, NETTY_EXTENSION_PREFIX, 0, 8)) {
            if (others == null) {
                others = new java.util.ArrayList<>(2);
            }
            others.add(name);
        }
        return others;
    }

    private static final HttpConversionUtil.ExtensionHeaderNames[] EXTENSIONS = HttpConversionUtil.ExtensionHeaderNames.values();

    static boolean containsToken(String value, String token) {
        for (String part : value.split(",")) {
            String t = part.trim();
            int semi = t.indexOf(';');
            if ((semi < 0 ? t : t.substring(0, semi).trim()).equalsIgnoreCase(token)) {
                return true;
            }
        }
        return false;
    }

    /** x-forwarded-for gets the client's address appended; x-forwarded-proto says how it reached us. */
    static void forwarded(HttpHeaders h, String clientIp, String scheme) {
        String xff = h.get(X_FORWARDED_FOR);
        if (!clientIp.isEmpty()) {
            h.set(X_FORWARDED_FOR, xff == null ? clientIp : xff + ", " + clientIp);
        }
        h.set(X_FORWARDED_PROTO, scheme);
    }

    /**
     * Adds x-request-id and a W3C traceparent when missing. A created trace id is the request id's
     * 128 bits, so logs keyed by either find the same request.
     */
    static void requestIdentity(HttpHeaders h, boolean generateRequestId) {
        String id = h.get(X_REQUEST_ID);
        boolean hasTrace = h.contains(TRACEPARENT);
        if (id != null && hasTrace) {
            return;
        }
        ThreadLocalRandom r = ThreadLocalRandom.current();
        long hi = r.nextLong();
        long lo = r.nextLong();
        if (id == null && generateRequestId) {
            // a version-4 UUID: 4 in the version nibble, 10 in the variant bits
            long vhi = (hi & ~0xF000L) | 0x4000L;
            long vlo = (lo & 0x3FFFFFFFFFFFFFFFL) | 0x8000000000000000L;
            h.set(X_REQUEST_ID, new java.util.UUID(vhi, vlo).toString());
            hi = vhi;
            lo = vlo;
        }
        if (!hasTrace) {
            h.set(TRACEPARENT, traceparent(hi, lo, r.nextLong() | 1));
        }
    }

    private static final byte[] HEX = "0123456789abcdef".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

    /** {@code 00-<trace id: 32 hex>-<parent id: 16 hex>-00}, written straight into its one array. */
    static AsciiString traceparent(long traceHi, long traceLo, long parent) {
        byte[] b = new byte[55];
        b[0] = '0';
        b[1] = '0';
        b[2] = '-';
        hex(b, 3, traceHi);
        hex(b, 19, traceLo);
        b[35] = '-';
        hex(b, 36, parent);
        b[52] = '-';
        b[53] = '0';
        b[54] = '0';
        return new AsciiString(b, false);
    }

    private static void hex(byte[] b, int at, long v) {
        for (int i = 15; i >= 0; i--) {
            b[at + i] = HEX[(int) (v & 0xF)];
            v >>>= 4;
        }
    }

    static void applyRequest(HttpHeaders h, RouteConfig.HeaderMutations m) {
        apply(h, m.requestRemove(), m.requestAdd());
    }

    static void applyResponse(HttpHeaders h, RouteConfig.HeaderMutations m) {
        apply(h, m.responseRemove(), m.responseAdd());
    }

    private static void apply(HttpHeaders h, List<String> remove, List<RouteConfig.HeaderValue> add) {
        for (String name : remove) {
            h.remove(name);
        }
        for (RouteConfig.HeaderValue v : add) {
            if (v.append()) {
                h.add(v.name(), v.value());
            } else {
                h.set(v.name(), v.value());
            }
        }
    }

    /** Rewrites the matched prefix of the request's path, keeping the rest and the query. */
    static void rewritePrefix(HttpRequest request, String prefix, String replacement) {
        String uri = request.uri();
        if (prefix != null && uri.startsWith(prefix)) {
            request.setUri(replacement + uri.substring(prefix.length()));
        }
    }

    /**
     * A gRPC timeout ({@code grpc-timeout}: up to 8 digits and a unit, H M S m u n) in
     * nanoseconds, or -1 when absent or malformed.
     */
    static long grpcTimeoutNanos(String v) {
        if (v == null || v.length() < 2 || v.length() > 9) {
            return -1;
        }
        long n = 0;
        for (int i = 0; i < v.length() - 1; i++) {
            char c = v.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
            n = n * 10 + (c - '0');
        }
        return switch (v.charAt(v.length() - 1)) {
            case 'H' -> n * 3_600_000_000_000L;
            case 'M' -> n * 60_000_000_000L;
            case 'S' -> n * 1_000_000_000L;
            case 'm' -> n * 1_000_000L;
            case 'u' -> n * 1_000L;
            case 'n' -> n;
            default -> -1;
        };
    }
}
