package dev.sidecar.proxy;

import dev.sidecar.config.ConfigError;
import dev.sidecar.config.ConfigException;
import dev.sidecar.config.ProxyConfig;
import dev.sidecar.config.TransportChoice;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.logging.Level;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** The command line: {@code sidecar run | validate | version | demo}. */
@Command(name = "sidecar",
        mixinStandardHelpOptions = true,
        versionProvider = Main.VersionProvider.class,
        description = {"A sidecar proxy and load balancer for the traffic of one host or pod.", ""},
        subcommands = {Main.Run.class, Main.Validate.class, Main.VersionCommand.class,
                CommandLine.HelpCommand.class},
        footerHeading = "%nExit status:%n",
        footer = {"  0  success (for run: stopped by SIGTERM/SIGINT after draining)",
                "  1  the config is invalid, or the proxy could not start",
                "  2  the command line is wrong",
                "",
                "Start with:  ./sidecar demo   (in a source clone: the proxy fed by an xDS control plane)",
                "Then:        sidecar validate -c FILE  and  sidecar run -c FILE"})
public final class Main implements Callable<Integer> {
    static final int OK = 0;
    static final int INVALID = 1;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        nettyDefaults();
        System.exit(execute(args));
    }

    /**
     * Netty settings the proxy runs with unless a {@code -D} option names them:
     * <ul>
     *   <li>Buffer leak detection off: on by default at one buffer in 128, it records a stack trace
     *   for each sampled buffer and each of its touches, 13-15 % of the proxy's CPU per request in
     *   an A/B of HTTP/1.1 and h2c load ({@code -Dio.netty.leakDetection.level=simple} brings it
     *   back; the tests run at PARANOID).</li>
     *   <li>Netty's JFR events off ({@code io.netty.jfr.enabled}): with them on, the first buffer
     *   the allocator carves a chunk for initialises the event class through the flight
     *   recorder's class instrumentation, about 60 ms of the event loop's CPU on the first
     *   request, and every allocation checks whether the events are recording.
     *   {@code -Dio.netty.jfr.enabled=true} turns them on for a JFR recording.</li>
     * </ul>
     */
    static void nettyDefaults() {
        if (System.getProperty("io.netty.leakDetection.level") == null && System.getProperty("io.netty.leakDetectionLevel") == null) {
            System.setProperty("io.netty.leakDetection.level", "disabled");
        }
        if (System.getProperty("io.netty.jfr.enabled") == null) {
            System.setProperty("io.netty.jfr.enabled", "false");
        }
    }

    static int execute(String... args) {
        return commandLine().execute(args);
    }

    static CommandLine commandLine() {
        return new CommandLine(new Main()).setCaseInsensitiveEnumValuesAllowed(true);
    }

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getErr());
        return CommandLine.ExitCode.USAGE;
    }

    static final class VersionProvider implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"sidecar " + Version.current()};
        }
    }

    /** Options shared by the commands that start the proxy. */
    static final class StartOptions {
        @Option(names = "--transport", paramLabel = "NAME",
                description = "Socket transport: auto (default: io_uring, else epoll, else nio), io_uring, epoll or nio. "
                        + "Overrides server.transport.")
        String transport;

        @Option(names = "--workers", paramLabel = "N",
                description = "Event-loop threads (default: one per core). Overrides server.workers.")
        Integer workers;

        @Option(names = "--log-level", paramLabel = "LEVEL", defaultValue = "info",
                description = "error, warn, info (default) or debug.")
        String logLevel;

        @Option(names = "--log-format", paramLabel = "FORMAT", defaultValue = "text",
                description = "text (default: one readable line per record) or json (one JSON object per line).")
        String logFormat;

        void installLogging() {
            String format = logFormat.toLowerCase(Locale.ROOT);
            if (!format.equals("text") && !format.equals("json")) {
                throw new CommandLine.ParameterException(commandLine(),
                        "--log-format: '" + logFormat + "' is not one of text | json");
            }
            LogFormat.install(level(), format.equals("json"));
        }

        ProxyConfig apply(ProxyConfig config) {
            if (transport != null) {
                TransportChoice choice = null;
                for (TransportChoice t : TransportChoice.values()) {
                    if (t.configName().equals(transport.toLowerCase(Locale.ROOT))) {
                        choice = t;
                    }
                }
                if (choice == null) {
                    throw new ConfigException(java.util.List.of(new ConfigError("--transport",
                            "'" + transport + "' is not one of auto | io_uring | epoll | nio")));
                }
                config = config.withServer(config.server().withTransport(choice));
            }
            if (workers != null) {
                if (workers < 0 || workers > 1024) {
                    throw new ConfigException(java.util.List.of(new ConfigError("--workers", workers + " is out of range 0..1024")));
                }
                config = config.withServer(config.server().withWorkers(workers));
            }
            return config;
        }

        Level level() {
            return switch (logLevel.toLowerCase(Locale.ROOT)) {
                case "error" -> Level.SEVERE;
                case "warn" -> Level.WARNING;
                case "debug" -> Level.FINE;
                default -> Level.INFO;
            };
        }
    }

    @Command(name = "run", mixinStandardHelpOptions = true,
            description = {"Run the proxy on a config file until SIGTERM or SIGINT, then drain and exit 0.",
                    "On SIGTERM, /ready answers 503, listeners stop accepting, and open connections get",
                    "server.drain_timeout (default 30s) to finish. A second signal stops at once."})
    static final class Run implements Callable<Integer> {
        @Option(names = {"-c", "--config"}, paramLabel = "FILE", required = true, description = "The YAML config file.")
        Path config;

        @CommandLine.Mixin
        StartOptions start;

        @Override
        public Integer call() {
            start.installLogging();
            ProxyConfig loaded;
            try {
                loaded = start.apply(ConfigLoader.load(config));
            } catch (ConfigException e) {
                return printInvalid(config, e);
            }
            Path file = config;
            StartOptions options = start;
            return serve(loaded, s -> s.reloadFrom(() -> options.apply(ConfigLoader.load(file)), "file " + file));
        }
    }

    @Command(name = "validate", mixinStandardHelpOptions = true,
            description = "Check a config file; print every error with the path of its field. Exit 0 if valid, 1 if not.")
    static final class Validate implements Callable<Integer> {
        @Option(names = {"-c", "--config"}, paramLabel = "FILE", required = true, description = "The YAML config file.")
        Path config;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            try {
                ProxyConfig c = ConfigLoader.load(config);
                spec.commandLine().getOut().println(config + ": valid (" + c.listeners().size() + " listener"
                        + (c.listeners().size() == 1 ? "" : "s") + ", " + c.clusters().size() + " cluster"
                        + (c.clusters().size() == 1 ? "" : "s") + ")");
                return OK;
            } catch (ConfigException e) {
                return printInvalid(config, e);
            }
        }
    }

    @Command(name = "version", description = "Print the version, the Netty version and the transports this host allows.")
    static final class VersionCommand implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            out.println("sidecar " + Version.current());
            out.println("netty " + Version.netty());
            out.println("java " + Runtime.version() + " (" + System.getProperty("java.vm.name") + ")");
            for (Transport t : Transport.values()) {
                Throwable cause = t.unavailabilityCause();
                out.println("transport " + t.configName() + ": " + (cause == null ? "available" : "unavailable (" + cause.getMessage() + ")"));
            }
            out.println("default transport: " + Transport.select(TransportChoice.AUTO).configName());
            return OK;
        }
    }

    private static int printInvalid(Path file, ConfigException e) {
        System.err.println(file + ": invalid config (" + e.errors().size() + " error" + (e.errors().size() == 1 ? "" : "s") + ")");
        for (ConfigError error : e.errors()) {
            System.err.println("  " + error);
        }
        return INVALID;
    }

    /** How often {@code server.exit_when_idle} looks at the connection count: a small share of any sensible idle time. */
    private static final long IDLE_POLL_NANOS = java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(50);

    /**
     * Returns once a stop was requested (a signal, {@code POST /drain}), or, with
     * {@code server.exit_when_idle}, once at least one connection has come in and none has been
     * open for that long. The count is read on this otherwise idle main thread, so the option
     * costs the data path nothing; closing connections are not hooked.
     */
    private static void awaitStop(Semaphore stop, Sidecar sidecar, java.time.Duration exitWhenIdle, AtomicBoolean stopping, Logger log) {
        if (exitWhenIdle.isZero()) {
            stop.acquireUninterruptibly();
            return;
        }
        long idleNanos = exitWhenIdle.toNanos();
        boolean seen = false;
        long idleSince = 0;
        while (true) {
            try {
                if (stop.tryAcquire(Math.min(IDLE_POLL_NANOS, idleNanos), java.util.concurrent.TimeUnit.NANOSECONDS)) {
                    return;
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            int active = sidecar.activeConnections();
            long now = System.nanoTime();
            if (!seen) {
                seen = active > 0 || sidecar.acceptedConnections() > 0;
                idleSince = now;
                continue;
            }
            if (active > 0) {
                idleSince = now;
            } else if (now - idleSince >= idleNanos && stopping.compareAndSet(false, true)) {
                log.info("no connection open for " + exitWhenIdle.toMillis() + " ms since the last one closed (server.exit_when_idle): stopping");
                return;
            }
        }
    }

    /**
     * Text logs on stderr at {@code level}, as {@code run --log-level} sets them; for programs
     * that embed the proxy (the demo module), so their own lines read like the proxy's.
     */
    public static void installLogging(Level level) {
        LogFormat.install(level, false);
    }

    /**
     * Runs the proxy on {@code config} as {@code run} does, until SIGTERM, SIGINT or
     * {@code POST /drain}, then drains and closes it, and returns the exit status ({@code 0}, or
     * {@code 1} when it could not start). {@code setup} gets the running proxy once it has
     * started. The signal handler goes in before anything starts, so a SIGTERM that arrives
     * during start-up still ends in a drain and exit 0 rather than the JVM's 143. Public for
     * programs that embed the proxy (the demo module); the data path is the same.
     */
    public static int serve(ProxyConfig config, java.util.function.Consumer<Sidecar> setup) {
        Logger log = LoggerFactory.getLogger(Main.class);
        Semaphore stop = new Semaphore(0);
        AtomicReference<Sidecar> running = new AtomicReference<>();
        // The first stop request (a signal or POST /drain) starts the drain; only a second
        // signal cuts it short. A drain the admin API started is not a signal: a preStop hook
        // that posts /drain is followed by the kubelet's SIGTERM, which must not end the drain.
        AtomicBoolean stopping = new AtomicBoolean();
        AtomicInteger signals = new AtomicInteger();
        Signals.onTerminate(() -> {
            if (signals.incrementAndGet() == 1) {
                if (stopping.compareAndSet(false, true)) {
                    stop.release();
                }
            } else {
                log.warn("second signal: stopping now");
                Sidecar s = running.get();
                if (s != null) {
                    s.close();
                }
            }
        });
        Sidecar sidecar;
        try {
            sidecar = Sidecar.start(config);
        } catch (Sidecar.StartException e) {
            log.error("cannot start: " + e.getMessage());
            return INVALID;
        }
        running.set(sidecar);
        setup.accept(sidecar);
        Signals.onHangUp(() -> {
            try {
                sidecar.reload();
            } catch (ConfigException e) {
                log.warn("SIGHUP: config not reloaded, nothing changed:\n" + e.getMessage());
            } catch (RuntimeException e) {
                log.warn("SIGHUP: " + e.getMessage());
            }
        });
        sidecar.onStopRequest(() -> {
            if (stopping.compareAndSet(false, true)) {
                stop.release();
            }
        });
        awaitStop(stop, sidecar, config.server().exitWhenIdle(), stopping, log);
        sidecar.drain(config.server().drainTimeout());
        sidecar.close();
        log.info("stopped");
        return OK;
    }
}
