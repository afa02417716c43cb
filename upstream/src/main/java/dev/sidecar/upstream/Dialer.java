package dev.sidecar.upstream;

import static java.util.Objects.requireNonNull;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFactory;
import io.netty.channel.EventLoopGroup;
import io.netty.resolver.AddressResolverGroup;
import java.net.SocketAddress;

/**
 * How the proxy opens upstream connections: the transport's socket channels and the resolver
 * for endpoint host names. The resolver must not block: Netty's default resolves with
 * {@code InetAddress.getByName} on the event loop, where a slow DNS server would stall every
 * connection of that loop. (IP-literal endpoints are resolved once, when the config is built.)
 *
 * <p>{@code batchedWrites}: the transport hands all the writes of an event loop's turn to the
 * kernel together (io_uring, one submission). Where it does not (epoll, NIO: one syscall per
 * flush), an upstream request is flushed once the loop is done with the I/O of its turn rather
 * than as soon as it is written, so that an upstream sharing the proxy's CPU, woken by the write,
 * preempts the proxy between turns rather than in the middle of one.
 */
public record Dialer(ChannelFactory<? extends Channel> channels, AddressResolverGroup<? extends SocketAddress> resolver,
                     boolean batchedWrites) {
    public Dialer {
        requireNonNull(channels, "channels");
        requireNonNull(resolver, "resolver");
    }

    /** A dialer on a transport that writes per flush. */
    public Dialer(ChannelFactory<? extends Channel> channels, AddressResolverGroup<? extends SocketAddress> resolver) {
        this(channels, resolver, false);
    }

    /** A bootstrap for one upstream connection on {@code group}, with this dialer's channels and resolver. */
    public Bootstrap bootstrap(EventLoopGroup group) {
        return new Bootstrap().group(group).channelFactory(channels).resolver(resolver);
    }
}
