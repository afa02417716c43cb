package dev.sidecar.container;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.sidecar.config.Durations;
import dev.sidecar.config.ProxyConfig;
import dev.sidecar.proxy.ConfigLoader;
import dev.sidecar.testkit.TestCertificates;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The Kubernetes manifests under {@code container/k8s}, rendered by {@code kubectl kustomize}
 * (the base is also read as it is when kubectl is missing; the overlay then is skipped): the
 * sidecar is a native sidecar, its probes reach the admin port its config binds, the grace
 * period covers preStop plus the drain, the security context is locked down, the downward API
 * sets every variable the config uses, and the bootstrap config itself is valid.
 */
class ManifestTest {
    private static final Path K8S = Path.of("k8s");
    private static final ObjectMapper YAML = YAMLMapper.builder(new YAMLFactory()).build();
    private static final Pattern VARIABLE = Pattern.compile("\\$\\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?}");

    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"base", "overlays/example"})
    void the_sidecar_is_a_native_sidecar_whose_drain_fits_the_grace_period(String kustomization) throws Exception {
        List<JsonNode> objects = render(kustomization);
        JsonNode deployment = only(objects, "Deployment");
        JsonNode pod = deployment.at("/spec/template/spec");
        JsonNode sidecar = named(pod.get("initContainers"), "sidecar");
        assertNotNull(sidecar, "an init container named sidecar");
        assertEquals("Always", sidecar.path("restartPolicy").asText(), "a native sidecar is an init container with restartPolicy: Always");
        assertTrue(named(pod.get("containers"), "sidecar") == null, "not also an ordinary container");

        JsonNode configMap = only(objects, "ConfigMap");
        String bootstrap = configMap.at("/data/sidecar.yaml").asText();
        JsonNode config = YAML.readTree(bootstrap);

        // probes on the port the admin API binds
        int adminPort = Integer.parseInt(config.at("/admin/address").asText().replaceAll(".*:", ""));
        assertEquals(adminPort, port(sidecar, "admin"));
        assertProbe(sidecar, "startupProbe", "/ready", adminPort);
        assertProbe(sidecar, "readinessProbe", "/ready", adminPort);
        assertProbe(sidecar, "livenessProbe", "/healthz", adminPort);

        // preStop, then SIGTERM and the drain, all inside the grace period with a margin for the JVM to exit
        Duration drain = Durations.parse(config.at("/server/drain_timeout").asText());
        long preStop = sidecar.at("/lifecycle/preStop/sleep/seconds").asLong(0);
        long grace = pod.path("terminationGracePeriodSeconds").asLong(30);
        assertTrue(preStop + drain.toSeconds() + 5 <= grace, "terminationGracePeriodSeconds " + grace + " < preStop " + preStop
                + " s + drain_timeout " + drain.toSeconds() + " s + 5 s");

        JsonNode sc = sidecar.get("securityContext");
        assertEquals(true, sc.path("runAsNonRoot").asBoolean(false) || pod.at("/securityContext/runAsNonRoot").asBoolean(false));
        assertEquals(false, sc.path("allowPrivilegeEscalation").asBoolean(true));
        assertEquals(true, sc.path("readOnlyRootFilesystem").asBoolean(false));
        assertEquals("[\"ALL\"]", sc.at("/capabilities/drop").toString());
        assertTrue(sidecar.at("/resources/limits/memory").isTextual(), "a memory limit: the JVM sizes itself from it");
        assertTrue(sidecar.at("/resources/requests/cpu").isTextual());

        // the config from the generated ConfigMap, certificates from a Secret, a writable /tmp
        assertEquals(configMap.at("/metadata/name").asText(), volume(pod, mountedAt(sidecar, "/etc/sidecar")).at("/configMap/name").asText());
        String certDir = Path.of(config.at("/listeners/0/tls/certificates/0/cert_chain_file").asText()).getParent().toString();
        assertTrue(volume(pod, mountedAt(sidecar, certDir)).has("secret"), certDir + " comes from a Secret");
        assertTrue(volume(pod, mountedAt(sidecar, "/tmp")).has("emptyDir"));

        // every ${VAR} without a default is set, the node id from the downward API
        Set<String> env = new HashSet<>();
        for (JsonNode e : sidecar.path("env")) {
            env.add(e.get("name").asText());
        }
        Matcher m = VARIABLE.matcher(bootstrap);
        while (m.find()) {
            assertTrue(m.group(2) != null || env.contains(m.group(1)), "${" + m.group(1) + "} is used by the config but not set");
        }
        assertEquals("metadata.name", named(sidecar.get("env"), "POD_NAME").at("/valueFrom/fieldRef/fieldPath").asText());

        assertValid(bootstrap, certDir);
    }

    /** The bootstrap config passes the proxy's own validation, with test certificates where the Secret would be. */
    private void assertValid(String bootstrap, String certDir) throws IOException {
        TestCertificates.Authority ca = TestCertificates.authority("mesh-ca");
        TestCertificates.Issued leaf = ca.issue("app.shop.svc").dns("app.shop.svc").build();
        leaf.writeChain(dir.resolve("tls.crt"));
        leaf.writeKey(dir.resolve("tls.key"), TestCertificates.KeyFormat.PKCS8);
        ca.write(dir.resolve("ca.crt"));
        String yaml = bootstrap.replace(certDir + "/", dir.toAbsolutePath() + "/")
                .replace("${POD_IP}", "127.0.0.1").replace("${POD_NAME}", "app-0").replace("${POD_NAMESPACE}", "shop")
                .replace("${SIDECAR_CLUSTER}", "app").replace("${NODE_NAME}", "node-1");
        ProxyConfig config = ConfigLoader.parse(yaml);
        assertEquals("app-0.shop", config.controlPlane().node().id());
    }

    private static void assertProbe(JsonNode container, String probe, String path, int adminPort) {
        JsonNode get = container.path(probe).path("httpGet");
        assertEquals(path, get.path("path").asText(), probe);
        JsonNode port = get.path("port");
        assertEquals(adminPort, port.isInt() ? port.asInt() : port(container, port.asText()), probe + " port");
    }

    private static int port(JsonNode container, String name) {
        JsonNode p = named(container.get("ports"), name);
        assertNotNull(p, "a container port named " + name);
        return p.get("containerPort").asInt();
    }

    private static String mountedAt(JsonNode container, String path) {
        for (JsonNode m : container.path("volumeMounts")) {
            if (m.get("mountPath").asText().equals(path)) {
                return m.get("name").asText();
            }
        }
        throw new AssertionError("nothing mounted at " + path);
    }

    private static JsonNode volume(JsonNode pod, String name) {
        JsonNode v = named(pod.get("volumes"), name);
        assertNotNull(v, "a volume named " + name);
        return v;
    }

    private static JsonNode named(JsonNode list, String name) {
        if (list != null) {
            for (JsonNode n : list) {
                if (name.equals(n.path("name").asText())) {
                    return n;
                }
            }
        }
        return null;
    }

    private static JsonNode only(List<JsonNode> objects, String kind) {
        List<JsonNode> found = objects.stream().filter(o -> kind.equals(o.path("kind").asText())).toList();
        assertEquals(1, found.size(), "one " + kind);
        return found.get(0);
    }

    /** {@code kubectl kustomize DIR}; without kubectl, the base's files as they are (the ConfigMap built here). */
    static List<JsonNode> render(String kustomization) throws IOException, InterruptedException {
        return documents(renderText(kustomization));
    }

    /** What {@link #render} parses: kubectl's output as it printed it, or the base's objects as YAML documents. */
    static String renderText(String kustomization) throws IOException, InterruptedException {
        Path d = K8S.resolve(kustomization);
        if (onPath("kubectl")) {
            Process p = new ProcessBuilder("kubectl", "kustomize", d.toString()).redirectErrorStream(false).start();
            byte[] out = p.getInputStream().readAllBytes();
            String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "kubectl kustomize did not finish");
            assertEquals(0, p.exitValue(), "kubectl kustomize " + d + ": " + err);
            return new String(out, StandardCharsets.UTF_8);
        }
        Assumptions.assumeTrue(kustomization.equals("base"), "kubectl is not installed: " + kustomization + " is not rendered");
        var cm = YAML.createObjectNode();
        cm.put("apiVersion", "v1").put("kind", "ConfigMap").putObject("metadata").put("name", "sidecar-bootstrap");
        cm.putObject("data").put("sidecar.yaml", Files.readString(d.resolve("sidecar.yaml")));
        return Files.readString(d.resolve("deployment.yaml")) + "\n" + YAML.writeValueAsString(cm);
    }

    private static List<JsonNode> documents(String yaml) {
        try {
            List<JsonNode> docs = new ArrayList<>();
            for (var it = YAML.readerFor(JsonNode.class).<JsonNode>readValues(yaml); it.hasNext(); ) {
                JsonNode n = it.next();
                if (n != null && !n.isMissingNode() && !n.isNull()) {
                    docs.add(n);
                }
            }
            return docs;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static boolean onPath(String command) {
        for (String d : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!d.isEmpty() && Files.isExecutable(Path.of(d, command))) {
                return true;
            }
        }
        return false;
    }
}
