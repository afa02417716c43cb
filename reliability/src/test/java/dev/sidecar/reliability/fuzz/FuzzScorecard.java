package dev.sidecar.reliability.fuzz;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * The scorecard's fuzzing row: every fuzz target's committed inputs (its regression corpus,
 * seeds and any crash inputs kept) replayed here through the target itself, counting inputs and
 * findings; plus what this build's fuzz runs left in {@link FuzzStats#DIR}, when they ran
 * before the scorecard (CI fuzzes each target for a bounded time).
 */
public final class FuzzScorecard {
    private static final Path INPUTS = Path.of("src", "test", "resources", "dev", "sidecar", "reliability", "fuzz");

    /** What the replay found. */
    public record Summary(int targets, long executions, List<String> findings, long fuzzed) {
        public String value() {
            return targets + " targets, " + executions + " inputs replayed" + (fuzzed > 0 ? " + " + fuzzed + " fuzzed executions (target/fuzz-results)" : "")
                    + ", " + findings.size() + " findings";
        }
    }

    private FuzzScorecard() {}

    public static Summary replay() throws Exception {
        long fuzzed = fuzzedThisBuild();
        List<String> findings = new ArrayList<>();
        long executions = 0;
        Http1RequestFuzzTest.start();
        H2RequestFuzzTest.start();
        SniFuzzTest.certificates();
        try {
            executions += run("Http1RequestFuzzTest", "requestHead", new Http1RequestFuzzTest()::requestHead, findings);
            executions += run("H2RequestFuzzTest", "headers", new H2RequestFuzzTest()::headers, findings);
            executions += run("ConfigFuzzTest", "yaml", new ConfigFuzzTest()::yaml, findings);
            executions += run("XdsTranslatorFuzzTest", "resource", new XdsTranslatorFuzzTest()::resource, findings);
            executions += run("SniFuzzTest", "clientHello", new SniFuzzTest()::clientHello, findings);
        } finally {
            Http1RequestFuzzTest.release();
            H2RequestFuzzTest.release();
            SniFuzzTest.release();
        }
        return new Summary(5, executions, findings, fuzzed);
    }

    private static long fuzzedThisBuild() throws IOException {
        long fuzzed = 0;
        if (Files.isDirectory(FuzzStats.DIR)) {
            try (var files = Files.list(FuzzStats.DIR)) {
                for (Path f : files.toList()) {
                    String[] parts = Files.readString(f).trim().split(" ");
                    if (parts.length == 2 && parts[1].equals("fuzzing")) {
                        fuzzed += Long.parseLong(parts[0]);
                    }
                }
            }
        }
        return fuzzed;
    }

    private static long run(String target, String method, Consumer<byte[]> body, List<String> findings) throws IOException {
        Path dir = INPUTS.resolve(target + "Inputs").resolve(method);
        long n = 0;
        try (var files = Files.list(dir)) {
            for (Path f : files.sorted().toList()) {
                n++;
                try {
                    body.accept(Files.readAllBytes(f));
                } catch (RuntimeException | AssertionError e) {
                    findings.add(target + "/" + f.getFileName() + ": " + e);
                }
            }
        }
        if (n == 0) {
            findings.add(target + ": no inputs in " + dir);
        }
        return n;
    }
}
