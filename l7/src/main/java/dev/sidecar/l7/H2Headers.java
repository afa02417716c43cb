package dev.sidecar.l7;

import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpHeadersFactory;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Header blocks between the proxy's HTTP/1.x messages and HTTP/2, both ways, on both sides of
 * the proxy. Unlike Netty's {@code HttpConversionUtil}, nothing travels in {@code x-http2-*}
 * extension headers (the scheme, the stream id) only to be stripped again, and a name the table
 * of well-known names holds is lowercased by lookup, not by copying it: an upstream's
 * {@code Content-Type} becomes the shared {@code content-type}, whose hash the HPACK encoder
 * finds cached. The blocks made for sending are {@link FlatHttp2Headers}: one array, no hash table.
 *
 * <p>Names and values were validated where they were decoded (Netty's HTTP/1.1 decoder, its
 * HPACK decoder), and every HTTP/1.x header map built here validates values again, so a CR, LF
 * or NUL an HTTP/2 client put in a value never reaches an HTTP/1.1 upstream: it makes the
 * stream malformed (PROTOCOL_ERROR).
 */
final class H2Headers {
    /** HTTP/1.x headers from HTTP/2: values validated, names not (the HPACK decoder did). */
    private static final HttpHeadersFactory HEADERS =
            FlatHttpHeaders.factory(DefaultHttpHeadersFactory.headersFactory().withNameValidation(false));
    private static final HttpHeadersFactory TRAILERS = FlatHttpHeaders.factory(DefaultHttpHeadersFactory.trailersFactory());
    private static final AsciiString HTTPS = AsciiString.cached("https");
    private static final AsciiString HTTP = AsciiString.cached("http");

    /** A well-known name, lowercase; {@code connectionSpecific}: never sent in HTTP/2 (RFC 9113 8.2.2). */
    private record Known(AsciiString name, boolean connectionSpecific) {}

    private static final Known[] TABLE;
    private static final int MASK;

    static {
        List<AsciiString> names = new ArrayList<>();
        for (Field f : HttpHeaderNames.class.getFields()) {
            if (Modifier.isStatic(f.getModifiers()) && f.getType() == AsciiString.class) {
                try {
                    names.add((AsciiString) f.get(null));
                } catch (IllegalAccessException e) {
                    throw new ExceptionInInitializerError(e);
                }
            }
        }
        names.addAll(List.of(HeaderPolicy.X_FORWARDED_FOR, HeaderPolicy.X_FORWARDED_PROTO, HeaderPolicy.X_REQUEST_ID,
                HeaderPolicy.X_FORWARDED_CLIENT_CERT, HeaderPolicy.TRACEPARENT, HeaderPolicy.GRPC_TIMEOUT, HeaderPolicy.GRPC_STATUS,
                HeaderPolicy.GRPC_MESSAGE, HeaderPolicy.KEEP_ALIVE, HeaderPolicy.PROXY_CONNECTION, AsciiString.cached("grpc-encoding"),
                AsciiString.cached("grpc-accept-encoding"), AsciiString.cached("tracestate"), AsciiString.cached("x-envoy-upstream-service-time")));
        List<AsciiString> connectionSpecific = List.of(HttpHeaderNames.CONNECTION, HeaderPolicy.KEEP_ALIVE, HeaderPolicy.PROXY_CONNECTION,
                HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderNames.UPGRADE, HttpHeaderNames.HOST, HttpHeaderNames.TE, HttpHeaderNames.TRAILER);
        int size = Integer.highestOneBit(names.size() * 4);
        TABLE = new Known[size];
        MASK = size - 1;
        for (AsciiString n : names) {
            AsciiString lower = n.toLowerCase();
            if (known(lower) == null) {
                int i = lower.hashCode() & MASK;
                while (TABLE[i] != null) {
                    i = (i + 1) & MASK;
                }
                TABLE[i] = new Known(lower, connectionSpecific.contains(lower));
            }
        }
    }

    private H2Headers() {}

    /** The table's entry for {@code name}, in any case, or null. */
    private static Known known(CharSequence name) {
        int h = AsciiString.hashCode(name); // ASCII case folded, and cached by an AsciiString
        for (int i = h & MASK; ; i = (i + 1) & MASK) {
            Known k = TABLE[i];
            if (k == null) {
                return null;
            }
            if (k.name.hashCode() == h && k.name.contentEqualsIgnoreCase(name)) { // the name caches its hash
                return k;
            }
        }
    }

