package dev.sidecar.bench.proxy;

import dev.sidecar.bench.BenchmarkBase;
import dev.sidecar.proxy.ConfigLoader;
import dev.sidecar.proxy.Sidecar;
import dev.sidecar.testkit.HttpUpstream;
import dev.sidecar.testkit.RawH2;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * One small request per operation through an in-process proxy, and the same request straight to
 * the upstream as the baseline, over HTTP/1.1 keep-alive and over HTTP/2 (h2 to an h2c
 * upstream, the gRPC shape). Client, proxy and upstream share the JVM, so with {@code -prof gc}
 * the difference between a {@code proxied*} and its {@code direct*} {@code gc.alloc.rate.norm}
 * is what the proxy allocates per request. Times here include two loopback round trips on a
 * shared machine; the end-to-end harness is the place for throughput. The proxy runs on each
 * transport: io_uring where the kernel allows it, and epoll, which is what a container whose
 * seccomp profile refuses io_uring gets (a syscall per change of read interest shows there).
 * {@code -p bufferRing=true} runs io_uring with a buffer ring (the receive completes with the
 * bytes) instead of a readiness event, then a receive, for every read.
 */
@State(Scope.Benchmark)
public class ProxiedRequestBenchmark extends BenchmarkBase {
    /** Requests per operation of the {@code *Http2Burst} benchmarks. */
    private static final int BURST = 10;
    private static final byte[] REQUEST = "GET /bench HTTP/1.1\r\nHost: bench.local\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

    /** The proxy's {@code server.transport}. */
    @Param({"io_uring", "epoll"})
    public String transport;

    /** Whether io_uring reads into the loop's buffer ring (the system property {@code sidecar.io_uring.buffer_ring}). */
    @Param({"false"})
    public String bufferRing;

    private HttpUpstream upstream;
    private Sidecar proxy;
    private H1 direct1;
    private H1 proxied1;
    private H2 direct2;
    private H2 proxied2;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        upstream = new HttpUpstream("u");
        System.setProperty("sidecar.io_uring.buffer_ring", bufferRing);
        proxy = Sidecar.start(ConfigLoader.parse("""
                server: { workers: 1, transport: %s }
                admin: { address: 127.0.0.1:0 }
                listeners:
                  - { name: h1, address: 127.0.0.1:0, protocol: http, cluster: app1, http: { generate_request_id: false } }
                  - { name: h2, address: 127.0.0.1:0, protocol: http, cluster: app2, http: { generate_request_id: false } }
                clusters:
                  - { name: app1, upstream_protocol: http1, endpoints: [{ address: %s }] }
                  - { name: app2, upstream_protocol: h2c, endpoints: [{ address: %s }] }
                """.formatted(transport, upstream.address(), upstream.address())));
        direct1 = new H1(upstream.port());
        proxied1 = new H1(proxy.listenerPort("h1"));
        direct2 = new H2(upstream.port());
        proxied2 = new H2(proxy.listenerPort("h2"));
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        direct1.socket.close();
        proxied1.socket.close();
        direct2.client.close();
        proxied2.client.close();
        proxy.close();
        upstream.close();
    }

    @Benchmark
    public int directHttp1() throws IOException {
        return direct1.get();
    }

    @Benchmark
    public int proxiedHttp1() throws IOException {
        return proxied1.get();
    }

    @Benchmark
    public int directHttp2() throws Exception {
        return direct2.get();
    }

    @Benchmark
    public int proxiedHttp2() throws Exception {
        return proxied2.get();
    }

    /**
     * Ten requests written together on one HTTP/2 connection, then their ten responses: the
     * proxy's streams share its client and upstream connections, so what it writes for them in
     * one turn of its event loop can go out in one write each way.
     */
    @Benchmark
    public int directHttp2Burst() throws Exception {
        return direct2.burst(BURST);
    }

    @Benchmark
    public int proxiedHttp2Burst() throws Exception {
        return proxied2.burst(BURST);
    }

    /** A keep-alive HTTP/1.1 client that reuses its buffers: one request, then its whole response. */
    private static final class H1 {
        final Socket socket;
        final OutputStream out;
        final InputStream in;
        final byte[] buf = new byte[16 * 1024];

        H1(int port) throws IOException {
            socket = new Socket("127.0.0.1", port);
            socket.setTcpNoDelay(true);
            socket.setSoTimeout(10_000);
            out = socket.getOutputStream();
            in = socket.getInputStream();
        }

        int get() throws IOException {
            out.write(REQUEST);
            int n = 0;
            int headerEnd = -1;
            int length = -1;
            while (true) {
                int r = in.read(buf, n, buf.length - n);
                if (r < 0) {
                    throw new IOException("closed");
                }
                n += r;
                if (headerEnd < 0) {
                    headerEnd = indexOf(buf, n, "\r\n\r\n") + 4;
                    if (headerEnd < 4) {
                        headerEnd = -1;
                        continue;
                    }
                    length = contentLength(buf, headerEnd);
                }
                if (n >= headerEnd + length) {
                    return n;
                }
            }
        }

        private static int indexOf(byte[] b, int n, String s) {
            outer:
            for (int i = 0; i + s.length() <= n; i++) {
                for (int k = 0; k < s.length(); k++) {
                    if (b[i + k] != s.charAt(k)) {
                        continue outer;
                    }
                }
                return i;
            }
            return -1;
        }

        private static int contentLength(byte[] b, int headerEnd) {
            String name = "content-length:";
            for (int i = 0; i + name.length() < headerEnd; i++) {
                int k = 0;
                while (k < name.length() && Character.toLowerCase(b[i + k]) == name.charAt(k)) {
                    k++;
                }
                if (k == name.length()) {
                    int j = i + k;
                    while (b[j] == ' ') {
                        j++;
                    }
                    int v = 0;
                    while (b[j] >= '0' && b[j] <= '9') {
                        v = v * 10 + (b[j++] - '0');
                    }
                    return v;
                }
            }
            throw new IllegalStateException("no content-length");
        }
    }

    /** Sequential HTTP/2 requests on one connection, the connection window opened wide once. */
    private static final class H2 {
        final RawH2 client;
        int stream = 1;

        H2(int port) throws IOException {
            client = new RawH2(port);
            client.windowUpdate(0, Integer.MAX_VALUE - 65_535);
            client.flush();
        }

        int get() throws Exception {
            int s = stream;
            stream += 2;
            client.get(s, "/bench");
            int status = client.awaitStatus(s, Duration.ofSeconds(10));
            if (status != 200) {
                throw new IllegalStateException("status " + status);
            }
            return status;
        }

        int burst(int n) throws Exception {
            for (int i = 0; i < n; i++) {
                client.headers(stream, RawH2.END_STREAM | RawH2.END_HEADERS, client.requestBlock("GET", "/bench"));
                stream += 2;
            }
            client.flush();
            int[] heads = {0};
            if (client.await(f -> f.type() == RawH2.HEADERS && ++heads[0] == n, Duration.ofSeconds(10)) == null) {
                throw new IllegalStateException(heads[0] + " of " + n + " responses");
            }
            return n;
        }
    }
}
