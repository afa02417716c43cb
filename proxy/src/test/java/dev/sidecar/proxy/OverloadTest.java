package dev.sidecar.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sidecar.config.ConfigException;
import dev.sidecar.config.OverloadConfig;
import dev.sidecar.l7.OverloadState;
import dev.sidecar.testkit.Await;
import dev.sidecar.testkit.HttpUpstream;
import dev.sidecar.testkit.ProxyProcess;
import dev.sidecar.testkit.RawH2;
import dev.sidecar.testkit.TcpUpstream;
import dev.sidecar.testkit.Traffic;
import java.io.IOException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The overload guard: its decisions on sampled memory, its config, and shedding in the real process. */
class OverloadTest {
    private static final long MIB = 1024 * 1024;

    @TempDir
    Path dir;

    private static final class Changes {
        final List<Boolean> seen = new ArrayList<>();
    }

    private static OverloadGuard guard(OverloadConfig config, AtomicReference<OverloadGuard.Usage> usage, OverloadState state, Changes c) {
        return new OverloadGuard(config, usage::get, state, c.seen::add);
    }

    @Test
    void shedsAtTheFractionAndResumesBelowTheBand() {
        AtomicReference<OverloadGuard.Usage> usage = new AtomicReference<>(new OverloadGuard.Usage(10 * MIB, 100 * MIB, 10 * MIB, 100 * MIB));
        OverloadState state = new OverloadState();
        Changes c = new Changes();
        OverloadGuard g = guard(OverloadConfig.DEFAULT, usage, state, c);
        g.evaluate();
        assertFalse(state.shedding());
        usage.set(new OverloadGuard.Usage(90 * MIB, 100 * MIB, 10 * MIB, 100 * MIB)); // direct at 90 %
        g.evaluate();
        assertTrue(state.shedding());
        usage.set(new OverloadGuard.Usage(87 * MIB, 100 * MIB, 10 * MIB, 100 * MIB)); // above 81 %: still on
        g.evaluate();
        assertTrue(state.shedding());
        usage.set(new OverloadGuard.Usage(80 * MIB, 100 * MIB, 10 * MIB, 100 * MIB));
        g.evaluate();
        assertFalse(state.shedding());
        usage.set(new OverloadGuard.Usage(1 * MIB, 100 * MIB, 96 * MIB, 100 * MIB)); // heap at 96 % of 95 %
        g.evaluate();
        g.evaluate();
        assertTrue(state.shedding());
        assertEquals(List.of(true, false, true), c.seen, "listeners are told of changes only");
    }

    @Test
    void aFractionOfZeroOrAnUnknownLimitNeverSheds() {
        AtomicReference<OverloadGuard.Usage> usage = new AtomicReference<>(new OverloadGuard.Usage(99 * MIB, 100 * MIB, 99 * MIB, -1));
        OverloadState state = new OverloadState();
        Changes c = new Changes();
        guard(new OverloadConfig(0, 0.95), usage, state, c).evaluate();
        assertFalse(state.shedding());
        assertTrue(c.seen.isEmpty());
    }

    @Test
    void theJvmSampleHasLimits() {
        OverloadGuard.Usage u = OverloadGuard.sampleJvm();
        assertTrue(u.directLimit() > 0, "direct memory limit " + u.directLimit());
        assertTrue(u.heapLimit() > 0 && u.heap() > 0, "heap " + u);
    }

    @Test
    void overloadConfigIsParsedAndEveryBadFieldNamed() {
        assertEquals(OverloadConfig.DEFAULT, ConfigLoader.parse("listeners: []").server().overload());
        assertEquals(new OverloadConfig(0.8, 0), ConfigLoader.parse("""
                server: { overload: { direct_memory_shed_fraction: 0.8, heap_shed_fraction: 0 } }
                """).server().overload());
        String bad = messageOf("""
                server: { overload: { direct_memory_shed_fraction: 1.5, heap_shed_fraction: 0.01 } }
                """);
        assertTrue(bad.contains("server.overload.direct_memory_shed_fraction: 1.5 is out of range"), bad);
        assertTrue(bad.contains("server.overload.heap_shed_fraction: 0.01 is out of range"), bad);
        String text = messageOf("server: { overload: { heap_shed_fraction: lots } }");
        assertTrue(text.contains("server.overload.heap_shed_fraction: must be a number"), text);
        String unknown = messageOf("server: { overload: { cpu_shed_fraction: 0.9 } }");
        assertTrue(unknown.contains("server.overload.cpu_shed_fraction"), unknown);
    }

    private static String messageOf(String yaml) {
        try {
            ConfigLoader.parse(yaml);
        } catch (ConfigException e) {
            return e.getMessage();
        }
        throw new AssertionError("accepted: " + yaml);
    }

