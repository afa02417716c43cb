package dev.sidecar.testkit;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The real proxy as a child process: {@code java dev.sidecar.proxy.Main ARGS} on this JVM's
 * class path, with this JVM's leak-detection settings. Listeners on port 0 are found from the
 * start log. {@link #close()} kills what is still running and fails if the child reported a
 * buffer leak.
 */
public final class ProxyProcess implements AutoCloseable {
    public static final String MAIN_CLASS = "dev.sidecar.proxy.Main";
    private static final Pattern LISTENING = Pattern.compile("listener (\\S+) listening on (\\S+):(\\d+)");
    private static final Pattern ADMIN = Pattern.compile("admin listening on (\\S+):(\\d+)");

    private final Process process;
    private final List<String> output = new ArrayList<>();
    private final Map<String, Integer> listenerPorts = new ConcurrentHashMap<>();
    private volatile int adminPort = -1;
    private volatile boolean ready;
    private final Thread reader;

    private ProxyProcess(List<String> args) {
        this(List.of(), List.of(), onClassPath(MAIN_CLASS), args);
    }

    /**
     * {@code prefix} runs the JVM (e.g. {@code prlimit --nofile=256:256}, or
     * {@code ip netns exec NAME}); {@code jvmOptions} come after the defaults, so they may
     * override {@code -Xmx} and the leak-detection level. {@code launch} names what runs: {@code
     * -cp PATH CLASS} or {@code -jar FILE}.
     */
    private ProxyProcess(List<String> prefix, List<String> jvmOptions, List<String> launch, List<String> args) {
        List<String> command = new ArrayList<>(prefix);
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("-Xmx256m");
        boolean jar = launch.get(0).equals("-jar"); // the testkit's leak recorder is not in the proxy's jar
        for (String p : List.of("io.netty.leakDetection.level", "io.netty.customResourceLeakDetector",
                "io.netty.leakDetection.targetRecords")) {
            String v = System.getProperty(p);
            if (v != null && !(jar && p.equals("io.netty.customResourceLeakDetector"))) {
                command.add("-D" + p + "=" + v);
            }
        }
        command.addAll(jvmOptions);
        command.addAll(launch);
        command.addAll(args);
        try {
            process = new ProcessBuilder(command).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        reader = new Thread(this::readOutput, "proxy-output-" + process.pid());
        reader.setDaemon(true);
        reader.start();
    }

    /** {@code mainClass} on this JVM's class path, as {@code launch}. */
    private static List<String> onClassPath(String mainClass) {
        return List.of("-cp", System.getProperty("java.class.path"), mainClass);
    }

    /** Runs {@code Main} with {@code args} and returns without waiting for anything. */
    public static ProxyProcess start(String... args) {
        return new ProxyProcess(List.of(args));
    }

    /**
     * Runs another main class that starts the proxy in its process (the demo), the same way:
     * this JVM's class path and leak detection, its log read for listener and admin ports.
     */
    public static ProxyProcess startMain(String mainClass, String... args) {
        return new ProxyProcess(List.of(), List.of(), onClassPath(mainClass), List.of(args));
    }

    /** Writes {@code yaml} to a file in {@code dir}, runs {@code run -c} on it, waits until ready. */
    public static ProxyProcess run(Path dir, String yaml, String... extraArgs) {
        return run(dir, List.of(), List.of(), yaml, extraArgs);
    }

    /**
     * As {@link #run}, with the java command started through {@code wrapper}: e.g.
     * {@code ip netns exec NAME} to run the proxy inside a network namespace the test made.
     */
    public static ProxyProcess runWrapped(List<String> wrapper, Path dir, String yaml, String... extraArgs) {
        return run(dir, wrapper, List.of(), yaml, extraArgs);
    }

    /**
     * As {@link #run(Path, String, String...)}, with the JVM started behind {@code prefix} (a
     * command such as {@code prlimit --nofile=256:256}) and given {@code jvmOptions}.
     */
    public static ProxyProcess run(Path dir, List<String> prefix, List<String> jvmOptions, String yaml, String... extraArgs) {
        return run(dir, prefix, jvmOptions, onClassPath(MAIN_CLASS), yaml, extraArgs);
    }

    /**
     * As {@link #run(Path, String, String...)}, with the proxy started from {@code jar} ({@code
     * java -jar}) instead of this JVM's class path: the packaged proxy, its libraries only.
     */
    public static ProxyProcess runJar(Path jar, Path dir, String yaml, String... extraArgs) {
        return run(dir, List.of(), List.of(), List.of("-jar", jar.toString()), yaml, extraArgs);
    }

    private static ProxyProcess run(Path dir, List<String> prefix, List<String> jvmOptions, List<String> launch, String yaml,
            String... extraArgs) {
        Path file;
        try {
            file = Files.createTempFile(dir, "sidecar-", ".yaml");
            Files.writeString(file, yaml);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<String> args = new ArrayList<>(List.of("run", "-c", file.toString()));
        args.addAll(List.of(extraArgs));
        ProxyProcess p = new ProxyProcess(prefix, jvmOptions, launch, args);
        try {
            Await.until("the proxy to log 'ready'", Duration.ofSeconds(30), () -> p.ready || !p.process.isAlive());
            if (!p.ready) {
                throw new AssertionError("the proxy exited with " + p.process.exitValue() + " before ready:\n" + p.output());
            }
        } catch (AssertionError e) {
            p.process.destroyForcibly();
            throw new AssertionError(e.getMessage() + "\n" + p.output(), e);
        }
        return p;
    }

    private void readOutput() {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                // ports first, the line after: a caller that has seen a line may read its port
                Matcher m = LISTENING.matcher(line);
                if (m.find()) {
                    listenerPorts.put(m.group(1), Integer.parseInt(m.group(3)));
                }
                Matcher a = ADMIN.matcher(line);
                if (a.find()) {
                    adminPort = Integer.parseInt(a.group(2));
                }
                synchronized (output) {
                    output.add(line);
                }
                // a proxy with a control plane is ready once the control plane's first config is in force
                if (line.endsWith(" ready") || line.equals("ready") || line.endsWith("xds: initial config in force")) {
                    ready = true;
                }
            }
        } catch (IOException e) {
            // the process ended
        }
    }

    public int listenerPort(String name) {
        Integer port = listenerPorts.get(name);
        if (port == null) {
            throw new AssertionError("no listener '" + name + "' in the proxy's log:\n" + output());
        }
        return port;
    }

    public int adminPort() {
        if (adminPort < 0) {
            throw new AssertionError("no admin listener in the proxy's log:\n" + output());
        }
        return adminPort;
    }

    public long pid() {
        return process.pid();
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /**
     * Sends SIGTERM. Through the process handle: {@code Process.destroy()} would also close our
     * end of its output pipe, and the drain's log lines would be lost.
     */
    public void terminate() {
        process.toHandle().destroy();
    }

    /** Waits for the process to exit and returns its exit code; fails after {@code limit}. */
    public int waitForExit(Duration limit) {
        try {
            if (!process.waitFor(limit.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new AssertionError("the proxy did not exit within " + limit.toMillis() + " ms:\n" + output());
            }
            reader.join(10_000); // the rest of its output, up to EOF
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
        return process.exitValue();
    }

    /** Everything the process has printed so far (stdout and stderr). */
    public String output() {
        synchronized (output) {
            return String.join("\n", output);
        }
    }

    @Override
    public void close() {
        if (process.isAlive()) {
            process.destroyForcibly();
            try {
                process.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        String out = output();
        // the recorder's marker, or Netty's own report where the recorder is not on the class path
        if (out.contains(RecordingLeakDetector.MARKER) || out.contains("LEAK: ")) {
            throw new AssertionError("the proxy process reported a buffer leak:\n" + out);
        }
    }
}
