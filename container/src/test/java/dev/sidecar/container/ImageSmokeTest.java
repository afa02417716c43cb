package dev.sidecar.container;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sidecar.testkit.Await;
import dev.sidecar.testkit.TcpUpstream;
import dev.sidecar.testkit.TestCertificates;
import dev.sidecar.testkit.Traffic;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The image as a user runs it: {@code podman load} the tarball the image profile built, run it
 * with the config mounted read-only, a read-only root with no writable /tmp and the non-root
 * user, see it on a native transport with BoringSSL, send traffic (plain and over TLS)
 * through it to an upstream in this JVM, then {@code podman stop} (SIGTERM) while a connection
 * is open and see it drain and exit 0. And the transport it finds under podman's default seccomp
 * profile and under the profile {@code container/seccomp/allow-io-uring.sh} makes from it.
 *
 * <p>{@code --runtime runc}: this kernel runs cgroups in hybrid mode, which crun refuses.
 * {@code --network host}: the upstream and the test's client are on this host's loopback.
 * Explicit ulimits: podman's defaults copy the host's, which may exceed what the runtime may set.
 *
 * <p>Needs podman, runc (and jq for the profile) and {@code proxy/target/jib-image.tar}
 * ({@code ./mvnw verify -Pimage}); skipped with the reason when one is missing, except in CI,
 * where {@code .ci/run} installs the tools and the image profile is on, so a missing piece is a
 * failure.
 */
class ImageSmokeTest {
    private static final Path IMAGE = Path.of("..", "proxy", "target", "jib-image.tar");
    private static final Path PODMAN_SECCOMP = Path.of("/usr/share/containers/seccomp.json");
    private static final Pattern LISTENER = Pattern.compile("listener in listening on 127\\.0\\.0\\.1:(\\d+)");
    private static final Pattern TLS_LISTENER = Pattern.compile("listener tls-in listening on 127\\.0\\.0\\.1:(\\d+)");
    private static final Pattern ADMIN = Pattern.compile("admin listening on 127\\.0\\.0\\.1:(\\d+)");
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @TempDir
    Path dir;

