package dev.sidecar.reliability;

import java.nio.file.Path;
import java.util.List;

final class ExhaustionRows {
    private ExhaustionRows() {}

    static List<ScorecardTest.Row> run(Path dir) throws Exception {
        return List.of(new ScorecardTest.Row("ExhaustionRows", "not written", "rows", false));
    }
}
