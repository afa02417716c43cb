package dev.sidecar.upstream.proxyprotocol;

import io.netty.channel.Channel;
import io.netty.util.AttributeKey;
import java.net.InetSocketAddress;
import java.net.SocketAddress;

/**
 * The addresses a downstream connection stands for. Without a PROXY protocol header they are the
 * socket's own; with one they are what the header says (the client behind the load balancer that
 * sent it, and the address that client connected to). Access logs, x-forwarded-for, source-IP
 * hashing and the PROXY header the proxy itself sends upstream all read them here.
 */
public final class ClientAddress {
    static final AttributeKey<InetSocketAddress> SOURCE = AttributeKey.valueOf("sidecar.proxy-protocol.source");
    static final AttributeKey<InetSocketAddress> DESTINATION = AttributeKey.valueOf("sidecar.proxy-protocol.destination");

    private ClientAddress() {}

    /** The client: the PROXY header's source address, else the socket's peer address. */
    public static SocketAddress source(Channel downstream) {
        InetSocketAddress a = downstream.attr(SOURCE).get();
        return a != null ? a : downstream.remoteAddress();
    }

    /** Where the client connected to: the PROXY header's destination address, else the socket's local address. */
    public static SocketAddress destination(Channel downstream) {
        InetSocketAddress a = downstream.attr(DESTINATION).get();
        return a != null ? a : downstream.localAddress();
    }

    /** Replaces the socket's addresses with those a PROXY header carried. */
    static void set(Channel downstream, InetSocketAddress source, InetSocketAddress destination) {
        downstream.attr(SOURCE).set(source);
        downstream.attr(DESTINATION).set(destination);
    }
}
