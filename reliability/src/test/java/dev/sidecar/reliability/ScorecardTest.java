package dev.sidecar.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.sidecar.testkit.HttpUpstream;
import dev.sidecar.testkit.ProxyProcess;
import dev.sidecar.testkit.TcpUpstream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The reliability scorecard: the real proxy process (leak detection at PARANOID, a leak fails
 * the run) against bad input, one line per row — {@code name: value (target) PASS|FAIL} — and
 * {@code N passed, N failed} at the end. Every loop here is bounded in count and time, and all
 * traffic stays on loopback.
 */
class ScorecardTest {
    record Row(String name, String value, String target, boolean pass) {
        @Override
        public String toString() {
            return name + ": " + value + " (" + target + ") " + (pass ? "PASS" : "FAIL");
        }
    }

    @TempDir
    Path dir;

    private final List<Row> rows = new ArrayList<>();

    @Test
    void scorecard() throws Exception {
        // -Dscorecard.only=base,slowclients,... runs just those groups: base is the rows below that
        // share one proxy process, the others each run a process of their own (closing it checks for leaks)
        for (String only : System.getProperty("scorecard.only", String.join(",", GROUPS)).split(",")) {
            rows.addAll(switch (only.strip()) {
                case "base" -> {
                    baseRows(); // adds its rows as it goes
                    yield List.of();
                }
                case "slowclients" -> SlowClientRows.run(dir);
                case "h2attacks" -> H2AttackRows.run(dir);
                case "flapping" -> FlappingRows.run(dir);
                case "churn" -> ChurnRows.run(dir);
                case "controlplane" -> ControlPlaneRows.run(dir);
                case "certificates" -> CertificateRows.run(dir);
                case "exhaustion" -> ExhaustionRows.run(dir);
                default -> List.of(new Row("scorecard.only", only, "one of " + String.join(", ", GROUPS), false));
            });
        }
        long failed = rows.stream().filter(r -> !r.pass()).count();
        rows.forEach(System.out::println);
        System.out.println((rows.size() - failed) + " passed, " + failed + " failed");
        assertEquals(0, failed, "scorecard rows failed");
    }

    private static final List<String> GROUPS = List.of("base", "slowclients", "h2attacks", "flapping", "churn", "controlplane", "certificates",
            "exhaustion");

    /**
     * How much a good client's p99 may grow under an attack: twice its baseline, plus 20 ms. The
     * 20 ms are this machine's noise, not the proxy's: on a shared 2-core machine one scheduling
     * stall of a JVM (a garbage collection, a compile, another process's burst) delays every
     * request due meanwhile, and at 100 requests a second the p99 of a few hundred requests is
     * their third or fifth worst, so one such stall in either window moves it by that much.
     */
    static final long LATENCY_SLACK_NANOS = 20_000_000L;
    /**
     * A latency row that misses its target is measured again, baseline and attack both, up to
     * this many times in all, and passes when one attempt meets it; the row shows every attempt.
     * Another process's burst lasts a second or two and spoils one attempt; a fault of the proxy
     * spoils all of them.
     */
    static final int LATENCY_ATTEMPTS = 3;
    static final String LATENCY_TARGET = "<= 2x + 20 ms";

    /**
     * The leak-detection level of the proxy process in the latency rows: Netty's default, which
     * tracks a sample of the buffers (a leak it finds still fails the run), instead of PARANOID,
     * which records a stack trace for every buffer the proxy allocates and so turns a flood that
     * makes the proxy answer each small frame into seconds of stack walking on the event loop
     * (measured here: a SETTINGS flood's good-client p99 of 2 s at PARANOID, 55 ms without).
     * Those rows would measure the leak detector, not the proxy. Every other row, and the same
     * attacks in the proxy's Http2AttackTest, run at PARANOID.
     */
    static final String LATENCY_LEAK_DETECTION = "-Dio.netty.leakDetection.level=simple";

