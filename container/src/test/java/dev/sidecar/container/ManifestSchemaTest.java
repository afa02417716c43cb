package dev.sidecar.container;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every object that {@code kubectl kustomize} renders from {@code container/k8s}, checked against
 * the Kubernetes OpenAPI schema of its kind, offline: {@code container/schema/validate.mjs} with
 * the {@code kubernetes-models} package (and {@code yaml} to read kubectl's output) pinned in
 * {@code container/schema/package-lock.json},
 * installed by {@code npm ci} into {@code target/manifest-schema}. Skipped only when node or npm
 * is not installed. The negative tests make sure a broken object fails the check, so the check
 * cannot pass by checking nothing.
 */
class ManifestSchemaTest {
    private static final Path SOURCES = Path.of("schema");
    private static final Path WORK = Path.of("target", "manifest-schema");
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration INSTALL_LIMIT = Duration.ofMinutes(5);
    private static final Duration VALIDATE_LIMIT = Duration.ofMinutes(1);

    private record Result(int status, String output) {}

    @BeforeAll
    static void install() throws Exception {
        Assumptions.assumeTrue(ManifestTest.onPath("node") && ManifestTest.onPath("npm"),
                "node and npm are not installed: the manifests are not checked against the Kubernetes schemas");
        Files.createDirectories(WORK);
        for (String f : List.of("package.json", "package-lock.json", ".npmrc", "validate.mjs")) {
            Files.copy(SOURCES.resolve(f), WORK.resolve(f), StandardCopyOption.REPLACE_EXISTING);
        }
        // exactly the locked versions; from npm's cache when it has them
        Result npm = run(INSTALL_LIMIT, "npm", "ci", "--prefer-offline", "--no-audit", "--no-fund");
        assertEquals(0, npm.status(), "npm ci in " + WORK + ":\n" + npm.output());
    }

    @ParameterizedTest
    @ValueSource(strings = {"base", "overlays/example"})
    void every_rendered_object_matches_the_schema_of_its_kind(String kustomization) throws Exception {
        String rendered = ManifestTest.renderText(kustomization);
        List<JsonNode> objects = ManifestTest.render(kustomization);
        assertFalse(objects.isEmpty(), "nothing rendered");
        Result r = validate(rendered, ".yaml");
        assertEquals(0, r.status(), kustomization + ":\n" + r.output());
        for (JsonNode o : objects) {
            String line = "ok " + o.path("kind").asText() + "/" + o.at("/metadata/name").asText();
            assertTrue(r.output().lines().anyMatch(line::equals), "no '" + line + "' in:\n" + r.output());
        }
        assertTrue(r.output().contains(objects.size() + " object(s) checked, 0 invalid"), r.output());
    }

    @Test
    void a_container_port_that_is_not_a_number_is_rejected_with_its_path() throws Exception {
        List<JsonNode> objects = ManifestTest.render("base");
        JsonNode deployment = objects.stream().filter(o -> o.path("kind").asText().equals("Deployment")).findFirst().orElseThrow();
        ((ObjectNode) deployment.at("/spec/template/spec/containers/0/ports/0")).put("containerPort", "abc");
        Result r = validate(objects);
        assertEquals(1, r.status(), r.output());
        String expected = "invalid Deployment/" + deployment.at("/metadata/name").asText()
                + ": /spec/template/spec/containers/0/ports/0/containerPort must be integer";
        assertTrue(r.output().contains(expected), "no '" + expected + "' in:\n" + r.output());
        assertTrue(r.output().contains("ok ConfigMap/"), "the other objects are still checked:\n" + r.output());
    }

    @Test
    void a_kind_without_a_schema_is_an_error_not_a_pass() throws Exception {
        ObjectNode widget = JSON.createObjectNode().put("apiVersion", "example.com/v1").put("kind", "Widget");
        widget.putObject("metadata").put("name", "w");
        Result r = validate(List.of(widget));
        assertEquals(1, r.status(), r.output());
        assertTrue(r.output().contains("invalid Widget/w: no schema for apiVersion example.com/v1, kind Widget"), r.output());
    }

    /** {@code node validate.mjs} on {@code objects}, written as one JSON array. */
    private static Result validate(List<JsonNode> objects) throws Exception {
        return validate(JSON.writeValueAsString(new ArrayList<>(objects)), ".json");
    }

    /** {@code node validate.mjs} on a file holding {@code text}. */
    private static Result validate(String text, String suffix) throws Exception {
        Path file = Files.createTempFile(WORK, "objects-", suffix);
        try {
            Files.writeString(file, text);
            return run(VALIDATE_LIMIT, "node", "validate.mjs", file.getFileName().toString());
        } finally {
            Files.deleteIfExists(file);
        }
    }

    /** Runs {@code command} in {@link #WORK}, output to a file (no pipe to fill), bounded by {@code limit}. */
    private static Result run(Duration limit, String... command) throws IOException, InterruptedException {
        Path out = Files.createTempFile(WORK, "out-", ".txt");
        try {
            Process p = new ProcessBuilder(command).directory(WORK.toFile()).redirectErrorStream(true)
                    .redirectOutput(out.toFile()).start();
            if (!p.waitFor(limit.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                throw new AssertionError(String.join(" ", command) + " did not finish within " + limit.toSeconds() + " s:\n"
                        + Files.readString(out, StandardCharsets.UTF_8));
            }
            return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
        }
    }
}
