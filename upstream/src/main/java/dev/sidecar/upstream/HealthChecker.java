package dev.sidecar.upstream;

import dev.sidecar.config.HealthCheckConfig;
import dev.sidecar.config.ProxyProtocolVersion;
import dev.sidecar.upstream.proxyprotocol.ProxyProtocolHeader;
import dev.sidecar.upstream.proxyprotocol.ProxyProtocolSender;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFactory;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Active health checking of one cluster's endpoints. Scheduling and verdicts live on the control
 * executor; each probe is a short-lived connection of its own on one of the proxy's event loops,
 * so a probe never shares (or disturbs) a connection that carries traffic. An endpoint is
 * healthy when every check configured for the cluster says so.
 *
 * <p>Probes of one endpoint never overlap: the next is scheduled only when the previous ended.
 */
public final class HealthChecker {
    private final Cluster cluster;
    private final EventLoopGroup loops;
    private final Dialer dialer;
    private final ScheduledExecutorService control;
    private final Map<Endpoint, List<Probe>> probes = new HashMap<>();
    private boolean stopped;
    /** Probes in flight; beyond {@link #MAX_IN_FLIGHT} a due probe waits a little. Control thread only. */
    private int inFlight;
    /**
     * Bounds the sockets and the burst a large cluster's checks may take at once: probes are cheap,
     * but a thousand endpoints coming due together should not open a thousand connections.
     */
    static final int MAX_IN_FLIGHT = 64;

    public HealthChecker(Cluster cluster, EventLoopGroup loops, Dialer dialer, ScheduledExecutorService control) {
        this.cluster = cluster;
        this.loops = loops;
        this.dialer = dialer;
        this.control = control;
    }

    /** Starts probing the cluster's current endpoints; call again after every cluster update. */
    public void sync() {
        control.execute(this::syncNow);
    }