    static boolean withinLatencyTarget(long p99, long baselineP99) {
        return p99 <= 2 * baselineP99 + LATENCY_SLACK_NANOS;
    }

    private void baseRows() throws Exception {
        try (HttpUpstream up = new HttpUpstream("up");
             TcpUpstream crash = TcpUpstream.custom("crash", (socket, u) -> {
                 socket.getInputStream().read(new byte[4096]);
                 socket.getOutputStream().write("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nhalf".getBytes(StandardCharsets.ISO_8859_1));
                 socket.getOutputStream().flush();
                 socket.close(); // dies mid-response
             });
             TcpUpstream resetting = TcpUpstream.resetting();
             TcpUpstream hole = TcpUpstream.blackHole();
             ProxyProcess proxy = ProxyProcess.run(dir, """
                     admin: { address: 127.0.0.1:0 }
                     listeners:
                       - { name: web, address: 127.0.0.1:0, protocol: http, cluster: app }
                       - name: faults
                         address: 127.0.0.1:0
                         protocol: http
                         route_config:
                           virtual_hosts:
                             - name: all
                               domains: ["*"]
                               routes:
                                 - { match: { prefix: /crash }, route: { cluster: crash } }
                                 - { match: { prefix: /reset }, route: { cluster: resetting } }
                                 - { match: { prefix: /hole }, route: { cluster: hole, timeout: 2s } }
                                 - { match: { prefix: /slow/ }, route: { cluster: app, prefix_rewrite: /, timeout: 2s } }
                                 - match: { prefix: /try/ }
                                   route:
                                     cluster: app
                                     prefix_rewrite: /
                                     timeout: 10s
                                     retry_policy: { retry_on: "5xx", num_retries: 1, per_try_timeout: 1s }
                     clusters:
                       - { name: app, endpoints: [{ address: %s }] }
                       - { name: crash, endpoints: [{ address: %s }] }
                       - { name: resetting, endpoints: [{ address: %s }] }
                       - { name: hole, connect_timeout: 30s, endpoints: [{ address: %s }] }
                     """.formatted(up.address(), crash.address(), resetting.address(), hole.address()))) {
            http1BadInputs(proxy, up);
            h2ToH1Egress(proxy, up);
            upstreamFaults(proxy);
            adminApi(proxy);
            h2Conformance(proxy);
            rows.add(new Row("proxy alive after the run", proxy.isAlive() ? "yes" : "no", "yes", proxy.isAlive()));
        }
        fuzzing();
        // closing the process above fails the test if it reported a buffer leak
        rows.add(new Row("buffer leaks at PARANOID", "0", "0", true));
    }

    /**
     * h2spec 2.x's 146 cases, numbered as h2spec numbers them, against the HTTP listener by prior
     * knowledge; every MUST passes (README).
     */
    private void h2Conformance(ProxyProcess proxy) {
        List<dev.sidecar.reliability.h2spec.H2Conformance.Result> results =
                new dev.sidecar.reliability.h2spec.H2Conformance(proxy.listenerPort("web"), dev.sidecar.reliability.h2spec.H2Conformance.PATH).run();
        List<String> failing = results.stream().filter(r -> !r.passed()).map(dev.sidecar.reliability.h2spec.H2Conformance.Result::id).toList();
        results.stream().filter(r -> !r.passed()).forEach(r -> System.out.println("  h2 conformance " + r));
        rows.add(new Row("h2 conformance", (results.size() - failing.size()) + "/" + results.size() + (failing.isEmpty() ? "" : ", failing " + failing),
                "every MUST (145 of the 146)", dev.sidecar.reliability.h2spec.H2Conformance.acceptable(results)));
    }

    /** Every fuzz target's committed inputs replayed through the target (fuzz/FuzzScorecard). */
    private void fuzzing() throws Exception {
        dev.sidecar.reliability.fuzz.FuzzScorecard.Summary s = dev.sidecar.reliability.fuzz.FuzzScorecard.replay();
        s.findings().forEach(f -> System.out.println("  fuzzing finding " + f));
        rows.add(new Row("fuzzing", s.value(), "5 targets, 0 findings", s.targets() == 5 && s.findings().isEmpty()));
    }

