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
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringAdaptiveBufferRingAllocator;
import io.netty.channel.uring.IoUringBufferRingConfig;
import io.netty.channel.uring.IoUringChannelOption;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringIoHandlerConfig;
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
 *
 * <p>On io_uring each event loop gives the kernel a ring of buffers to read into (a provided
 * buffer ring, Linux 5.19 and later), and every socket of the transport reads from it: a
 * receive is submitted when the channel wants to read and completes with the bytes, in a buffer
 * the kernel took from the ring when they arrived, instead of a readiness event followed by a
 * receive submitted for it, which cost a system call more per read. An idle connection still
 * holds no buffer. Off unless the system property {@code sidecar.io_uring.buffer_ring=true} asks
 * for it: buffers sized for bulk reads stay in the ring while idle (up to 2 MiB per loop), which
 * the overload guard's direct-memory accounting sees, and with smaller ones TCP relays slower.
 */
enum Transport {
    IO_URING("io_uring", Transport::ioUringHandlers, IoUringServerSocketChannel::new, Transport::ioUringSocket,
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

    static {
        // One receive per read asked for, never a multishot one: a multishot receive goes on
        // reading after the channel stops asking (it re-arms itself when the ring runs dry), so a
        // response held back for a slow client would pile up in the proxy instead of the socket.
        if (System.getProperty("io.netty.iouring.recvMultiShotEnabled") == null) {
            System.setProperty("io.netty.iouring.recvMultiShotEnabled", "false");
        }
    }

    /** The buffer group of each io_uring loop's ring, which its sockets name to read from it. */
    static final short BUFFER_GROUP = 0;
    /** Buffers the ring can hold; it starts with {@link #RING_BATCH} and grows by as many when reads find it empty. */
    private static final short RING_SIZE = 32;
    private static final int RING_BATCH = 16;
    /** The largest buffer the ring hands out: 32 of them per loop is the most it holds (2 MiB). */
    private static final int RING_MAX_BUFFER = 64 * 1024;

    /** True if this transport's sockets read into a ring of buffers the event loop provides. */
    boolean bufferRing() {
        return this == IO_URING && Boolean.getBoolean("sidecar.io_uring.buffer_ring") && IoUring.isRegisterBufferRingSupported();
    }

    /** Options of the connections a listener of this transport accepts, for reading as {@link #bufferRing} says. */
    void configureChildren(ServerBootstrap b) {
        if (bufferRing()) {
            b.childOption(IoUringChannelOption.IO_URING_BUFFER_GROUP_ID, BUFFER_GROUP);
        }
    }

    /**
     * Whole buffers, one per read, sized by the last reads (1 to 64 KiB; a cap of 16 KiB cost TCP
     * a sixth of its throughput). The kernel's incremental consumption of larger shared buffers
     * (6.12) split reads at buffer ends and measured slower, on TCP by a fifth.
     */
    private static IoHandlerFactory ioUringHandlers() {
        if (!IO_URING.bufferRing()) {
            return IoUringIoHandler.newFactory();
        }
        IoUringBufferRingConfig ring = IoUringBufferRingConfig.builder()
                .bufferGroupId(BUFFER_GROUP)
                .bufferRingSize(RING_SIZE)
                .batchSize(RING_BATCH)
                .incremental(false)
                .allocator(new IoUringAdaptiveBufferRingAllocator(ByteBufAllocator.DEFAULT, 1024, 4096, RING_MAX_BUFFER))
                .build();
        return IoUringIoHandler.newFactory(new IoUringIoHandlerConfig().setBufferRingConfig(ring));
    }

    private static Channel ioUringSocket() {
        IoUringSocketChannel ch = new IoUringSocketChannel();
        if (IO_URING.bufferRing()) {
            ch.config().setOption(IoUringChannelOption.IO_URING_BUFFER_GROUP_ID, BUFFER_GROUP);
        }
        return ch;
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