    /** A response head for an HTTP/2 client: {@code :status} and the fields HTTP/2 carries. */
    static Http2Headers response(HttpResponse r) {
        HttpHeaders in = r.headers();
        Http2Headers out = new FlatHttp2Headers(in.size() + 1);
        out.status(r.status().codeAsText());
        fields(in, out, false);
        return out;
    }

    /** Trailers for HTTP/2. */
    static Http2Headers trailers(HttpHeaders in) {
        Http2Headers out = new FlatHttp2Headers(in.size());
        fields(in, out, false);
        return out;
    }

    /**
     * A request head for an HTTP/2 upstream: the pseudo-header fields from the request line and
     * Host, then the fields HTTP/2 carries. The exchange has turned an absolute-form target into
     * origin form and Host already, and refused any other form but {@code *}.
     */
    static Http2Headers request(HttpRequest r, boolean tls) {
        HttpHeaders in = r.headers();
        Http2Headers out = new FlatHttp2Headers(in.size() + 4);
        out.method(r.method().asciiName());
        out.scheme(tls ? HTTPS : HTTP);
        out.path(r.uri());
        String host = in.get(HttpHeaderNames.HOST);
        if (host != null) {
            host = host.substring(host.lastIndexOf('@') + 1); // :authority has no userinfo (RFC 9113 8.3.1)
            if (!host.isEmpty()) {
                out.authority(host);
            }
        }
        fields(in, out, true);
        return out;
    }

    /**
     * The fields of {@code in} that HTTP/2 carries, lowercased: none of the connection-specific
     * ones, nor Host (it is {@code :authority}) or Trailer (the HTTP/1.1 framing's); TE only as
     * {@code trailers}, in a request.
     */
    private static void fields(HttpHeaders in, Http2Headers out, boolean request) {
        if (in instanceof FlatHttpHeaders f) {
            for (int i = 0, n = f.size(); i < n; i++) {
                field(f.name(i), f.value(i), out, request);
            }
            return;
        }
        for (Iterator<Map.Entry<CharSequence, CharSequence>> it = in.iteratorCharSequence(); it.hasNext(); ) {
            Map.Entry<CharSequence, CharSequence> e = it.next();
            field(e.getKey(), e.getValue(), out, request);
        }
    }

    private static void field(CharSequence name, CharSequence value, Http2Headers out, boolean request) {
        Known k = known(name);
        if (k == null) {
            out.add(AsciiString.of(name).toLowerCase(), value);
        } else if (!k.connectionSpecific) {
            out.add(k.name, value);
        } else if (request && k.name.equals(HttpHeaderNames.TE) && isTrailers(value)) {
            out.set(HttpHeaderNames.TE, HttpHeaderValues.TRAILERS);
        }
    }

    /**
     * A TE that asks for trailers. The exchange's hop-by-hop pass has left an upstream request's
     * TE at exactly {@code trailers} (every gRPC call has it), so that is looked at first.
     */
    private static boolean isTrailers(CharSequence te) {
        return HttpHeaderValues.TRAILERS.contentEqualsIgnoreCase(te) || HeaderPolicy.containsToken(te.toString(), "trailers");
    }

