package dev.sidecar.proxy;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** Every YAML example in the README is a valid config as written. */
class ReadmeExamplesTest {
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
            assertDoesNotThrow(() -> ConfigLoader.parse(yaml), yaml);
        }
    }
}
