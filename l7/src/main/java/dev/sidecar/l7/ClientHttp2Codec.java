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

    static Http2FrameCodecBuilder builder() {
        return new ClientHttp2Codec();
    }
}
