package dev.sidecar.upstream.proxyprotocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sidecar.config.ProxyProtocolVersion;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.DefaultChannelId;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.haproxy.HAProxyCommand;
import io.netty.handler.codec.haproxy.HAProxyMessage;
import io.netty.handler.codec.haproxy.HAProxyMessageDecoder;
import io.netty.handler.codec.haproxy.HAProxyProxiedProtocol;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.junit.jupiter.api.Test;

/**
 * The PROXY header both ways on embedded channels: what the proxy writes, read back by Netty's
 * own decoder; and what the listener side makes of headers that arrive whole, byte by byte,
 * broken, or not at all.
 */
class ProxyProtocolTest {
    private static final InetSocketAddress CLIENT = new InetSocketAddress("203.0.113.7", 4321);
    private static final InetSocketAddress LISTENER = new InetSocketAddress("192.0.2.1", 443);

    /** Decodes {@code header} with Netty's HAProxyMessageDecoder. */
    private static HAProxyMessage decode(ProxyProtocolHeader header) {
        EmbeddedChannel ch = new EmbeddedChannel(new HAProxyMessageDecoder());
        assertTrue(ch.writeInbound(header.encode(ByteBufAllocator.DEFAULT)));
        HAProxyMessage m = ch.readInbound();
        assertFalse(ch.finish());
        return m;
    }

    @Test
    void headers_written_are_what_netty_decodes() {
        for (ProxyProtocolVersion v : ProxyProtocolVersion.values()) {
            HAProxyMessage m = decode(ProxyProtocolHeader.proxied(v, CLIENT, LISTENER));
            try {
                assertEquals(v.name(), m.protocolVersion().name());
                assertEquals(HAProxyCommand.PROXY, m.command());
                assertEquals(HAProxyProxiedProtocol.TCP4, m.proxiedProtocol());
                assertEquals("203.0.113.7", m.sourceAddress());
                assertEquals(4321, m.sourcePort());
                assertEquals("192.0.2.1", m.destinationAddress());
                assertEquals(443, m.destinationPort());
            } finally {
                m.release();
            }
        }
        HAProxyMessage six = decode(ProxyProtocolHeader.proxied(ProxyProtocolVersion.V2, new InetSocketAddress("2001:db8::7", 1), LISTENER));
        try {
            assertEquals(HAProxyProxiedProtocol.TCP6, six.proxiedProtocol(), "one IPv6 address makes both IPv6");
            assertEquals("0:0:0:0:0:ffff:c000:201", six.destinationAddress(), "the IPv4 one IPv4-mapped");
        } finally {
            six.release();
        }
    }

    @Test
    void health_check_headers_are_local_and_unknown() {
        HAProxyMessage v2 = decode(ProxyProtocolHeader.local(ProxyProtocolVersion.V2));
        assertEquals(HAProxyCommand.LOCAL, v2.command());
        v2.release();
        HAProxyMessage v1 = decode(ProxyProtocolHeader.local(ProxyProtocolVersion.V1));
        assertEquals(HAProxyProxiedProtocol.UNKNOWN, v1.proxiedProtocol());
        v1.release();
        // an address that is not IP cannot be said: LOCAL, so the endpoint uses the connection's own
        assertNull(ProxyProtocolHeader.proxied(ProxyProtocolVersion.V2, InetSocketAddress.createUnresolved("x", 1), LISTENER).source());
    }

    @Test
    void the_sender_puts_the_header_before_the_first_write_and_leaves() {
        EmbeddedChannel ch = new EmbeddedChannel(new ProxyProtocolSender(ProxyProtocolHeader.proxied(ProxyProtocolVersion.V1, CLIENT, LISTENER)));
        // channelActive already wrote it (EmbeddedChannel is active once registered)
        ByteBuf header = ch.readOutbound();
        assertEquals("PROXY TCP4 203.0.113.7 192.0.2.1 4321 443\r\n", header.toString(StandardCharsets.US_ASCII));
        header.release();
        assertNull(ch.pipeline().get(ProxyProtocolSender.class));
        ch.writeOutbound(Unpooled.copiedBuffer("GET", StandardCharsets.US_ASCII));
        ByteBuf data = ch.readOutbound();
        assertEquals("GET", data.toString(StandardCharsets.US_ASCII));
        data.release();
        assertFalse(ch.finish());
    }

