package dev.sidecar.reliability.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.sidecar.config.ConfigError;
import dev.sidecar.config.ConfigException;
import dev.sidecar.config.ProxyConfig;
import dev.sidecar.proxy.ConfigLoader;
import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;

/**
 * Any text as a config file: {@link ConfigLoader#parse} returns a config whose own validation
 * finds nothing, or throws {@link ConfigException} with at least one error, each with a
 * message and a path in the file's own names ({@code clusters[1].endpoints[0].port}, or empty
 * for the file as a whole). Any other exception is a finding.
 */
class ConfigFuzzTest {
    /** snake_case names with list indexes, dot-separated; a map key may be any text in brackets' place. */
    private static final Pattern PATH = Pattern.compile("([A-Za-z0-9_]+(\\[[0-9]+\\])*)?(\\.[^.\\s\\[][^.\\[]*(\\[[0-9]+\\])*)*");
    static long executions;

    @AfterAll
    static void stop() {
        FuzzStats.report("config-yaml", executions);
    }

    @FuzzTest
    void yaml(byte[] input) {
        executions++;
        String text = new String(input, StandardCharsets.UTF_8);
        ProxyConfig config;
        try {
            config = ConfigLoader.parse(text);
        } catch (ConfigException e) {
            if (e.errors().isEmpty()) {
                throw new AssertionError("a ConfigException without errors");
            }
            for (ConfigError error : e.errors()) {
                if (error.message().isBlank()) {
                    throw new AssertionError("an error without a message at " + error.path());
                }
                if (!PATH.matcher(error.path()).matches()) {
                    throw new AssertionError("not a field path: '" + error.path() + "' (" + error.message() + ")");
                }
            }
            return;
        }
        if (!config.validate().isEmpty()) {
            throw new AssertionError("accepted a config its own validation refuses: " + config.validate());
        }
    }
}
