package dev.sidecar.upstream.proxyprotocol;

import dev.sidecar.config.ProxyProtocolVersion;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;

/**
 * Encodes the PROXY protocol header the proxy writes first on a connection to an endpoint
 * (HAProxy's proxy-protocol.txt, sections 2.1 and 2.2). Written by hand rather than with Netty's
 * HAProxyMessageEncoder: that encoder cannot write the v1 {@code PROXY UNKNOWN} line a health
 * check sends, and the header is a few fixed fields.
 *
 * <p>Immutable and built once per upstream connection; {@link #encode} allocates the bytes each time.
 */
public final class ProxyProtocolHeader {
    /** Section 2.2: the 12-byte signature every v2 header starts with. */
    static final byte[] V2_SIGNATURE = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
    static final byte[] V1_PREFIX = "PROXY ".getBytes(StandardCharsets.US_ASCII);

    private final ProxyProtocolVersion version;
    /** Both null for LOCAL (v2) / UNKNOWN (v1): the connection is the proxy's own. */
    private final InetSocketAddress source;
    private final InetSocketAddress destination;

    private ProxyProtocolHeader(ProxyProtocolVersion version, InetSocketAddress source, InetSocketAddress destination) {
        this.version = version;
        this.source = source;
        this.destination = destination;
    }

    /**
     * The header for a connection made on behalf of a client: its address and the address it
     * connected to. Addresses that are not IP (a Unix socket, unresolved) make it a LOCAL / UNKNOWN
     * header, which tells the endpoint to use the connection's own addresses.
     */
    public static ProxyProtocolHeader proxied(ProxyProtocolVersion version, SocketAddress source, SocketAddress destination) {
        if (source instanceof InetSocketAddress s && destination instanceof InetSocketAddress d
                && s.getAddress() != null && d.getAddress() != null) {
            InetAddress sa = s.getAddress();
            InetAddress da = d.getAddress();
            if (sa.getClass() != da.getClass()) {
                // one IPv4 and one IPv6: the header has one family, so the IPv4 one is written IPv4-mapped
                sa = mapped(sa);
                da = mapped(da);
            }
            return new ProxyProtocolHeader(version, new InetSocketAddress(sa, s.getPort()), new InetSocketAddress(da, d.getPort()));
        }
        return local(version);
    }

    /** The header of a connection the proxy makes for itself (a health check): LOCAL in v2, UNKNOWN in v1. */
    public static ProxyProtocolHeader local(ProxyProtocolVersion version) {
        return new ProxyProtocolHeader(version, null, null);
    }

    private static InetAddress mapped(InetAddress a) {
        if (a instanceof Inet6Address) {
            return a;
        }
        byte[] v4 = a.getAddress();
        byte[] v6 = new byte[16];
        v6[10] = (byte) 0xff;
        v6[11] = (byte) 0xff;
        System.arraycopy(v4, 0, v6, 12, 4);
        try {
            return Inet6Address.getByAddress(null, v6, -1);
        } catch (UnknownHostException e) {
            throw new AssertionError(e); // 16 bytes are always a valid IPv6 address
        }
    }

    public ProxyProtocolVersion version() {
        return version;
    }

    /** The client address the header carries; null for LOCAL / UNKNOWN. */
    public InetSocketAddress source() {
        return source;
    }

    public InetSocketAddress destination() {
        return destination;
    }

    public ByteBuf encode(ByteBufAllocator alloc) {
        return version == ProxyProtocolVersion.V1 ? encodeV1(alloc) : encodeV2(alloc);
    }

    /** Section 2.1: {@code PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n}, or {@code PROXY UNKNOWN\r\n}. */
    private ByteBuf encodeV1(ByteBufAllocator alloc) {
        String line;
        if (source == null) {
            line = "PROXY UNKNOWN\r\n";
        } else {
            boolean v4 = source.getAddress() instanceof Inet4Address;
            line = "PROXY " + (v4 ? "TCP4 " : "TCP6 ") + source.getAddress().getHostAddress() + " " + destination.getAddress().getHostAddress()
                    + " " + source.getPort() + " " + destination.getPort() + "\r\n";
        }
        ByteBuf out = alloc.buffer(line.length());
        out.writeCharSequence(line, StandardCharsets.US_ASCII);
        return out;
    }

    /** Section 2.2: signature, version 2 with PROXY (0x21) or LOCAL (0x20), family, length, addresses, ports. */
    private ByteBuf encodeV2(ByteBufAllocator alloc) {
        if (source == null) {
            ByteBuf out = alloc.buffer(16);
            out.writeBytes(V2_SIGNATURE).writeByte(0x20).writeByte(0x00).writeShort(0); // LOCAL, AF_UNSPEC, no addresses
            return out;
        }
        byte[] src = source.getAddress().getAddress();
        byte[] dst = destination.getAddress().getAddress();
        ByteBuf out = alloc.buffer(16 + src.length * 2 + 4);
        out.writeBytes(V2_SIGNATURE)
                .writeByte(0x21) // version 2, PROXY
                .writeByte(src.length == 4 ? 0x11 : 0x21) // TCP over IPv4 / IPv6
                .writeShort(src.length * 2 + 4)
                .writeBytes(src)
                .writeBytes(dst)
                .writeShort(source.getPort())
                .writeShort(destination.getPort());
        return out;
    }

    @Override
    public String toString() {
        return version.configName() + (source == null ? " LOCAL" : " " + source + " -> " + destination);
    }
}
