package dev.sidecar.container;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sidecar.testkit.Await;
import dev.sidecar.testkit.ProxyProcess;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Transparent interception end to end, in a network namespace this test makes (loopback, plus a
 * veth pair to an upstream in the test's own namespace): {@code image/intercept.sh} installs its
 * REDIRECT rules there, the proxy runs inside with a listener that reads SO_ORIGINAL_DST and an
 * original_dst cluster, and an application (curl, as another user) calls the upstream's address
 * without knowing the proxy is there. Needs root, {@code ip}, {@code iptables} and
 * {@code setpriv}; skipped without them.
 */
class InterceptTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The uid the application runs as: anyone but the proxy (root here), so its traffic is redirected. */
    private static final String APP_UID = "65534";

    @TempDir
    Path dir;

    private String ns;
    private String veth;
    private String hostIp;
    private String nsIp;
    private ServerSocket upstream;
    private final AtomicInteger upstreamConnections = new AtomicInteger();
    private final List<ProxyProcess> processes = new ArrayList<>();

    @BeforeEach
    void namespace() throws Exception {
        Assumptions.assumeTrue("root".equals(System.getProperty("user.name")), "needs root to make a network namespace");
        for (String tool : List.of("ip", "iptables", "setpriv", "curl")) {
            Assumptions.assumeTrue(onPath(tool), tool + " is not installed");
        }
        String id = Integer.toHexString(ThreadLocalRandom.current().nextInt(0x100000, 0xffffff));
        ns = "sidecar-test-" + id;
        veth = "scv" + id; // interface names are at most 15 bytes
        // a /30 of 10.213.0.0/16 picked at random, so concurrent runs do not collide
        int net = ThreadLocalRandom.current().nextInt(0, 1 << 14) * 4;
        String prefix = "10.213." + (net >> 8) + ".";
        hostIp = prefix + ((net & 0xff) + 1);
        nsIp = prefix + ((net & 0xff) + 2);
        Assumptions.assumeTrue(exec("ip", "netns", "add", ns).exit() == 0, "cannot make a network namespace here");
        check("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up");
        check("ip", "link", "add", veth, "type", "veth", "peer", "name", veth + "n");
        check("ip", "link", "set", veth + "n", "netns", ns);
        check("ip", "addr", "add", hostIp + "/30", "dev", veth);
        check("ip", "link", "set", veth, "up");
        check("ip", "netns", "exec", ns, "ip", "addr", "add", nsIp + "/30", "dev", veth + "n");
        check("ip", "netns", "exec", ns, "ip", "link", "set", veth + "n", "up");
        startUpstream();
    }

    @AfterEach
    void cleanUp() throws Exception {
        for (ProxyProcess p : processes) {
            p.close();
        }
        if (upstream != null) {
            upstream.close();
        }
        if (ns != null) {
            exec("ip", "link", "del", veth); // its peer goes with it
            exec("ip", "netns", "del", ns);
        }
    }

    /**
     * An HTTP upstream on the host side of the veth: answers every request with the address it
     * was reached at and the peer it saw, then closes.
     */
    private void startUpstream() throws IOException {
        upstream = new ServerSocket();
        upstream.bind(new InetSocketAddress(InetAddress.getByName(hostIp), 0));
        Thread t = new Thread(() -> {
            while (!upstream.isClosed()) {
                try (Socket s = upstream.accept()) {
                    upstreamConnections.incrementAndGet();
                    s.setSoTimeout(10_000);
                    InputStream in = s.getInputStream();
                    ByteArrayOutputStream head = new ByteArrayOutputStream();
                    while (!head.toString(StandardCharsets.US_ASCII).endsWith("\r\n\r\n")) {
                        int c = in.read();
                        if (c < 0) {
                            break;
                        }
                        head.write(c);
                    }
                    String body = "upstream " + hostIp + ":" + upstream.getLocalPort() + " saw " + s.getInetAddress().getHostAddress();
                    s.getOutputStream().write(("HTTP/1.1 200 OK\r\nContent-Length: " + body.length() + "\r\nConnection: close\r\n\r\n" + body)
                            .getBytes(StandardCharsets.US_ASCII));
                } catch (IOException e) {
                    // closed at the end of the test, or a client that left
                }
            }
        }, "intercept-upstream");
        t.setDaemon(true);
        t.start();
    }

    @ParameterizedTest
    @ValueSource(strings = {"epoll", "io_uring"})
    void redirected_connections_reach_their_original_destination_through_the_proxy(String transport) throws Exception {
        Path log = dir.resolve("outbound.log");
        ProxyProcess proxy;
        try {
            proxy = ProxyProcess.runWrapped(List.of("ip", "netns", "exec", ns), dir, """
                    server: { transport: %s, workers: 1 }
                    admin: { address: 127.0.0.1:0 }
                    listeners:
                      - { name: outbound, address: 127.0.0.1:15001, cluster: passthrough, original_destination: true,
                          access_log: { path: %s } }
                    clusters:
                      - { name: passthrough, type: original_dst }
                    """.formatted(transport, log));
        } catch (AssertionError e) {
            Assumptions.assumeFalse(e.getMessage().contains("is not available here"), transport + " is not available on this kernel");
            throw e;
        }
        processes.add(proxy);
        // the proxy runs as root here, so root's own connections are the ones left alone
        Result installed = exec("ip", "netns", "exec", ns, "image/intercept.sh", "--proxy-port", "15001", "--proxy-uid", "0");
        assertEquals(0, installed.exit(), installed.out());
        assertTrue(installed.out().contains("REDIRECT --to-ports 15001"), "it prints what it installed: " + installed.out());
        Result again = exec("ip", "netns", "exec", ns, "image/intercept.sh", "--proxy-port", "15001", "--proxy-uid", "0");
        assertEquals(0, again.exit(), again.out());
        Result rules = exec("ip", "netns", "exec", ns, "iptables", "-t", "nat", "-S");
        assertEquals(1, rules.out().lines().filter(l -> l.equals("-A OUTPUT -p tcp -j SIDECAR_OUTPUT")).count(),
                "a second run leaves one jump: " + rules.out());
        assertEquals(1, rules.out().lines().filter(l -> l.contains("REDIRECT")).count(), "and one REDIRECT: " + rules.out());

        String url = "http://" + hostIp + ":" + upstream.getLocalPort() + "/api";
        Result app = exec("ip", "netns", "exec", ns, "setpriv", "--reuid", APP_UID, "--regid", APP_UID, "--clear-groups",
                "curl", "-sS", "--max-time", "20", url);
        assertEquals(0, app.exit(), app.out() + "\n" + proxy.output());
        assertEquals("upstream " + hostIp + ":" + upstream.getLocalPort() + " saw " + nsIp, app.out());
        JsonNode line = awaitLine(log, 1);
        assertEquals("outbound", line.get("listener").asText());
        assertEquals(hostIp + ":" + upstream.getLocalPort(), line.get("upstream").asText(),
                "the proxy connected to where the application was going");
        assertEquals("-", line.get("flags").asText());

        // the proxy's own user is not redirected: root's request goes straight to the upstream
        int before = upstreamConnections.get();
        Result direct = exec("ip", "netns", "exec", ns, "curl", "-sS", "--max-time", "20", url);
        assertEquals(0, direct.exit(), direct.out());
        assertEquals(before + 1, upstreamConnections.get());

        // a connection made to the listener itself has no original destination but the listener:
        // refused, not looped back into the proxy
        Result loop = exec("ip", "netns", "exec", ns, "setpriv", "--reuid", APP_UID, "--regid", APP_UID, "--clear-groups",
                "curl", "-sS", "--max-time", "20", "http://127.0.0.1:15001/");
        assertNotEquals(0, loop.exit(), loop.out());
        JsonNode refused = awaitLine(log, 2);
        assertEquals("UH", refused.get("flags").asText());
        assertEquals(1, lines(log).stream().filter(l -> l.get("flags").asText().equals("-")).count(),
                "only the redirected request went through the proxy: " + lines(log));

        Result removed = exec("ip", "netns", "exec", ns, "image/intercept.sh", "--remove");
        assertEquals(0, removed.exit(), removed.out());
        assertTrue(exec("ip", "netns", "exec", ns, "iptables", "-t", "nat", "-S").out().lines().noneMatch(l -> l.contains("SIDECAR_OUTPUT")));
    }

    private static List<JsonNode> lines(Path file) {
        try {
            if (!Files.exists(file)) {
                return List.of();
            }
            List<JsonNode> out = new ArrayList<>();
            for (String l : Files.readAllLines(file)) {
                out.add(JSON.readTree(l));
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static JsonNode awaitLine(Path file, int count) {
        Await.until(count + " access log line(s)", () -> lines(file).size() >= count);
        return lines(file).get(count - 1);
    }

    record Result(int exit, String out) {}

    private static Result exec(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(String.join(" ", command) + " did not finish");
        }
        return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }

    private static void check(String... command) throws IOException, InterruptedException {
        Result r = exec(command);
        assertEquals(0, r.exit(), String.join(" ", command) + ": " + r.out());
    }

    private static boolean onPath(String command) {
        for (String d : System.getenv().getOrDefault("PATH", "/usr/sbin:/usr/bin:/sbin:/bin").split(":")) {
            if (!d.isEmpty() && Files.isExecutable(Path.of(d, command))) {
                return true;
            }
        }
        return false;
    }
}
