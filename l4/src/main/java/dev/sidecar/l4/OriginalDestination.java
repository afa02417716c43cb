package dev.sidecar.l4;

import io.netty.channel.Channel;
import io.netty.channel.ChannelException;
import io.netty.channel.unix.RawUnixChannelOption;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;

/**
 * Where a connection was going before an iptables REDIRECT (or DNAT) brought it to this listener:
 * {@code getsockopt(SOL_IP, SO_ORIGINAL_DST)}, which asks conntrack for the pre-NAT destination, as
 * Envoy's original_dst listener filter and Istio's sidecar do. Read through Netty's raw socket
 * options, so it works on the epoll and io_uring transports; on NIO there is no such option and
 * the answer is always "unknown" (the config is refused there before it gets this far).
 */
final class OriginalDestination {
    /** linux/netfilter_ipv4.h: SO_ORIGINAL_DST = 80 at level SOL_IP (0); answers a struct sockaddr_in (16 bytes). */
    private static final RawUnixChannelOption IPV4 = new RawUnixChannelOption("SO_ORIGINAL_DST", 0, 80, 16);
    /** linux/netfilter_ipv6/ip6_tables.h: IP6T_SO_ORIGINAL_DST = 80 at level SOL_IPV6 (41); a struct sockaddr_in6 (28 bytes). */
    private static final RawUnixChannelOption IPV6 = new RawUnixChannelOption("IP6T_SO_ORIGINAL_DST", 41, 80, 28);

    private OriginalDestination() {}

    /**
     * The original destination of an accepted connection, or null when there is none to read (the
     * connection was not redirected, conntrack is not loaded, or the transport has no raw options).
     */
    static InetSocketAddress of(Channel accepted) {
        boolean v6 = accepted.localAddress() instanceof InetSocketAddress local && local.getAddress() instanceof Inet6Address;
        ByteBuffer b;
        try {
            b = accepted.config().getOption(v6 ? IPV6 : IPV4);
        } catch (ChannelException | UnsupportedOperationException e) {
            return null; // ENOENT: conntrack has no NAT entry for this connection
        }
        if (b == null) {
            return null;
        }
        return parse(b, v6);
    }

    /** Reads a sockaddr_in or sockaddr_in6: family in host order, then the port and address in network order. */
    static InetSocketAddress parse(ByteBuffer b, boolean v6) {
        int port = b.getShort(b.position() + 2) & 0xffff;
        byte[] addr = new byte[v6 ? 16 : 4];
        b.get(b.position() + (v6 ? 8 : 4), addr);
        try {
            return new InetSocketAddress(InetAddress.getByAddress(addr), port);
        } catch (UnknownHostException e) {
            return null; // not reachable: 4 or 16 bytes are always an address
        }
    }
}
