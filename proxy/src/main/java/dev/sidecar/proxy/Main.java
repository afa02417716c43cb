package dev.sidecar.proxy;

import dev.sidecar.config.ConfigError;
import dev.sidecar.config.ConfigException;
import dev.sidecar.config.ProxyConfig;
import dev.sidecar.config.TransportChoice;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.logging.Level;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.ParseResult;

/**
 * The command line: {@code sidecar run | validate | version | help}.
 *
 * <p>The commands are built with picocli's programmatic API rather than its annotations. Reading
 * annotations takes reflection, a proxy class per annotation type and picocli's default factory,
 * whose first use looks for Groovy's closure class: a class in no jar, so the lookup opens every
 * jar on the class path (a scan that java.util.logging's start now makes instead). Without them
 * a start's main thread takes about 35 ms less.
 */
public final class Main {
    static final int OK = 0;
    static final int INVALID = 1;
    static final int USAGE = CommandLine.ExitCode.USAGE;

    /** Creates what the programmatic specs never ask for (they name no converter or provider classes). */
    private static final CommandLine.IFactory FACTORY = new CommandLine.IFactory() {
        @Override
        public <K> K create(Class<K> type) throws Exception {
            return type.getDeclaredConstructor().newInstance();
        }
    };

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
        return commandLine(args.length > 0 ? args[0] : null).execute(args);
    }

    /** Every command: for help, usage and errors about the command itself. */
    static CommandLine commandLine() {
        return commandLine(null);
    }

    /**
     * The command line for a line that starts with {@code first}. When that names a command other
     * than help, the root holds that command alone: picocli parses the line the same way (the
     * other commands are not reachable from it), and each command it models costs a start
     * picocli's built-in converters and option patterns, about a tenth of the main thread's start
     * for the four of them. Anything else (no command, a root option, help, a typo picocli
     * suggests a command for) gets every command.
     */
    static CommandLine commandLine(String first) {
        boolean all = first == null || !(first.equals("run") || first.equals("validate") || first.equals("version"));
        CommandSpec root = command("sidecar", "A sidecar proxy and load balancer for the traffic of one host or pod.", "");
        root.usageMessage()
                .footerHeading("%nExit status:%n")
                .footer("  0  success (for run: stopped by SIGTERM/SIGINT after draining)",
                        "  1  the config is invalid, or the proxy could not start",
                        "  2  the command line is wrong",
                        "",
                        "Start with:  ./sidecar demo   (in a source clone: the proxy fed by an xDS control plane)",
                        "Then:        sidecar validate -c FILE  and  sidecar run -c FILE");

        if (all || first.equals("run")) {
            root.addSubcommand("run", new CommandLine(runCommand(), FACTORY));
        }
        if (all || first.equals("validate")) {
            CommandSpec validate = command("validate",
                    "Check a config file; print every error with the path of its field. Exit 0 if valid, 1 if not.");
            validate.addOption(configOption());
            root.addSubcommand("validate", new CommandLine(validate, FACTORY));
        }
        if (all || first.equals("version")) {
            root.addSubcommand("version", new CommandLine(command("version",
                    "Print the version, the Netty version and the transports this host allows."), FACTORY));
        }
        if (all) {
            CommandSpec help = command("help", "Print the usage of a command, or of sidecar without one.");
            help.addPositional(CommandLine.Model.PositionalParamSpec.builder()
                    .paramLabel("COMMAND").arity("0..1").type(String.class)
                    .description("run, validate, version or help.").build());
            root.addSubcommand("help", new CommandLine(help, FACTORY));
        }

        CommandLine line = new CommandLine(root, FACTORY);
        line.setExecutionStrategy(new Dispatch());
        return line;
    }

    private static CommandSpec runCommand() {
        CommandSpec run = command("run",
                "Run the proxy on a config file until SIGTERM or SIGINT, then drain and exit 0.",
                "On SIGTERM, /ready answers 503, listeners stop accepting, and open connections get "
                        + "server.drain_timeout (default 30s) to finish. A second signal stops at once.");
        run.addOption(configOption());
        run.addOption(option("--transport", "NAME", String.class,
                "Socket transport: auto (default: io_uring, else epoll, else nio), io_uring, epoll or nio. "
                        + "Overrides server.transport."));
        run.addOption(option("--workers", "N", Integer.class,
                "Event-loop threads (default: one per core). Overrides server.workers."));
        run.addOption(option("--log-level", "LEVEL", String.class, "error, warn, info (default) or debug."));
        run.addOption(option("--log-format", "FORMAT", String.class,
                "text (default: one readable line per record) or json (one JSON object per line)."));
        return run;
    }

    // Every CommandLine is made with FACTORY: one made without a factory (as
    // CommandSpec.addSubcommand(String, CommandSpec) does) starts picocli's default factory.

    /** A command with {@code -h/--help} and {@code -V/--version}. */
    private static CommandSpec command(String name, String... description) {
        CommandSpec spec = CommandSpec.wrapWithoutInspection(null, FACTORY).name(name);
        spec.usageMessage().description(description);
        spec.versionProvider(new VersionProvider());
        spec.addOption(OptionSpec.builder("-h", "--help").usageHelp(true)
                .description("Show this help message and exit.").build());
        spec.addOption(OptionSpec.builder("-V", "--version").versionHelp(true)
                .description("Print version information and exit.").build());
        return spec;
    }

    private static OptionSpec configOption() {
        return OptionSpec.builder("-c", "--config").paramLabel("FILE").type(Path.class).required(true)
                .description("The YAML config file.").build();
    }

    private static OptionSpec option(String name, String label, Class<?> type, String description) {
        return OptionSpec.builder(name).paramLabel(label).type(type).description(description).build();
    }

    // Classes rather than lambdas for picocli's interfaces: picocli's class files are of a version
    // older than Java 6, and the class-data-sharing archive leaves such an interface out (and
    // every class that implements it) when a lambda makes the dump link it.

    static final class VersionProvider implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"sidecar " + Version.current()};
        }
    }

    /** Runs the last command on the line, once picocli has parsed it and answered any help request. */
    static final class Dispatch implements CommandLine.IExecutionStrategy {
        @Override
        public int execute(ParseResult parsed) {
            return dispatch(parsed);
        }
    }

    private static int dispatch(ParseResult parsed) {
        Integer help = CommandLine.executeHelpRequest(parsed);
        if (help != null) {
            return help;
        }
        ParseResult last = parsed;
        while (last.hasSubcommand()) {
            last = last.subcommand();
        }
        CommandLine line = last.commandSpec().commandLine();
        return switch (last.commandSpec().name()) {
            case "run" -> run(last);
            case "validate" -> validate(last.matchedOptionValue("--config", (Path) null), line.getOut());
            case "version" -> version(line.getOut());
            case "help" -> help(parsed.commandSpec().commandLine(), last.matchedPositionalValue(0, (String) null));
            default -> {
                line.usage(line.getErr());
                yield USAGE;
            }
        };
    }

    /** Options shared by the commands that start the proxy. */
    static final class StartOptions {
        private final String transport;
        private final Integer workers;
        private final String logLevel;
        private final String logFormat;

        StartOptions(ParseResult parsed) {
            transport = parsed.matchedOptionValue("--transport", (String) null);
            workers = parsed.matchedOptionValue("--workers", (Integer) null);
            logLevel = parsed.matchedOptionValue("--log-level", "info");
            logFormat = parsed.matchedOptionValue("--log-format", "text");
        }

        void installLogging(CommandLine line) {
            String format = logFormat.toLowerCase(Locale.ROOT);
            if (!format.equals("text") && !format.equals("json")) {
                throw new CommandLine.ParameterException(line, "--log-format: '" + logFormat + "' is not one of text | json");
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

    /** {@code run}: the proxy on a config file, reloaded from the same file and options on SIGHUP. */
    private static int run(ParseResult parsed) {
        Path config = parsed.matchedOptionValue("--config", (Path) null);
        StartOptions start = new StartOptions(parsed);
        start.installLogging(parsed.commandSpec().commandLine());
        ProxyConfig loaded;
        try {
            loaded = start.apply(ConfigLoader.load(config));
        } catch (ConfigException e) {
            return printInvalid(config, e);
        }
        return serve(loaded, s -> s.reloadFrom(() -> start.apply(ConfigLoader.load(config)), "file " + config));
    }

    private static int validate(Path config, PrintWriter out) {
        try {
            ProxyConfig c = ConfigLoader.load(config);
            out.println(config + ": valid (" + c.listeners().size() + " listener"
                    + (c.listeners().size() == 1 ? "" : "s") + ", " + c.clusters().size() + " cluster"
                    + (c.clusters().size() == 1 ? "" : "s") + ")");
            return OK;
        } catch (ConfigException e) {
            return printInvalid(config, e);
        }
    }

    private static int version(PrintWriter out) {
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

    /** {@code help [COMMAND]}: the usage of COMMAND on standard output, or of sidecar itself. */
    private static int help(CommandLine root, String command) {
        if (command == null) {
            root.usage(root.getOut());
            return OK;
        }
        CommandLine target = root.getSubcommands().get(command);
        if (target == null) {
            root.getErr().println("Unknown command '" + command + "'.");
            root.usage(root.getErr());
            return USAGE;
        }
        target.usage(target.getOut());
        return OK;
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
