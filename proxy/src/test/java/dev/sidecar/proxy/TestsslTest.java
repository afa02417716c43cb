package dev.sidecar.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sidecar.testkit.HttpUpstream;
import dev.sidecar.testkit.TestCertificates;
import dev.sidecar.testkit.TestCertificates.KeyFormat;
import dev.sidecar.testkit.TestCertificates.PemPair;
import java.io.File;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * testssl.sh against an HTTPS listener in its default TLS settings: no SSLv2, SSLv3, TLS 1.0 or
 * 1.1, no NULL, anonymous, EXPORT, LOW, RC4 or 3DES suites, and nothing its vulnerability checks
 * (Heartbleed, CCS, ROBOT, renegotiation, CRIME, BREACH, POODLE, SWEET32, FREAK, DROWN, LOGJAM,
 * BEAST, LUCKY13, RC4...) rate above INFO. CI installs testssl.sh (.ci/run); elsewhere the test
 * says why it did not run.
 */
class TestsslTest {
    private static final String TESTSSL = "/usr/bin/testssl";
    private static final List<String> NOT_OFFERED = List.of("SSLv2", "SSLv3", "TLS1", "TLS1_1", "cipherlist_NULL", "cipherlist_aNULL",
            "cipherlist_EXPORT", "cipherlist_LOW", "cipherlist_3DES_IDEA");
    private static final List<String> VULNERABILITIES = List.of("heartbleed", "CCS", "ticketbleed", "ROBOT", "secure_renego",
            "secure_client_renego", "CRIME_TLS", "BREACH", "POODLE_SSL", "fallback_SCSV", "SWEET32", "FREAK", "DROWN", "LOGJAM", "BEAST",
            "LUCKY13", "RC4");

    @Test
    void an_https_listener_in_its_default_settings_passes_testssl(@TempDir Path dir) throws Exception {
        assumeTrue(new File(TESTSSL).canExecute() || System.getenv("CI") != null, "testssl.sh is not installed");
        TestCertificates.Authority ca = TestCertificates.authority("testssl CA");
        PemPair server = ca.issue("proxy").dns("localhost").ip("127.0.0.1").build().write(dir, "server", KeyFormat.PKCS8);
        try (HttpUpstream up = new HttpUpstream("a");
             Sidecar p = Sidecar.start(ConfigLoader.parse("""
                     admin: { address: 127.0.0.1:0 }
                     listeners:
                       - name: web
                         address: 127.0.0.1:0
                         protocol: http
                         cluster: app
                         tls:
                           certificates: [{ cert_chain_file: %s, private_key_file: %s }]
                           alpn: [h2, http/1.1]
                     clusters: [{ name: app, endpoints: [{ address: %s }] }]
                     """.formatted(server.cert(), server.key(), up.address())))) {
            Path json = dir.resolve("testssl.json");
            Process proc = new ProcessBuilder(TESTSSL, "--quiet", "--color", "0", "--warnings", "off", "--jsonfile", json.toString(),
                    "--protocols", "--std", "--vulnerable", "127.0.0.1:" + p.listenerPort("web"))
                    .redirectErrorStream(true).redirectOutput(dir.resolve("testssl.out").toFile()).start();
            assertTrue(proc.waitFor(10, TimeUnit.MINUTES), "testssl.sh finished");
            Map<String, JsonNode> findings = new HashMap<>();
            for (JsonNode n : new ObjectMapper().readTree(json.toFile())) {
                findings.put(n.get("id").asText(), n);
            }
            for (String id : NOT_OFFERED) {
                assertTrue(findings.containsKey(id), "testssl reported " + id);
                assertEquals("not offered", findings.get(id).get("finding").asText(), id);
            }
            assertEquals("offered", findings.get("TLS1_2").get("finding").asText());
            assertTrue(findings.get("TLS1_3").get("finding").asText().startsWith("offered"));
            for (String id : VULNERABILITIES) {
                assertTrue(findings.containsKey(id), "testssl checked " + id);
            }
            for (JsonNode n : findings.values()) {
                String severity = n.get("severity").asText();
                assertTrue(severity.equals("OK") || severity.equals("INFO"), n.get("id").asText() + ": " + severity + ", " + n.get("finding").asText());
            }
        }
    }
}