    static double metric(ProxyProcess p, String name) throws Exception {
        String body = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + p.adminPort() + "/stats/prometheus"))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString()).body();
        for (String line : body.split("\n")) {
            if (line.startsWith(name) && (name.endsWith("}") || line.charAt(name.length()) == ' ' || line.charAt(name.length()) == '{')) {
                return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return Double.NaN;
    }

    /**
     * The real process with a shedding fraction below what it holds at rest (0.1 of 16 MiB, where
     * buffers, TLS and socket internals take some 4 MiB): new HTTP/1.1 requests get 503 with
     * connection: close, new HTTP/2 streams REFUSED_STREAM, nothing reaches the upstream, the
     * metrics say so, and the admin API still answers. (That the state lifts again once memory
     * falls: {@link #theRealProcessResumesServingAndAcceptingOnceDirectMemoryFalls}.)
     */
    @Test
    void theRealProcessShedsWhileDirectMemoryIsAboveTheFraction() throws Exception {
        try (HttpUpstream up = new HttpUpstream("up");
             ProxyProcess p = ProxyProcess.run(dir, List.of(), List.of("-XX:MaxDirectMemorySize=16m"), """
                     admin: { address: 127.0.0.1:0 }
                     server: { overload: { direct_memory_shed_fraction: 0.1 } }
                     listeners:
                       - { name: web, address: 127.0.0.1:0, protocol: http, cluster: app }
                     clusters:
                       - { name: app, endpoints: [{ address: %s }] }
                     """.formatted(up.address()))) {
            int port = p.listenerPort("web");
            Await.until("the overload state on", Duration.ofSeconds(20), () -> value(p, "sidecar_overload_active") == 1);
            String h1 = exchange(port, "GET /x HTTP/1.1\r\nHost: x\r\n\r\n");
            assertTrue(h1.startsWith("HTTP/1.1 503") && h1.toLowerCase().contains("connection: close")
                    && h1.contains("x-sidecar-overloaded: true"), h1);
            // a pipelined second request is not answered after the connection is closed
            String pipelined = exchange(port, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /y HTTP/1.1\r\nHost: x\r\n\r\n");
            assertEquals(1, pipelined.split("HTTP/1.1 ", -1).length - 1, pipelined);
            try (RawH2 c = new RawH2(port)) {
                c.get(1, "/x");
                RawH2.Frame f = c.await(x -> x.stream() == 1, Duration.ofSeconds(10));
                assertTrue(f != null && f.type() == RawH2.RST_STREAM && f.errorCode() == 0x7, "REFUSED_STREAM: " + f);
                c.get(3, "/x"); // the connection stays up for the next stream
                RawH2.Frame g = c.await(x -> x.stream() == 3, Duration.ofSeconds(10));
                assertTrue(g != null && g.type() == RawH2.RST_STREAM && g.errorCode() == 0x7, "REFUSED_STREAM: " + g);
            }
            assertEquals(4, value(p, "sidecar_overload_shed_requests_total"));
            assertEquals(0, up.requestCount(), "nothing reached the upstream");
            assertTrue(value(p, "sidecar_overload_direct_used_bytes") >= 0.1 * 16 * MIB);
            assertTrue(p.output().split("overload: shedding", -1).length == 2, "logged once:\n" + p.output());
        }
    }

    /**
     * The real process, shedding and resuming as its direct memory rises and falls. With Netty's
     * unpooled allocator a released buffer is freed at once, so the guard's sample follows the
     * bytes the proxy holds; an HTTP/2 client that opens its streams with a receive window of 0
     * makes the proxy hold each stream's response up to the stream's write high-water mark
     * (64 KiB) in its own buffers, where no kernel buffer takes it. Past the fraction, HTTP
     * requests get 503 and a new TCP connection waits in the backlog, unaccepted and unrelayed.
     * Once that client goes, the memory goes with it, the state lifts below the resume band, the
     * waiting connection is accepted and relayed, and HTTP requests get 200 again.
     */
    @Test
    void theRealProcessResumesServingAndAcceptingOnceDirectMemoryFalls() throws Exception {
        try (HttpUpstream up = new HttpUpstream("up");
             TcpUpstream echo = TcpUpstream.echo();
             ProxyProcess p = ProxyProcess.run(dir, List.of(), List.of("-XX:MaxDirectMemorySize=" + HOG_LIMIT_MIB + "m",
                     "-Dio.netty.allocator.type=unpooled"), """
                     admin: { address: 127.0.0.1:0 }
                     server: { overload: { direct_memory_shed_fraction: %s, heap_shed_fraction: 0 } }
                     listeners:
                       - { name: web, address: 127.0.0.1:0, protocol: http, cluster: app }
                       - { name: echo, address: 127.0.0.1:0, protocol: tcp, cluster: echo }
                     clusters:
                       - { name: app, endpoints: [{ address: %s }] }
                       - { name: echo, endpoints: [{ address: %s }] }
                     """.formatted(HOG_FRACTION, up.address(), echo.address()))) {
            int web = p.listenerPort("web");
            double resumeBelow = HOG_FRACTION * OverloadGuard.RESUME_SHARE * HOG_LIMIT_MIB * MIB;
            Await.until("a first sample", Duration.ofSeconds(20), () -> value(p, "sidecar_overload_direct_used_bytes") > 0);
            double atRest = value(p, "sidecar_overload_direct_used_bytes");
            assertTrue(atRest < resumeBelow, "at rest below the resume band: " + atRest);
            assertEquals(0, value(p, "sidecar_overload_active"));
            assertEquals("200", httpStatus(web));

            double held;
            try (RawH2 hog = new RawH2(web)) {
                hog.frame(RawH2.SETTINGS, 0, 0, new byte[] {0, 0x4, 0, 0, 0, 0}); // SETTINGS_INITIAL_WINDOW_SIZE 0
                for (int i = 0, stream = 1; i < HOG_STREAMS; i++, stream += 2) {
                    hog.headers(stream, RawH2.END_STREAM | RawH2.END_HEADERS, hog.requestBlock("GET", "/bytes/" + (4 * MIB)));
                }
                hog.flush();
                Await.until("the overload state on", Duration.ofSeconds(30), () -> value(p, "sidecar_overload_active") == 1);
                held = value(p, "sidecar_overload_direct_used_bytes");
                assertEquals("503", httpStatus(web));
                assertTcpAcceptsPausedThenResumed(p, echo, hog);
            }
            assertEquals("200", httpStatus(web));
            assertTrue(value(p, "sidecar_overload_direct_used_bytes") < resumeBelow);
            assertTrue(p.output().contains("overload: over, serving again"), p.output());
            System.out.println("direct memory at rest " + (long) atRest + " B, with the streams held " + (long) held + " B, limit "
                    + HOG_LIMIT_MIB + " MiB, shedding from " + HOG_FRACTION + ", resuming below " + (long) resumeBelow + " B");
        }
    }

    /**
     * While shedding, a new TCP connection completes in the kernel's backlog but the proxy does
     * not accept it: no upstream connection, no echo. Once {@code hog} closes and the state
     * lifts, it is accepted and relayed.
     */
    private static void assertTcpAcceptsPausedThenResumed(ProxyProcess p, TcpUpstream echo, RawH2 hog) throws Exception {
        int acceptedBefore = echo.accepted();
        try (Socket waiting = Traffic.connect(p.listenerPort("echo"))) {
            waiting.getOutputStream().write("ping".getBytes(StandardCharsets.US_ASCII));
            waiting.setSoTimeout(1000); // a bounded look for a reply that must not come
            assertThrows(java.net.SocketTimeoutException.class, () -> waiting.getInputStream().read(), "no echo while accepts are paused");
            assertEquals(acceptedBefore, echo.accepted(), "no upstream connection for it");
            assertEquals(1, value(p, "sidecar_overload_active"), "still shedding when the look ended");

            hog.close();
            Await.until("the overload state off", Duration.ofSeconds(30), () -> value(p, "sidecar_overload_active") == 0);
            waiting.setSoTimeout(20_000);
            byte[] back = waiting.getInputStream().readNBytes(4);
            assertEquals("ping", new String(back, StandardCharsets.US_ASCII), "accepted from the backlog and relayed");
            assertEquals(acceptedBefore + 1, echo.accepted());
        }
    }

    /**
     * Direct memory for {@link #theRealProcessResumesServingAndAcceptingOnceDirectMemoryFalls}:
     * 4 MiB sheds, below 3.6 MiB resumes; the process holds about 2.3 MiB at rest and about
     * 5.6 MiB with the streams held, so both sides have over a MiB to spare.
     */
    private static final int HOG_LIMIT_MIB = 16;
    private static final double HOG_FRACTION = 0.25;
    /** Responses held at up to 64 KiB each (under the default max_concurrent_streams, 100). */
    private static final int HOG_STREAMS = 90;

    /** The status of one HTTP/1.1 GET on a new connection. */
    private static String httpStatus(int port) throws IOException {
        String r = exchange(port, "GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        return r.length() >= 12 ? r.substring(9, 12) : r;
    }

    private static String scrape(ProxyProcess p) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + p.adminPort() + "/stats/prometheus"))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString()).body();
    }

    private static double value(ProxyProcess p, String name) {
        try {
            return metric(p, name);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    private static String exchange(int port, String request) throws IOException {
        try (Socket s = Traffic.connect(port)) {
            s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }
}
