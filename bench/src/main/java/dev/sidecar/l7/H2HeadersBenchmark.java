package dev.sidecar.l7;

import dev.sidecar.bench.BenchmarkBase;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseDecoder;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersEncoder;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.HttpConversionUtil;
import java.nio.charset.StandardCharsets;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * The header conversions of an HTTP/2 client's request proxied to an HTTP/1.1 upstream, with
 * the proxy's own {@link H2Headers} and with Netty's {@code HttpConversionUtil}, which it
 * replaced: the response head an nginx upstream sends (decoded by Netty's HTTP/1.1 decoder, as
 * the proxy gets it) converted for HTTP/2 and HPACK-encoded on a connection's encoder (its
 * dynamic table warm, as on a long-lived connection), and an h2load request head converted to
 * HTTP/1.1, extension headers stripped as the proxy does before sending it on.
 */
@State(Scope.Benchmark)
public class H2HeadersBenchmark extends BenchmarkBase {
    private static final byte[] RESPONSE = ("HTTP/1.1 200 OK\r\n"
            + "Server: nginx/1.22.1\r\n"
            + "Date: Mon, 23 Nov 2026 16:22:39 GMT\r\n"
            + "Content-Type: text/plain\r\n"
            + "Content-Length: 100\r\n"
            + "Connection: keep-alive\r\n\r\n").getBytes(StandardCharsets.US_ASCII);

    private HttpResponse response;
    private Http2Headers request;
    private DefaultHttp2HeadersEncoder encoder;
    private ByteBuf out;

    @Setup
    public void setUp() {
        EmbeddedChannel ch = new EmbeddedChannel(new HttpResponseDecoder());
        ch.writeInbound(Unpooled.wrappedBuffer(RESPONSE));
        response = ch.readInbound();
        ch.finishAndReleaseAll();
        request = new DefaultHttp2Headers().method("GET").scheme("http").path("/").authority("127.0.0.1:18481");
        request.add("user-agent", "h2load nghttp2/1.52.0").add("accept", "*/*");
        encoder = new DefaultHttp2HeadersEncoder();
        out = Unpooled.buffer(256);
    }

    @TearDown
    public void tearDown() {
        out.release();
    }

    @Benchmark
    public int responseToHpack() throws Http2Exception {
        out.clear();
        encoder.encodeHeaders(1, H2Headers.response(response), out);
        return out.writerIndex();
    }

    @Benchmark
    public int responseToHpackNetty() throws Http2Exception {
        out.clear();
        encoder.encodeHeaders(1, HttpConversionUtil.toHttp2Headers(response, true), out);
        return out.writerIndex();
    }

    @Benchmark
    public HttpRequest requestFromHttp2() throws Http2Exception {
        HttpRequest r = H2Headers.request(1, request);
        HeaderPolicy.stripHopByHop(r.headers());
        return r;
    }

    @Benchmark
    public HttpRequest requestFromHttp2Netty() throws Http2Exception {
        HttpRequest r = HttpConversionUtil.toHttpRequest(1, request, true);
        HeaderPolicy.stripHopByHop(r.headers());
        return r;
    }
}
