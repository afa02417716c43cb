package dev.sidecar.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sidecar.testkit.Await;
import dev.sidecar.testkit.Closer;
import dev.sidecar.testkit.HttpUpstream;
import java.io.ByteArrayOutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** HTTP/1.1 upgrades (WebSocket) through HTTP listeners: a byte tunnel once the upstream answers 101. */
class WebSocketTest {
    private static final String UPGRADE = "GET /ws HTTP/1.1\r\nHost: ws.local\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
            + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    private final Closer closer = new Closer();

    @AfterEach
    void tearDown() throws Exception {
        closer.close();
    }

    private Sidecar start(String http, String upstreamProtocol, HttpUpstream up) {
        return closer.add(Sidecar.start(ConfigLoader.parse("""
                admin: { address: 127.0.0.1:0 }
                listeners: [{ name: web, address: 127.0.0.1:0, protocol: http, cluster: app, http: { %s } }]
                clusters:
                  - { name: app, upstream_protocol: %s, endpoints: [{ address: %s }] }
                """.formatted(http, upstreamProtocol, up.address()))));
    }

    /** Collects whole messages (text as UTF-8 bytes) as the JDK client delivers them. */
    private static final class Collector implements WebSocket.Listener {
        final LinkedBlockingQueue<Object> messages = new LinkedBlockingQueue<>();
        final CompletableFuture<Integer> closed = new CompletableFuture<>();
        private final StringBuilder text = new StringBuilder();
        private final ByteArrayOutputStream binary = new ByteArrayOutputStream();

        @Override
        public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
            text.append(data);
            if (last) {
                messages.add(text.toString());
                text.setLength(0);
            }
            ws.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onBinary(WebSocket ws, ByteBuffer data, boolean last) {
            byte[] b = new byte[data.remaining()];
            data.get(b);
            binary.write(b, 0, b.length);
            if (last) {
                messages.add(binary.toByteArray());
                binary.reset();
            }
            ws.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onClose(WebSocket ws, int statusCode, String reason) {
            closed.complete(statusCode);
            return null;
        }

        @Override
        public void onError(WebSocket ws, Throwable error) {
            closed.completeExceptionally(error);
        }

        Object next() throws InterruptedException {
            Object m = messages.poll(10, TimeUnit.SECONDS);
            assertTrue(m != null, "no message within 10 s");
            return m;
        }
    }

    @Test
    void websocket_echo_through_the_proxy_with_large_messages_and_a_clean_close() throws Exception {
        HttpUpstream up = closer.add(new HttpUpstream("a"));
        Sidecar p = start("", "http1", up);
        int port = p.listenerPort("web");
        Collector c = new Collector();
        HttpClient client = HttpClient.newHttpClient();
        WebSocket ws = client.newWebSocketBuilder().connectTimeout(Duration.ofSeconds(5))
                .buildAsync(URI.create("ws://127.0.0.1:" + port + "/ws?room=1"), c).get(10, TimeUnit.SECONDS);

        HttpUpstream.Received handshake = up.received().get(0);
        assertEquals("/ws?room=1", handshake.uri());
        assertEquals("websocket", handshake.header("upgrade").toLowerCase());
        assertEquals("upgrade", handshake.header("connection").toLowerCase());
        assertEquals("127.0.0.1", handshake.header("x-forwarded-for"));

        ws.sendText("hello through the proxy", true).get(10, TimeUnit.SECONDS);
        assertEquals("hello through the proxy", c.next());
        byte[] big = new byte[3 * 1024 * 1024];
        new Random(7).nextBytes(big);
        ws.sendBinary(ByteBuffer.wrap(big), true).get(10, TimeUnit.SECONDS);
        assertArrayEquals(big, (byte[]) c.next(), "a 3 MiB message crosses the tunnel both ways intact");
        for (int i = 0; i < 100; i++) {
            ws.sendText("m" + i, true).get(10, TimeUnit.SECONDS);
        }
        for (int i = 0; i < 100; i++) {
            assertEquals("m" + i, c.next());
        }
        assertEquals(1, p.httpListenerStats("web").activeRequests(), "an open tunnel counts as a request in flight");

        ws.sendClose(WebSocket.NORMAL_CLOSURE, "bye").get(10, TimeUnit.SECONDS);
        assertEquals(WebSocket.NORMAL_CLOSURE, c.closed.get(10, TimeUnit.SECONDS));
        Await.until("the tunnel ends with the connection", Duration.ofSeconds(10), () -> p.httpListenerStats("web").activeRequests() == 0);
        assertEquals(1, p.httpListenerStats("web").responses(1), "the 101 is counted");
    }

    @Test
    void an_upgrade_the_upstream_declines_is_an_ordinary_response_on_a_kept_alive_connection() throws Exception {
        HttpUpstream up = closer.add(new HttpUpstream("a"));
        Sidecar p = start("", "http1", up);
        try (Socket s = new Socket("127.0.0.1", p.listenerPort("web"))) {
            s.setSoTimeout(5000);
            String declined = UPGRADE.replace("/ws", "/status/404");
            s.getOutputStream().write((declined + "GET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
            String answer = HttpProxyTest.readAll(s.getInputStream());
            assertTrue(answer.startsWith("HTTP/1.1 404"), answer);
            assertTrue(answer.contains("HTTP/1.1 200"), "the next request on the connection is served: " + answer);
            assertTrue(!answer.toLowerCase().contains("upgrade: websocket"), answer);
        }
        assertEquals("websocket", up.received().get(0).header("upgrade"));
        assertNull(up.received().get(1).header("upgrade"));
    }

    @Test
    void an_upgrade_to_an_h2c_cluster_is_not_carried_on() throws Exception {
        HttpUpstream up = closer.add(new HttpUpstream("a"));
        Sidecar p = start("", "h2c", up);
        String answer = HttpProxyTest.raw(p.listenerPort("web"), UPGRADE.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n"));
        assertTrue(answer.startsWith("HTTP/1.1 200"), answer);
        HttpUpstream.Received r = up.received().get(0);
        assertTrue(r.h2());
        assertNull(r.header("upgrade"));
    }

    @Test
    void a_quiet_tunnel_is_closed_by_the_stream_idle_timeout() throws Exception {
        HttpUpstream up = closer.add(new HttpUpstream("a"));
        Sidecar p = start("stream_idle_timeout: 300ms", "http1", up);
        try (Socket s = new Socket("127.0.0.1", p.listenerPort("web"))) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write(UPGRADE.getBytes(StandardCharsets.ISO_8859_1));
            String answer = HttpProxyTest.readAll(s.getInputStream()); // returns when the proxy closes
            assertTrue(answer.startsWith("HTTP/1.1 101"), answer);
            assertTrue(!answer.contains("<timeout>"), "closed by the proxy, not by the test's read timeout");
        }
        Await.until("the tunnel is gone", Duration.ofSeconds(10), () -> p.httpListenerStats("web").activeRequests() == 0);
    }
}