    /**
     * The request an HTTP/2 client's header block makes, as HTTP/1.1: the request line from
     * {@code :method} and {@code :path} ({@code :authority} for CONNECT), Host from
     * {@code :authority}, Cookie fields joined into one (RFC 9113 8.2.3). The block's pseudo-header
     * fields were checked before ({@link Http2Streams#problem}). A Host field that names another
     * authority than {@code :authority}, a second Host field, or a path or value HTTP/1.1 cannot
     * carry, is a stream error.
     */
    static HttpRequest request(int id, Http2Headers in) throws Http2Exception {
        CharSequence method = in.method();
        CharSequence authority = in.authority();
        boolean connect = HttpMethod.CONNECT.asciiName().contentEquals(method);
        HttpRequest r;
        try {
            // the request line is checked here: a :path with a space, CR or LF is malformed
            r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.valueOf(method.toString()),
                    (connect ? authority : in.path()).toString(), HEADERS);
        } catch (IllegalArgumentException e) {
            throw Http2Exception.streamError(id, Http2Error.PROTOCOL_ERROR, e, "a request line HTTP/1.1 cannot carry: %s", e.getMessage());
        }
        HttpHeaders out = r.headers();
        try {
            if (authority != null) {
                out.add(HttpHeaderNames.HOST, authority);
            }
            StringBuilder cookies = null;
            for (Map.Entry<CharSequence, CharSequence> e : in) {
                CharSequence name = e.getKey();
                if (name.length() > 0 && name.charAt(0) == ':') {
                    continue;
                }
                CharSequence value = e.getValue();
                if (HttpHeaderNames.COOKIE.contentEquals(name)) {
                    if (cookies == null) {
                        cookies = new StringBuilder(value.length() + 16);
                    } else {
                        cookies.append("; ");
                    }
                    cookies.append(value);
                } else if (HttpHeaderNames.HOST.contentEquals(name)) {
                    if (authority == null) {
                        if (out.contains(HttpHeaderNames.HOST)) {
                            throw Http2Exception.streamError(id, Http2Error.PROTOCOL_ERROR, "more than one host field");
                        }
                        out.add(HttpHeaderNames.HOST, value);
                    } else if (!AsciiString.contentEqualsIgnoreCase(authority, value)) {
                        throw Http2Exception.streamError(id, Http2Error.PROTOCOL_ERROR, "host '%s' differs from :authority '%s'", value, authority);
                    }
                } else if (!HttpHeaderNames.TRAILER.contentEquals(name)) {
                    out.add(name, value);
                }
            }
            if (cookies != null) {
                out.add(HttpHeaderNames.COOKIE, cookies.toString());
            }
        } catch (IllegalArgumentException e) {
            throw Http2Exception.streamError(id, Http2Error.PROTOCOL_ERROR, e, "a header HTTP/1.1 cannot carry: %s", e.getMessage());
        }
        return r;
    }

    /**
     * The response an HTTP/2 upstream's header block makes, as HTTP/1.1; a whole one (no body)
     * when {@code end}. A {@code :status} that is not three digits, or is 101, is a stream error.
     */
    static HttpResponse response(int id, Http2Headers in, boolean end) throws Http2Exception {
        HttpResponseStatus status = status(id, in.status());
        HttpResponse r = end
                ? new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, Unpooled.EMPTY_BUFFER, HEADERS, TRAILERS)
                : new DefaultHttpResponse(HttpVersion.HTTP_1_1, status, HEADERS);
        copy(id, in, r.headers(), true);
        return r;
    }

    /** Trailers from HTTP/2 into {@code out}: pseudo-header fields are a stream error there. */
    static void trailers(int id, Http2Headers in, HttpHeaders out) throws Http2Exception {
        copy(id, in, out, false);
    }

    private static void copy(int id, Http2Headers in, HttpHeaders out, boolean response) throws Http2Exception {
        try {
            for (Map.Entry<CharSequence, CharSequence> e : in) {
                CharSequence name = e.getKey();
                if (name.length() > 0 && name.charAt(0) == ':') {
                    if (response && Http2Headers.PseudoHeaderName.STATUS.value().contentEquals(name)) {
                        continue; // the status line's
                    }
                    throw Http2Exception.streamError(id, Http2Error.PROTOCOL_ERROR, "pseudo-header field '%s' out of place", name);
                }
                if (!HttpHeaderNames.TRAILER.contentEquals(name) && !HttpHeaderNames.TRANSFER_ENCODING.contentEquals(name)) {
                    out.add(name, e.getValue());
                }
            }
        } catch (IllegalArgumentException e) {
            throw Http2Exception.streamError(id, Http2Error.PROTOCOL_ERROR, e, "a header HTTP/1.1 cannot carry: %s", e.getMessage());
        }
    }

    private static HttpResponseStatus status(int id, CharSequence s) throws Http2Exception {
        if (s == null || s.length() != 3 || !isDigit(s.charAt(0)) || !isDigit(s.charAt(1)) || !isDigit(s.charAt(2)) || s.charAt(0) == '0') {
            throw Http2Exception.streamError(id, Http2Error.PROTOCOL_ERROR, "bad :status '%s'", s);
        }
        int code = (s.charAt(0) - '0') * 100 + (s.charAt(1) - '0') * 10 + (s.charAt(2) - '0');
        if (code == 101) {
            throw Http2Exception.streamError(id, Http2Error.PROTOCOL_ERROR, ":status 101 is not allowed in HTTP/2");
        }
        return HttpResponseStatus.valueOf(code);
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }
}
