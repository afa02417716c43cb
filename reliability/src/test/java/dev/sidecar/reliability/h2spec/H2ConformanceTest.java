package dev.sidecar.reliability.h2spec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sidecar.testkit.HttpUpstream;
import dev.sidecar.testkit.ProxyProcess;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The h2spec-numbered conformance matrix ({@link H2Conformance}) against the real proxy process:
 * an HTTP listener (HTTP/2 by prior knowledge) in front of an HTTP/1.1 upstream. Fails when any
 * MUST case fails (145 of the 146; the other is a SHOULD); prints every case.
 */
class H2ConformanceTest {
    @TempDir
    Path dir;

    @Test
    void every_must_of_h2spec_passes() throws Exception {
        try (HttpUpstream up = new HttpUpstream("up");
             ProxyProcess proxy = ProxyProcess.run(dir, """
                     admin: { address: 127.0.0.1:0 }
                     listeners:
                       - { name: web, address: 127.0.0.1:0, protocol: http, cluster: app }
                     clusters:
                       - { name: app, endpoints: [{ address: %s }] }
                     """.formatted(up.address()))) {
            H2Conformance matrix = new H2Conformance(proxy.listenerPort("web"), H2Conformance.PATH);
            assertEquals(146, matrix.size(), "h2spec 2.x's default run has 146 cases");
            List<H2Conformance.Result> results = matrix.run();
            results.forEach(System.out::println);
            List<H2Conformance.Result> failed = results.stream().filter(r -> !r.passed()).toList();
            long passed = results.size() - failed.size();
            System.out.println("h2 conformance: " + passed + "/" + results.size() + ", failing: "
                    + failed.stream().map(H2Conformance.Result::id).toList());
            assertTrue(failed.stream().noneMatch(H2Conformance.Result::must), "MUST cases failed: " + failed);
            assertTrue(passed >= 145, passed + " of 146 passed");
            assertTrue(proxy.isAlive(), "the proxy survived the matrix");
        }
    }
}
