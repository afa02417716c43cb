package dev.sidecar.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.sidecar.testkit.Closer;
import dev.sidecar.testkit.HttpUpstream;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** curl, a real client, through an HTTP listener: HTTP/1.1, HTTP/2 by prior knowledge and by upgrade, uploads, a 1 GiB download. */
class CurlTest {
    private final Closer closer = new Closer();

    @BeforeAll
    static void curlPresent() {
        boolean present = new File("/usr/bin/curl").canExecute();
        // CI installs curl (.ci/run); elsewhere the test says why it did not run
        assumeTrue(present || System.getenv("CI") != null, "curl is not installed");
    }

    @AfterEach
    void tearDown() throws Exception {
        closer.close();
    }

    record Result(int exit, String out) {}

    static Result curl(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("curl", "-sS", "--max-time", "60"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(90, TimeUnit.SECONDS));
        return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }

    private Sidecar start(HttpUpstream up, String protocol) {
        return closer.add(Sidecar.start(ConfigLoader.parse("""
                admin: { address: 127.0.0.1:0 }
                listeners: [{ name: web, address: 127.0.0.1:0, protocol: http, cluster: app }]
                clusters: [{ name: app, upstream_protocol: %s, endpoints: [{ address: %s }] }]
                """.formatted(protocol, up.address()))));
    }

    @Test
    void http1_h2_prior_knowledge_and_h2c_upgrade(@TempDir Path dir) throws Exception {
        HttpUpstream up = closer.add(new HttpUpstream("a"));
        Sidecar p = start(up, "same_as_downstream");
        String url = "http://127.0.0.1:" + p.listenerPort("web") + "/hello";
        String fmt = "%{http_version} %{http_code}";
        Result h1 = curl("-o", "/dev/null", "-w", fmt, url);
        assertEquals("1.1 200", h1.out(), h1.toString());
        Result h2 = curl("--http2-prior-knowledge", "-D", "-", "-o", "/dev/null", "-w", fmt, url);
        assertTrue(h2.out().endsWith("2 200"), h2.toString());
        assertTrue(h2.out().contains("x-upstream-protocol: h2"), "same_as_downstream: h2 to the upstream too: " + h2);
        Result upgrade = curl("--http2", "-o", "/dev/null", "-w", fmt, url);
        assertTrue(upgrade.out().endsWith("2 200"), upgrade.toString());

        Path body = dir.resolve("up.bin");
        Files.write(body, new byte[3 * 1024 * 1024 + 17]);
        Result chunked = curl("-H", "Transfer-Encoding: chunked", "--data-binary", "@" + body, "-o", "/dev/null", "-w", "%{http_code} %{size_download}",
                "http://127.0.0.1:" + p.listenerPort("web") + "/echo");
        assertEquals("200 " + (3 * 1024 * 1024 + 17), chunked.out(), "a chunked upload echoed whole");
        Result h2up = curl("--http2-prior-knowledge", "--data-binary", "@" + body, "-o", "/dev/null", "-w", "%{http_code} %{size_download}",
                "http://127.0.0.1:" + p.listenerPort("web") + "/echo");
        assertEquals("200 " + (3 * 1024 * 1024 + 17), h2up.out());
    }

    @Test
    void a_one_gibibyte_download_streams_through_in_bounded_memory() throws Exception {
        HttpUpstream up = closer.add(new HttpUpstream("a"));
        Sidecar p = start(up, "http1");
        long size = 1L << 30;
        AtomicLong peak = new AtomicLong();
        Thread sampler = new Thread(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                peak.accumulateAndGet(p.usedDirectMemory(), Math::max);
                try {
                    Thread.sleep(5); // sampling interval, not synchronisation
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        sampler.setDaemon(true);
        sampler.start();
        Result r = curl("--limit-rate", "400M", "-o", "/dev/null", "-w", "%{http_code} %{size_download}",
                "http://127.0.0.1:" + p.listenerPort("web") + "/bytes/" + size);
        sampler.interrupt();
        assertEquals("200 " + size, r.out(), r.toString());
        // the proxy holds at most a few read batches per direction, never the body
        assertTrue(peak.get() < 64L * 1024 * 1024, "peak direct memory " + peak.get());
    }
}
