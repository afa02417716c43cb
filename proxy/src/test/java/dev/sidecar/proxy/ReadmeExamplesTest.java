package dev.sidecar.proxy;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import dev.sidecar.testkit.TestCertificates;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every YAML example in the README is a valid config as written. */
class ReadmeExamplesTest {
    @TempDir
    Path dir;

    /** The files the TLS examples name (certs/server.pem and so on), made for the test. */
    private Path certificates() {
        Path certs = dir.resolve("certs");
        if (Files.isDirectory(certs)) {
            return certs;
        }
        try {
            Files.createDirectory(certs);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        TestCertificates.Authority ca = TestCertificates.authority("readme CA");
        ca.write(certs.resolve("ca.pem"));
        ca.issue("api").dns("api.internal").build().write(certs, "server", TestCertificates.KeyFormat.TRADITIONAL);
        ca.issue("client").uri("spiffe://cluster.local/ns/default/sa/client").build().write(certs, "client", TestCertificates.KeyFormat.PKCS8);
        return certs;
    }

    @Test
    void every_yaml_block_in_the_readme_loads() throws Exception {
        String readme = Files.readString(Path.of("..", "README.md"));
        Matcher m = Pattern.compile("```yaml\\n(.*?)```", Pattern.DOTALL).matcher(readme);
        List<String> blocks = new ArrayList<>();
        while (m.find()) {
            blocks.add(m.group(1));
        }
        assertTrue(blocks.size() >= 2, "found " + blocks.size() + " yaml blocks");
        for (String yaml : blocks) {
            String withFiles = yaml.replace("certs/", certificates() + "/");
            assertDoesNotThrow(() -> ConfigLoader.parse(withFiles), yaml);
        }
    }
}
