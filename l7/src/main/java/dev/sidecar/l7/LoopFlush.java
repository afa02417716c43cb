package dev.sidecar.l7;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundInvoker;
import io.netty.util.concurrent.EventExecutor;
import java.util.concurrent.RejectedExecutionException;

/**
 * A flush of one connection, queued on its event loop and run once the loop is done with the
 * I/O of its current turn: the streams that wrote in that turn go out in one socket write
 * instead of one each. Requests while one is queued add nothing; a loop that refuses the task
 * (it is shutting down, no later turn comes) gets the flush at once. Event loop only.
 */
final class LoopFlush implements Runnable {
    private final ChannelOutboundInvoker target;
    private final EventExecutor loop;
    private boolean pending;

    /** Flushes from a handler's place in its pipeline. */
    LoopFlush(ChannelHandlerContext ctx) {
        this(ctx, ctx.executor());
    }

    /** Flushes the whole channel, whatever its pipeline holds by then. */
    LoopFlush(Channel channel) {
        this(channel, channel.eventLoop());
    }

    private LoopFlush(ChannelOutboundInvoker target, EventExecutor loop) {
        this.target = target;
        this.loop = loop;
    }

    void request() {
        if (!pending) {
            try {
                loop.execute(this);
                pending = true; // the task runs on this thread, so not before this line
            } catch (RejectedExecutionException e) {
                target.flush();
            }
        }
    }

    @Override
    public void run() {
        pending = false;
        target.flush();
    }
}
