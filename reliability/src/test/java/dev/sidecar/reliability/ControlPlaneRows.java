package dev.sidecar.reliability;

import java.nio.file.Path;
import java.util.List;

final class ControlPlaneRows {
    private ControlPlaneRows() {}

    static List<ScorecardTest.Row> run(Path dir) throws Exception {
        return List.of(new ScorecardTest.Row("ControlPlaneRows", "not written", "rows", false));
    }
}
