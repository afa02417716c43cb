package dev.sidecar.l7;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sidecar.config.ClusterConfig;
import dev.sidecar.config.EndpointConfig;
import dev.sidecar.config.HostPort;
import dev.sidecar.upstream.Cluster;
import dev.sidecar.upstream.ClusterManager;
import dev.sidecar.upstream.Dialer;
import dev.sidecar.upstream.Endpoint;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.EventLoop;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.resolver.DefaultAddressResolverGroup;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Pools of endpoints that updates removed do not stay behind on the event loops. */
class UpstreamPoolsTest {
    private static int refusingPort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @Test
    void pools_of_removed_endpoints_are_dropped_while_traffic_goes_on() throws Exception {
        MultiThreadIoEventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        try {
            EventLoop loop = group.next();
            int port = refusingPort();
            List<EndpointConfig> many = new ArrayList<>();
            for (int i = 0; i < 50; i++) {
                many.add(EndpointConfig.of(new HostPort("127.0.0." + (i + 1), port)));
            }
            ClusterConfig config = ClusterConfig.builder("app").endpoints(many).build();
            ClusterManager clusters = new ClusterManager(List.of(config));
            Cluster cluster = clusters.get("app");
            UpstreamPools pools = new UpstreamPools(new Dialer(NioSocketChannel::new, DefaultAddressResolverGroup.INSTANCE), ByteBufAllocator.DEFAULT);
            UpstreamPools.Acquirer ignore = new UpstreamPools.Acquirer() {
                @Override
                public void acquired(UpstreamStream stream, boolean reused) {
                    stream.channel.close();
                }

                @Override
                public void failed(Throwable cause, boolean connectFailure) {
                }
            };
            List<Endpoint> first = new ArrayList<>(cluster.snapshot().endpoints());
            loop.submit(() -> first.forEach(e -> pools.acquire(loop, cluster, config, e, false, null, ignore))).get(10, TimeUnit.SECONDS);
            assertEquals(50, loop.submit(pools::poolsOnThisLoop).get(10, TimeUnit.SECONDS));

            // an update keeps one endpoint; the other 49 leave, and their pools go with the next requests
            cluster.update(config.toBuilder().endpoints(many.subList(0, 1)).build());
            Endpoint kept = cluster.snapshot().endpoints().get(0);
            assertTrue(first.get(1).retired() && !kept.retired());
            loop.submit(() -> {
                for (int i = 0; i <= UpstreamPools.PRUNE_EVERY; i++) {
                    pools.acquire(loop, cluster, config, kept, false, null, ignore);
                }
            }).get(30, TimeUnit.SECONDS);
            assertEquals(1, loop.submit(pools::poolsOnThisLoop).get(10, TimeUnit.SECONDS), "only the kept endpoint's pool remains");
            pools.close();
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }
}
