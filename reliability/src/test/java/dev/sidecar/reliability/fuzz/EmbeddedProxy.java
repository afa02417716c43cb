package dev.sidecar.reliability.fuzz;

import dev.sidecar.config.ProxyConfig;
import dev.sidecar.l7.HttpProxy;
import dev.sidecar.l7.UpstreamPools;
import dev.sidecar.proxy.ConfigLoader;
import dev.sidecar.upstream.ClusterManager;
import dev.sidecar.upstream.Dialer;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.DefaultChannelId;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.local.LocalServerChannel;
import io.netty.resolver.NoopAddressResolverGroup;
import io.netty.util.ReferenceCountUtil;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * One HTTP listener's real pipeline ({@link HttpProxy#childInitializer()}) on an
 * {@link EmbeddedChannel}, with its upstream connections also embedded: the dialer's channel
 * factory hands out EmbeddedChannels (registered on the downstream's event loop, as the proxy
 * registers real ones), so what the proxy writes upstream is read here byte for byte and the
 * upstream's answer is written back by the test. No socket, no thread: one fuzz input runs in
 * microseconds and deterministically.
 */
final class EmbeddedProxy implements AutoCloseable {
    private static final Channel SERVER = new LocalServerChannel();
    /**
     * The proxy sets socket options (TCP_NODELAY) on its upstream channels, which an embedded
     * channel does not have: Netty's bootstrap would log a warning for every connection of every
     * input. Held here so the level stays set.
     */
    private static final java.util.logging.Logger BOOTSTRAP_LOG = quiet("io.netty.bootstrap");

    private static java.util.logging.Logger quiet(String name) {
        java.util.logging.Logger l = java.util.logging.Logger.getLogger(name);
        l.setLevel(java.util.logging.Level.SEVERE);
        return l;
    }
    private final ProxyConfig config;
    private final List<EmbeddedChannel> upstreams = new ArrayList<>();
    private ClusterManager clusters;
    private HttpProxy proxy;

    /** The first listener of {@code yaml} (a proxy config), with the clusters it names. */
    EmbeddedProxy(String yaml) {
        config = ConfigLoader.parse(yaml);
    }

    /**
     * A new accepted connection, active, its pipeline installed. Each connection gets its own
     * listener, clusters and pools: an embedded channel's tasks run only when that channel runs
     * them, so a pooled upstream connection must not outlive the client connection whose loop
     * it is registered on; and no input's state leaks into the next.
     */
    EmbeddedChannel connect() {
        close();
        clusters = new ClusterManager(config.clusters());
        UpstreamPools pools = new UpstreamPools(new Dialer(() -> {
            EmbeddedChannel up = new EmbeddedChannel(false, false);
            upstreams.add(up);
            return up;
        }, NoopAddressResolverGroup.INSTANCE), ByteBufAllocator.DEFAULT);
        proxy = new HttpProxy(config.listeners().get(0), clusters, pools);
        // the initializer goes in before the channel becomes active, as on an accepted socket;
        // the parent is a server channel as for an accepted socket (Netty's HTTP/2 multiplexer
        // tells server from client by it); reads are explicit, as the listener sets them on
        // every accepted socket (Netty's handlers decide some refusals by it)
        EmbeddedChannel ch = new EmbeddedChannel(SERVER, DefaultChannelId.newInstance(), false, false, proxy.childInitializer());
        ch.config().setAutoRead(false);
        try {
            ch.register();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        ch.runPendingTasks();
        return ch;
    }

    /** The upstream connections opened for the current client connection, closed ones too (what they were sent counts). */
    List<EmbeddedChannel> upstreams() {
        return List.copyOf(upstreams);
    }

    /** Everything written to {@code ch} so far, as bytes; the buffers are released. */
    static byte[] drainOutbound(EmbeddedChannel ch) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (Object o; (o = ch.readOutbound()) != null; ) {
            try {
                if (o instanceof ByteBuf b) {
                    byte[] bytes = new byte[b.readableBytes()];
                    b.getBytes(b.readerIndex(), bytes);
                    out.write(bytes, 0, bytes.length);
                } else {
                    throw new AssertionError("not bytes on the wire: " + o.getClass().getName());
                }
            } finally {
                ReferenceCountUtil.release(o);
            }
        }
        return out.toByteArray();
    }

    /** Closes {@code ch} and its upstreams, releasing whatever is still queued in them. */
    void finish(EmbeddedChannel ch) {
        ch.finishAndReleaseAll();
        for (EmbeddedChannel up : upstreams) {
            up.finishAndReleaseAll();
        }
        upstreams.clear();
        ch.runPendingTasks();
    }

    @Override
    public void close() {
        if (proxy != null) {
            proxy.closeConnections();
            clusters.close();
            proxy = null;
        }
    }
}
