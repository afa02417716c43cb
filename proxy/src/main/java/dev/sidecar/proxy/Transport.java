package dev.sidecar.proxy;

import dev.sidecar.config.TransportChoice;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFactory;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.uring.IoUringSocketChannel;
import io.netty.channel.uring.IoUringDatagramChannel;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.resolver.dns.DnsAddressResolverGroup;
import io.netty.resolver.dns.DnsNameResolverBuilder;
import dev.sidecar.upstream.Dialer;
import java.util.function.Supplier;

/**
 * The socket transport: io_uring where the kernel (and any seccomp policy around it) allows,
 * else epoll, else NIO. Chosen once at start; every traffic channel of the process (listeners,
 * upstream connections, health checks) uses it. The admin API's one loop runs on NIO.
 */
enum Transport {
    IO_URING("io_uring", IoUringIoHandler::newFactory, IoUringServerSocketChannel::new, IoUringSocketChannel::new,
            IoUringDatagramChannel::new),
    EPOLL("epoll", EpollIoHandler::newFactory, EpollServerSocketChannel::new, EpollSocketChannel::new, EpollDatagramChannel::new),
    NIO("nio", NioIoHandler::newFactory, NioServerSocketChannel::new, NioSocketChannel::new, NioDatagramChannel::new);

    private final String configName;
    private final Supplier<IoHandlerFactory> ioHandlers;
    private final ChannelFactory<? extends ServerChannel> serverChannels;
    private final ChannelFactory<? extends Channel> socketChannels;
    private final ChannelFactory<? extends DatagramChannel> datagramChannels;

    Transport(String configName, Supplier<IoHandlerFactory> ioHandlers,
              ChannelFactory<? extends ServerChannel> serverChannels, ChannelFactory<? extends Channel> socketChannels,
              ChannelFactory<? extends DatagramChannel> datagramChannels) {
        this.configName = configName;
        this.ioHandlers = ioHandlers;
        this.serverChannels = serverChannels;
        this.socketChannels = socketChannels;
        this.datagramChannels = datagramChannels;
    }

    /**
     * How upstream connections are opened on this transport: its socket channels, and DNS over
     * its own datagram channels (Netty's resolver: /etc/hosts, then the servers in
     * /etc/resolv.conf, with caching), so no host name is ever looked up on an event loop.
     */
    Dialer dialer() {
        return new Dialer(socketChannels, new DnsAddressResolverGroup(new DnsNameResolverBuilder().datagramChannelFactory(datagramChannels)),
                this == IO_URING);
    }

    String configName() {
        return configName;
    }

    IoHandlerFactory ioHandlerFactory() {
        return ioHandlers.get();
    }

    ChannelFactory<? extends ServerChannel> serverChannels() {
        return serverChannels;
    }

    /** Why this transport cannot run here, or null if it can. */
    Throwable unavailabilityCause() {
        return switch (this) {
            case IO_URING -> IoUring.isAvailable() ? null : IoUring.unavailabilityCause();
            case EPOLL -> Epoll.isAvailable() ? null : Epoll.unavailabilityCause();
            case NIO -> null;
        };
    }

    /**
     * The transport for {@code choice}: the best available for AUTO; the one named otherwise,
     * or an error saying why it cannot run here.
     */
    static Transport select(TransportChoice choice) {
        return switch (choice) {
            case AUTO -> IO_URING.unavailabilityCause() == null ? IO_URING
                    : EPOLL.unavailabilityCause() == null ? EPOLL : NIO;
            case IO_URING -> require(IO_URING);
            case EPOLL -> require(EPOLL);
            case NIO -> NIO;
        };
    }

    private static Transport require(Transport t) {
        Throwable cause = t.unavailabilityCause();
        if (cause != null) {
            throw new IllegalStateException("transport " + t.configName + " is not available here: " + cause.getMessage(), cause);
        }
        return t;
    }
}
