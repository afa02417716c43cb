package dev.sidecar.proxy;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A listening socket's failed accepts, logged once per episode rather than once per attempt.
 * When accept fails (EMFILE: the process is out of file descriptors; ENFILE: the system is),
 * Netty's {@code ServerBootstrapAcceptor} turns reading off for one second and then tries again,
 * passing the exception on to the end of the pipeline, which would log a stack trace each time.
 * This sits after the acceptor, so the back-off still happens: it logs the first failure and
 * swallows the rest; the {@link #first() first} handler, before the acceptor, sees the next
 * accepted connection and logs that accepting works again, with how many attempts failed. As
 * descriptors free up and run out again, accepts succeed and fail in turn: a warning comes at
 * most every {@link #WARN_EVERY_NANOS 30 s}, and the recovery is logged once per warning. Both run on the listening channel's event loop, so the counters are plain fields.
 */
final class AcceptFailures {
    private static final Logger log = LoggerFactory.getLogger(AcceptFailures.class);

    /** A listener whose accepts fail on and off (descriptors freed and taken again) warns at most this often. */
    static final long WARN_EVERY_NANOS = 30_000_000_000L;

    private final String what;
    private boolean warned;
    private long lastWarning;
    private long failures;

    private AcceptFailures(String what) {
        this.what = what;
    }

    /** Installs the logging on a bound listening channel (whose acceptor is in place by then). */
    static void install(String what, Channel server) {
        AcceptFailures f = new AcceptFailures(what);
        server.pipeline().addFirst("accept-recovered", f.first());
        server.pipeline().addLast("accept-failures", f.last());
    }

    private ChannelInboundHandlerAdapter first() {
        return new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                if (warned) {
                    warned = false;
                    log.info(what + ": accepting again after " + failures + " failed accept attempt" + (failures == 1 ? "" : "s"));
                    failures = 0;
                }
                ctx.fireChannelRead(msg);
            }
        };
    }

    private ChannelInboundHandlerAdapter last() {
        return new ChannelInboundHandlerAdapter() {
            @Override
            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                failures++;
                long now = System.nanoTime();
                if (!warned && (lastWarning == 0 || now - lastWarning >= WARN_EVERY_NANOS)) {
                    warned = true;
                    lastWarning = now;
                    log.warn(what + ": cannot accept connections: " + cause.getMessage()
                            + "; retrying every second until descriptors are free (logged at most every 30 s)");
                }
            }
        };
    }
}
