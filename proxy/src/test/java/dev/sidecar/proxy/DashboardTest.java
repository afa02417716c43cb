package dev.sidecar.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sidecar.testkit.Await;
import dev.sidecar.testkit.HttpUpstream;
import dev.sidecar.testkit.TcpUpstream;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The dashboard in a real browser: headless Chromium (Debian's package; .ci/run installs it)
 * loads the page, runs its script against the admin API, and the rendered DOM must show the
 * endpoint that went down as unhealthy. A screenshot is kept in target/dashboard.png.
 */
class DashboardTest {
    @TempDir
    Path profile;

    private static String chromium() {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            for (String name : new String[] {"chromium", "chromium-browser"}) {
                Path p = Path.of(dir, name);
                if (Files.isExecutable(p)) {
                    return p.toString();
                }
            }
        }
        return null;
    }

    private String browse(String browser, String url, String... extra) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--user-data-dir=" + profile, "--virtual-time-budget=5000"));
        cmd.addAll(List.of(extra));
        cmd.add(url);
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        byte[] out = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "chromium did not finish");
        assertEquals(0, p.exitValue(), "chromium failed");
        return new String(out, StandardCharsets.UTF_8);
    }

    /** The table row that carries {@code attribute}, through its closing tag. */
    private static String row(String dom, String attribute) {
        int at = dom.indexOf(attribute);
        assertTrue(at >= 0, "no row with " + attribute + " in\n" + dom);
        return dom.substring(at, dom.indexOf("</tr>", at));
    }

    @Test
    void an_endpoint_that_goes_down_shows_as_unhealthy_and_http_latency_shows_its_p99() throws Exception {
        String browser = chromium();
        if (browser == null) {
            // CI installs it (.ci/run); elsewhere the test says what is missing instead of failing.
            assertTrue(System.getenv("CI") == null, "CI must have chromium: .ci/run installs Debian's chromium");
            Assumptions.abort("no chromium on PATH (apt-get install chromium)");
        }
        try (TcpUpstream up = TcpUpstream.echo();
             HttpUpstream api = new HttpUpstream("api");
             Sidecar proxy = Sidecar.start(ConfigLoader.parse("""
                     admin: { address: 127.0.0.1:0 }
                     listeners:
                       - { name: in, address: 127.0.0.1:0, cluster: web }
                       - { name: http, address: 127.0.0.1:0, protocol: http, cluster: api }
                     clusters:
                       - name: web
                         health_checks: [{ interval: 100ms, no_traffic_interval: 100ms, unhealthy_threshold: 1, tcp_health_check: {} }]
                         endpoints: [{ address: %s }, { address: 127.0.0.1:%d }]
                       - { name: api, endpoints: [{ address: %s }] }
                     """.formatted(up.address(), TcpUpstream.refusingPort(), api.address())))) {
            for (int i = 0; i < 20; i++) {
                assertEquals(200, HttpProxyTest.get(proxy.listenerPort("http"), "/x").statusCode());
            }
            String down = proxy.clusters().get("web").snapshot().endpoints().get(1).address().toString();
            Await.until("the refusing endpoint to be marked unhealthy", () -> proxy.clusters().get("web").snapshot().healthyEndpoints() == 1);
            String url = "http://127.0.0.1:" + proxy.adminPort() + "/";

            String dom = browse(browser, url, "--dump-dom");
            assertTrue(dom.contains("<tr class=\"unhealthy\" data-endpoint=\"" + down + "\">"), dom);
            assertTrue(dom.contains("<tr class=\"healthy\" data-endpoint=\"" + up.address() + "\">"), dom);
            assertTrue(dom.contains("1/2 healthy"), dom);
            // HTTP traffic shows its latency: the listener's and the endpoint's p99 (since start on the first poll)
            assertTrue(row(dom, "data-listener=\"http\"").matches("(?s).*class=\"num p99\">≤ [0-9.]+ ms<.*"), dom);
            assertTrue(row(dom, "data-endpoint=\"" + api.address() + "\"").matches("(?s).*class=\"num p99\">≤ [0-9.]+ ms<.*"), dom);

            Path shot = Path.of("target", "dashboard.png").toAbsolutePath();
            Files.deleteIfExists(shot);
            browse(browser, url, "--window-size=1200,700", "--screenshot=" + shot);
            assertTrue(Files.size(shot) > 1000, "screenshot " + shot);
        }
    }
}