    @Test
    void the_image_proxies_reports_ready_and_drains_on_sigterm() throws Exception {
        String image = loadImage();

        // the class-data-sharing archive matches the image's runtime and class path: under
        // -Xshare:on a JVM that cannot map it exits with an error instead of starting without it
        Result shared = run(Duration.ofMinutes(1), "podman", "run", "--rm", "--runtime", "runc",
                "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096", "--entrypoint", "/opt/java/bin/java", image,
                "-XX:SharedArchiveFile=/app/sidecar.jsa", "-Xshare:on", "-cp", "@/app/sidecar-classpath",
                "dev.sidecar.proxy.Main", "--version");
        assertEquals(0, shared.code, "the image's archive: " + shared.output);
        assertTrue(shared.output.startsWith("sidecar "), shared.output);

        String name = "sidecar-smoke-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
        // the container's user (65532) reads the config through the mount
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        try (TcpUpstream echo = TcpUpstream.echo()) {
            TestCertificates.Authority ca = TestCertificates.authority("smoke-ca");
            TestCertificates.PemPair pem = ca.issue("sidecar").dns("localhost").ip("127.0.0.1").build()
                    .write(dir, "server", TestCertificates.KeyFormat.PKCS8);
            Path config = dir.resolve("sidecar.yaml");
            // tls_engine: openssl, or the proxy refuses to start: BoringSSL must load from
            // /app/native as well, the transports' libraries beside it
            Files.writeString(config, """
                    server: { drain_timeout: 20s, workers: 1, tls_engine: openssl }
                    admin: { address: 127.0.0.1:0 }
                    listeners:
                      - { name: in, address: 127.0.0.1:0, cluster: up }
                      - name: tls-in
                        address: 127.0.0.1:0
                        cluster: up
                        tls: { certificates: [{ cert_chain_file: /etc/sidecar/server.pem, private_key_file: /etc/sidecar/server.key }] }
                    clusters:
                      - { name: up, endpoints: [{ address: %s }] }
                    """.formatted(echo.address()));
            for (Path f : List.of(config, pem.cert(), pem.key())) {
                Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-r--r--"));
            }
            try {
                Result started = run(Duration.ofMinutes(1), "podman", "run", "-d", "--name", name, "--runtime", "runc",
                        // no tmpfs on /tmp either: nothing in the image needs to write a file
                        "--network", "host", "--read-only", "--read-only-tmpfs=false", "--memory", "256m",
                        "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096",
                        "-v", dir.toAbsolutePath() + ":/etc/sidecar:ro", image);
                assertEquals(0, started.code, "podman run: " + started.output);

                Await.until("the proxy in the container to log 'ready'", Duration.ofSeconds(60),
                        () -> logs(name).contains(" ready") || !running(name));
                String log = logs(name);
                assertTrue(running(name), "the container exited before ready:\n" + log);
                // a native transport (io_uring, or epoll where seccomp refuses io_uring), loaded
                // from /app/native: with no writable /tmp, a copy out of its jar would fail and
                // the proxy would run on NIO
                assertTrue(log.contains("transport io_uring") || log.contains("transport epoll"), log);
                int port = port(LISTENER, log);
                int tlsPort = port(TLS_LISTENER, log);
                int admin = port(ADMIN, log);

                assertEquals(200, status(admin, "/ready"), log);
                Traffic.EchoResult r = Traffic.echo(port, 4L * 1024 * 1024, 7);
                assertTrue(r.exact(), r.toString());
                try (SSLSocket tls = (SSLSocket) ca.clientContext(null).getSocketFactory().createSocket("127.0.0.1", tlsPort)) {
                    tls.setSoTimeout(10_000);
                    tls.getOutputStream().write("through BoringSSL\n".getBytes(StandardCharsets.US_ASCII));
                    tls.getOutputStream().flush();
                    byte[] echoed = tls.getInputStream().readNBytes(18);
                    assertEquals("through BoringSSL\n", new String(echoed, StandardCharsets.US_ASCII), log);
                    assertEquals("TLSv1.3", tls.getSession().getProtocol());
                }

                try (Socket open = Traffic.connect(port)) {
                    open.getOutputStream().write('a');
                    assertEquals('a', open.getInputStream().read());
                    Process stop = new ProcessBuilder("podman", "stop", "-t", "30", name).redirectErrorStream(true).start();
                    Await.until("/ready to answer 503 after SIGTERM", Duration.ofSeconds(20), () -> status(admin, "/ready") == 503);
                    open.getOutputStream().write('b');
                    assertEquals('b', open.getInputStream().read(), "the open connection is served while draining");
                    assertTrue(running(name), "the proxy must wait for the open connection");
                    open.close();
                    assertTrue(stop.waitFor(40, TimeUnit.SECONDS), "podman stop did not return");
                }
                Result code = run(Duration.ofSeconds(30), "podman", "inspect", name, "--format", "{{.State.ExitCode}}");
                String after = logs(name);
                assertEquals("0", code.output.strip(), "exit code; log:\n" + after);
                assertTrue(after.contains("drained"), after);
            } finally {
                run(Duration.ofSeconds(30), "podman", "rm", "-f", name);
            }
        }
    }

    /**
     * Under podman's default seccomp profile the proxy finds io_uring refused and runs on epoll;
     * under that profile with io_uring allowed ({@code container/seccomp/allow-io-uring.sh}) it
     * gets the transport it gets with no seccomp filter at all: io_uring wherever this kernel
     * allows it.
     */
    @Test
    void the_seccomp_profile_made_for_it_gives_the_proxy_io_uring() throws Exception {
        requireOrSkip(onPath("jq"), "jq is not installed");
        requireOrSkip(Files.isReadable(PODMAN_SECCOMP), PODMAN_SECCOMP + " (podman's default seccomp profile) is missing");
        String image = loadImage();
        Path profile = dir.resolve("sidecar-io-uring.json");
        Result made = run(Duration.ofSeconds(30), "bash", "-c", "\"$0\" \"$1\" > \"$2\"",
                Path.of("..", "container", "seccomp", "allow-io-uring.sh").toString(), PODMAN_SECCOMP.toString(), profile.toString());
        assertEquals(0, made.code, "allow-io-uring.sh: " + made.output);
        assertTrue(Files.readString(profile).contains("io_uring_enter"), Files.readString(profile));

        String unconfined = defaultTransport(image, "seccomp=unconfined");
        String byDefault = defaultTransport(image, null);
        String allowed = defaultTransport(image, "seccomp=" + profile.toAbsolutePath());
        if (!Files.readString(PODMAN_SECCOMP).contains("io_uring_enter")) {
            assertEquals("epoll", byDefault, "io_uring under podman's default profile, which does not name it");
        }
        assertEquals(unconfined, allowed, "the transport under the profile that allows io_uring");
    }

