package dev.sidecar.proxy;

import static java.util.Objects.requireNonNull;

import dev.sidecar.config.EndpointConfig;
import dev.sidecar.config.HostPort;
import dev.sidecar.config.ListenerConfig;
import dev.sidecar.config.ControlPlaneConfig;
import dev.sidecar.config.ProxyConfig;
import dev.sidecar.xds.client.XdsClient;
import dev.sidecar.xds.client.XdsResources;
import dev.sidecar.xds.client.XdsStatus;
import dev.sidecar.xds.translate.Translator;
import dev.sidecar.l4.TcpListenerStats;
import dev.sidecar.l4.TcpProxy;
import dev.sidecar.tls.CertificateWatcher;
import dev.sidecar.config.TlsEngineChoice;
import dev.sidecar.tls.TlsEngine;
import dev.sidecar.config.ListenerProtocol;
import dev.sidecar.l7.HttpListenerStats;
import dev.sidecar.l7.HttpProxy;
import dev.sidecar.l7.OverloadState;
import dev.sidecar.l7.UpstreamPools;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.ChannelGroupFuture;
import dev.sidecar.upstream.Cluster;
import dev.sidecar.upstream.ClusterManager;
import dev.sidecar.upstream.ClusterSnapshot;
import dev.sidecar.upstream.Endpoint;
import dev.sidecar.upstream.ControlExecutor;
import dev.sidecar.upstream.Dialer;
import dev.sidecar.upstream.HealthChecker;
import io.micrometer.core.instrument.Meter;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running proxy: event loops, clusters, the admin listener and the traffic listeners, and
 * their lifecycle. {@link #start} returns once every listener is bound and the proxy is ready;
 * {@link #drain} is the graceful half of shutdown and {@link #close} the rest.
 *
 * <p>Start order follows the design's lifecycle: admin first (so /ready can say "starting"),
 * clusters, then listeners, then ready.
 */
public final class Sidecar implements AutoCloseable, AdminServer.Backend {
    private static final Logger log = LoggerFactory.getLogger(Sidecar.class);

    /** The config in force (static and dynamic resources merged); replaced only by {@link #apply}. */
    private volatile ProxyConfig config;
    /** The config from the file: what a reload replaces. */
    private volatile ProxyConfig staticConfig;
    /** The resources from the control plane now in force. */
    private volatile XdsResources dynamic = XdsResources.EMPTY;
    private volatile XdsClient xds;
    private List<Meter> xdsMeters = List.of();
    private final ConfigVersions versions = new ConfigVersions();
    private final Map<String, List<Meter>> clusterMeters = new HashMap<>();
    private final Map<String, HealthChecker> healthCheckers = new HashMap<>();
    private final Map<String, AccessLogWriter> accessLogs = new HashMap<>();
    private final Transport transport;
    private final int workers;
    private final EventLoopGroup eventLoops;
    /**
     * The admin server's own thread: its handlers may wait for the config lock (a large apply
     * takes a while) or format large views, which must never stall a loop that carries traffic.
     * It runs on NIO whatever the traffic's transport: it carries a few probes and scrapes a
     * second, and an io_uring loop holds its rings and a 1,024-entry message-header array for
     * datagram batching (about 2 MiB of an idle proxy's RSS) that a selector does not.
     */
    private final EventLoopGroup adminLoop;
    private final ByteBufAllocator allocator = ByteBufAllocator.DEFAULT;
    private final ProxyMetrics metrics;
    private final Dialer dialer;
    private final ClusterManager clusters;
    private final Map<String, Listener> listeners = new LinkedHashMap<>();
    private volatile AdminServer.Readiness readiness = AdminServer.Readiness.STARTING;
    private Channel adminChannel;
    private volatile boolean healthCheckFailed;
    private volatile Runnable stopRequest = () -> { };
    private volatile java.util.function.Supplier<ProxyConfig> reloadSource;
    private volatile String reloadDescription;
    private boolean closed;

    private final UpstreamPools pools;
    private final TlsSections tls;
    private final OverloadState overload = new OverloadState();
    private final OverloadGuard overloadGuard;
    private final java.util.concurrent.ScheduledFuture<?> overloadSampling;
    private final List<Meter> overloadMeters;

    /** A bound listener: a TCP proxy or an HTTP proxy (exactly one is set), its socket and its meters. */
    private record Listener(TcpProxy tcp, HttpProxy http, Channel channel, List<Meter> meters) {
        ListenerConfig config() {
            return tcp != null ? tcp.config() : http.config();
        }

        ChannelGroup connections() {
            return tcp != null ? tcp.connections() : http.connections();
        }

        /** Closes every open connection now (HTTP connections without their lingering close). */
        ChannelGroupFuture closeConnections() {
            return tcp != null ? tcp.connections().close() : http.closeConnections();
        }
    }

    private Sidecar(ProxyConfig config) {
        this.config = requireNonNull(config, "config");
        this.staticConfig = config;
        this.transport = Transport.select(config.server().transport());
        this.workers = config.server().workers() > 0 ? config.server().workers() : Runtime.getRuntime().availableProcessors();
        this.eventLoops = new MultiThreadIoEventLoopGroup(workers, new DefaultThreadFactory("sidecar-worker", true), transport.ioHandlerFactory());
        this.adminLoop = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("sidecar-admin", true), Transport.NIO.ioHandlerFactory());
        this.metrics = new ProxyMetrics(allocator, eventLoops);
        this.dialer = transport.dialer();
        this.pools = new UpstreamPools(dialer, allocator);
        // A removed endpoint's connections get the same grace as the whole proxy's on SIGTERM.
        this.clusters = new ClusterManager(config.clusters(), System::nanoTime, ControlExecutor.shared(), config.server().drainTimeout());
        TlsEngineChoice engineChoice = config.server().tlsEngine();
        // An engine named in the config, or needed at once, is chosen now, so a missing one stops the start.
        TlsEngine eager = engineChoice != TlsEngineChoice.AUTO || usesTls(config) ? TlsEngine.select(engineChoice) : null;
        this.tls = new TlsSections(eager != null ? () -> eager : () -> TlsEngine.select(TlsEngineChoice.AUTO), metrics,
                CertificateWatcher.every(CertificateWatcher.DEFAULT_INTERVAL));
        pools.upstreamTls(tls::cluster);
        this.overloadGuard = new OverloadGuard(config.server().overload(), OverloadGuard::sampleJvm, overload, this::pauseTcpAccepts);
        this.overloadMeters = metrics.bindOverload(overload, overloadGuard);
        this.overloadSampling = ControlExecutor.shared().scheduleAtFixedRate(overloadGuard::evaluateLogged, OverloadGuard.INTERVAL_MILLIS,
                OverloadGuard.INTERVAL_MILLIS, TimeUnit.MILLISECONDS);
    }

    /** Overload: TCP listeners stop taking connections off the backlog (HTTP ones shed per request), and start again. */
    private synchronized void pauseTcpAccepts(boolean pause) {
        for (Listener l : listeners.values()) {
            if (l.tcp() != null) {
                l.channel().config().setAutoRead(!pause);
            }
        }
    }

    private static boolean usesTls(ProxyConfig config) {
        return config.listeners().stream().anyMatch(l -> l.tls() != null) || config.clusters().stream().anyMatch(c -> c.tls() != null);
    }

    /**
     * Starts a proxy on a validated config. Throws {@link StartException} naming what failed
     * (a transport that is not available, an address in use); nothing is left running then.
     */
    public static Sidecar start(ProxyConfig config) {
        ClassPreload.run();
        Sidecar sidecar;
        try {
            sidecar = new Sidecar(config);
        } catch (IllegalStateException e) {
            throw new StartException(e.getMessage(), e);
        }
        try {
            sidecar.bindAll();
            sidecar.startXds();
            sidecar.readiness = AdminServer.Readiness.READY;
            log.info(sidecar.xds == null ? "ready" : "ready once the control plane's initial config is in force");
            return sidecar;
        } catch (RuntimeException e) {
            sidecar.close();
            throw e;
        }
    }

    private void bindAll() {
        log.info("sidecar " + Version.current() + " starting: transport " + transport.configName() + ", "
                + (transport.bufferRing() ? "reads into a buffer ring, " : "") + workers + " event loop"
                + (workers == 1 ? "" : "s") + ", allocator " + allocator.getClass().getSimpleName() + ", tls engine "
                + (tls.engineIfChosen() != null ? tls.engine().describe() : "auto (chosen when a TLS section is first used)"));
        TlsSections.Prepared initialTls;
        try {
            initialTls = tls.prepare(config);
        } catch (dev.sidecar.config.ConfigException e) {
            throw new StartException("TLS files cannot be used:\n" + e.getMessage(), e);
        }
        List<dev.sidecar.config.ConfigError> transportErrors = transportErrors(config);
        if (!transportErrors.isEmpty()) {
            throw new StartException(transportErrors.stream().map(Object::toString).collect(java.util.stream.Collectors.joining("\n")), null);
        }
        AdminServer admin = new AdminServer(this);
        adminChannel = bind("admin", config.admin().address(), new ServerBootstrap().group(adminLoop).childHandler(admin.initializer()),
                Transport.NIO);
        log.info("admin listening on " + describe(adminChannel));
        syncClusters();
        tls.publish(initialTls);
        for (ListenerConfig lc : config.listeners()) {
            addListener(lc);
        }
        versions.record(config, "start", ConfigVersions.Changes.between(null, config));
    }

    /**
     * Connects to the control plane, when the config names one. Dynamic resources are applied as
     * they arrive, through {@link #applyXds}; the static ones serve meanwhile.
     */
    private void startXds() {
        ControlPlaneConfig cp = config.controlPlane();
        if (cp == null) {
            return;
        }
        javax.net.ssl.SSLSocketFactory cpTls = null;
        if (cp.tls() != null) {
            try {
                cpTls = dev.sidecar.tls.ClientTls.jdkContext(cp.tls()).getSocketFactory();
            } catch (dev.sidecar.tls.TlsMaterialException e) {
                throw new StartException("control_plane.tls." + e.field() + ": " + e.reason(), e);
            }
        }
        XdsClient client = new XdsClient(cp, this::applyXds, XdsClient.Timing.DEFAULT, cpTls);
        xdsMeters = metrics.bindXds(client.status(), List.of(Translator.CLUSTER_TYPE, Translator.ENDPOINT_TYPE, Translator.LISTENER_TYPE,
                Translator.ROUTE_TYPE));
        xds = client;
        log.info("xds: control plane " + cp.address() + ", node " + cp.node().id());
        client.start();
    }

    /**
     * Puts a new set of dynamic resources in force beside the static ones: the same path as a
     * file reload, so clusters keep their endpoint state and unchanged listeners their
     * connections. Throws, and changes nothing, when the merge is refused (a name that a static
     * resource already has, a listener naming a cluster that does not exist); the xDS client
     * NACKs the response with the message.
     */
    private void applyXds(XdsResources resources) {
        ProxyConfig merged = merge(staticConfig, resources);
        try {
            apply(merged, "xds " + resources.versions().values().stream().filter(v -> !v.isEmpty()).toList(), null, resources);
        } catch (dev.sidecar.config.ConfigException e) {
            throw new IllegalArgumentException(e.errors().stream().map(err -> named(merged, err)).collect(java.util.stream.Collectors.joining("; ")), e);
        }
        dynamic = resources;
    }

    /** Static resources and dynamic ones; a dynamic name that is already static is refused. */
    static ProxyConfig merge(ProxyConfig fromFile, XdsResources resources) {
        List<String> collisions = new ArrayList<>();
        java.util.Set<String> listenerNames = new java.util.HashSet<>();
        fromFile.listeners().forEach(l -> listenerNames.add(l.name()));
        java.util.Set<String> clusterNames = new java.util.HashSet<>();
        fromFile.clusters().forEach(c -> clusterNames.add(c.name()));
        resources.listeners().forEach(l -> {
            if (listenerNames.contains(l.name())) {
                collisions.add("listener '" + l.name() + "': a static listener has this name");
            }
        });
        resources.clusters().forEach(c -> {
            if (clusterNames.contains(c.name())) {
                collisions.add("cluster '" + c.name() + "': a static cluster has this name");
            }
        });
        if (!collisions.isEmpty()) {
            throw new IllegalArgumentException(String.join("; ", collisions));
        }
        List<ListenerConfig> listeners = new ArrayList<>(fromFile.listeners());
        listeners.addAll(resources.listeners());
        List<dev.sidecar.config.ClusterConfig> clusters = new ArrayList<>(fromFile.clusters());
        clusters.addAll(resources.clusters());
        return fromFile.withResources(listeners, clusters);
    }

    /** A validation error with {@code listeners[3]} replaced by the listener's name, which the control plane knows. */
    private static String named(ProxyConfig merged, dev.sidecar.config.ConfigError e) {
        String path = e.path();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("^(listeners|clusters)\\[(\\d+)\\]\\.?(.*)$").matcher(path);
        if (m.matches()) {
            int i = Integer.parseInt(m.group(2));
            String name = m.group(1).equals("listeners") ? "listener '" + merged.listeners().get(i).name() + "'"
                    : "cluster '" + merged.clusters().get(i).name() + "'";
            return name + ": " + (m.group(3).isEmpty() ? "" : m.group(3) + " ") + e.message();
        }
        return e.toString();
    }

    /**
     * A dynamic listener or route may name a cluster that does not exist (yet), as in Envoy: the
     * control plane may send the listener before the cluster, or remove a cluster before the
     * routes that name it, and refusing that would make a valid state of the control plane a
     * NACK. Such a listener runs and answers 503 with flag NC (a TCP listener refuses the
     * connection) until the cluster arrives. A static listener naming an unknown cluster is still
     * refused: in a file that is a typo.
     */
    private static List<dev.sidecar.config.ConfigError> withoutMissingClustersOfDynamicListeners(ProxyConfig merged,
            List<dev.sidecar.config.ConfigError> errors, XdsResources dyn) {
        if (errors.isEmpty() || dyn.listeners().isEmpty()) {
            return errors;
        }
        java.util.Set<String> dynamicListeners = new java.util.HashSet<>();
        dyn.listeners().forEach(l -> dynamicListeners.add(l.name()));
        java.util.regex.Pattern listenerPath = java.util.regex.Pattern.compile("^listeners\\[(\\d+)\\]\\..*");
        List<dev.sidecar.config.ConfigError> kept = new ArrayList<>();
        for (dev.sidecar.config.ConfigError e : errors) {
            java.util.regex.Matcher m = listenerPath.matcher(e.path());
            if (m.matches() && e.message().startsWith("no cluster named ")
                    && dynamicListeners.contains(merged.listeners().get(Integer.parseInt(m.group(1))).name())) {
                continue;
            }
            kept.add(e);
        }
        return kept;
    }

    /**
     * What the running transport cannot do: original_destination reads SO_ORIGINAL_DST through a
     * raw socket option that only the epoll and io_uring channels have. The validator catches an
     * explicit {@code server.transport: nio}; this catches auto falling back to NIO.
     */
    private List<dev.sidecar.config.ConfigError> transportErrors(ProxyConfig c) {
        List<dev.sidecar.config.ConfigError> errors = new ArrayList<>();
        if (transport == Transport.NIO) {
            for (int i = 0; i < c.listeners().size(); i++) {
                if (c.listeners().get(i).originalDestination()) {
                    errors.add(new dev.sidecar.config.ConfigError("listeners[" + i + "].original_destination",
                            "needs the epoll or io_uring transport to read SO_ORIGINAL_DST; this proxy runs on nio"));
                }
            }
        }
        return errors;
    }

    /** The xDS client, or null without a control plane. */
    public XdsClient xds() {
        return xds;
    }

    /** Meters and health checkers follow the cluster set: added for new clusters, dropped for gone ones. */
    private void syncClusters() {
        for (Cluster cluster : clusters.all()) {
            clusterMeters.computeIfAbsent(cluster.name(), n -> metrics.bindCluster(cluster));
            boolean checked = !cluster.snapshot().config().healthChecks().isEmpty();
            HealthChecker checker = healthCheckers.get(cluster.name());
            if (checked && checker == null) {
                checker = new HealthChecker(cluster, eventLoops, dialer, ControlExecutor.shared());
                healthCheckers.put(cluster.name(), checker);
                cluster.onEndpointsChanged(checker::sync); // new DNS answers get probed too
            }
            if (checked) {
                checker.sync();
            } else if (checker != null) {
                checker.stop();
                healthCheckers.remove(cluster.name());
                cluster.onEndpointsChanged(null);
            }
        }
        for (String gone : new ArrayList<>(clusterMeters.keySet())) {
            if (clusters.get(gone) == null) {
                metrics.remove(clusterMeters.remove(gone));
                HealthChecker checker = healthCheckers.remove(gone);
                if (checker != null) {
                    checker.stop();
                }
            }
        }
    }

    /** The writer for a listener's access log (one per file, shared), or null when it has none. */
    private AccessLogWriter accessLog(ListenerConfig lc) {
        if (lc.accessLog() == null) {
            return null;
        }
        return accessLogs.computeIfAbsent(lc.accessLog().path(), p -> {
            AccessLogWriter w = new AccessLogWriter(Path.of(p), lc.accessLog().queueSize());
            metrics.bindAccessLog(p, w);
            return w;
        });
    }

    private void addListener(ListenerConfig lc) {
        if (lc.protocol() == ListenerProtocol.HTTP) {
            HttpProxy proxy = new HttpProxy(lc, clusters, pools);
            proxy.overload(overload);
            proxy.requestLog(accessLog(lc));
            proxy.tls(tls.listener(lc.name()));
            ServerBootstrap b = new ServerBootstrap().childHandler(proxy.childInitializer());
            HttpProxy.configureChild(b::childOption);
            Channel ch = bind("listener " + lc.name(), lc.address(), b);
            listeners.put(lc.name(), new Listener(null, proxy, ch, metrics.bindHttpListener(lc.name(), proxy.stats(), proxy)));
            log.info("listener " + lc.name() + " listening on " + describe(ch) + (lc.tls() != null ? " (https) -> " : " (http) -> ")
                    + (lc.routeConfig() == null ? "cluster " + lc.cluster() : lc.routeConfig().virtualHosts().size() + " virtual host(s)"));
            return;
        }
        TcpProxy proxy = new TcpProxy(lc, clusters, dialer, allocator);
        proxy.connectionLog(accessLog(lc));
        proxy.tls(tls.listener(lc.name()));
        proxy.upstreamTls(tls::cluster);
        ServerBootstrap b = new ServerBootstrap().childHandler(proxy.childInitializer());
        TcpProxy.configureChild(b::childOption);
        Channel ch = bind("listener " + lc.name(), lc.address(), b);
        if (overload.shedding()) {
            ch.config().setAutoRead(false);
        }
        listeners.put(lc.name(), new Listener(proxy, null, ch, metrics.bindListener(lc.name(), proxy.stats())));
        log.info("listener " + lc.name() + " listening on " + describe(ch) + (lc.tls() != null ? " (tls)" : "") + " -> cluster " + lc.cluster()
                + (tls.cluster(lc.cluster()) != null ? " (tls)" : ""));
    }

    /**
     * Stops a listener accepting; its open connections get the drain timeout to finish on their
     * own, then are closed.
     */
    private void removeListener(String name) {
        Listener l = listeners.remove(name);
        l.channel().close().awaitUninterruptibly();
        metrics.remove(l.meters());
        if (l.http() != null) {
            l.http().drain(config.server().drainTimeout());
        }
        eventLoops.schedule(() -> l.closeConnections(), config.server().drainTimeout().toNanos(), TimeUnit.NANOSECONDS);
        log.info("listener " + name + " removed; its " + l.connections().size() + " open connection(s) drain");
    }

    /**
     * Applies a new config to the running proxy and records it as the next version. Clusters are
     * updated in place (endpoints that survive keep their state; see ClusterManager), listeners
     * added, removed (draining) or updated for new connections; a listener whose address changed
     * is replaced. The server section and the admin address only change at the next start, and
     * the result says so. On failure (e.g. a new address that cannot be bound) the listeners
     * already handled keep their new state and the error says which one failed.
     */
    public ConfigVersions.Entry apply(ProxyConfig next, String source) {
        XdsResources dyn = dynamic;
        return apply(merge(next, dyn), source, next, dyn);
    }

    /**
     * @param fromFile the new static config when the change comes from the file, null when it comes from xDS
     * @param dyn the dynamic resources merged into {@code next}
     */
    private synchronized ConfigVersions.Entry apply(ProxyConfig next, String source, ProxyConfig fromFile, XdsResources dyn) {
        if (readiness == AdminServer.Readiness.DRAINING) {
            throw new IllegalStateException("draining: no config is applied any more");
        }
        long started = System.nanoTime();
        List<dev.sidecar.config.ConfigError> errors = new ArrayList<>(withoutMissingClustersOfDynamicListeners(next, next.validate(), dyn));
        errors.addAll(transportErrors(next));
        if (!errors.isEmpty()) {
            throw new dev.sidecar.config.ConfigException(errors);
        }
        ProxyConfig before = config;
        ConfigVersions.Changes changes = ConfigVersions.Changes.between(before, next);
        // first, so that a certificate file that cannot be used rejects the change before any of it runs
        TlsSections.Prepared nextTls = tls.prepare(next);
        clusters.update(next.clusters());
        syncClusters();
        tls.publish(nextTls);
        Map<String, ListenerConfig> wanted = new LinkedHashMap<>();
        next.listeners().forEach(lc -> wanted.put(lc.name(), lc));
        for (String name : new ArrayList<>(listeners.keySet())) {
            ListenerConfig lc = wanted.get(name);
            Listener l = listeners.get(name);
            if (lc == null || !lc.address().equals(l.config().address()) || lc.protocol() != l.config().protocol()) {
                removeListener(name);
            } else if (l.tcp() != null) {
                l.tcp().update(lc);
                l.tcp().connectionLog(accessLog(lc));
                l.tcp().tls(tls.listener(lc.name()));
            } else {
                l.http().update(lc);
                l.http().requestLog(accessLog(lc));
                l.http().tls(tls.listener(lc.name()));
            }
        }
        config = next.withServer(before.server()).withAdmin(before.admin()).withControlPlane(before.controlPlane());
        if (fromFile != null) {
            staticConfig = fromFile.withServer(before.server()).withAdmin(before.admin()).withControlPlane(before.controlPlane());
        }
        for (ListenerConfig lc : next.listeners()) {
            if (!listeners.containsKey(lc.name())) {
                addListener(lc);
            }
        }
        ConfigVersions.Entry entry = versions.record(config, source, changes);
        log.info("config version " + entry.version() + " applied from " + source + " in "
                + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started) + " ms: " + changes);
        return entry;
    }

    ConfigVersions versions() {
        return versions;
    }

    @Override
    public List<ConfigVersions.Entry> configVersions() {
        return versions.all();
    }

    @Override
    public java.util.Optional<ConfigVersions.Entry> rollback(int version) {
        // the static part of that version; dynamic resources stay as the control plane last sent them
        XdsResources now = dynamic;
        java.util.Set<String> dynListeners = new java.util.HashSet<>();
        now.listeners().forEach(l -> dynListeners.add(l.name()));
        java.util.Set<String> dynClusters = new java.util.HashSet<>();
        now.clusters().forEach(c -> dynClusters.add(c.name()));
        return versions.find(version).map(e -> apply(e.config().withResources(
                e.config().listeners().stream().filter(l -> !dynListeners.contains(l.name())).toList(),
                e.config().clusters().stream().filter(c -> !dynClusters.contains(c.name())).toList()), "rollback to version " + version));
    }

    /** Where {@link #reload()} reads the config from: set by the command that started the proxy. */
    public void reloadFrom(java.util.function.Supplier<ProxyConfig> source, String description) {
        reloadSource = source;
        reloadDescription = description;
    }

    @Override
    public ConfigVersions.Entry reload() {
        java.util.function.Supplier<ProxyConfig> source = reloadSource;
        if (source == null) {
            throw new UnsupportedOperationException("this proxy was not started from a config file; nothing to reload");
        }
        return apply(source.get(), reloadDescription);
    }

    /** Binds {@code b} on the traffic loops and waits; a failure says what and why. */
    private Channel bind(String what, HostPort address, ServerBootstrap b) {
        return bind(what, address, b.group(eventLoops), transport);
    }

    /** Binds {@code b}, whose group runs {@code on}, and waits; a failure says what and why. */
    private Channel bind(String what, HostPort address, ServerBootstrap b, Transport on) {
        b.channelFactory(on.serverChannels())
                .option(ChannelOption.SO_BACKLOG, 4096)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.ALLOCATOR, allocator);
        on.configureChildren(b);
        ChannelFuture f = b.bind(address.host(), address.port()).awaitUninterruptibly();
        if (!f.isSuccess()) {
            Throwable cause = f.cause();
            String reason = cause instanceof BindException || String.valueOf(cause.getMessage()).contains("Address already in use")
                    ? "address in use or not available" : String.valueOf(cause.getMessage());
            throw new StartException(what + ": cannot listen on " + address + ": " + reason, cause);
        }
        AcceptFailures.install(what, f.channel());
        return f.channel();
    }

    private static String describe(Channel ch) {
        InetSocketAddress a = (InetSocketAddress) ch.localAddress();
        String host = a.getAddress().getHostAddress();
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + a.getPort();
    }

    // ---- the admin API's view ----

    @Override
    public AdminServer.Readiness readiness() {
        AdminServer.Readiness r = readiness;
        XdsClient client = xds;
        if (r == AdminServer.Readiness.READY && client != null && !client.status().initialized()) {
            // a control plane is configured: not ready before its first complete config (or the
            // cache file, or initial_fetch_timeout), or a balancer in front would send traffic
            // to listeners that do not exist yet
            return AdminServer.Readiness.STARTING;
        }
        return r == AdminServer.Readiness.READY && healthCheckFailed ? AdminServer.Readiness.FAILED : r;
    }

    @Override
    public String scrape() {
        return metrics.scrape();
    }

    @Override
    public void healthCheckFailed(boolean failed) {
        healthCheckFailed = failed;
        log.info(failed ? "admin: health check failed on request; /ready answers 503" : "admin: health check ok on request");
    }

    /** Sets what a drain request from the admin API does (the process's SIGTERM path). */
    public void onStopRequest(Runnable action) {
        stopRequest = action;
    }

    @Override
    public void requestDrain() {
        log.info("admin: drain requested");
        stopRequest.run();
    }

    @Override
    public Object clustersView() {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Cluster c : clusters.all()) {
            ClusterSnapshot snap = c.snapshot();
            List<Map<String, Object>> endpoints = new ArrayList<>();
            for (int i = 0; i < snap.endpoints().size(); i++) {
                Endpoint e = snap.endpoints().get(i);
                EndpointConfig ec = snap.config().endpoints().get(i);
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("address", e.address().toString());
                m.put("weight", ec.weight());
                m.put("priority", ec.priority());
                m.put("healthy", e.healthy());
                m.put("health_status", e.reported().configName());
                m.put("active_health", e.activeHealthy() ? "healthy" : "unhealthy");
                m.put("ejected", e.ejected());
                m.put("active_connections", e.activeConnections());
                m.put("active_requests", e.activeRequests());
                m.put("connections_total", e.connections());
                m.put("connect_failures_total", e.connectFailures());
                m.put("http_responses_total", e.httpResponses());
                m.put("http_errors_total", e.httpErrors());
                m.put("latency_counts", e.httpLatency().counts());
                endpoints.add(m);
            }
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", c.name());
            m.put("lb_policy", snap.config().lbPolicy().configName());
            m.put("healthy_endpoints", snap.healthyEndpoints());
            m.put("panic", snap.panic());
            m.put("active_connections", c.activeConnections());
            m.put("connect_failures_total", c.connectFailures());
            m.put("outlier_ejections_total", c.ejections());
            m.put("circuit_breaker_overflows_total", c.overflows());
            m.put("endpoints", endpoints);
            out.add(m);
        }
        return Map.of("clusters", out, "latency_bounds_us", dev.sidecar.upstream.LatencyHistogram.UPPER_MICROS);
    }

    @Override
    public synchronized Object listenersView() {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Listener l : listeners.values()) {
            ListenerConfig lc = l.config();
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", lc.name());
            m.put("address", l.channel().isOpen() ? describe(l.channel()) : lc.address().toString());
            m.put("accepting", l.channel().isOpen());
            m.put("protocol", lc.protocol().configName());
            if (l.tcp() != null) {
                TcpListenerStats st = l.tcp().stats();
                m.put("cluster", lc.cluster());
                m.put("active_connections", st.active());
                m.put("accepted_total", st.accepted());
                m.put("refused_total", st.refused());
                m.put("received_bytes_total", st.bytesIn());
                m.put("sent_bytes_total", st.bytesOut());
            } else {
                HttpListenerStats st = l.http().stats();
                if (lc.routeConfig() == null) {
                    m.put("cluster", lc.cluster());
                } else {
                    m.put("virtual_hosts", lc.routeConfig().virtualHosts().stream().map(v -> v.name()).toList());
                }
                m.put("active_connections", st.activeConnections());
                m.put("accepted_total", st.accepted());
                m.put("refused_total", st.refused());
                m.put("active_requests", st.activeRequests());
                m.put("requests_total", st.requests());
                m.put("responses_5xx_total", st.responses(5));
                m.put("retries_total", st.retries());
                m.put("timeouts_total", st.timeouts());
                m.put("received_bytes_total", st.bytesIn());
                m.put("sent_bytes_total", st.bytesOut());
                m.put("latency_counts", st.latency().counts());
            }
            out.add(m);
        }
        return Map.of("listeners", out, "latency_bounds_us", dev.sidecar.upstream.LatencyHistogram.UPPER_MICROS);
    }

    @Override
    public Object certificatesView() {
        return tls.view();
    }

    /**
     * Re-reads every TLS file now instead of at the next check; returns how many listeners and
     * clusters took new material.
     */
    public int checkCertificates() {
        return tls.checkNow();
    }

    @Override
    public Object configDump() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("version", Version.current());
        m.put("transport", transport.configName());
        m.put("workers", workers);
        m.put("static_config", staticConfig);
        XdsClient client = xds;
        if (client != null) {
            m.put("dynamic", xdsView(client));
        }
        return m;
    }

    /** The dynamic resources in force with their versions, the stream's state and the last rejection. */
    private Map<String, Object> xdsView(XdsClient client) {
        XdsResources res = dynamic;
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("control_plane", config.controlPlane().address().toString());
        m.put("connected", client.status().connected());
        m.put("last_update", client.status().lastUpdate() == null ? null : client.status().lastUpdate().toString());
        Map<String, String> versions = new LinkedHashMap<>();
        res.versions().forEach((type, v) -> versions.put(type.substring(type.lastIndexOf('.') + 1), v));
        m.put("versions", versions);
        m.put("resource_versions", res.resourceVersions());
        m.put("listeners", res.listeners());
        m.put("clusters", res.clusters());
        XdsStatus.Rejection r = client.status().lastRejection();
        if (r != null) {
            Map<String, Object> rej = new LinkedHashMap<>();
            rej.put("type", r.typeUrl().substring(r.typeUrl().lastIndexOf('.') + 1));
            rej.put("version", r.version());
            rej.put("nonce", r.nonce());
            rej.put("error_detail", r.detail());
            rej.put("at", r.at().toString());
            m.put("last_rejection", rej);
        } else {
            m.put("last_rejection", null);
        }
        return m;
    }

    /** The port a listener is bound to (the real one when the config said port 0). */
    public synchronized int listenerPort(String name) {
        Listener l = listeners.get(name);
        if (l == null) {
            throw new IllegalArgumentException("no listener named '" + name + "'");
        }
        return ((InetSocketAddress) l.channel().localAddress()).getPort();
    }

    public synchronized TcpListenerStats listenerStats(String name) {
        Listener l = listeners.get(name);
        if (l == null || l.tcp() == null) {
            throw new IllegalArgumentException("no tcp listener named '" + name + "'");
        }
        return l.tcp().stats();
    }

    public synchronized HttpListenerStats httpListenerStats(String name) {
        return httpListener(name).stats();
    }

    /** An HTTP listener's open client connections (the proxy's side of them). */
    synchronized ChannelGroup httpConnections(String name) {
        return httpListener(name).connections();
    }

    private HttpProxy httpListener(String name) {
        Listener l = listeners.get(name);
        if (l == null || l.http() == null) {
            throw new IllegalArgumentException("no http listener named '" + name + "'");
        }
        return l.http();
    }

    public int adminPort() {
        return ((InetSocketAddress) adminChannel.localAddress()).getPort();
    }

    public ProxyConfig config() {
        return config;
    }


    /** Open downstream connections over all listeners. */
    public synchronized int activeConnections() {
        return listeners.values().stream().mapToInt(l -> l.connections().size()).sum();
    }

    /** Downstream connections accepted so far by the listeners bound now. */
    public synchronized long acceptedConnections() {
        long n = 0;
        for (Listener l : listeners.values()) {
            n += l.tcp() != null ? l.tcp().stats().accepted() : l.http().stats().accepted();
        }
        return n;
    }

    public ClusterManager clusters() {
        return clusters;
    }

    /** Direct memory the proxy's buffer allocator holds now. */
    public long usedDirectMemory() {
        return allocator instanceof ByteBufAllocatorMetricProvider p ? p.metric().usedDirectMemory() : -1;
    }

    /**
     * Graceful shutdown, first half: /ready answers 503, the listeners stop accepting, and open
     * connections get up to {@code timeout} to finish on their own; those still open then are
     * closed. Returns the number of connections that had to be closed.
     */
    public int drain(Duration timeout) {
        List<ChannelFuture> unbinds = new ArrayList<>();
        synchronized (this) {
            // under the lock apply() takes, so no reload binds a listener after this point
            readiness = AdminServer.Readiness.DRAINING;
            for (Listener l : listeners.values()) {
                unbinds.add(l.channel().close());
                if (l.http() != null) {
                    l.http().drain(timeout);
                }
            }
        }
        unbinds.forEach(ChannelFuture::awaitUninterruptibly);
        int open = activeConnections();
        log.info("draining: listeners closed, " + open + " connection" + (open == 1 ? "" : "s") + " open, waiting up to "
                + timeout.toMillis() + " ms");
        long deadline = System.nanoTime() + timeout.toNanos();
        while (activeConnections() > 0 && System.nanoTime() - deadline < 0) {
            // The channel groups complete their own close futures only on close(); poll, gently.
            java.util.concurrent.locks.LockSupport.parkNanos(Math.min(TimeUnit.MILLISECONDS.toNanos(50), deadline - System.nanoTime()));
        }
        int left = activeConnections();
        List<Listener> all;
        synchronized (this) {
            all = new ArrayList<>(listeners.values());
        }
        for (Listener l : all) {
            l.closeConnections().awaitUninterruptibly();
        }
        log.info(left == 0 ? "drained" : "drain timeout: closed " + left + " connection" + (left == 1 ? "" : "s"));
        return left;
    }

    /**
     * Stops everything now (after {@link #drain}, nothing is left to cut off). Safe to call more
     * than once and from any thread.
     */
    @Override
    public void close() {
        // first, and outside the lock: the client's thread may be inside apply(), which takes it
        XdsClient client = xds;
        if (client != null) {
            client.close();
        }
        closeRest();
    }

    private synchronized void closeRest() {
        if (closed) {
            return;
        }
        metrics.remove(xdsMeters);
        overloadSampling.cancel(false);
        metrics.remove(overloadMeters);
        closed = true;
        readiness = AdminServer.Readiness.DRAINING;
        for (Listener l : listeners.values()) {
            l.channel().close().awaitUninterruptibly(2, TimeUnit.SECONDS);
            // awaited: a close still pending when the loops stop is never completed
            l.closeConnections().awaitUninterruptibly(2, TimeUnit.SECONDS);
            metrics.remove(l.meters());
        }
        healthCheckers.values().forEach(HealthChecker::stop);
        tls.close();
        pools.close();
        clusters.close();
        if (adminChannel != null) {
            adminChannel.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
        }
        // before the loops: the resolver's datagram channels must close (and release their
        // pending read buffers) on loops that still run
        dialer.resolver().close();
        eventLoops.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly();
        adminLoop.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly();
        // after the loops: the connections closed above have handed in their records by now
        accessLogs.values().forEach(AccessLogWriter::close);
    }

    /** The proxy could not start; the message says what and why. */
    public static final class StartException extends RuntimeException {
        StartException(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
