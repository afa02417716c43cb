package dev.sidecar.reliability;

import dev.sidecar.testkit.Await;
import dev.sidecar.testkit.HttpUpstream;
import dev.sidecar.testkit.ProxyProcess;
import dev.sidecar.testkit.RawH2;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
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
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Exhaustion: the process with 256 file descriptors and 300 concurrent clients (it survives,
 * logs the failed accepts once, and accepts again within a second of the descriptors being
 * free); the process with 64 MiB of direct memory under large bodies on many connections (it
 * sheds with 503 / REFUSED_STREAM when its overload guard says so, and never throws
 * OutOfMemoryError).
 */
final class ExhaustionRows {
    private ExhaustionRows() {}

    static List<ScorecardTest.Row> run(Path dir) throws Exception {
        List<ScorecardTest.Row> rows = new ArrayList<>();
        try (HttpUpstream up = new HttpUpstream("up")) {
            fileDescriptors(rows, dir, up);
            try (HttpUpstream bytes = new HttpUpstream("bytes")) {
                directMemory(rows, dir, up, bytes);
            }
        }
        return rows;
    }

    private static void fileDescriptors(List<ScorecardTest.Row> rows, Path dir, HttpUpstream up) throws Exception {
        if (!new java.io.File("/usr/bin/prlimit").canExecute()) {
            rows.add(new ScorecardTest.Row("file descriptors: 256, 300 clients", "prlimit missing", "util-linux's prlimit installed", false));
            return;
        }
        try (ProxyProcess proxy = ProxyProcess.run(dir, List.of("/usr/bin/prlimit", "--nofile=256:256"), List.of(), """
                admin: { address: 127.0.0.1:0 }
                listeners:
                  - { name: fd, address: 127.0.0.1:0, protocol: http, cluster: app, http: { request_headers_timeout: 30s } }
                clusters:
                  - { name: app, endpoints: [{ address: %s }] }
                """.formatted(up.address()))) {
            int port = proxy.listenerPort("fd");
            List<Socket> clients = new ArrayList<>();
            AtomicInteger answered = new AtomicInteger();
            try {
                for (int i = 0; i < 300; i++) {
                    Socket s = new Socket();
                    s.connect(new InetSocketAddress("127.0.0.1", port), 5000); // the kernel's backlog takes it even when the proxy cannot
                    s.setSoTimeout(20_000);
                    s.getOutputStream().write("GET /delay/3000 HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
                    clients.add(s);
                }
                Await.until("the proxy out of descriptors", Duration.ofSeconds(20), () -> proxy.output().contains("cannot accept connections"));
                boolean alive = proxy.isAlive();
                rows.add(new ScorecardTest.Row("file descriptors limited to 256, 300 concurrent clients: proxy alive at exhaustion",
                        alive ? "yes" : "no", "yes", alive));
            } finally {
                for (Socket s : clients) {
                    s.close();
                }
            }
            // the descriptors are free once the proxy has closed what those clients held (their
            // upstream requests end when the delayed answers come)
            Path fds = Path.of("/proc/" + proxy.pid() + "/fd");
            long waitStart = System.nanoTime();
            // sockets, not all descriptors: the JVM keeps every jar of its class path open (188 of
            // them with the reliability module's test class path), and those are not the clients'
            while (openSockets(fds) > 16 && System.nanoTime() - waitStart < 30_000_000_000L) {
                java.util.concurrent.locks.LockSupport.parkNanos(50_000_000); // polling /proc, bounded by the 30 s above
            }
            if (openSockets(fds) > 16) {
                // say what holds them instead of ending the scorecard here
                rows.add(new ScorecardTest.Row("file descriptors: freed once the clients have gone", descriptorKinds(fds) + " after 30 s",
                        "<= 16 sockets open", false));
                System.out.println(proxy.output().lines().filter(l -> !l.startsWith("\tat ")).limit(80).reduce("", (x, y) -> x + "\n  " + y));
                return;
            }
            long freed = System.nanoTime();
            long acceptedMs = -1;
            while (System.nanoTime() - freed < 10_000_000_000L) {
                if (status(port, "/again") == 200) {
                    acceptedMs = (System.nanoTime() - freed) / 1_000_000;
                    break;
                }
            }
            int admin = Probes.get("http://127.0.0.1:" + proxy.adminPort() + "/ready").statusCode();
            if (acceptedMs < 0 || acceptedMs > 1000) {
                System.out.println(proxy.output().lines().filter(l -> !l.startsWith("\tat ")).limit(80).reduce("", (x, y) -> x + "\n  " + y));
            }
            rows.add(new ScorecardTest.Row("file descriptors: a new request served after the descriptors are free (<= 16 sockets open)", acceptedMs < 0 ? "not within 10 s"
                    : acceptedMs + " ms, admin " + admin, "<= 1000 ms (Netty's accept back-off is 1 s), admin 200", acceptedMs >= 0 && acceptedMs <= 1000 && admin == 200));
            Await.until("the recovery logged", Duration.ofSeconds(10), () -> proxy.output().contains("accepting again"));
            String out = proxy.output();
            long failures = out.lines().filter(l -> l.contains("listener fd: cannot accept connections")).count();
            long traces = out.lines().filter(l -> l.contains("Too many open files") && !l.contains("cannot accept connections")).count();
            rows.add(new ScorecardTest.Row("file descriptors: failed accepts logged", failures + " warning(s), " + traces
                    + " other line(s) naming EMFILE", "1 warning per episode", failures == 1 && traces == 0));
        }
    }

    private static void directMemory(List<ScorecardTest.Row> rows, Path dir, HttpUpstream up, HttpUpstream bytes) throws Exception {
        try (ProxyProcess proxy = ProxyProcess.run(dir, List.of(), List.of("-XX:MaxDirectMemorySize=64m"), """
                admin: { address: 127.0.0.1:0 }
                listeners:
                  - name: mem
                    address: 127.0.0.1:0
                    protocol: http
                    route_config:
                      virtual_hosts:
                        - name: all
                          domains: ["*"]
                          routes:
                            - { match: { prefix: /echo }, route: { cluster: app } }
                            - { match: { prefix: / }, route: { cluster: bytes } }
                clusters:
                  - { name: app, endpoints: [{ address: %s }] }
                  - { name: bytes, endpoints: [{ address: %s }] }
                """.formatted(up.address(), bytes.address()))) {
            int port = proxy.listenerPort("mem");
            AtomicBoolean running = new AtomicBoolean(true);
            ConcurrentHashMap<String, AtomicInteger> outcomes = new ConcurrentHashMap<>();
            List<Thread> uploaders = new ArrayList<>();
            byte[] body = new byte[1 << 20];
            HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
            for (int i = 0; i < 40; i++) {
                Thread t = new Thread(() -> {
                    while (running.get()) {
                        String outcome;
                        try {
                            HttpResponse<byte[]> r = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/echo"))
                                    .POST(HttpRequest.BodyPublishers.ofByteArray(body)).timeout(Duration.ofSeconds(30)).build(),
                                    HttpResponse.BodyHandlers.ofByteArray());
                            outcome = r.statusCode() == 200 && r.body().length == body.length ? "200" : String.valueOf(r.statusCode());
                        } catch (IOException e) {
                            outcome = "connection error";
                        } catch (InterruptedException e) {
                            return;
                        }
                        outcomes.computeIfAbsent(outcome, k -> new AtomicInteger()).incrementAndGet();
                    }
                }, "uploader-" + i);
                t.setDaemon(true);
                t.start();
                uploaders.add(t);
            }
            // and many streams asking for large bodies that their clients do not read
            List<RawH2> hogs = new ArrayList<>();
            List<Socket> slow = new ArrayList<>();
            try {
                for (int c = 0; c < 10; c++) {
                    RawH2 h = new RawH2(port, 4096);
                    hogs.add(h);
                    for (int stream = 1; stream < 200; stream += 2) {
                        h.headers(stream, RawH2.END_STREAM | RawH2.END_HEADERS, h.requestBlock("GET", "/bytes/4000000"));
                    }
                    h.flush();
                }
                for (int i = 0; i < 200; i++) {
                    Socket s = new Socket();
                    s.setReceiveBufferSize(4096);
                    s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
                    s.getOutputStream().write("GET /bytes/4000000 HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
                    slow.add(s);
                }
                double peak = 0;
                long t0 = System.nanoTime();
                while (System.nanoTime() - t0 < 10_000_000_000L) {
                    peak = Math.max(peak, Probes.metric(proxy, "sidecar_overload_direct_used_bytes"));
                    java.util.concurrent.locks.LockSupport.parkNanos(200_000_000); // sampling pace
                }
                running.set(false);
                for (Thread t : uploaders) {
                    t.join(40_000);
                }
                double shed = Probes.metric(proxy, "sidecar_overload_shed_requests_total");
                String out = proxy.output();
                boolean oom = out.contains("OutOfMemoryError");
                int admin = Probes.get("http://127.0.0.1:" + proxy.adminPort() + "/ready").statusCode();
                int others = outcomes.entrySet().stream().filter(e -> !e.getKey().equals("200") && !e.getKey().equals("503"))
                        .mapToInt(e -> e.getValue().get()).sum();
                rows.add(new ScorecardTest.Row("direct memory 64 MiB, 40 x 1 MiB uploads + 1,000 unread h2 streams + 200 slow readers: OutOfMemoryError",
                        (oom ? "yes" : "0") + ", alive " + (proxy.isAlive() ? "yes" : "no") + ", admin " + admin + ", peak direct "
                        + Math.round(peak / (1024 * 1024)) + " MiB, shed " + (long) shed + ", uploads " + outcomes,
                        "0, alive, admin 200, uploads answered 200 or 503 (shed by the overload guard at 90 % of the limit)", !oom && proxy.isAlive() && admin == 200 && others == 0
                        && outcomes.containsKey("200")));
            } finally {
                running.set(false);
                for (RawH2 h : hogs) {
                    h.close();
                }
                for (Socket s : slow) {
                    s.close();
                }
            }
        }
    }

    /** How many of the open descriptors are sockets, jars and anything else; empty when /proc cannot be read. */
    private static java.util.Map<String, Integer> descriptorKinds(Path fds) {
        java.util.Map<String, Integer> kinds = new java.util.TreeMap<>();
        try (java.util.stream.Stream<Path> s = java.nio.file.Files.list(fds)) {
            s.forEach(fd -> {
                String target;
                try {
                    target = java.nio.file.Files.readSymbolicLink(fd).toString();
                } catch (IOException e) {
                    return; // closed meanwhile
                }
                String kind = target.startsWith("socket:") ? "sockets" : target.endsWith(".jar") ? "jars" : "other";
                kinds.merge(kind, 1, Integer::sum);
            });
        } catch (IOException e) {
            return java.util.Map.of();
        }
        return kinds;
    }

    private static long openSockets(Path fds) {
        java.util.Map<String, Integer> kinds = descriptorKinds(fds);
        return kinds.isEmpty() ? Long.MAX_VALUE : kinds.getOrDefault("sockets", 0);
    }

    /** One request on a new connection; its status, or -1 when the connection failed. */
    private static int status(int port, String path) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 1000);
            s.setSoTimeout(2000);
            s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
            InputStream in = s.getInputStream();
            byte[] head = in.readNBytes(12);
            String h = new String(head, StandardCharsets.ISO_8859_1);
            return h.startsWith("HTTP/1.1 ") ? Integer.parseInt(h.substring(9, 12)) : -1;
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
    }
}
