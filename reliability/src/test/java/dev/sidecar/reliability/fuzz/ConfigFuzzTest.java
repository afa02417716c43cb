package dev.sidecar.reliability.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.sidecar.config.ConfigError;
import dev.sidecar.config.ConfigException;
import dev.sidecar.config.ProxyConfig;
import dev.sidecar.proxy.ConfigLoader;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterAll;

/**
 * Any text as a config file: {@link ConfigLoader#parse} returns a config whose own validation
 * finds nothing, or throws {@link ConfigException} with at least one error, each with a
 * message (its path names the field in the file's own names, {@code clusters[1].endpoints[0].port},
 * or is empty for the file as a whole; an unknown key is named by its own text, whatever
 * characters it holds). Any other exception is a finding.
 */
class ConfigFuzzTest {
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
            }
            return;
        }
        if (!config.validate().isEmpty()) {
            throw new AssertionError("accepted a config its own validation refuses: " + config.validate());
        }
    }
}
