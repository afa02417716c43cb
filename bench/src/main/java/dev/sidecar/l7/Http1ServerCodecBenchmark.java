package dev.sidecar.l7;

import dev.sidecar.bench.BenchmarkBase;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * A listener's HTTP/1.1 codec alone ({@link Http1ServerCodec}: Netty's request decoder plus the
 * proxy's obs-fold and CL+TE checks) on a browser-like request head of about 450 bytes, and an
 * empty 200 written back, per operation: the share of the codec in a request's CPU, and a guard
 * for the checks' own cost.
 */
@State(Scope.Benchmark)
public class Http1ServerCodecBenchmark extends BenchmarkBase {
    private static final byte[] HEAD = ("GET /api/v1/items?page=2&sort=name HTTP/1.1\r\n"
            + "Host: app.example.internal:8080\r\n"
            + "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"
            + "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
            + "Accept-Language: en-US,en;q=0.5\r\n"
            + "Accept-Encoding: gzip, deflate, br\r\n"
            + "Cookie: session=4f2a9c1e7b3d8a6f0e5c2b9a7d4f1e8c; theme=dark\r\n"
            + "Connection: keep-alive\r\n"
            + "Cache-Control: no-cache\r\n\r\n").getBytes(StandardCharsets.US_ASCII);

    private EmbeddedChannel channel;
    private ByteBuf head;

    @Setup
    public void setUp() {
        // as a listener configures it (ConnectionHandler.installHttp1), with the default limits
        channel = new EmbeddedChannel(new Http1ServerCodec(new HttpDecoderConfig().setMaxInitialLineLength(8192 + 64)
                .setMaxHeaderSize(60 * 1024).setMaxChunkSize(16 * 1024).setAllowDuplicateContentLengths(false)
                .setAllowPartialChunks(true).setStrictLineParsing(true).setValidateHeaders(true)));
        head = Unpooled.directBuffer(HEAD.length).writeBytes(HEAD);
    }

    @TearDown
    public void tearDown() {
        channel.finishAndReleaseAll();
        head.release();
    }

    @Benchmark
    public Object requestAndResponse() {
        channel.writeInbound(head.retainedDuplicate());
        Object request = channel.readInbound();
        Object last = channel.readInbound();
        ReferenceCountUtil.release(request);
        ReferenceCountUtil.release(last);
        channel.writeOutbound(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, Unpooled.EMPTY_BUFFER));
        ByteBuf out = channel.readOutbound();
        out.release();
        return request;
    }
}
