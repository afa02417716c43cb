package dev.sidecar.xds.client;

import static dev.sidecar.xds.translate.Translator.CLUSTER_TYPE;
import static dev.sidecar.xds.translate.Translator.ENDPOINT_TYPE;
import static dev.sidecar.xds.translate.Translator.LISTENER_TYPE;
import static dev.sidecar.xds.translate.Translator.ROUTE_TYPE;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import com.google.rpc.Status;
import dev.sidecar.config.ClusterConfig;
import dev.sidecar.config.ControlPlaneConfig;
import dev.sidecar.config.EndpointConfig;
import dev.sidecar.config.ListenerConfig;
import dev.sidecar.config.ListenerProtocol;
import dev.sidecar.config.RouteConfig;
import dev.sidecar.xds.translate.Refusal;
import dev.sidecar.xds.translate.Translator;
import dev.sidecar.xds.translate.Translator.TranslatedCluster;
import dev.sidecar.xds.translate.Translator.TranslatedListener;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import dev.sidecar.config.ControlPlaneConfig.ApiType;
import io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.grpc.ManagedChannel;
import io.grpc.okhttp.OkHttpChannelBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An xDS client: Envoy v3 aggregated discovery, state of the world, over one bidirectional gRPC
 * stream. Subscribes to every cluster and listener (wildcard), then to the endpoints of EDS
 * clusters and the route configurations HTTP listeners name.
 *
 * <p>Per the xDS protocol (envoyproxy.io, "xDS REST and gRPC protocol"): each response is ACKed
 * with its {@code version_info} and {@code response_nonce}; a response with a resource that
 * cannot be used is NACKed with the last accepted version and an {@code error_detail} naming
 * the resource and field. The valid resources of a NACKed response are applied; the invalid ones
 * keep their previous version. The NACK is sent after a short delay, so a control plane that
 * answers every NACK with the same bad resource cannot drive a hot loop.
 *
 * <p>Warming: an EDS cluster is published once its endpoints arrive or {@code
 * initial_fetch_timeout} passes (then with none); a listener once its RDS routes arrive, and not
 * before the clusters it names are warm. A listener or cluster that is already published keeps
 * its published version while a new one warms.
 *
 * <p>While the stream is down the last good resources stay in force (the proxy keeps serving);
 * it is re-opened with exponential backoff and jitter, and the first responses on the new stream
 * are authoritative again.
 *
 * <p>With {@code api_type: delta} the same four types travel on one incremental ADS stream
 * ({@code DeltaAggregatedResources}, Envoy's {@code DELTA_GRPC}): a response carries only the
 * resources that changed, each with its own version, and the names of those removed; the client
 * subscribes and unsubscribes EDS and RDS names as their lists change, answers every nonce with
 * an ACK or a NACK (with {@code error_detail}), and on a new stream tells the server what it holds
 * ({@code initial_resource_versions}). Delta for all four types rather than EDS alone beside a
 * state-of-the-world stream keeps one ordered stream, so the warming order (clusters before their
 * endpoints, listeners before their routes) holds as in the state of the world.
 *
 * <p>All state lives on one thread (a serial executor): plain maps, no locks. The {@link Sink}
 * is called on it.
 */
public final class XdsClient implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(XdsClient.class);

    /** Where published resources go. */
    public interface Sink {
        /**
         * Puts {@code resources} in force, or throws (a {@link RuntimeException} whose message says
         * why, e.g. a name that collides with a static resource): the response that produced
         * them is then NACKed with that message and the previous resources stay.
         */
        void apply(XdsResources resources);
    }

    /** Timing of the client; the defaults are Envoy's where Envoy has one. */
    public record Timing(Duration initialBackoff, Duration maxBackoff, Duration nackDelay) {
        public static final Timing DEFAULT = new Timing(Duration.ofMillis(500), Duration.ofSeconds(30), Duration.ofMillis(500));
    }

    /** What a listener serves when its routes did not come within initial_fetch_timeout: any host, no route (404). */
    private static final RouteConfig NO_ROUTES = new RouteConfig(List.of(new RouteConfig.VirtualHost("no-routes-yet", List.of("*"),
            List.of(), RouteConfig.HeaderMutations.NONE, null)));

    private static final List<String> ORDER = List.of(CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE);

    private final ControlPlaneConfig config;
    private final Sink sink;
    private final Timing timing;
    private final XdsStatus status = new XdsStatus();
    private final ScheduledExecutorService exec;
    private final ManagedChannel channel;
    private final Node node;

    // ---- state, touched only on exec ----
    private final Map<String, TypeState> types = new LinkedHashMap<>();
    private Map<String, TranslatedCluster> clusters = new LinkedHashMap<>();
    private Map<String, List<EndpointConfig>> assignments = new HashMap<>();
    private Map<String, TranslatedListener> listeners = new LinkedHashMap<>();
    private Map<String, RouteConfig> routes = new HashMap<>();
    private final Map<String, Map<String, String>> resourceVersions = new TreeMap<>();
    /**
     * The accepted resources as they came, by type URL and name: what the cache file keeps. Each
     * map is replaced, never changed in place, so a refused response can put the old ones back.
     */
    private Map<String, Map<String, Any>> raw = new HashMap<>();
    private boolean cdsAccepted;
    private boolean ldsAccepted;
    /** Whether the last publish had nothing warming: every cluster with endpoints, every listener with routes. */
    private boolean complete;
    /** EDS names whose initial fetch timed out: their clusters are published without endpoints. */
    private final Set<String> fetchTimedOut = new HashSet<>();
    private final Map<String, ScheduledFuture<?>> fetchTimers = new HashMap<>();
    /** RDS names whose initial fetch timed out: their listeners serve with no routes (404) until the routes arrive. */
    private final Set<String> routesTimedOut = new HashSet<>();
    private final Map<String, ScheduledFuture<?>> routeTimers = new HashMap<>();
    private final Map<String, ClusterConfig> publishedClusters = new LinkedHashMap<>();
    private final Map<String, ListenerConfig> publishedListeners = new LinkedHashMap<>();
    private XdsResources published = XdsResources.EMPTY;
    private StreamObserver<DiscoveryRequest> requests;
    private StreamObserver<DeltaDiscoveryRequest> deltaRequests;
    private final boolean delta;
    private int stream;
    private boolean streamHealthy;
    private Duration backoff;
    private boolean closed;

    private static final class TypeState {
        final String typeUrl;
        String version = "";
        String nonce = "";
        /** Subscribed names; CDS and LDS are wildcard (empty). */
        Set<String> names = new LinkedHashSet<>();
        ScheduledFuture<?> pendingNack;
        /** Delta: the names subscribed on this stream so far, to send only the difference. */
        Set<String> sentNames = new LinkedHashSet<>();
        /** Delta: no request of this type went out on this stream yet. */
        boolean firstOnStream = true;

        TypeState(String typeUrl) {
            this.typeUrl = typeUrl;
        }
    }

    public XdsClient(ControlPlaneConfig config, Sink sink, Timing timing) {
        this(config, sink, timing, null);
    }

    /** @param tls the socket factory for TLS to the control plane ({@code control_plane.tls}); null for cleartext */
    public XdsClient(ControlPlaneConfig config, Sink sink, Timing timing, javax.net.ssl.SSLSocketFactory tls) {
        this.config = config;
        this.sink = sink;
        this.timing = timing;
        this.backoff = timing.initialBackoff();
        this.delta = config.apiType() == ApiType.DELTA;
        ORDER.forEach(t -> types.put(t, new TypeState(t)));
        this.exec = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "sidecar-xds");
            t.setDaemon(true);
            return t;
        }) {
            @Override
            protected void afterExecute(Runnable task, Throwable thrown) {
                // a scheduled executor keeps what its task threw in the task's future, which no
                // caller reads for the stream's callbacks, connects, NACKs and timers: log it
                if (task instanceof Future<?> f && f.isDone() && !f.isCancelled()) {
                    try {
                        f.get();
                    } catch (ExecutionException e) {
                        log.error("xds: a task on the client's thread failed", e.getCause());
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
            }
        };
        OkHttpChannelBuilder channelBuilder = OkHttpChannelBuilder.forAddress(config.address().host(), config.address().port()).executor(exec);
        if (tls == null) {
            channelBuilder.usePlaintext();
        } else {
            // the trust manager checks the certificate's names (SAN matchers or the SNI name)
            channelBuilder.sslSocketFactory(tls).hostnameVerifier((host, session) -> true);
            if (config.tls().sni() != null) {
                channelBuilder.overrideAuthority(config.tls().sni() + ":" + config.address().port());
            }
        }
        this.channel = channelBuilder.build();
        Struct.Builder md = Struct.newBuilder();
        config.node().metadata().forEach((k, v) -> md.putFields(k, Value.newBuilder().setStringValue(v).build()));
        this.node = Node.newBuilder().setId(config.node().id()).setCluster(config.node().cluster()).setMetadata(md)
                .setUserAgentName("sidecar").build();
    }

    /**
     * Opens the stream; returns at once. With a {@code cache_file}, the resources it holds are put
     * in force first, so a proxy that starts while the control plane is unreachable serves its
     * last good config.
     */
    public void start() {
        exec.execute(() -> {
            loadCache();
            connect();
        });
        Duration timeout = config.initialFetchTimeout();
        if (!timeout.isZero()) {
            exec.schedule(() -> {
                if (!status.initialized()) {
                    log.warn("xds: no complete config from " + config.address() + " within initial_fetch_timeout " + timeout
                            + "; ready with what there is");
                    status.initialized(true);
                }
            }, timeout.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    public XdsStatus status() {
        return status;
    }

    /** What is published now (for tests and the admin API); read on the client's thread. */
    public XdsResources published() {
        try {
            return exec.submit(() -> published).get(5, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException("the xDS client did not answer", e);
        }
    }

    // ------------------------------------------------------------------ the stream

    private void connect() {
        if (closed) {
            return;
        }
        int id = ++stream;
        streamHealthy = false;
        log.info("xds: opening the ADS stream to " + config.address());
        var stub = AggregatedDiscoveryServiceGrpc.newStub(channel);
        if (delta) {
            deltaRequests = stub.deltaAggregatedResources(observer(id, (DeltaDiscoveryResponse r) -> onResponse(Update.of(r))));
        } else {
            requests = stub.streamAggregatedResources(observer(id, (DiscoveryResponse r) -> onResponse(Update.of(r))));
        }
        // CDS then LDS (wildcard), then whatever EDS and RDS names the kept state needs: with
        // the versions already held, so a control plane with nothing new need not resend
        for (String t : ORDER) {
            TypeState s = types.get(t);
            s.nonce = "";
            s.sentNames = new LinkedHashSet<>();
            s.firstOnStream = true;
            if (t.equals(CLUSTER_TYPE) || t.equals(LISTENER_TYPE) || !s.names.isEmpty()) {
                send(s, null);
            }
        }
        startFetchTimers(types.get(ENDPOINT_TYPE).names);
        startRouteTimers(types.get(ROUTE_TYPE).names);
    }

    private int stream() {
        return stream;
    }

    private boolean streamOpen() {
        return requests != null || deltaRequests != null;
    }

    /** The response side of stream {@code id}: responses, errors and the end go to the client's thread. */
    private <Q, R> ClientResponseObserver<Q, R> observer(int id, java.util.function.Consumer<R> onResponse) {
        return new ClientResponseObserver<>() {
            @Override
            public void beforeStart(ClientCallStreamObserver<Q> stream) {
                // The stream is up once the transport is: a control plane that already has the
                // versions this client holds (after a restart from the cache file) sends nothing,
                // and the stream must not look down for that.
                stream.setOnReadyHandler(() -> onClientThread(() -> {
                    if (id == stream() && !closed && !status.connected()) {
                        status.connected(true);
                        log.info("xds: stream to " + config.address() + " open");
                    }
                }));
            }

            @Override
            public void onNext(R r) {
                onClientThread(() -> {
                    if (id == stream) {
                        onResponse.accept(r);
                    }
                });
            }

            @Override
            public void onError(Throwable t) {
                onClientThread(() -> {
                    if (id == stream) {
                        onStreamEnd(io.grpc.Status.fromThrowable(t).toString());
                    }
                });
            }

            @Override
            public void onCompleted() {
                onClientThread(() -> {
                    if (id == stream) {
                        onStreamEnd("closed by the control plane");
                    }
                });
            }
        };
    }

    /** Runs {@code task} on the client's thread; after {@link #close()} the stream's last callbacks are dropped. */
    private void onClientThread(Runnable task) {
        try {
            exec.execute(task);
        } catch (java.util.concurrent.RejectedExecutionException closing) {
            // closed: nothing is left to update
        }
    }

    private void onStreamEnd(String why) {
        if (closed) {
            return;
        }
        requests = null;
        deltaRequests = null;
        status.connected(false);
        status.streamEnded(why);
        streamHealthy = false;
        types.values().forEach(s -> {
            if (s.pendingNack != null) {
                s.pendingNack.cancel(false);
                s.pendingNack = null;
            }
        });
        fetchTimers.values().forEach(f -> f.cancel(false));
        fetchTimers.clear();
        routeTimers.values().forEach(f -> f.cancel(false));
        routeTimers.clear();
        long delay = jittered(backoff);
        backoff = min(backoff.multipliedBy(2), timing.maxBackoff());
        log.warn("xds: stream to " + config.address() + " ended (" + why + "); keeping the last good config, retrying in "
                + delay + " ms");
        exec.schedule(this::connect, delay, TimeUnit.MILLISECONDS);
    }

    /** Full jitter over the upper half: [d/2, d], so retries never synchronise and never wait 0. */
    private static long jittered(Duration d) {
        long ms = Math.max(1, d.toMillis());
        return ms / 2 + ThreadLocalRandom.current().nextLong(ms - ms / 2 + 1);
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }

    private void send(TypeState s, String errorDetail) {
        if (delta) {
            sendDelta(s, "", errorDetail);
            return;
        }
        if (requests == null) {
            return;
        }
        DiscoveryRequest.Builder b = DiscoveryRequest.newBuilder().setNode(node).setTypeUrl(s.typeUrl).setVersionInfo(s.version)
                .setResponseNonce(s.nonce).addAllResourceNames(s.names);
        if (errorDetail != null) {
            // google.rpc.Code.INVALID_ARGUMENT
            b.setErrorDetail(Status.newBuilder().setCode(3).setMessage(errorDetail));
        }
        requests.onNext(b.build());
    }

    /**
     * A delta request of type {@code s}: answers {@code nonce} (an ACK, or a NACK with {@code
     * errorDetail}) and subscribes and unsubscribes the names that changed since the last request
     * on this stream; the first request on a stream also carries the versions held
     * ({@code initial_resource_versions}), so a server that honours them resends only what
     * changed while the stream was down. CDS and LDS are wildcard: their first request names
     * nothing. A request that would say nothing is not sent.
     */
    private void sendDelta(TypeState s, String nonce, String errorDetail) {
        if (deltaRequests == null) {
            return;
        }
        Set<String> subscribe = new LinkedHashSet<>(s.names);
        subscribe.removeAll(s.sentNames);
        Set<String> unsubscribe = new LinkedHashSet<>(s.sentNames);
        unsubscribe.removeAll(s.names);
        if (!s.firstOnStream && nonce.isEmpty() && errorDetail == null && subscribe.isEmpty() && unsubscribe.isEmpty()) {
            return;
        }
        DeltaDiscoveryRequest.Builder b = DeltaDiscoveryRequest.newBuilder().setNode(node).setTypeUrl(s.typeUrl)
                .setResponseNonce(nonce).addAllResourceNamesSubscribe(subscribe).addAllResourceNamesUnsubscribe(unsubscribe);
        if (s.firstOnStream) {
            b.putAllInitialResourceVersions(resourceVersions.getOrDefault(kind(s.typeUrl), Map.of()));
            s.firstOnStream = false;
        }
        if (errorDetail != null) {
            // google.rpc.Code.INVALID_ARGUMENT
            b.setErrorDetail(Status.newBuilder().setCode(3).setMessage(errorDetail));
        }
        s.sentNames = new LinkedHashSet<>(s.names);
        deltaRequests.onNext(b.build());
    }

    // ------------------------------------------------------------------ responses

    /**
     * One response of either variant, as the type handlers read it. In the state of the world
     * every resource has the response's version and nothing is removed by name; in delta each
     * resource has its own version and {@code removed} names the resources that are gone.
     */
    private record Update(String typeUrl, String version, String nonce, List<Any> resources, Map<String, String> versions,
                          List<String> removed, boolean delta) {
        static Update of(DiscoveryResponse r) {
            return new Update(r.getTypeUrl(), r.getVersionInfo(), r.getNonce(), r.getResourcesList(), Map.of(), List.of(), false);
        }

        static Update of(DeltaDiscoveryResponse r) {
            List<Any> resources = new ArrayList<>(r.getResourcesCount());
            Map<String, String> versions = new HashMap<>();
            for (io.envoyproxy.envoy.service.discovery.v3.Resource x : r.getResourcesList()) {
                resources.add(x.getResource());
                versions.put(x.getName(), x.getVersion());
            }
            return new Update(r.getTypeUrl(), r.getSystemVersionInfo(), r.getNonce(), resources, versions,
                    r.getRemovedResourcesList(), true);
        }

        /** The version that last changed resource {@code name}. */
        String versionOf(String name) {
            return versions.getOrDefault(name, version);
        }
    }

    private void onResponse(Update r) {
        long started = System.nanoTime();
        if (!streamHealthy) {
            streamHealthy = true;
            status.connected(true);
            backoff = timing.initialBackoff();
            log.info("xds: connected to " + config.address());
        }
        TypeState s = types.get(r.typeUrl());
        if (s == null) {
            log.warn("xds: ignoring a response of type " + r.typeUrl() + ", which was not asked for");
            return;
        }
        s.nonce = r.nonce();
        if (s.pendingNack != null && !delta) {
            // a newer response supersedes the one the NACK was for
            s.pendingNack.cancel(false);
            s.pendingNack = null;
        }
        // (in delta every nonce is answered once: a NACK still pending goes out for its own nonce)
        // the state before, to go back to when the sink refuses the result
        var oldClusters = clusters;
        var oldAssignments = assignments;
        var oldListeners = listeners;
        var oldRoutes = routes;
        var oldRaw = raw;
        raw = new HashMap<>(raw);
        List<String> errors = new ArrayList<>();
        String kind = kind(r.typeUrl());
        // counted on receipt, before the sink sees the result
        status.received(r.resources().size(), r.removed().size());
        Set<String> changed;
        Map<String, Map<String, String>> after;
        boolean translated = false;
        try {
            changed = switch (r.typeUrl()) {
                case CLUSTER_TYPE -> onClusters(r, errors);
                case ENDPOINT_TYPE -> onAssignments(r, errors);
                case LISTENER_TYPE -> onListeners(r, errors);
                default -> onRoutes(r, errors);
            };
            translated = true;
            // what this response makes the versions, so the resources published with it carry them
            after = resourceVersionsAfter(r, changed);
            publish(r.typeUrl(), errors.isEmpty() ? r.version() : null, after);
        } catch (RuntimeException | LinkageError e) {
            // the sink's refusal (a RuntimeException saying why), or a failure of the proxy's own (a
            // class missing from a broken build, a defect): either way none of the response takes
            // effect and the control plane hears why in the NACK, instead of waiting for an answer
            if (!translated || e instanceof LinkageError) {
                log.error("xds: failed on " + kind + " version " + r.version(), e);
            }
            clusters = oldClusters;
            assignments = oldAssignments;
            listeners = oldListeners;
            routes = oldRoutes;
            raw = oldRaw;
            changed = Set.of();
            after = resourceVersionsAfter(r, changed);
            errors.add(e instanceof LinkageError || e.getMessage() == null ? e.toString() : e.getMessage());
        }
        resourceVersions.put(kind, after.get(kind));
        if (errors.isEmpty()) {
            s.version = r.version();
            status.accept(r.typeUrl(), System.nanoTime());
            if (delta) {
                sendDelta(s, r.nonce(), null);
            } else {
                send(s, null);
            }
            cdsAccepted |= r.typeUrl().equals(CLUSTER_TYPE);
            ldsAccepted |= r.typeUrl().equals(LISTENER_TYPE);
            checkInitialized();
            log.info("xds: accepted " + kind + " version " + r.version() + " (" + r.resources().size() + " resources"
                    + (r.delta() ? ", " + r.removed().size() + " removed" : "") + ") in "
                    + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started) + " ms");
        } else {
            String detail = String.join("; ", errors);
            String nonce = r.nonce();
            status.reject(new XdsStatus.Rejection(r.typeUrl(), r.version(), nonce, detail, Instant.now()));
            log.warn("xds: rejected " + kind + " version " + r.version() + ": " + detail);
            ScheduledFuture<?>[] self = new ScheduledFuture<?>[1];
            self[0] = exec.schedule(() -> {
                if (s.pendingNack == self[0]) {
                    s.pendingNack = null;
                }
                if (delta) {
                    sendDelta(s, nonce, detail);
                } else {
                    send(s, detail);
                }
            }, timing.nackDelay().toMillis(), TimeUnit.MILLISECONDS);
            s.pendingNack = self[0];
        }
        subscribe();
        if (errors.isEmpty() || !changed.isEmpty()) {
            writeCache();
        }
    }

    /** The initial config is in force once clusters and listeners were accepted and nothing they name still warms. */
    private void checkInitialized() {
        if (cdsAccepted && ldsAccepted && complete && !status.initialized()) {
            log.info("xds: initial config in force");
            status.initialized(true);
        }
    }

    private static String kind(String typeUrl) {
        return switch (typeUrl) {
            case CLUSTER_TYPE -> "clusters";
            case ENDPOINT_TYPE -> "endpoints";
            case LISTENER_TYPE -> "listeners";
            default -> "routes";
        };
    }

    private Set<String> names(String typeUrl) {
        return switch (typeUrl) {
            case CLUSTER_TYPE -> clusters.keySet();
            case ENDPOINT_TYPE -> assignments.keySet();
            case LISTENER_TYPE -> listeners.keySet();
            default -> routes.keySet();
        };
    }

    /**
     * SotW for a wildcard type: the response holds every resource; one it leaves out is deleted.
     * Delta: the response holds the resources that changed, the others stay, and the removed ones go.
     */
    private Set<String> onClusters(Update r, List<String> errors) {
        Map<String, TranslatedCluster> next = r.delta() ? new LinkedHashMap<>(clusters) : new LinkedHashMap<>();
        Map<String, Any> rawBefore = raw.getOrDefault(CLUSTER_TYPE, Map.of());
        Map<String, Any> rawNext = r.delta() ? new LinkedHashMap<>(rawBefore) : new LinkedHashMap<>();
        Set<String> changed = new HashSet<>();
        Set<String> seen = new HashSet<>();
        removed(r, next, rawNext, changed);
        for (int i = 0; i < r.resources().size(); i++) {
            Cluster c;
            try {
                c = unpack(r.resources().get(i), Cluster.class);
            } catch (Refusal e) {
                errors.add("resources[" + i + "]: " + e.getMessage());
                continue;
            }
            try {
                TranslatedCluster t = Translator.cluster(c);
                next.put(c.getName(), t);
                if (!seen.add(c.getName())) {
                    throw new Refusal("cluster '" + c.getName() + "': sent twice in one response");
                }
                rawNext.put(c.getName(), r.resources().get(i));
                if (!t.equals(clusters.get(c.getName()))) {
                    changed.add(c.getName());
                }
            } catch (Refusal e) {
                errors.add(e.getMessage());
                TranslatedCluster previous = clusters.get(c.getName());
                if (previous != null) {
                    next.put(c.getName(), previous);
                    rawNext.put(c.getName(), rawBefore.get(c.getName()));
                }
            }
        }
        clusters = next;
        raw.put(CLUSTER_TYPE, rawNext);
        return changed;
    }

    /**
     * SotW for a named type: the response holds the resources that changed; the others stay.
     * Delta: likewise, and an assignment removed by name leaves its cluster without endpoints
     * (as Envoy does), not waiting for them again.
     */
    private Set<String> onAssignments(Update r, List<String> errors) {
        Map<String, List<EndpointConfig>> next = new HashMap<>(assignments);
        Map<String, Any> rawNext = new HashMap<>(raw.getOrDefault(ENDPOINT_TYPE, Map.of()));
        Set<String> changed = new HashSet<>();
        for (String name : r.removed()) {
            if (types.get(ENDPOINT_TYPE).names.contains(name)) {
                next.put(name, List.of());
                rawNext.remove(name);
                changed.add(name);
            }
        }
        for (int i = 0; i < r.resources().size(); i++) {
            try {
                ClusterLoadAssignment cla = unpack(r.resources().get(i), ClusterLoadAssignment.class);
                List<EndpointConfig> endpoints = Translator.endpoints(cla);
                if (!types.get(ENDPOINT_TYPE).names.contains(cla.getClusterName())) {
                    continue; // not (or no longer) asked for
                }
                next.put(cla.getClusterName(), endpoints);
                rawNext.put(cla.getClusterName(), r.resources().get(i));
                changed.add(cla.getClusterName());
                ScheduledFuture<?> timer = fetchTimers.remove(cla.getClusterName());
                if (timer != null) {
                    timer.cancel(false);
                }
            } catch (Refusal e) {
                errors.add(e.getMessage());
            }
        }
        assignments = next;
        raw.put(ENDPOINT_TYPE, rawNext);
        return changed;
    }

    /** As {@link #onClusters}. */
    private Set<String> onListeners(Update r, List<String> errors) {
        Map<String, TranslatedListener> next = r.delta() ? new LinkedHashMap<>(listeners) : new LinkedHashMap<>();
        Map<String, Any> rawBefore = raw.getOrDefault(LISTENER_TYPE, Map.of());
        Map<String, Any> rawNext = r.delta() ? new LinkedHashMap<>(rawBefore) : new LinkedHashMap<>();
        Set<String> changed = new HashSet<>();
        Set<String> seen = new HashSet<>();
        removed(r, next, rawNext, changed);
        for (int i = 0; i < r.resources().size(); i++) {
            Listener l;
            try {
                l = unpack(r.resources().get(i), Listener.class);
            } catch (Refusal e) {
                errors.add("resources[" + i + "]: " + e.getMessage());
                continue;
            }
            try {
                TranslatedListener t = Translator.listener(l);
                next.put(l.getName(), t);
                if (!seen.add(l.getName())) {
                    throw new Refusal("listener '" + l.getName() + "': sent twice in one response");
                }
                rawNext.put(l.getName(), r.resources().get(i));
                if (!t.equals(listeners.get(l.getName()))) {
                    changed.add(l.getName());
                }
            } catch (Refusal e) {
                errors.add(e.getMessage());
                TranslatedListener previous = listeners.get(l.getName());
                if (previous != null) {
                    next.put(l.getName(), previous);
                    rawNext.put(l.getName(), rawBefore.get(l.getName()));
                }
            }
        }
        listeners = next;
        raw.put(LISTENER_TYPE, rawNext);
        return changed;
    }

    /**
     * As {@link #onAssignments}; in delta a route configuration removed by name is gone: a
     * listener already serving keeps its routes, a new one waits for them.
     */
    private Set<String> onRoutes(Update r, List<String> errors) {
        Map<String, RouteConfig> next = new HashMap<>(routes);
        Map<String, Any> rawNext = new HashMap<>(raw.getOrDefault(ROUTE_TYPE, Map.of()));
        Set<String> changed = new HashSet<>();
        removed(r, next, rawNext, changed);
        for (int i = 0; i < r.resources().size(); i++) {
            try {
                RouteConfiguration rc = unpack(r.resources().get(i), RouteConfiguration.class);
                RouteConfig t = Translator.routeConfig(rc);
                if (!types.get(ROUTE_TYPE).names.contains(rc.getName())) {
                    continue;
                }
                next.put(rc.getName(), t);
                rawNext.put(rc.getName(), r.resources().get(i));
                changed.add(rc.getName());
                ScheduledFuture<?> timer = routeTimers.remove(rc.getName());
                if (timer != null) {
                    timer.cancel(false);
                }
            } catch (Refusal e) {
                errors.add(e.getMessage());
            }
        }
        routes = next;
        raw.put(ROUTE_TYPE, rawNext);
        return changed;
    }

    /** Delta: drops the resources the response names as removed. */
    private static void removed(Update r, Map<String, ?> next, Map<String, Any> rawNext, Set<String> changed) {
        for (String name : r.removed()) {
            if (next.remove(name) != null) {
                changed.add(name);
            }
            rawNext.remove(name);
        }
    }

    private static <T extends com.google.protobuf.Message> T unpack(Any any, Class<T> type) {
        try {
            return any.unpack(type);
        } catch (InvalidProtocolBufferException e) {
            throw new Refusal("a " + any.getTypeUrl() + " that cannot be read as " + type.getSimpleName() + ": " + e.getMessage());
        }
    }

    // ------------------------------------------------------------------ the cache file

    private static Map<String, Any> retained(Map<String, Any> m, Set<String> names) {
        Map<String, Any> out = new HashMap<>(m);
        out.keySet().retainAll(names);
        return out;
    }

    /**
     * Writes the accepted resources to {@code cache_file}: per type, one DiscoveryResponse
     * (length-delimited) with the accepted version and the resources as they came. Written to a
     * temporary file in the same directory and renamed over the old one, so a crash mid-write
     * leaves the previous cache whole. A failure is logged; it never affects what runs.
     */
    private void writeCache() {
        if (config.cacheFile() == null) {
            return;
        }
        java.nio.file.Path file = java.nio.file.Path.of(config.cacheFile()).toAbsolutePath();
        java.nio.file.Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (java.io.OutputStream out = new java.io.BufferedOutputStream(java.nio.file.Files.newOutputStream(tmp))) {
            for (String t : ORDER) {
                DiscoveryResponse.newBuilder().setTypeUrl(t).setVersionInfo(types.get(t).version)
                        .addAllResources(raw.getOrDefault(t, Map.of()).values()).build().writeDelimitedTo(out);
            }
        } catch (java.io.IOException | RuntimeException e) {
            log.warn("xds: cannot write the cache file " + file + ": " + e);
            return;
        }
        try {
            java.nio.file.Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                    java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (java.io.IOException | RuntimeException e) {
            log.warn("xds: cannot replace the cache file " + file + ": " + e);
        }
    }

    /**
     * Puts the resources of {@code cache_file} in force, as if the control plane had sent them,
     * before the stream opens. A missing file is the first start; a file that cannot be read, or
     * whose resources cannot be used, is logged and ignored: the proxy then starts without it.
     * The versions it held are sent on the new stream, as after a reconnect.
     */
    private void loadCache() {
        if (config.cacheFile() == null) {
            return;
        }
        java.nio.file.Path file = java.nio.file.Path.of(config.cacheFile());
        if (!java.nio.file.Files.exists(file)) {
            log.info("xds: no cache file " + file + " yet; it is written after the first accepted update");
            return;
        }
        List<DiscoveryResponse> cached = new ArrayList<>();
        try (java.io.InputStream in = new java.io.BufferedInputStream(java.nio.file.Files.newInputStream(file))) {
            DiscoveryResponse r;
            while ((r = DiscoveryResponse.parseDelimitedFrom(in)) != null) {
                if (!types.containsKey(r.getTypeUrl())) {
                    throw new java.io.IOException("a section of unknown type " + r.getTypeUrl());
                }
                cached.add(r);
            }
        } catch (java.io.IOException | RuntimeException e) {
            log.warn("xds: ignoring the cache file " + file + ", which cannot be read: " + e.getMessage());
            return;
        }
        cached.sort(java.util.Comparator.comparingInt(r -> ORDER.indexOf(r.getTypeUrl())));
        List<String> errors = new ArrayList<>();
        for (DiscoveryResponse r : cached) {
            raw = new HashMap<>(raw);
            Update u = Update.of(r);
            Set<String> names = switch (r.getTypeUrl()) {
                case CLUSTER_TYPE -> onClusters(u, errors);
                case ENDPOINT_TYPE -> onAssignments(u, errors);
                case LISTENER_TYPE -> onListeners(u, errors);
                default -> onRoutes(u, errors);
            };
            types.get(r.getTypeUrl()).version = r.getVersionInfo();
            Map<String, String> versions = resourceVersions.computeIfAbsent(kind(r.getTypeUrl()), k -> new TreeMap<>());
            names.forEach(n -> versions.put(n, r.getVersionInfo()));
            subscribe(); // no stream yet: only sets the EDS and RDS names the next section is read against
        }
        if (errors.isEmpty()) {
            try {
                publish();
            } catch (RuntimeException e) {
                errors.add(e.getMessage() == null ? e.toString() : e.getMessage());
            }
        }
        if (!errors.isEmpty()) {
            log.warn("xds: ignoring the cache file " + file + ", whose resources cannot be used: " + String.join("; ", errors));
            forget();
            return;
        }
        status.initialized(true);
        log.info("xds: loaded " + published.clusters().size() + " cluster(s) and " + published.listeners().size()
                + " listener(s) from the cache file " + file + " (" + kind(CLUSTER_TYPE) + " version " + types.get(CLUSTER_TYPE).version
                + ", " + kind(LISTENER_TYPE) + " version " + types.get(LISTENER_TYPE).version + ")");
    }

    /** Back to no dynamic resources (a cache that could not be used), before anything was published. */
    private void forget() {
        clusters = new LinkedHashMap<>();
        assignments = new HashMap<>();
        listeners = new LinkedHashMap<>();
        routes = new HashMap<>();
        raw = new HashMap<>();
        resourceVersions.clear();
        types.values().forEach(t -> {
            t.version = "";
            t.names = new LinkedHashSet<>();
        });
        published = XdsResources.EMPTY;
        publishedClusters.clear();
        publishedListeners.clear();
    }

    // ------------------------------------------------------------------ subscriptions and warming

    /** EDS for the EDS clusters, RDS for the route configs the HTTP listeners name; changed lists are re-requested. */
    private void subscribe() {
        Set<String> eds = new LinkedHashSet<>();
        clusters.values().forEach(c -> {
            if (c.eds()) {
                eds.add(c.edsName());
            }
        });
        Set<String> rds = new LinkedHashSet<>();
        listeners.values().forEach(l -> {
            if (l.rdsName() != null) {
                rds.add(l.rdsName());
            }
        });
        TypeState e = types.get(ENDPOINT_TYPE);
        if (!eds.equals(e.names)) {
            Set<String> added = new LinkedHashSet<>(eds);
            added.removeAll(e.names);
            e.names = eds;
            assignments.keySet().retainAll(eds);
            raw.computeIfPresent(ENDPOINT_TYPE, (t, m) -> retained(m, eds));
            fetchTimedOut.retainAll(eds);
            send(e, null);
            startFetchTimers(added);
        }
        TypeState rt = types.get(ROUTE_TYPE);
        if (!rds.equals(rt.names)) {
            Set<String> added = new LinkedHashSet<>(rds);
            added.removeAll(rt.names);
            rt.names = rds;
            routes.keySet().retainAll(rds);
            raw.computeIfPresent(ROUTE_TYPE, (t, m) -> retained(m, rds));
            routesTimedOut.retainAll(rds);
            send(rt, null);
            startRouteTimers(added);
        }
    }

    /**
     * The initial fetch timer of each EDS name starts only once the request is on a live stream,
     * so an outage never makes a cluster give up on endpoints it would have had.
     */
    private void startFetchTimers(Set<String> names) {
        if (!streamOpen() || config.initialFetchTimeout().isZero()) {
            return;
        }
        for (String name : names) {
            if (assignments.containsKey(name) || fetchTimedOut.contains(name) || fetchTimers.containsKey(name)) {
                continue;
            }
            fetchTimers.put(name, exec.schedule(() -> {
                fetchTimers.remove(name);
                if (!assignments.containsKey(name) && types.get(ENDPOINT_TYPE).names.contains(name)) {
                    log.warn("xds: no endpoints for '" + name + "' within initial_fetch_timeout " + config.initialFetchTimeout()
                            + "; its cluster is used without endpoints until they arrive");
                    fetchTimedOut.add(name);
                    try {
                        publish();
                        checkInitialized();
                    } catch (RuntimeException ex) {
                        log.warn("xds: the cluster of '" + name + "' cannot be used yet: " + ex.getMessage());
                    }
                }
            }, config.initialFetchTimeout().toMillis(), TimeUnit.MILLISECONDS));
        }
    }

    /**
     * As for EDS, a listener waiting for its RDS routes stops waiting after {@code
     * initial_fetch_timeout} (counted from the request on a live stream): as Envoy does, it is
     * then served with no routes, so every request gets 404 (no route), until they arrive.
     */
    private void startRouteTimers(Set<String> names) {
        if (!streamOpen() || config.initialFetchTimeout().isZero()) {
            return;
        }
        for (String name : names) {
            if (routes.containsKey(name) || routesTimedOut.contains(name) || routeTimers.containsKey(name)) {
                continue;
            }
            routeTimers.put(name, exec.schedule(() -> {
                routeTimers.remove(name);
                if (!routes.containsKey(name) && types.get(ROUTE_TYPE).names.contains(name)) {
                    log.warn("xds: no route configuration '" + name + "' within initial_fetch_timeout " + config.initialFetchTimeout()
                            + "; its listeners answer 404 until it arrives");
                    routesTimedOut.add(name);
                    try {
                        publish();
                        checkInitialized();
                    } catch (RuntimeException ex) {
                        log.warn("xds: the listeners of '" + name + "' cannot be used yet: " + ex.getMessage());
                    }
                }
            }, config.initialFetchTimeout().toMillis(), TimeUnit.MILLISECONDS));
        }
    }

    /** The per-resource versions once {@code r} is taken in, with {@code changed} its resources that took effect. */
    private Map<String, Map<String, String>> resourceVersionsAfter(Update r, Set<String> changed) {
        Map<String, Map<String, String>> all = new TreeMap<>(resourceVersions);
        Map<String, String> versions = new TreeMap<>(resourceVersions.getOrDefault(kind(r.typeUrl()), Map.of()));
        for (String name : changed) {
            versions.put(name, r.versionOf(name));
        }
        versions.keySet().retainAll(names(r.typeUrl()));
        r.removed().forEach(versions::remove); // an assignment removed stays (empty) but has no version to claim
        all.put(kind(r.typeUrl()), versions);
        return all;
    }

    /** Builds the warm resources and hands them to the sink when they changed. */
    private void publish() {
        publish(null, null, resourceVersions);
    }

    /**
     * As {@link #publish()}, while a response of {@code typeUrl} is taken in: the resources carry
     * the version it brings ({@code version}, null when it is NACKed) and {@code versionsByResource}.
     */
    private void publish(String typeUrl, String version, Map<String, Map<String, String>> versionsByResource) {
        Map<String, ClusterConfig> outClusters = new LinkedHashMap<>();
        Set<String> warming = new HashSet<>();
        for (TranslatedCluster c : clusters.values()) {
            if (!c.eds()) {
                outClusters.put(c.config().name(), c.config());
            } else if (assignments.containsKey(c.edsName()) || fetchTimedOut.contains(c.edsName())) {
                outClusters.put(c.config().name(), c.config().withEndpoints(assignments.getOrDefault(c.edsName(), List.of())));
            } else if (publishedClusters.containsKey(c.config().name())) {
                warming.add(c.config().name());
                outClusters.put(c.config().name(), publishedClusters.get(c.config().name()));
            } else {
                warming.add(c.config().name());
            }
        }
        Map<String, ListenerConfig> outListeners = new LinkedHashMap<>();
        boolean allListenersReady = true;
        for (TranslatedListener l : listeners.values()) {
            ListenerConfig lc = l.config();
            boolean ready = true;
            if (l.rdsName() != null) {
                RouteConfig rc = routes.get(l.rdsName());
                if (rc == null && routesTimedOut.contains(l.rdsName())) {
                    lc = lc.withRouteConfig(NO_ROUTES);
                } else if (rc == null) {
                    ready = false;
                } else {
                    lc = lc.withRouteConfig(rc);
                }
            }
            if (ready) {
                for (String cluster : clustersOf(lc)) {
                    if (warming.contains(cluster) && !outClusters.containsKey(cluster)) {
                        ready = false;
                    }
                }
            }
            if (ready) {
                outListeners.put(lc.name(), lc);
            } else {
                allListenersReady = false;
                if (publishedListeners.containsKey(lc.name())) {
                    outListeners.put(lc.name(), publishedListeners.get(lc.name()));
                }
            }
        }
        complete = warming.isEmpty() && allListenersReady;
        Map<String, String> versions = new LinkedHashMap<>();
        types.values().forEach(t -> versions.put(t.typeUrl, t.typeUrl.equals(typeUrl) && version != null ? version : t.version));
        XdsResources next = new XdsResources(List.copyOf(outClusters.values()), List.copyOf(outListeners.values()), versions,
                copy(versionsByResource));
        if (!next.sameResources(published)) {
            sink.apply(next);
        }
        published = next;
        publishedClusters.clear();
        publishedClusters.putAll(outClusters);
        publishedListeners.clear();
        publishedListeners.putAll(outListeners);
    }

    private static Map<String, Map<String, String>> copy(Map<String, Map<String, String>> m) {
        Map<String, Map<String, String>> out = new TreeMap<>();
        m.forEach((k, v) -> out.put(k, Map.copyOf(v)));
        return out;
    }

    private static Set<String> clustersOf(ListenerConfig lc) {
        Set<String> out = new HashSet<>();
        if (lc.protocol() == ListenerProtocol.TCP || lc.routeConfig() == null) {
            out.add(lc.cluster());
            return out;
        }
        for (RouteConfig.VirtualHost vh : lc.routeConfig().virtualHosts()) {
            for (RouteConfig.Route r : vh.routes()) {
                if (r.action() instanceof RouteConfig.Forward f) {
                    f.clusters().forEach(w -> out.add(w.name()));
                }
            }
        }
        return out;
    }

    @Override
    public void close() {
        if (exec.isShutdown()) {
            return; // closed before
        }
        exec.execute(() -> {
            closed = true;
            if (streamOpen()) {
                try {
                    if (requests != null) {
                        requests.onCompleted();
                    } else {
                        deltaRequests.onCompleted();
                    }
                } catch (RuntimeException ignored) {
                    // the stream is going away either way
                }
            }
            status.connected(false);
        });
        channel.shutdownNow();
        exec.shutdown();
        try {
            channel.awaitTermination(2, TimeUnit.SECONDS);
            exec.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        exec.shutdownNow();
    }
}
