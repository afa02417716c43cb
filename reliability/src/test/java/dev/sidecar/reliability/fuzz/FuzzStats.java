package dev.sidecar.reliability.fuzz;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where each fuzz target leaves how many inputs it ran in this build ({@code
 * target/fuzz-results/<target>.txt}: the count, and whether the fuzzer ran or only the committed
 * inputs were replayed), for the scorecard to report.
 */
final class FuzzStats {
    static final Path DIR = Path.of("target", "fuzz-results");

    private FuzzStats() {}

    static void report(String target, long executions) {
        String mode = System.getenv("JAZZER_FUZZ") != null && !System.getenv("JAZZER_FUZZ").isEmpty() ? "fuzzing" : "replay";
        try {
            Files.createDirectories(DIR);
            Files.writeString(DIR.resolve(target + ".txt"), executions + " " + mode + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
