package dev.sidecar.l7;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.AsciiString;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Date;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class FlatHttpHeadersTest {
    private static HttpHeaders flat() {
        return FlatHttpHeaders.factory(DefaultHttpHeadersFactory.headersFactory()).newHeaders();
    }

    private static final String[] NAMES = {"Host", "host", "HOST", "Accept", "accept", "X-A", "x-a", "Connection", "content-length"};
    private static final String[] VALUES = {"a", "b", "c, d", "keep-alive , close", "close", "1", "12"};

    /** Random adds, sets and removes applied to these and to Netty's headers answer every lookup alike. */
    @Test
    void answers_every_lookup_as_nettys_headers_do_after_the_same_changes() {
        SplittableRandom random = new SplittableRandom(7);
        for (int round = 0; round < 300; round++) {
            HttpHeaders flat = flat();
            HttpHeaders netty = new DefaultHttpHeaders();
            for (int op = 0; op < 25; op++) {
                String name = NAMES[random.nextInt(NAMES.length)];
                String value = VALUES[random.nextInt(VALUES.length)];
                CharSequence n = random.nextBoolean() ? name : AsciiString.of(name);
                switch (random.nextInt(6)) {
                    case 0, 1 -> {
                        flat.add(n, value);
                        netty.add(n, value);
                    }
                    case 2 -> {
                        flat.set(n, value);
                        netty.set(n, value);
                    }
                    case 3 -> {
                        flat.remove(n);
                        netty.remove(n);
                    }
                    case 4 -> {
                        flat.set(n, List.of(value, "z"));
                        netty.set(n, List.of(value, "z"));
                    }
                    default -> {
                        flat.setInt(n, op);
                        netty.setInt(n, op);
                    }
                }
                assertEquals(netty.size(), flat.size());
                for (String look : NAMES) {
                    assertEquals(netty.get(look), flat.get(look), look);
                    assertEquals(netty.getAll(look), flat.getAll(look), look);
                    assertEquals(netty.getAll(look).size(), FlatHttpHeaders.count(flat, look), look);
                    assertEquals(netty.contains(look), flat.contains(look), look);
                    assertEquals(netty.getInt(look), flat.getInt(look), look);
                    for (String v : new String[] {"close", "keep-alive", "c", "d", "a"}) {
                        assertEquals(netty.containsValue(look, v, true), flat.containsValue(look, v, true), look + " " + v);
                        assertEquals(netty.containsValue(look, v.toUpperCase(), false), flat.containsValue(look, v.toUpperCase(), false));
                        assertEquals(netty.contains(look, v, true), flat.contains(look, v, true), look + " " + v);
                    }
                }
            }
            assertEquals(netty.copy().size(), flat.copy().size());
            assertEquals(flat, flat.copy());
        }
    }

    @Test
    void refuses_what_nettys_validating_headers_refuse() {
        HttpHeaders h = flat();
        assertThrows(IllegalArgumentException.class, () -> h.add("bad name", "x"));
        assertThrows(IllegalArgumentException.class, () -> h.add("x", "a\r\nInjected: 1"));
        assertThrows(IllegalArgumentException.class, () -> h.set("x", "a\u0000"));
        assertThrows(NullPointerException.class, () -> h.add("x", (Object) null));
        assertTrue(h.isEmpty());
        HttpHeaders trailers = FlatHttpHeaders.factory(DefaultHttpHeadersFactory.trailersFactory()).newHeaders();
        assertThrows(IllegalArgumentException.class, () -> trailers.add("Content-Length", "1"));
        HttpHeaders unchecked = FlatHttpHeaders.factory(DefaultHttpHeadersFactory.headersFactory().withValidation(false)).newHeaders();
        unchecked.add("bad name", "ok");
        assertEquals("ok", unchecked.get("BAD NAME"));
    }

    @Test
    void keeps_values_as_given_and_formats_dates_and_numbers() {
        HttpHeaders h = flat();
        AsciiString value = AsciiString.of("text/plain");
        h.add(HttpHeaderNames.CONTENT_TYPE, value);
        h.add("Date", new Date(0));
        h.addInt("Content-Length", 42);
        Map.Entry<CharSequence, CharSequence> first = h.iteratorCharSequence().next();
        assertTrue(first.getValue() == value, "the value object itself");
        assertEquals("Thu, 01 Jan 1970 00:00:00 GMT", h.get("date"));
        assertEquals(0L, h.getTimeMillis("Date"));
        assertEquals(42, h.getInt("content-length"));
        assertNull(h.getInt("content-type"));
        assertEquals(7, h.getInt("missing", 7));
    }

    @Test
    void set_replaces_a_field_where_it_stands_and_drops_the_later_ones() {
        HttpHeaders h = flat();
        h.add("A", "1").add("B", "2").add("a", "3").add("C", "4");
        h.set("a", "5");
        List<String> order = new ArrayList<>();
        h.forEach(e -> order.add(e.getKey() + "=" + e.getValue()));
        assertEquals(List.of("a=5", "B=2", "C=4"), order);
    }

    @Test
    void iterators_remove_and_set_the_fields_they_walk() {
        HttpHeaders h = flat();
        h.add("A", "1").add("B", "2").add("A", "3").add("C", "4");
        for (Iterator<Map.Entry<CharSequence, CharSequence>> it = h.iteratorCharSequence(); it.hasNext(); ) {
            Map.Entry<CharSequence, CharSequence> e = it.next();
            if (e.getKey().equals("B")) {
                it.remove();
            } else if (e.getKey().equals("C")) {
                e.setValue("40");
            }
        }
        assertEquals("A: 1, A: 3, C: 40", fields(h));
        for (Iterator<? extends CharSequence> it = h.valueCharSequenceIterator("a"); it.hasNext(); ) {
            if (it.next().equals("1")) {
                it.remove();
            }
        }
        assertEquals("A: 3, C: 40", fields(h));
        Map.Entry<String, String> e = h.iterator().next();
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> e.setValue("x\ny"));
        assertTrue(bad.getMessage().contains("'A'"), "names the header: " + bad.getMessage());
        // an entry read before a removal moved the fields is refused, not written to another field
        HttpHeaders cookies = flat();
        cookies.add("Set-Cookie", "a=1").add("Set-Cookie", "b=2");
        Map.Entry<CharSequence, CharSequence> second = null;
        for (Iterator<Map.Entry<CharSequence, CharSequence>> it = cookies.iteratorCharSequence(); it.hasNext(); ) {
            second = it.next();
        }
        cookies.remove("x-none");
        Map.Entry<CharSequence, CharSequence> stillGood = second;
        stillGood.setValue("b=3");
        cookies.valueCharSequenceIterator("set-cookie").next();
        Iterator<? extends CharSequence> first = cookies.valueCharSequenceIterator("set-cookie");
        first.next();
        first.remove();
        assertThrows(IllegalStateException.class, () -> stillGood.setValue("b=4"));
        assertEquals(List.of("b=3"), cookies.getAll("Set-Cookie"));
        h.clear();
        assertTrue(h.isEmpty());
        assertFalse(h.iterator().hasNext());
    }

    private static String fields(HttpHeaders h) {
        List<String> all = new ArrayList<>();
        h.iteratorCharSequence().forEachRemaining(e -> all.add(e.getKey() + ": " + e.getValue()));
        return String.join(", ", all);
    }

    /** The codecs decode into these headers and encode a message's fields from them as Netty would. */
    @Test
    void the_http1_codecs_decode_into_them_and_encode_from_them() {
        EmbeddedChannel ch = new EmbeddedChannel(new Http1ServerCodec(new HttpDecoderConfig().setValidateHeaders(true)));
        try {
            ch.writeInbound(Unpooled.copiedBuffer("POST / HTTP/1.1\r\nHost: x\r\nX-Twice: 1\r\nx-twice: 2\r\n"
                    + "Transfer-Encoding: chunked\r\n\r\n0\r\nX-Sum: 3\r\n\r\n", StandardCharsets.US_ASCII));
            HttpRequest request = ch.readInbound();
            assertInstanceOf(FlatHttpHeaders.class, request.headers());
            assertEquals(List.of("1", "2"), request.headers().getAll("X-TWICE"));
            LastHttpContent end = ch.readInbound();
            assertInstanceOf(FlatHttpHeaders.class, end.trailingHeaders());
            assertEquals("3", end.trailingHeaders().get("x-sum"));
            end.release();

            DefaultHttpResponse response = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, FlatHttpHeaders.factory(DefaultHttpHeadersFactory.headersFactory()));
            response.headers().add("Content-Length", "0").add(HttpHeaderNames.SERVER, AsciiString.of("s"));
            ch.writeOutbound(response, LastHttpContent.EMPTY_LAST_CONTENT);
            StringBuilder wire = new StringBuilder();
            for (ByteBuf b; (b = ch.readOutbound()) != null; ) {
                wire.append(b.toString(StandardCharsets.US_ASCII));
                b.release();
            }
            assertEquals("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nserver: s\r\n\r\n", wire.toString());
        } finally {
            ch.finishAndReleaseAll();
        }
    }
}
