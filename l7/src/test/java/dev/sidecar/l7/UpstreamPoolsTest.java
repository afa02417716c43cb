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

/** Pools of endpoints that updates removed do not stay behind on the event loops; HTTP/2 connection sharing. */
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

    @Test
    void a_burst_of_http2_requests_to_a_new_endpoint_shares_one_connection_while_it_is_made() throws Exception {
        MultiThreadIoEventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        try (ServerSocket server = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
            EventLoop loop = group.next();
            ClusterConfig config = ClusterConfig.builder("app").endpoints(List.of(EndpointConfig.of(new HostPort("127.0.0.1", server.getLocalPort()))))
                    .build();
            Cluster cluster = new ClusterManager(List.of(config)).get("app");
            Endpoint endpoint = cluster.snapshot().endpoints().get(0);
            UpstreamPools pools = new UpstreamPools(new Dialer(NioSocketChannel::new, DefaultAddressResolverGroup.INSTANCE), ByteBufAllocator.DEFAULT);
            java.util.concurrent.CountDownLatch streams = new java.util.concurrent.CountDownLatch(20);
            UpstreamPools.Acquirer counting = new UpstreamPools.Acquirer() {
                @Override
                public void acquired(UpstreamStream stream, boolean reused) {
                    streams.countDown();
                }

                @Override
                public void failed(Throwable cause, boolean connectFailure) {
                }
            };
            // twenty requests in one turn of the loop: none can see the connect complete
            loop.submit(() -> {
                for (int i = 0; i < 20; i++) {
                    pools.acquire(loop, cluster, config, endpoint, true, null, counting);
                }
            }).get(10, TimeUnit.SECONDS);
            assertTrue(streams.await(10, TimeUnit.SECONDS), "every request got a stream");
            assertEquals(1, endpoint.connections(), "connections opened to the endpoint");
            pools.close();
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }
}
