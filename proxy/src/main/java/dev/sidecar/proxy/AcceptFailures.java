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
 * This sits after the acceptor, so the back-off still happens: it logs the first failure of an
 * episode and swallows the rest; the {@link #first() first} handler, before the acceptor, sees
 * the next accepted connection and logs that the episode is over, with how many attempts
 * failed. Both run on the listening channel's event loop, so the counters are plain fields.
 */
final class AcceptFailures {
    private static final Logger log = LoggerFactory.getLogger(AcceptFailures.class);

    private final String what;
    private boolean failing;
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
                if (failing) {
                    failing = false;
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
                if (!failing) {
                    failing = true;
                    log.warn(what + ": cannot accept connections: " + cause.getMessage()
                            + "; retrying every second until descriptors are free (logged once until it recovers)");
                }
            }
        };
    }
}
