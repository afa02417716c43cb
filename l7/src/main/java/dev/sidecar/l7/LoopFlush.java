package dev.sidecar.l7;

import io.netty.channel.ChannelHandlerContext;

/**
 * A flush of one connection, queued on its event loop and run once the loop is done with the
 * I/O of its current turn: the streams that wrote in that turn go out in one socket write
 * instead of one each. Requests while one is queued add nothing. Event loop only.
 */
final class LoopFlush implements Runnable {
    private final ChannelHandlerContext ctx;
    private boolean pending;

    LoopFlush(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    void request() {
        if (!pending) {
            pending = true;
            ctx.executor().execute(this);
        }
    }

    @Override
    public void run() {
        pending = false;
        ctx.flush();
    }
}
