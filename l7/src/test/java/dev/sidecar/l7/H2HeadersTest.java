package dev.sidecar.l7;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class H2HeadersTest {
    @Test
    void well_known_names_in_any_case_become_the_shared_lowercase_name() {
        HttpResponse r = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        r.headers().add("Content-Type", "a").add(new AsciiString("X-REQUEST-ID"), "b").add("X-Made-Up", "c");
        List<CharSequence> names = names(H2Headers.response(r));
        assertSame(HttpHeaderNames.CONTENT_TYPE, names.get(1));
        assertSame(HeaderPolicy.X_REQUEST_ID, names.get(2));
        assertEquals(new AsciiString("x-made-up"), names.get(3));
    }

    @Test
    void userinfo_never_reaches_authority() {
        HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/");
        r.headers().add("host", "user:secret@svc:8080");
        assertEquals("svc:8080", H2Headers.request(r, false).authority().toString());
        r.headers().set("host", "user@");
        assertNull(H2Headers.request(r, false).authority());
    }

    @Test
    void upstream_codecs_are_clients_that_do_not_cap_an_upstreams_resets() {
        Http2FrameCodec codec = ClientHttp2Codec.builder().build();
        assertFalse(codec.connection().isServer());
        // a server-side codec wraps its decoder in Netty's RST_STREAM limit (Http2MaxRstFrameDecoder)
        assertFalse(codec.decoder().getClass().getSimpleName().contains("Rst"), codec.decoder().getClass().getName());
    }

    @Test
    void a_response_for_http2_has_its_status_and_lowercase_fields_and_nothing_connection_specific() {
        HttpResponse r = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.NOT_FOUND);
        r.headers().add("Content-Type", "text/plain").add("X-Custom", "1").add("x-custom", "2").add("Connection", "close")
                .add("Keep-Alive", "timeout=5").add("Transfer-Encoding", "chunked").add("Upgrade", "h2c").add("TE", "trailers")
                .add("Set-Cookie", "a=1").add("Set-Cookie", "b=2");
        Http2Headers h = H2Headers.response(r);
        assertEquals(List.of(":status=404", "content-type=text/plain", "x-custom=1", "x-custom=2", "set-cookie=a=1", "set-cookie=b=2"), fields(h));
        assertSame(HttpHeaderNames.CONTENT_TYPE, names(h).get(1), "the table's own name");
    }

    @Test
    void a_request_for_an_http2_upstream_takes_its_pseudo_header_fields_from_the_request_line_and_host() {
        HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/svc/Method?q=1");
        r.headers().add("Host", "api.local:8080").add("Content-Type", "application/grpc").add("TE", "trailers, deflate")
                .add("Connection", "keep-alive");
        assertEquals(List.of(":authority=api.local:8080", ":method=POST", ":path=/svc/Method?q=1", ":scheme=https",
                "content-type=application/grpc", "te=trailers"), sorted(fields(H2Headers.request(r, true))));

        HttpRequest noTrailers = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/");
        noTrailers.headers().add("te", "deflate");
        assertEquals(List.of(":method=GET", ":path=/", ":scheme=http"), sorted(fields(H2Headers.request(noTrailers, false))));
    }

    @Test
    void an_http2_request_becomes_http11_with_host_from_authority_and_its_cookies_joined() throws Exception {
        Http2Headers h = new DefaultHttp2Headers().method("GET").scheme("https").path("/p?q").authority("svc:443");
        h.add("cookie", "a=1").add("accept", "*/*").add("cookie", "b=2").add("host", "SVC:443");
        HttpRequest r = H2Headers.request(3, h);
        assertEquals(HttpMethod.GET, r.method());
        assertEquals("/p?q", r.uri());
        assertEquals(List.of("svc:443"), r.headers().getAll(HttpHeaderNames.HOST));
        assertEquals("a=1; b=2", r.headers().get(HttpHeaderNames.COOKIE));
        assertEquals("*/*", r.headers().get(HttpHeaderNames.ACCEPT));
        assertFalse(r.headers().names().stream().anyMatch(n -> n.startsWith("x-http2")), r.headers().toString());
        assertEquals(3, r.headers().size());

        HttpRequest connect = H2Headers.request(5, new DefaultHttp2Headers().method("CONNECT").authority("db:5432"));
        assertEquals("db:5432", connect.uri());
        assertEquals("db:5432", connect.headers().get(HttpHeaderNames.HOST));
    }

    @Test
    void a_host_naming_another_authority_or_a_value_http11_cannot_carry_is_a_stream_error() {
        Http2Headers otherHost = new DefaultHttp2Headers().method("GET").scheme("http").path("/").authority("a");
        otherHost.add("host", "b");
        assertStreamError(7, () -> H2Headers.request(7, otherHost));

        Http2Headers crlf = new DefaultHttp2Headers(false).method("GET").scheme("http").path("/").authority("a");
        crlf.add("x-evil", "1\r\nx-injected: 2");
        assertStreamError(9, () -> H2Headers.request(9, crlf));

        Http2Headers twoHosts = new DefaultHttp2Headers().method("GET").scheme("http").path("/");
        twoHosts.add("host", "a").add("host", "b");
        assertStreamError(11, () -> H2Headers.request(11, twoHosts));

        for (String path : List.of("/a b", "/a\r\nx: 1", "/a\nb")) {
            Http2Headers badPath = new DefaultHttp2Headers(false).method("GET").scheme("http").path(path).authority("a");
            assertStreamError(13, () -> H2Headers.request(13, badPath));
        }
    }

    @Test
    void an_http2_response_becomes_http11_and_a_bad_status_is_a_stream_error() throws Exception {
        Http2Headers h = new DefaultHttp2Headers().status("204");
        h.add("grpc-status", "0").add("trailer", "x");
        HttpResponse whole = H2Headers.response(1, h, true);
        FullHttpResponse full = assertInstanceOf(FullHttpResponse.class, whole);
        assertEquals(HttpResponseStatus.NO_CONTENT, full.status());
        assertEquals("0", full.headers().get("grpc-status"));
        assertNull(full.headers().get("trailer"));
        assertEquals(1, full.headers().size());
        full.release();
        assertFalse(H2Headers.response(1, new DefaultHttp2Headers().status("200"), false) instanceof FullHttpResponse);

        for (String bad : List.of("20", "2000", "abc", "099", "101")) {
            assertStreamError(1, () -> H2Headers.response(1, new DefaultHttp2Headers(false).status(bad), false));
        }
        Http2Headers misplaced = new DefaultHttp2Headers(false).status("200").path("/");
        assertStreamError(1, () -> H2Headers.response(1, misplaced, false));
    }

    @Test
    void trailers_go_both_ways_and_pseudo_header_fields_in_them_are_a_stream_error() throws Exception {
        HttpHeaders in = new DefaultHttpHeaders().add("Grpc-Status", "0").add("grpc-message", "ok");
        assertEquals(List.of("grpc-status=0", "grpc-message=ok"), fields(H2Headers.trailers(in)));

        HttpHeaders out = new DefaultHttpHeaders();
        H2Headers.trailers(3, new DefaultHttp2Headers().add("grpc-status", "0"), out);
        assertEquals("0", out.get("grpc-status"));
        assertStreamError(3, () -> H2Headers.trailers(3, new DefaultHttp2Headers(false).status("200"), new DefaultHttpHeaders()));
    }

    private interface Conversion {
        void run() throws Http2Exception;
    }

    private static void assertStreamError(int id, Conversion c) {
        Http2Exception e = assertThrows(Http2Exception.class, c::run);
        Http2Exception.StreamException s = assertInstanceOf(Http2Exception.StreamException.class, e);
        assertEquals(id, s.streamId());
        assertEquals(Http2Error.PROTOCOL_ERROR, s.error());
    }

    private static List<String> fields(Http2Headers h) {
        List<String> out = new ArrayList<>();
        for (Map.Entry<CharSequence, CharSequence> e : h) {
            out.add(e.getKey() + "=" + e.getValue());
        }
        return out;
    }

    private static List<CharSequence> names(Http2Headers h) {
        List<CharSequence> out = new ArrayList<>();
        for (Map.Entry<CharSequence, CharSequence> e : h) {
            out.add(e.getKey());
        }
        return out;
    }

    private static List<String> sorted(List<String> l) {
        List<String> out = new ArrayList<>(l);
        out.sort(null);
        return out;
    }
}
