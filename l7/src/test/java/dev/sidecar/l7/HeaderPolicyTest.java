package dev.sidecar.l7;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class HeaderPolicyTest {
    @Test
    void hop_by_hop_headers_and_every_header_connection_names_are_removed() {
        HttpHeaders h = new DefaultHttpHeaders();
        h.add("connection", "Keep-Alive ,x-hop,, X-Other ,\tx-tab");
        h.add("x-tab", "5");
        h.add("connection", "close");
        h.add("connection", "upgrade, x-third");
        h.add("keep-alive", "timeout=5");
        h.add("upgrade", "websocket");
        h.add("x-hop", "1");
        h.add("x-other", "2");
        h.add("x-third", "3");
        h.add("transfer-encoding", "chunked");
        h.add("te", "trailers, deflate");
        h.add("x-kept", "4");
        h.add("proxy-connection", "keep-alive");
        h.add("http2-settings", "AAMAAABkAAQAoAAAAAIAAAAA");
        HeaderPolicy.stripHopByHop(h);
        assertEquals(2, h.size(), h.toString());
        assertEquals("4", h.get("x-kept"));
        assertEquals("trailers", h.get("te"));
    }

    @Test
    void a_connection_header_naming_only_the_usual_tokens_leaves_the_rest() {
        HttpHeaders h = new DefaultHttpHeaders();
        h.add("Connection", "keep-alive");
        h.add("x-kept", "1");
        h.add("keep-alive", "timeout=5");
        HeaderPolicy.stripHopByHop(h);
        assertEquals(1, h.size(), h.toString());
        assertTrue(h.contains("x-kept"));
        assertFalse(h.contains("te"));
    }

    @Test
    void netty_http2_extension_headers_never_pass_whether_netty_or_a_client_set_them() {
        HttpHeaders h = new DefaultHttpHeaders();
        h.add("x-http2-scheme", "http");
        h.add("x-http2-stream-id", "3");
        h.add("X-HTTP2-Made-Up", "1");
        h.add("x-http2-", "the bare prefix goes too");
        h.add("x-http2", "kept: not the prefix plus a name");
        h.add("x-kept", "1");
        HeaderPolicy.stripExtensions(h);
        assertEquals(2, h.size(), h.toString());
        assertTrue(h.contains("x-http2") && h.contains("x-kept"));
    }

    @Test
    void traceparent_is_the_hex_of_its_three_ids() {
        SplittableRandom r = new SplittableRandom(7);
        for (int i = 0; i < 1000; i++) {
            long hi = i < 3 ? i - 1 : r.nextLong();
            long lo = r.nextLong();
            long parent = r.nextLong() | 1;
            String expected = "00-" + hex(hi) + hex(lo) + "-" + hex(parent) + "-00";
            assertEquals(expected, HeaderPolicy.traceparent(hi, lo, parent).toString());
        }
    }

    private static String hex(long v) {
        return String.format("%016x", v);
    }
}