    /**
     * Stops probing and waits (briefly) until no further probe can start, so the caller may then
     * shut the event loops down.
     */
    public void stop() {
        java.util.concurrent.Future<?> done = control.submit(() -> {
            stopped = true;
            probes.values().forEach(list -> list.forEach(Probe::cancel));
            probes.clear();
        });
        try {
            done.get(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            // the control thread is stuck or gone; nothing more to stop
        }
    }

    private void syncNow() {
        if (stopped) {
            return;
        }
        ClusterSnapshot snapshot = cluster.snapshot();
        List<HealthCheckConfig> checks = snapshot.config().healthChecks();
        Map<Endpoint, List<Probe>> next = new HashMap<>();
        for (Endpoint e : snapshot.endpoints()) {
            List<Probe> existing = probes.remove(e);
            if (existing != null && existing.size() == checks.size()
                    && sameChecks(existing, checks)) {
                next.put(e, existing);
                continue;
            }
            if (existing != null) {
                existing.forEach(Probe::cancel);
            }
            List<Probe> list = new ArrayList<>();
            for (HealthCheckConfig check : checks) {
                Probe p = new Probe(e, new HealthCheckSession(check, e.activeHealthy()));
                list.add(p);
                long jitter = check.initialJitter().toNanos();
                p.schedule(jitter > 0 ? ThreadLocalRandom.current().nextLong(jitter + 1) : 0);
            }
            next.put(e, list);
        }
        probes.values().forEach(list -> list.forEach(Probe::cancel)); // endpoints that left
        probes.clear();
        probes.putAll(next);
    }

    private static boolean sameChecks(List<Probe> probes, List<HealthCheckConfig> checks) {
        for (int i = 0; i < checks.size(); i++) {
            if (!probes.get(i).session.config().equals(checks.get(i))) {
                return false;
            }
        }
        return true;
    }

    /**
     * The front of a probe connection to a cluster that sends PROXY headers: a v2 LOCAL / v1
     * UNKNOWN header, which says the connection is the proxy's own and not on behalf of a client
     * (proxy-protocol.txt 2.2: "health checks"). Nothing when {@code header} is null.
     */
    static void addProxyHeader(Channel ch, ProxyProtocolVersion header) {
        if (header != null) {
            ch.pipeline().addLast(new ProxyProtocolSender(ProxyProtocolHeader.local(header)));
        }
    }

    /** A bootstrap for one probe connection, whose connect may take at most the check's timeout. */
    static Bootstrap probeBootstrap(EventLoopGroup loops, Dialer dialer, long timeoutMillis) {
        return dialer.bootstrap(loops)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE, timeoutMillis));
    }

    /** One endpoint under one check. Its fields are touched only on the control executor. */
    private final class Probe {
        private final Endpoint endpoint;
        private final HealthCheckSession session;
        private ScheduledFuture<?> next;
        private boolean cancelled;

        Probe(Endpoint endpoint, HealthCheckSession session) {
            this.endpoint = endpoint;
            this.session = session;
        }

        void schedule(long delayNanos) {
            if (!cancelled && !stopped) {
                next = control.schedule(this::run, delayNanos, TimeUnit.NANOSECONDS);
            }
        }

        void cancel() {
            cancelled = true;
            if (next != null) {
                next.cancel(false);
            }
        }

        private void run() {
            if (cancelled || stopped) {
                return;
            }
            if (inFlight >= MAX_IN_FLIGHT) {
                schedule(TimeUnit.MILLISECONDS.toNanos(10 + ThreadLocalRandom.current().nextInt(40)));
                return;
            }
            inFlight++;
            HealthCheckConfig check = session.config();
            ProxyProtocolVersion header = cluster.snapshot().config().proxyProtocol();
            if (check.kind() instanceof HealthCheckConfig.Grpc) {
                GrpcProbe.run(loops, dialer, endpoint, check, header, passed -> control.execute(() -> done(passed)));
            } else {
                TcpProbe.run(loops, dialer, endpoint, check, header, passed -> control.execute(() -> done(passed)));
            }
        }

        private void done(boolean passed) {
            inFlight--;
            if (cancelled || stopped) {
                return;
            }
            try {
                record(passed);
            } finally {
                // whatever happened while recording, this endpoint keeps being probed
                HealthCheckConfig check = session.config();
                long base = (session.healthy() ? intervalFor(check) : check.unhealthyInterval()).toNanos();
                long jitter = check.intervalJitter().toNanos();
                schedule(base + (jitter > 0 ? ThreadLocalRandom.current().nextLong(jitter + 1) : 0));
            }
        }

        private void record(boolean passed) {
            if (cluster.snapshot().config().healthChecks().isEmpty()) {
                return; // the checks were just removed; a late result must not mark anything
            }
            cluster.healthCheckResult(passed);
            if (session.record(passed)) {
                boolean all = probes.getOrDefault(endpoint, List.of()).stream().allMatch(p -> p.session.healthy());
                boolean changed = cluster.setActiveHealthy(endpoint, all);
                if (passed && endpoint.ejected()) {
                    cluster.unEject(endpoint); // a passing active check clears an ejection early
                } else if (changed) {
                    cluster.rebuild();
                }
            } else if (passed && endpoint.ejected()) {
                cluster.unEject(endpoint);
            }
        }

        private java.time.Duration intervalFor(HealthCheckConfig check) {
            // A cluster that has never carried traffic is probed at the slower no_traffic_interval.
            return cluster.connections() == 0 ? check.noTrafficInterval() : check.interval();
        }
    }

    /**
     * One probe on its own connection: tcp_health_check (connect; optionally send bytes and
     * expect a reply that starts with others) and http_health_check (an HTTP/1.1 GET with
     * {@code Connection: close}, judged by the status line alone).
     */
    static final class TcpProbe {
        /** A status line longer than this is not an HTTP server worth trusting. */
        private static final int MAX_STATUS_LINE = 1024;

        private TcpProbe() {}

        static void run(EventLoopGroup loops, Dialer dialer, Endpoint endpoint,
                        HealthCheckConfig check, ProxyProtocolVersion header, Consumer<Boolean> result) {
            byte[] send;
            java.util.function.Supplier<ReplyCheck> reply;
            if (check.kind() instanceof HealthCheckConfig.Http http) {
                String host = http.host().isEmpty() ? endpoint.address().toString() : http.host();
                send = ("GET " + http.path() + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: sidecar-health-check\r\n"
                        + "Connection: close\r\n\r\n").getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
                reply = () -> new StatusLine(http.expectedStatuses());
            } else {
                HealthCheckConfig.Tcp tcp = check.kind() instanceof HealthCheckConfig.Tcp t ? t : HealthCheckConfig.Tcp.connectOnly();
                send = tcp.send();
                reply = tcp.expect().length == 0 ? null : () -> new Prefix(tcp.expect());
            }
            long timeoutMillis = Math.max(1, check.timeout().toMillis());
            boolean[] reported = new boolean[1];
            Consumer<Boolean> once = passed -> {
                if (!reported[0]) {
                    reported[0] = true;
                    result.accept(passed);
                }
            };
            probeBootstrap(loops, dialer, timeoutMillis)
                    .handler(new ChannelInitializer<Channel>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            addProxyHeader(ch, header);
                            if (reply != null) {
                                ch.pipeline().addLast(new Reply(reply.get(), once));
                            }
                        }
                    })
                    .connect(endpoint.socketAddress())
                    .addListener((ChannelFutureListener) f -> {
                        if (!f.isSuccess()) {
                            once.accept(false);
                            return;
                        }
                        Channel ch = f.channel();
                        ch.eventLoop().schedule(() -> {
                            once.accept(false); // no verdict within the timeout
                            ch.close();
                        }, timeoutMillis, TimeUnit.MILLISECONDS);
                        if (send.length == 0 && reply == null) {
                            once.accept(true);
                            // an empty write, so that a PROXY header (if any) goes out before the close
                            ch.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
                            return;
                        }
                        if (send.length > 0) {
                            ch.writeAndFlush(Unpooled.wrappedBuffer(send)).addListener(w -> {
                                if (!w.isSuccess()) {
                                    once.accept(false);
                                    ch.close();
                                } else if (reply == null) {
                                    once.accept(true);
                                    ch.close();
                                }
                            });
                        }
                    });
        }

        /** Judges a reply byte by byte: null while undecided, then the verdict. */
        interface ReplyCheck {
            Boolean offer(byte b);
        }

        private static final class Prefix implements ReplyCheck {
            private final byte[] expect;
            private int matched;

            Prefix(byte[] expect) {
                this.expect = expect;
            }

            @Override
            public Boolean offer(byte b) {
                if (b != expect[matched++]) {
                    return false;
                }
                return matched == expect.length ? Boolean.TRUE : null;
            }
        }

        /** Reads {@code HTTP/1.x NNN ...} up to its CRLF and checks the status against the ranges. */
        private static final class StatusLine implements ReplyCheck {
            private final List<HealthCheckConfig.StatusRange> ranges;
            private final StringBuilder line = new StringBuilder();

            StatusLine(List<HealthCheckConfig.StatusRange> ranges) {
                this.ranges = ranges;
            }

            @Override
            public Boolean offer(byte b) {
                if (b != '\n') {
                    line.append((char) (b & 0xff));
                    return line.length() > MAX_STATUS_LINE ? Boolean.FALSE : null;
                }
                String[] parts = line.toString().trim().split(" ", 3);
                if (parts.length < 2 || !parts[0].startsWith("HTTP/1.") || parts[1].length() != 3) {
                    return false;
                }
                int status;
                try {
                    status = Integer.parseInt(parts[1]);
                } catch (NumberFormatException e) {
                    return false;
                }
                return ranges.stream().anyMatch(r -> r.contains(status));
            }
        }

        private static final class Reply extends ChannelInboundHandlerAdapter {
            private final ReplyCheck check;
            private final Consumer<Boolean> result;
            private boolean decided;

            Reply(ReplyCheck check, Consumer<Boolean> result) {
                this.check = check;
                this.result = result;
            }

            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ByteBuf buf = (ByteBuf) msg;
                try {
                    while (!decided && buf.isReadable()) {
                        Boolean verdict = check.offer(buf.readByte());
                        if (verdict != null) {
                            decided = true;
                            result.accept(verdict);
                            ctx.close();
                        }
                    }
                } finally {
                    buf.release();
                }
            }

            @Override
            public void channelInactive(ChannelHandlerContext ctx) {
                if (!decided) {
                    result.accept(false); // closed before a verdict
                }
            }

            @Override
            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                result.accept(false);
                ctx.close();
            }
        }
    }
}