    /** A channel that runs the reader, then records what reaches the handler installed after it. */
    private static final class Installed extends ChannelInboundHandlerAdapter {
        boolean active;
        final List<String> read = new ArrayList<>();

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            active = true;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf b = (ByteBuf) msg;
            read.add(b.toString(StandardCharsets.US_ASCII));
            b.release();
        }
    }

    private static EmbeddedChannel reader(LongAdder rejected, Installed rest, long timeoutNanos) throws Exception {
        EmbeddedChannel ch = new EmbeddedChannel(DefaultChannelId.newInstance(), false, false);
        ch.config().setAutoRead(false);
        ProxyProtocolReader.install(ch, "test", timeoutNanos, rejected, c -> c.pipeline().addLast(rest));
        ch.register();
        return ch;
    }

    @Test
    void a_header_byte_by_byte_then_data_sets_the_client_and_passes_the_rest_on() throws Exception {
        LongAdder rejected = new LongAdder();
        Installed rest = new Installed();
        EmbeddedChannel ch = reader(rejected, rest, TimeUnit.SECONDS.toNanos(5));
        assertFalse(rest.active, "nothing after the reader exists before the header");
        byte[] bytes = "PROXY TCP4 203.0.113.7 192.0.2.1 4321 443\r\nhello".getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i < bytes.length - 5; i++) {
            ch.writeInbound(Unpooled.wrappedBuffer(new byte[] {bytes[i]}));
        }
        ch.writeInbound(Unpooled.wrappedBuffer(bytes, bytes.length - 5, 5));
        assertTrue(rest.active);
        assertEquals("hello", String.join("", rest.read));
        assertEquals(CLIENT, ClientAddress.source(ch));
        assertEquals(LISTENER, ClientAddress.destination(ch));
        assertEquals(0, rejected.sum());
        assertTrue(ch.isActive());
        assertFalse(ch.finish());
    }

    @Test
    void bytes_that_cannot_start_a_header_close_at_once_and_count() throws Exception {
        LongAdder rejected = new LongAdder();
        Installed rest = new Installed();
        EmbeddedChannel ch = reader(rejected, rest, TimeUnit.SECONDS.toNanos(5));
        ch.writeInbound(Unpooled.copiedBuffer("GET", StandardCharsets.US_ASCII)); // 3 bytes: already not "PRO"
        assertFalse(ch.isActive());
        assertEquals(1, rejected.sum());
        assertFalse(rest.active);
        ch.finish();
    }

    @Test
    void a_malformed_header_and_a_late_one_are_refused() throws Exception {
        LongAdder rejected = new LongAdder();
        EmbeddedChannel bad = reader(rejected, new Installed(), TimeUnit.SECONDS.toNanos(5));
        bad.writeInbound(Unpooled.copiedBuffer("PROXY TCP4 1.2.3 4.5.6.7 1 2\r\n", StandardCharsets.US_ASCII));
        assertFalse(bad.isActive());
        assertEquals(1, rejected.sum());
        bad.finish();

        EmbeddedChannel slow = reader(rejected, new Installed(), TimeUnit.SECONDS.toNanos(5));
        slow.writeInbound(Unpooled.copiedBuffer("PROXY TCP4 ", StandardCharsets.US_ASCII));
        slow.advanceTimeBy(4, TimeUnit.SECONDS);
        slow.runScheduledPendingTasks();
        assertTrue(slow.isActive());
        slow.advanceTimeBy(2, TimeUnit.SECONDS);
        slow.runScheduledPendingTasks();
        assertFalse(slow.isActive(), "closed at the timeout");
        assertEquals(2, rejected.sum());
        slow.finish();
    }

    @Test
    void v2_local_keeps_the_socket_addresses() throws Exception {
        Installed rest = new Installed();
        EmbeddedChannel ch = reader(new LongAdder(), rest, TimeUnit.SECONDS.toNanos(5));
        ch.writeInbound(ProxyProtocolHeader.local(ProxyProtocolVersion.V2).encode(ByteBufAllocator.DEFAULT));
        assertTrue(rest.active);
        assertEquals(ch.remoteAddress(), ClientAddress.source(ch));
        assertFalse(ch.finish());
    }
}