    /** What a raw exchange produced: the first status (0 if none), whether the proxy closed, the bytes. */
    private record Answer(int status, boolean closed, String text) {}

    private static Answer exchange(int port, String request) throws IOException {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(5000);
            try {
                s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
            } catch (IOException e) {
                // the proxy may close before it has read everything
            }
            InputStream in = s.getInputStream();
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            byte[] buf = new byte[8192];
            boolean closed;
            try {
                for (int n; (n = in.read(buf)) > 0; ) {
                    out.write(buf, 0, n);
                }
                closed = true;
            } catch (SocketTimeoutException e) {
                closed = false;
            } catch (IOException e) {
                closed = true; // reset
            }
            String text = out.toString(StandardCharsets.ISO_8859_1);
            int status = text.startsWith("HTTP/1.") && text.length() >= 12 ? Integer.parseInt(text.substring(9, 12)) : 0;
            return new Answer(status, closed, text);
        }
    }

    /**
     * The HTTP/1.1 corpus: every MUST-reject answered with a 4xx (or 501/505) and closed, nothing
     * of it forwarded; valid requests forwarded once; no hidden second request ever reaches the
     * upstream.
     */
    private void http1BadInputs(ProxyProcess proxy, HttpUpstream up) throws IOException {
        int port = proxy.listenerPort("web");
        List<Http1Corpus.Case> cases = Http1Corpus.cases();
        List<String> wrong = new ArrayList<>();
        int rejected = 0;
        int accepted = 0;
        for (Http1Corpus.Case c : cases) {
            int before = up.requestCount();
            Answer a = exchange(port, c.request());
            int forwarded = up.requestCount() - before;
            boolean refusal = a.status() >= 400 && a.status() <= 505 && a.status() != 502 && a.status() != 503 && a.status() != 504
                    && a.closed() && forwarded == 0;
            boolean served = (a.status() == 200 || a.status() == 101) && forwarded == 1;
            boolean ok = switch (c.expect()) {
                case REJECT -> refusal;
                case ACCEPT -> served;
                case EITHER -> refusal || served;
            };
            if (refusal) {
                rejected++;
            }
            if (served) {
                accepted++;
            }
            if (!ok) {
                wrong.add(c.name() + " (" + c.expect() + "): status " + a.status() + (a.closed() ? ", closed" : ", left open")
                        + ", forwarded " + forwarded);
            }
        }
        boolean smuggled = up.received().stream().anyMatch(r -> r.uri().contains("smuggled")
                || r.headers().stream().anyMatch(h -> h.getKey().equalsIgnoreCase("x-injected")));
        wrong.forEach(w -> System.out.println("  http1 case " + w));
        rows.add(new Row("HTTP/1.1 bad-input corpus size", String.valueOf(cases.size()), ">= 300", cases.size() >= 300));
        rows.add(new Row("HTTP/1.1 cases answered as RFC 9112 requires", (cases.size() - wrong.size()) + "/" + cases.size()
                + " (" + rejected + " refused, " + accepted + " forwarded)", "all", wrong.isEmpty()));
        rows.add(new Row("HTTP/1.1 hidden requests or injected headers that reached the upstream", smuggled ? "yes" : "0", "0", !smuggled));
        rows.add(new Row("HTTP/1.1 proxy alive after the corpus", proxy.isAlive() ? "yes" : "no", "yes", proxy.isAlive()));
    }

    /**
     * Bytes an HTTP/1.1 head cannot carry, arriving in HTTP/2 header values (CR, LF, NUL) or
     * names (upper case, controls): never written upstream, where they would start a header or a
     * request of their own.
     */
    private void h2ToH1Egress(ProxyProcess proxy, HttpUpstream up) throws Exception {
        int port = proxy.listenerPort("web");
        String[][] evil = {{"x-evil", "a\r\nx-injected: 1"}, {"x-evil", "a\nx-injected: 1"}, {"x-evil", "a\rx-injected: 1"},
                {"x-evil", "a\u0000b"}, {"x-evil", "a\r\n\r\nGET /smuggled HTTP/1.1"}, {"x-evil\r\nx-injected", "1"},
                {"X-Upper", "1"}, {"x-ev il", "1"}, {"x-evil:", "1"}, {"", "1"}};
        List<String> wrong = new ArrayList<>();
        try (dev.sidecar.testkit.RawH2 c = new dev.sidecar.testkit.RawH2(port)) {
            int stream = 1;
            for (String[] h : evil) {
                c.headers(stream, dev.sidecar.testkit.RawH2.END_STREAM | dev.sidecar.testkit.RawH2.END_HEADERS,
                        c.literalRequestBlock("GET", "/egress", h[0], h[1]));
                c.flush();
                int id = stream;
                dev.sidecar.testkit.RawH2.Frame f = c.await(x -> x.stream() == id || x.type() == dev.sidecar.testkit.RawH2.GOAWAY,
                        Duration.ofSeconds(10));
                if (f == null) {
                    wrong.add(printableHeader(h) + ": no answer");
                } else if (f.type() == dev.sidecar.testkit.RawH2.HEADERS && c.status(f) < 400) {
                    wrong.add(printableHeader(h) + ": answered " + c.status(f));
                }
                stream += 2;
            }
            // the control: the same literal encoding with a header that is fine goes through
            c.headers(stream, dev.sidecar.testkit.RawH2.END_STREAM | dev.sidecar.testkit.RawH2.END_HEADERS,
                    c.literalRequestBlock("GET", "/egress-control", "x-fine", "ok"));
            c.flush();
            if (c.awaitStatus(stream, Duration.ofSeconds(10)) != 200) {
                wrong.add("the control request was not served");
            }
        }
        boolean reached = up.received().stream().anyMatch(r -> r.uri().contains("smuggled")
                || r.headers().stream().anyMatch(e -> e.getKey().contains("injected") || e.getValue().contains("\n") || e.getValue().contains("\r")
                || e.getValue().indexOf(0) >= 0));
        wrong.forEach(w -> System.out.println("  h2 egress " + w));
        rows.add(new Row("h2 -> h1: CR/LF/NUL in values, bad names refused", (evil.length - wrong.size()) + "/" + evil.length, "all", wrong.isEmpty()));
        rows.add(new Row("h2 -> h1: split headers or requests written upstream", reached ? "yes" : "0", "0", !reached));
        long forwarded = up.received().stream().filter(r -> r.uri().equals("/egress")).count();
        boolean control = up.received().stream().anyMatch(r -> r.uri().equals("/egress-control") && "ok".equals(r.header("x-fine")));
        rows.add(new Row("h2 -> h1: requests forwarded from those", String.valueOf(forwarded), "0 (and the control forwarded)", forwarded == 0 && control));
    }

    /**
     * Upstream faults: one that dies mid-response, one that resets, a black hole, a slow one; each
     * answered as specified (a cut-off, a 503, a 504 at the route or per-try timeout within 10 %),
     * never a hang, and nothing left in flight afterwards.
     */
    private void upstreamFaults(ProxyProcess proxy) throws Exception {
        int port = proxy.listenerPort("faults");
        // dies mid-response: the client sees the head, then the connection ends short of the body
        long t = System.nanoTime();
        Answer crashed = exchange(port, "GET /crash HTTP/1.1\r\nHost: x\r\n\r\n");
        long crashMs = (System.nanoTime() - t) / 1_000_000;
        boolean cutOff = crashed.status() == 200 && crashed.closed() && !crashed.text().endsWith("a".repeat(10)) && crashMs < 3000;
        rows.add(new Row("upstream dies mid-response: cut off, not hung", "status " + crashed.status() + (crashed.closed() ? ", closed" : ", open")
                + " in " + crashMs + " ms", "the head, then closed, < 3 s", cutOff));
        timed("upstream resets every connection", port, "/reset", 503, 0, 3000);
        timed("black-holed upstream, route timeout 2 s", port, "/hole", 504, 2000, 0);
        timed("slow upstream (5 s), route timeout 2 s", port, "/slow/delay/5000", 504, 2000, 0);
        timed("slow upstream (5 s), per-try timeout 1 s, 1 retry", port, "/try/delay/5000", 504, 2000, 0);
        // nothing stays in flight
        String body = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + proxy.adminPort() + "/clusters"))
                .build(), HttpResponse.BodyHandlers.ofString()).body();
        int inFlight = 0;
        for (com.fasterxml.jackson.databind.JsonNode c : new com.fasterxml.jackson.databind.ObjectMapper().readTree(body).get("clusters")) {
            for (com.fasterxml.jackson.databind.JsonNode e : c.get("endpoints")) {
                inFlight += e.get("active_requests").asInt();
            }
        }
        rows.add(new Row("upstream faults: requests left in flight afterwards", String.valueOf(inFlight), "0", inFlight == 0));
    }

    /**
     * One request that must end with {@code status}: at {@code expectMs} within 10 % (when
     * positive), or within {@code withinMs} (when positive).
     */
    private void timed(String name, int port, String path, int status, long expectMs, long withinMs) throws IOException {
        long t = System.nanoTime();
        Answer a = exchange(port, "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        long ms = (System.nanoTime() - t) / 1_000_000;
        boolean inTime = expectMs > 0 ? Math.abs(ms - expectMs) <= expectMs / 10 : ms <= withinMs;
        rows.add(new Row(name, a.status() + " in " + ms + " ms", status + (expectMs > 0 ? " at " + expectMs + " ms ± 10 %" : " within " + withinMs + " ms"),
                a.status() == status && inTime));
    }

    private static String printableHeader(String[] h) {
        return Http1Corpus.printable(h[0]) + "=" + Http1Corpus.printable(h[1]);
    }

    /** The admin API: on loopback by default, mutating endpoints refuse GET, bad input gets a 4xx with a reason. */
    private void adminApi(ProxyProcess proxy) throws Exception {
        HttpClient client = HttpClient.newHttpClient();
        String base = "http://127.0.0.1:" + proxy.adminPort();
        List<String> problems = new ArrayList<>();
        for (String path : List.of("/drain", "/healthcheck/fail", "/healthcheck/ok", "/config/rollback?version=1", "/config/reload")) {
            int status = client.send(HttpRequest.newBuilder(URI.create(base + path)).GET().build(), HttpResponse.BodyHandlers.ofString()).statusCode();
            if (status != 405) {
                problems.add("GET " + path + " -> " + status);
            }
        }
        for (String path : List.of("/config/rollback?version=x", "/config/rollback", "/logging?level=loud", "/nowhere")) {
            HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create(base + path)).POST(HttpRequest.BodyPublishers.noBody())
                    .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() < 400 || r.statusCode() >= 500 || r.body().isBlank()) {
                problems.add("POST " + path + " -> " + r.statusCode() + " " + r.body().strip());
            }
        }
        problems.forEach(p -> System.out.println("  admin " + p));
        rows.add(new Row("admin API: mutating endpoints refuse GET, bad input gets a 4xx with a reason", problems.isEmpty() ? "all" : problems.size()
                + " wrong", "all", problems.isEmpty()));
        String defaultAdmin = dev.sidecar.config.AdminConfig.DEFAULT.address().host();
        rows.add(new Row("admin API default address", defaultAdmin, "loopback", defaultAdmin.equals("127.0.0.1") || defaultAdmin.equals("::1")));
    }
}
