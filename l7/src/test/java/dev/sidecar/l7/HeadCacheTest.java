package dev.sidecar.l7;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.AsciiString;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class HeadCacheTest {
    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }

    @Test
    void the_same_bytes_give_the_same_name_and_case_is_kept() {
        HeadCache cache = new HeadCache();
        byte[] line = ascii("xxContent-Type: text/plain");
        AsciiString first = cache.name(line, 2, 12);
        assertEquals("Content-Type", first.toString());
        assertSame(first, cache.name(ascii("Content-Type"), 0, 12));
        AsciiString lower = cache.name(ascii("content-type"), 0, 12);
        assertEquals("content-type", lower.toString(), "another spelling is another entry, as sent");
        assertNotSame(first, lower);
    }

    @Test
    void words_are_reused_and_long_ones_are_never_kept() {
        HeadCache cache = new HeadCache();
        String ok = cache.word(ascii("HTTP/1.1 200 OK"), 13, 2);
        assertEquals("OK", ok);
        assertSame(ok, cache.word(ascii("OK"), 0, 2));
        byte[] path = ascii("/" + "a".repeat(HeadCache.MAX_LENGTH));
        String long1 = cache.word(path, 0, path.length);
        String long2 = cache.word(path, 0, path.length);
        assertEquals(long1, long2);
        assertNotSame(long1, long2);
        AsciiString longName1 = cache.name(path, 0, path.length);
        assertNotSame(longName1, cache.name(path, 0, path.length));
    }

    /** Whatever shares a slot, what comes back always spells the bytes asked for. */
    @Test
    void entries_that_share_a_slot_replace_each_other_and_never_answer_for_each_other() {
        HeadCache cache = new HeadCache();
        SplittableRandom random = new SplittableRandom(7);
        for (int i = 0; i < 50_000; i++) {
            int length = 1 + random.nextInt(12);
            byte[] b = new byte[length + 3];
            for (int k = 0; k < b.length; k++) {
                b[k] = (byte) ('a' + random.nextInt(4)); // few letters: many names repeat, many slots collide
            }
            String expected = new String(b, 3, length, StandardCharsets.ISO_8859_1);
            assertEquals(expected, cache.name(b, 3, length).toString());
            assertEquals(expected, cache.word(b, 3, length));
        }
        byte[] high = {(byte) 0xE9, 'x'};
        assertEquals("\u00e9x", cache.word(high, 0, 2), "bytes above 0x7F read as ISO-8859-1, as Netty's decoder reads them");
    }

    private static List<HttpObject> read(EmbeddedChannel ch, String wire) {
        ch.writeInbound(Unpooled.copiedBuffer(wire, StandardCharsets.ISO_8859_1));
        List<HttpObject> out = new ArrayList<>();
        for (HttpObject o; (o = ch.readInbound()) != null; ) {
            out.add(o);
        }
        return out;
    }

    private static void release(List<HttpObject> objects) {
        objects.forEach(ReferenceCountUtil::release);
    }

    private static void send(EmbeddedChannel ch, HttpRequest request) {
        ch.writeOutbound(request);
        for (Object o; (o = ch.readOutbound()) != null; ) {
            ReferenceCountUtil.release(o);
        }
    }

    @Test
    void an_upstream_codec_reads_no_body_after_head_and_pairs_responses_across_informational_ones() {
        EmbeddedChannel ch = new EmbeddedChannel(new Http1ClientCodec(4096, 8192, 8192));
        send(ch, new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.HEAD, "/a", Unpooled.EMPTY_BUFFER));
        send(ch, new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/b", Unpooled.EMPTY_BUFFER));
        // HEAD's response announces 5 bytes it does not send; the GET's response follows at once
        List<HttpObject> objects = read(ch, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
                + "HTTP/1.1 100 Continue\r\n\r\n"
                + "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
        List<Integer> statuses = new ArrayList<>();
        StringBuilder bodies = new StringBuilder();
        for (HttpObject o : objects) {
            assertTrue(o.decoderResult().isSuccess(), () -> o.decoderResult().toString());
            if (o instanceof HttpResponse r) {
                statuses.add(r.status().code());
            }
            if (o instanceof HttpContent c) {
                bodies.append(c.content().toString(StandardCharsets.US_ASCII)).append('|');
            }
        }
        assertEquals(List.of(200, 100, 200), statuses);
        assertEquals("||hello|", bodies.toString(), "HEAD's response and the 100 end at their heads (an empty last part each)");
        release(objects);
        assertFalse(ch.finish());
    }

    @Test
    void an_upstream_codec_reuses_names_and_status_words_and_still_reads_trailers() {
        EmbeddedChannel ch = new EmbeddedChannel(new Http1ClientCodec(4096, 8192, 8192));
        String response = "HTTP/1.1 200 OK\r\nServer: nginx\r\nX-Custom-Thing: 1\r\nContent-Length: 2\r\n\r\nhi";
        send(ch, new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/", Unpooled.EMPTY_BUFFER));
        List<HttpObject> first = read(ch, response);
        send(ch, new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/", Unpooled.EMPTY_BUFFER));
        List<HttpObject> second = read(ch, response);
        HttpResponse r1 = (HttpResponse) first.get(0);
        HttpResponse r2 = (HttpResponse) second.get(0);
        List<CharSequence> names1 = new ArrayList<>();
        r1.headers().iteratorCharSequence().forEachRemaining(e -> names1.add(e.getKey()));
        List<CharSequence> names2 = new ArrayList<>();
        r2.headers().iteratorCharSequence().forEachRemaining(e -> names2.add(e.getKey()));
        assertEquals(List.of("Server", "X-Custom-Thing", "Content-Length"), names1.stream().map(CharSequence::toString).toList());
        for (int i = 0; i < names1.size(); i++) {
            assertSame(names1.get(i), names2.get(i), "the second response's names are the first's objects");
        }
        assertSame(r1.status(), r2.status());
        assertTrue(((LastHttpContent) first.get(1)).trailingHeaders().isEmpty());
        release(first);
        release(second);

        send(ch, new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/", Unpooled.EMPTY_BUFFER));
        List<HttpObject> chunked = read(ch, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "2\r\nhi\r\n0\r\nGrpc-Status: 0\r\nX-Trailer-Two: b\r\nX-Trailer-Three: c\r\n\r\n");
        LastHttpContent last = (LastHttpContent) chunked.get(chunked.size() - 1);
        Map<String, String> trailers = new LinkedHashMap<>();
        last.trailingHeaders().forEach(e -> trailers.put(e.getKey(), e.getValue()));
        assertEquals(Map.of("Grpc-Status", "0", "X-Trailer-Two", "b", "X-Trailer-Three", "c"), trailers);
        release(chunked);
        assertFalse(ch.finish());
    }

    @Test
    void a_listener_decoder_reuses_the_request_line_and_names_of_repeated_requests() {
        EmbeddedChannel ch = new EmbeddedChannel(new Http1ServerCodec(new HttpDecoderConfig()));
        String request = "PATCH /items/7?x=1 HTTP/1.1\r\nHost: a.example\r\nX-Trace-Me: yes\r\nContent-Length: 0\r\n\r\n";
        List<HttpObject> first = read(ch, request + request);
        HttpRequest q1 = (HttpRequest) first.get(0);
        HttpRequest q2 = (HttpRequest) first.get(2);
        assertEquals(HttpMethod.PATCH, q2.method());
        assertEquals("/items/7?x=1", q2.uri());
        assertSame(q1.uri(), q2.uri());
        assertEquals("yes", q2.headers().get("x-trace-me"));
        List<CharSequence> names1 = new ArrayList<>();
        q1.headers().iteratorCharSequence().forEachRemaining(e -> names1.add(e.getKey()));
        List<CharSequence> names2 = new ArrayList<>();
        q2.headers().iteratorCharSequence().forEachRemaining(e -> names2.add(e.getKey()));
        assertEquals(List.of("Host", "X-Trace-Me", "Content-Length"), names1.stream().map(CharSequence::toString).toList());
        for (int i = 0; i < names1.size(); i++) {
            assertSame(names1.get(i), names2.get(i));
        }
        release(first);
        assertNull(ch.readInbound());
        ch.finishAndReleaseAll();
    }
}
