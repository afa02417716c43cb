package dev.sidecar.l7;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseDecoder;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersEncoder;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class FlatHttp2HeadersTest {
    private static final String[] NAMES = {":status", ":method", ":path", ":authority", "content-type", "x-a", "te", "grpc-status", "Upper"};
    private static final String[] VALUES = {"a", "b", "200", "GET", "/x", "trailers", "Trailers", "0", "12"};

    private static List<String> fields(Http2Headers h) {
        List<String> out = new ArrayList<>();
        for (Map.Entry<CharSequence, CharSequence> e : h) {
            out.add(e.getKey() + "=" + e.getValue());
        }
        return out;
    }

    private static String hpack(Http2Headers h) throws Http2Exception {
        ByteBuf out = Unpooled.buffer();
        try {
            new DefaultHttp2HeadersEncoder().encodeHeaders(1, h, out);
            return ByteBufUtil.hexDump(out);
        } finally {
            out.release();
        }
    }

    /**
     * Random adds, sets and removes (pseudo-header fields among them) applied to these and to
     * Netty's unvalidated headers leave the same fields in the same order, answer every lookup
     * alike and HPACK-encode to the same bytes.
     */
    @Test
    void keeps_and_answers_as_nettys_headers_do_after_the_same_changes() throws Http2Exception {
        SplittableRandom random = new SplittableRandom(11);
        for (int round = 0; round < 300; round++) {
            Http2Headers flat = new FlatHttp2Headers(random.nextInt(4));
            Http2Headers netty = new DefaultHttp2Headers(false);
            for (int op = 0; op < 25; op++) {
                String name = NAMES[random.nextInt(NAMES.length)];
                String value = VALUES[random.nextInt(VALUES.length)];
                CharSequence n = random.nextBoolean() ? name : AsciiString.of(name);
                switch (random.nextInt(8)) {
                    case 0, 1, 2 -> {
                        flat.add(n, value);
                        netty.add(n, value);
                    }
                    case 3 -> {
                        flat.set(n, value);
                        netty.set(n, value);
                    }
                    case 4 -> assertEquals(netty.remove(n), flat.remove(n));
                    case 5 -> {
                        flat.set(n, List.of(value, "z"));
                        netty.set(n, List.of(value, "z"));
                    }
                    case 6 -> {
                        flat.setInt(n, op);
                        netty.setInt(n, op);
                    }
                    default -> assertEquals(netty.getAndRemove(n), flat.getAndRemove(n));
                }
                assertEquals(fields(netty), fields(flat), "after op " + op + " of round " + round);
                assertEquals(netty.size(), flat.size());
                assertEquals(netty.isEmpty(), flat.isEmpty());
                assertEquals(netty.names(), flat.names());
                for (String look : NAMES) {
                    assertEquals(netty.get(look), flat.get(look), look);
                    assertEquals(netty.getAll(look), flat.getAll(look), look);
                    assertEquals(netty.contains(look), flat.contains(look), look);
                    assertEquals(netty.getInt(look), flat.getInt(look), look);
                    for (String v : VALUES) {
                        assertEquals(netty.contains(look, v), flat.contains(look, v), look + " " + v);
                        assertEquals(netty.contains(look, v, true), flat.contains(look, v, true), look + " " + v);
                    }
                }
                assertEquals(netty.status(), flat.status());
                assertEquals(netty.method(), flat.method());
                assertEquals(netty.path(), flat.path());
                assertEquals(netty.authority(), flat.authority());
                assertEquals(netty.scheme(), flat.scheme());
            }
            assertEquals(hpack(netty), hpack(flat), "round " + round);
        }
    }

    @Test
    void puts_pseudo_header_fields_first_whenever_they_are_added() {
        Http2Headers h = new FlatHttp2Headers(1).add("content-type", "text/plain").status("200").add("x-a", "1").path("/p");
        assertEquals(List.of(":status=200", ":path=/p", "content-type=text/plain", "x-a=1"), fields(h));
        h.status("404");
        assertEquals(List.of(":path=/p", ":status=404", "content-type=text/plain", "x-a=1"), fields(h));
        assertEquals("404", h.status().toString());
    }

    @Test
    void its_iterator_moves_one_entry_along_and_removes_what_it_last_returned() {
        Http2Headers h = new FlatHttp2Headers(4).status("200").add("a", "1").add("b", "2").add("a", "3");
        Iterator<Map.Entry<CharSequence, CharSequence>> it = h.iterator();
        assertThrows(IllegalStateException.class, it::remove);
        Map.Entry<CharSequence, CharSequence> first = it.next();
        assertEquals(":status", first.getKey().toString());
        while (it.hasNext()) {
            if (it.next().getKey().toString().equals("a")) {
                it.remove();
            }
        }
        assertEquals(List.of(":status=200", "b=2"), fields(h));
        assertFalse(it.hasNext());
        assertThrows(java.util.NoSuchElementException.class, it::next);
        Map.Entry<CharSequence, CharSequence> e = h.iterator().next();
        e.setValue("204");
        assertEquals("204", h.status().toString());
    }

    @Test
    void converts_typed_values_as_nettys_headers_do() {
        Http2Headers flat = new FlatHttp2Headers(2);
        Http2Headers netty = new DefaultHttp2Headers(false);
        for (Http2Headers h : List.of(flat, netty)) {
            h.addLong("l", 1L << 40).addBoolean("b", true).addTimeMillis("t", 1_700_000_000_000L).addObject("o", 7).add("bad", "x");
        }
        assertEquals(fields(netty), fields(flat));
        assertEquals(netty.getLong("l"), flat.getLong("l"));
        assertEquals(netty.getBoolean("b"), flat.getBoolean("b"));
        assertEquals(netty.getTimeMillis("t"), flat.getTimeMillis("t"));
        assertTrue(flat.containsObject("o", 7));
        assertTrue(flat.containsTimeMillis("t", 1_700_000_000_000L));
        assertNull(flat.getInt("bad"));
        assertEquals(5, flat.getInt("bad", 5));
        assertEquals(5, flat.getIntAndRemove("bad", 5));
        assertFalse(flat.contains("bad"));
        assertThrows(NullPointerException.class, () -> flat.add("n", (CharSequence) null));
        assertThrows(IllegalArgumentException.class, () -> flat.add(flat));
    }

    /** The blocks the proxy sends are these, and encode as the hash-table headers they replaced. */
    @Test
    void the_proxys_blocks_for_sending_are_flat_and_encode_as_before() throws Http2Exception {
        EmbeddedChannel ch = new EmbeddedChannel(new HttpResponseDecoder());
        ch.writeInbound(Unpooled.copiedBuffer("HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/plain\r\n"
                + "Connection: keep-alive\r\nX-Custom: v\r\nContent-Length: 0\r\n\r\n", StandardCharsets.US_ASCII));
        HttpResponse response = ch.readInbound();
        ch.finishAndReleaseAll();
        Http2Headers out = H2Headers.response(response);
        assertInstanceOf(FlatHttp2Headers.class, out);
        assertEquals(List.of(":status=200", "server=nginx", "content-type=text/plain", "x-custom=v", "content-length=0"), fields(out));
        Http2Headers before = new DefaultHttp2Headers(false).add(out);
        assertEquals(hpack(before), hpack(out));

        HttpRequest request = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/svc/Call",
                DefaultHttpHeadersFactory.headersFactory());
        request.headers().add("Host", "svc:80").add("TE", "trailers").add("content-type", "application/grpc");
        Http2Headers up = H2Headers.request(request, true);
        assertInstanceOf(FlatHttp2Headers.class, up);
        assertEquals(List.of(":method=POST", ":scheme=https", ":path=/svc/Call", ":authority=svc:80", "te=trailers",
                "content-type=application/grpc"), fields(up));
    }
}
