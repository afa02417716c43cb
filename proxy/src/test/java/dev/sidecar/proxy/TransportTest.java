package dev.sidecar.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringChannelOption;
import java.io.ByteArrayOutputStream;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * io_uring reads into buffers the loop provides to the kernel (a buffer ring), when asked for:
 * every connection the transport then makes or accepts reads that way, and what it reads arrives
 * whole and in order, including when the ring runs out of buffers and grows. Receives are
 * one-shot: a multishot one goes on reading after the channel stops asking, which
 * {@code OverloadTest}'s held responses show as the proxy's memory growing past its limit.
 */
class TransportTest {
    @Test
    void io_uring_connections_read_into_the_loops_buffer_ring() throws Exception {
        assumeTrue(Transport.IO_URING.unavailabilityCause() == null, "io_uring is not available here");
        assumeTrue(IoUring.isRegisterBufferRingSupported(), "this kernel has no io_uring buffer rings");
        assertFalse(Transport.IO_URING.bufferRing(), "off unless asked for");
        System.setProperty("sidecar.io_uring.buffer_ring", "true");
        EventLoopGroup loops = null;
        try {
            assertTrue(Transport.IO_URING.bufferRing(), "asked for, and supported here");
            assertFalse(IoUring.isRecvMultishotEnabled(), "a receive reads once, when asked");
            loops = new MultiThreadIoEventLoopGroup(1, Transport.IO_URING.ioHandlerFactory());
            CompletableFuture<Channel> accepted = new CompletableFuture<>();
            ServerBootstrap server = new ServerBootstrap().group(loops).channelFactory(Transport.IO_URING.serverChannels())
                    .childHandler(new ChannelInitializer<>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            accepted.complete(ch);
                            ch.pipeline().addLast(new Echo());
                        }
                    });
            Transport.IO_URING.configureChildren(server);
            Channel listening = server.bind("127.0.0.1", 0).sync().channel();

            // more bytes than the ring's first buffers hold, from many writes: it has to grow
            byte[] sent = new byte[8 << 20];
            new Random(7).nextBytes(sent);
            Collect collect = new Collect(sent.length);
            Channel client = new Bootstrap().group(loops).channelFactory(Transport.IO_URING.dialer().channels())
                    .handler(collect).connect(listening.localAddress()).sync().channel();
            for (int off = 0; off < sent.length; off += 61_000) {
                client.write(Unpooled.wrappedBuffer(sent, off, Math.min(61_000, sent.length - off)));
            }
            client.flush();

            assertArrayEquals(sent, collect.done.get(30, TimeUnit.SECONDS), "echoed bytes");
            Channel child = accepted.get(5, TimeUnit.SECONDS);
            assertEquals(Transport.BUFFER_GROUP, child.config().getOption(IoUringChannelOption.IO_URING_BUFFER_GROUP_ID));
            assertEquals(Transport.BUFFER_GROUP, client.config().getOption(IoUringChannelOption.IO_URING_BUFFER_GROUP_ID));
            client.close().sync();
            listening.close().sync();
        } finally {
            System.clearProperty("sidecar.io_uring.buffer_ring");
            if (loops != null) {
                loops.shutdownGracefully(0, 5, TimeUnit.SECONDS).sync();
            }
        }
    }

    private static final class Echo extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ctx.write(msg);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
        }
    }

    private static final class Collect extends ChannelInboundHandlerAdapter {
        private final ByteArrayOutputStream got = new ByteArrayOutputStream();
        private final int expected;
        final CompletableFuture<byte[]> done = new CompletableFuture<>();

        Collect(int expected) {
            this.expected = expected;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf b = (ByteBuf) msg;
            try {
                b.readBytes(got, b.readableBytes());
            } catch (java.io.IOException e) {
                done.completeExceptionally(e);
            } finally {
                b.release();
            }
            if (got.size() >= expected) {
                done.complete(got.toByteArray());
            }
        }
    }
}
