package dev.sidecar.l7;

import io.netty.handler.codec.http2.Http2FrameCodecBuilder;

/**
 * Netty's HTTP/2 client codec, for upstream connections: as {@code forClient()} makes it, but its
 * streams share the upstream's window round robin ({@link ServerHttp2Codec#uniformConnection}).
 */
final class ClientHttp2Codec extends Http2FrameCodecBuilder {
    private ClientHttp2Codec() {
        connection(ServerHttp2Codec.uniformConnection(false));
        gracefulShutdownTimeoutMillis(0); // as forClient() has it
    }

    /**
     * A client's. The builder cannot be told so once it has a connection, and takes itself for a
     * server then: it would cap the RST_STREAM frames an upstream sends (CANCEL included) and the
     * proxy's own, as it does a client's on a listener, and end a busy upstream connection.
     */
    @Override
    public boolean isServer() {
        return false;
    }

    static Http2FrameCodecBuilder builder() {
        return new ClientHttp2Codec();
    }
}
