package dev.sidecar.demo;

import dev.sidecar.config.ConfigException;
import dev.sidecar.config.Durations;
import dev.sidecar.config.ProxyConfig;
import dev.sidecar.proxy.ConfigLoader;
import dev.sidecar.proxy.Main;
import dev.sidecar.proxy.Sidecar;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.logging.Level;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ./sidecar demo}: in one process, three example instances (each an HTTP/1.1 server and a
 * gRPC greeter that say which instance answered), an xDS control plane that moves their endpoints
 * every few seconds and once per round reports one UNHEALTHY, and the proxy, which takes its
 * listener, routes and clusters from that control plane. It prints what to try, logs each
 * control-plane change, and on SIGINT or SIGTERM drains the proxy, stops the rest and exits 0.
 */
@Command(name = "sidecar demo",
        description = {"The proxy, three example HTTP and gRPC instances, and an xDS control",
                "plane that moves their endpoints every --interval, in one process.",
                "Listener 127.0.0.1:15000; admin and dashboard 127.0.0.1:9901; instances",
                ":7001-7003 (HTTP) and :7011-7013 (gRPC); control plane :18000.",
                "Ctrl-C drains the proxy, stops everything and exits 0."})
public final class Demo implements Callable<Integer> {
    static final int LISTENER_PORT = 15000;
    static final int ADMIN_PORT = 9901;
    static final int XDS_PORT = 18000;
    static final int FIRST_HTTP_PORT = 7001;
    static final int FIRST_GRPC_PORT = 7011;
    static final int INSTANCES = 3;
    /** How long the guide waits for the control plane's config to be in force and its listener bound. */
    private static final Duration READY_WAIT = Duration.ofSeconds(30);

    private static final Logger log = LoggerFactory.getLogger(Demo.class);

    @Option(names = "--interval", paramLabel = "DURATION", defaultValue = "5s",
            description = "How often the control plane moves the endpoints (default 5s; at least 100ms).")
    String interval;

    @Option(names = "--ephemeral-ports",
            description = "Let the system pick every port instead of the fixed ones (when those are taken, or for tests).")
    boolean ephemeralPorts;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
    boolean help;

    @Option(names = "--log-level", paramLabel = "LEVEL", defaultValue = "info", description = "error, warn, info (default) or debug.")
    String logLevel;

    public static void main(String[] args) {
        System.exit(new CommandLine(new Demo()).execute(args));
    }

    @Override
    public Integer call() throws IOException {
        Duration every;
        try {
            every = Durations.parse(interval);
        } catch (IllegalArgumentException e) {
            System.err.println("sidecar demo: --interval: " + e.getMessage());
            return CommandLine.ExitCode.USAGE;
        }
        if (every.toMillis() < 100) {
            System.err.println("sidecar demo: --interval: " + interval + " is below 100ms");
            return CommandLine.ExitCode.USAGE;
        }
        Main.installLogging(level());
        int listenerPort = ephemeralPorts ? 0 : LISTENER_PORT;
        int adminPort = ephemeralPorts ? 0 : ADMIN_PORT;
        if (!ephemeralPorts) {
            // The proxy binds these two itself, later; a clear word now beats a NACKed listener then.
            for (int p : new int[] {LISTENER_PORT, ADMIN_PORT}) {
                if (!free(p)) {
                    return inUse(p);
                }
            }
        }
        List<AutoCloseable> started = new ArrayList<>();
        try {
            int[] http = new int[INSTANCES];
            int[] grpc = new int[INSTANCES];
            for (int i = 0; i < INSTANCES; i++) {
                int instance = i + 1;
                int want = ephemeralPorts ? 0 : FIRST_HTTP_PORT + i;
                HttpInstance h = bind(want, () -> new HttpInstance(instance, want));
                started.add(h);
                http[i] = h.port();
                int wantGrpc = ephemeralPorts ? 0 : FIRST_GRPC_PORT + i;
                GreeterInstance g = bind(wantGrpc, () -> new GreeterInstance(instance, wantGrpc));
                started.add(g);
                grpc[i] = g.port();
            }
            int xdsPort = ephemeralPorts ? 0 : XDS_PORT;
            ControlPlane controlPlane = bind(xdsPort, () -> new ControlPlane(xdsPort, listenerPort, http, grpc));
            started.add(controlPlane);
            log.info("demo: instances 1-3 on HTTP 127.0.0.1:" + http[0] + ", :" + http[1] + ", :" + http[2] + " and gRPC :" + grpc[0]
                    + ", :" + grpc[1] + ", :" + grpc[2] + "; xDS control plane on 127.0.0.1:" + controlPlane.port()
                    + ", moving endpoints every " + Durations.format(every));
            ProxyConfig config = ConfigLoader.parse(bootstrap()
                    .replace("127.0.0.1:" + ADMIN_PORT, "127.0.0.1:" + adminPort)
                    .replace("127.0.0.1:" + XDS_PORT, "127.0.0.1:" + controlPlane.port()));
            return Main.serve(config, sidecar -> {
                Thread guide = new Thread(() -> {
                    if (awaitTraffic(sidecar)) {
                        // the first assignment holds for a whole interval after the proxy is ready
                        controlPlane.moveEvery(every);
                        guide(sidecar, System.out);
                    }
                }, "demo-guide");
                guide.setDaemon(true);
                guide.start();
            });
        } catch (PortInUse e) {
            return inUse(e.port);
        } catch (ConfigException e) {
            // the bootstrap is a resource of this jar: an error here is a bug, said as such
            throw new IllegalStateException("the demo's bootstrap (examples/demo.yaml) is invalid:\n" + e.getMessage(), e);
        } finally {
            for (int i = started.size() - 1; i >= 0; i--) {
                try {
                    started.get(i).close();
                } catch (Exception e) {
                    log.warn("demo: stopping " + started.get(i).getClass().getSimpleName() + ": " + e);
                }
            }
        }
    }