    /** The image's {@code sidecar version} line {@code default transport: NAME} under a {@code --security-opt}. */
    private static String defaultTransport(String image, String securityOpt) {
        List<String> command = new ArrayList<>(List.of("podman", "run", "--rm", "--runtime", "runc",
                "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096"));
        if (securityOpt != null) {
            command.addAll(List.of("--security-opt", securityOpt));
        }
        command.addAll(List.of(image, "version"));
        Result r = run(Duration.ofMinutes(1), command.toArray(String[]::new));
        assertEquals(0, r.code, String.join(" ", command) + ": " + r.output);
        Matcher m = Pattern.compile("default transport: (\\S+)").matcher(r.output);
        assertTrue(m.find(), r.output);
        return m.group(1);
    }

    /** {@code podman load}s the tarball; returns the image's name. */
    private static String loadImage() {
        requireOrSkip(onPath("podman"), "podman is not installed");
        requireOrSkip(onPath("runc"), "runc is not installed");
        requireOrSkip(Files.isRegularFile(IMAGE), IMAGE + " is missing; build it with ./mvnw verify -Pimage");
        Result load = run(Duration.ofMinutes(2), "podman", "load", "-i", IMAGE.toString());
        assertEquals(0, load.code, "podman load: " + load.output);
        Matcher loaded = Pattern.compile("Loaded image(?:\\(s\\))?: (\\S+)").matcher(load.output);
        assertTrue(loaded.find(), load.output);
        return loaded.group(1);
    }

    private static void requireOrSkip(boolean present, String reason) {
        if (!present && "true".equals(System.getenv("CI"))) {
            throw new AssertionError(reason + " (CI must run the image smoke test: .ci/run installs podman, runc and jq)");
        }
        Assumptions.assumeTrue(present, reason);
    }

    private static boolean onPath(String command) {
        for (String d : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!d.isEmpty() && Files.isExecutable(Path.of(d, command))) {
                return true;
            }
        }
        return false;
    }

    private static int port(Pattern p, String log) {
        Matcher m = p.matcher(log);
        assertTrue(m.find(), "no " + p + " in the log:\n" + log);
        return Integer.parseInt(m.group(1));
    }

    private static String logs(String name) {
        return run(Duration.ofSeconds(30), "podman", "logs", name).output;
    }

    /** Running, or stopping (podman reports a container it is stopping as not running). */
    private static boolean running(String name) {
        String status = run(Duration.ofSeconds(30), "podman", "inspect", name, "--format", "{{.State.Status}}").output.strip();
        return status.equals("running") || status.equals("stopping");
    }

    private static int status(int port, String path) {
        try {
            return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(5)).build(),
                    HttpResponse.BodyHandlers.discarding()).statusCode();
        } catch (IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    private record Result(int code, String output) {}

    private static Result run(Duration limit, String... command) {
        try {
            Process p = new ProcessBuilder(List.of(command)).redirectErrorStream(true).start();
            List<String> lines = new ArrayList<>();
            Thread reader = new Thread(() -> {
                try {
                    String all = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                    synchronized (lines) {
                        lines.add(all);
                    }
                } catch (IOException e) {
                    // the process ended
                }
            });
            reader.start();
            if (!p.waitFor(limit.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                throw new AssertionError(String.join(" ", command) + " did not finish within " + limit.toSeconds() + " s");
            }
            reader.join(limit.toMillis());
            synchronized (lines) {
                return new Result(p.exitValue(), String.join("", lines));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