    /**
     * Waits (bounded) until the control plane's first config is in force and its listener is
     * bound; false (and a warning) when that does not happen in time.
     */
    private static boolean awaitTraffic(Sidecar sidecar) {
        long deadline = System.nanoTime() + READY_WAIT.toNanos();
        while (System.nanoTime() - deadline < 0) {
            if (sidecar.xds().status().initialized() && listenerPort(sidecar) > 0) {
                return true;
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
        }
        log.warn("demo: the control plane's config is not in force after " + READY_WAIT.toSeconds() + " s; see the log above");
        return false;
    }

    private static int listenerPort(Sidecar sidecar) {
        try {
            return sidecar.listenerPort(ControlPlane.LISTENER);
        } catch (IllegalArgumentException notYet) {
            return -1;
        }
    }

    /** Prints what to try, with the ports in use. */
    private static void guide(Sidecar sidecar, PrintStream out) {
        int port = listenerPort(sidecar);
        String proxy = "http://127.0.0.1:" + port;
        String admin = "http://127.0.0.1:" + sidecar.adminPort();
        out.print(String.join("\n",
                "",
                "sidecar demo: the proxy on " + proxy + " takes its listener, routes and clusters from the control plane.",
                "Try, in another terminal:",
                "",
                "  for i in 1 2 3 4; do curl -s " + proxy + "/hello; done          # round robin over the instances EDS assigned",
                "  curl -s --http2-prior-knowledge " + proxy + "/hello               # the same over HTTP/2",
                "  printf '\\0\\0\\0\\0\\0' | curl -s --http2-prior-knowledge -H 'content-type: application/grpc' -H 'te: trailers' \\",
                "      --data-binary @- " + proxy + "/" + GreeterInstance.SERVICE + "/Hello | tail -c +8; echo   # gRPC, per request",
                "  curl -s " + admin + "/clusters              # each endpoint with its EDS health_status",
                "  curl -s " + admin + "/config_dump           # the config in force, with each xDS resource's version",
                "  open " + admin + "/                         # the dashboard (a browser)",
                "",
                "Every few seconds the control plane moves the endpoints (logged as 'xds: version N: ...'); once a round",
                "it reports one instance UNHEALTHY. Stop with Ctrl-C.",
                "",
                ""));
        out.flush();
        log.info("demo: ready");
    }

    private static String bootstrap() throws IOException {
        try (InputStream in = Demo.class.getResourceAsStream("demo.yaml")) {
            if (in == null) {
                throw new IllegalStateException("demo.yaml is missing from the demo's jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private Level level() {
        return switch (logLevel.toLowerCase(Locale.ROOT)) {
            case "error" -> Level.SEVERE;
            case "warn" -> Level.WARNING;
            case "debug" -> Level.FINE;
            default -> Level.INFO;
        };
    }

    private static int inUse(int port) {
        System.err.println("sidecar demo: 127.0.0.1:" + port + " is in use (is another demo running?). Stop what holds it, "
                + "or run ./sidecar demo --ephemeral-ports.");
        return 1;
    }

    private static boolean free(int port) {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private interface Binding<T> {
        T open() throws IOException;
    }

    /** {@code open}, with a bind failure turned into {@link PortInUse} for {@code port}. */
    private static <T> T bind(int port, Binding<T> open) throws IOException {
        try {
            return open.open();
        } catch (BindException e) {
            throw new PortInUse(port);
        } catch (IOException e) {
            if (e.getCause() instanceof BindException) {
                throw new PortInUse(port);
            }
            throw e;
        }
    }

    private static final class PortInUse extends RuntimeException {
        final int port;

        PortInUse(int port) {
            super("127.0.0.1:" + port + " is in use", null, false, false);
            this.port = port;
        }
    }
}
