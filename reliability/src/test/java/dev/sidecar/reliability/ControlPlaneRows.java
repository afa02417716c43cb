package dev.sidecar.reliability;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sidecar.testkit.Await;
import dev.sidecar.testkit.EnvoyResources;
import dev.sidecar.testkit.HttpUpstream;
import dev.sidecar.testkit.ProxyProcess;
import dev.sidecar.testkit.XdsServer;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.config.route.v3.RouteMatch;
import io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.envoyproxy.envoy.type.matcher.v3.RegexMatcher;
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.okhttp.OkHttpServerBuilder;
import io.grpc.stub.StreamObserver;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Control-plane faults against the real process: a malformed resource of each kind (one bad
 * field each) is NACKed with an error_detail and traffic meanwhile sees no error; the control
 * plane killed and restarted with a new version: the old config serves meanwhile and the new
 * one is picked up; a control plane that accepts the stream and never answers: the static
 * config serves and the proxy becomes ready after initial_fetch_timeout, as documented.
 */
final class ControlPlaneRows {
    private static final int RATE = 50;
    private static final String CDS = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
    private static final String EDS = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
    private static final String LDS = "type.googleapis.com/envoy.config.listener.v3.Listener";
    private static final String RDS = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";

    private ControlPlaneRows() {}

    static List<ScorecardTest.Row> run(Path dir) throws Exception {
        List<ScorecardTest.Row> rows = new ArrayList<>();
        try (HttpUpstream a = new HttpUpstream("A"); HttpUpstream b = new HttpUpstream("B"); XdsServer xds = new XdsServer()) {
            Cluster cluster = EnvoyResources.edsCluster("cp");
            Listener listener = EnvoyResources.httpListener("cp-web", "cp-routes");
            RouteConfiguration routes = XdsResources.routes("cp-routes", "cp");
            ClusterLoadAssignment toA = EnvoyResources.endpoints("cp", a.port());
            xds.set("1", List.of(cluster), List.of(toA), List.of(listener), List.of(routes));
            try (ProxyProcess proxy = Probes.start(dir, """
                    admin: { address: 127.0.0.1:0 }
                    control_plane: { address: %s, node: { id: scorecard } }
                    """.formatted(xds.address()), "listener cp-web listening on")) {
                String url = "http://127.0.0.1:" + proxy.listenerPort("cp-web") + "/cp";
                Await.until("the xDS route served", Duration.ofSeconds(20), () -> body(url).equals("A"));
                malformed(rows, proxy, xds, url, cluster, listener, routes, toA);
                outage(rows, proxy, xds, url, cluster, listener, routes, EnvoyResources.endpoints("cp", b.port()));
            }
            silent(rows, dir, a);
        }
        return rows;
    }

    private static void malformed(List<ScorecardTest.Row> rows, ProxyProcess proxy, XdsServer xds, String url, Cluster cluster,
                                  Listener listener, RouteConfiguration routes, ClusterLoadAssignment endpoints) throws Exception {
        Address badPort = Address.newBuilder().setSocketAddress(SocketAddress.newBuilder().setAddress("127.0.0.1").setPortValue(70000)).build();
        Object[][] cases = {
            {CDS, "Cluster connect_timeout -1 s", cluster.toBuilder().setConnectTimeout(com.google.protobuf.Duration.newBuilder().setSeconds(-1)).build(),
                    endpoints, listener, routes},
            {EDS, "ClusterLoadAssignment endpoint port 70000", cluster, endpoints.toBuilder().setEndpoints(0, endpoints.getEndpoints(0).toBuilder()
                    .setLbEndpoints(0, endpoints.getEndpoints(0).getLbEndpoints(0).toBuilder().setEndpoint(
                            io.envoyproxy.envoy.config.endpoint.v3.Endpoint.newBuilder().setAddress(badPort)))).build(), listener, routes},
            {LDS, "Listener address port 70000", cluster, endpoints, listener.toBuilder().setAddress(badPort).build(), routes},
            {RDS, "RouteConfiguration safe_regex \"(\"", cluster, endpoints, listener, routes.toBuilder().setVirtualHosts(0,
                    routes.getVirtualHosts(0).toBuilder().setRoutes(0, routes.getVirtualHosts(0).getRoutes(0).toBuilder().setMatch(
                            RouteMatch.newBuilder().setSafeRegex(RegexMatcher.newBuilder().setRegex("("))))).build()},
        };
        List<String> missing = new ArrayList<>();
        List<String> details = new ArrayList<>();
        int rejectionsInDump = 0;
        Probes.Load load;
        try (Probes.Traffic traffic = new Probes.Traffic(url, RATE, s -> s == 200)) {
            int version = 10;
            for (Object[] c : cases) {
                String type = (String) c[0];
                String v = "bad-" + version++;
                int seen = xds.requests().size();
                xds.set(v, List.of((Cluster) c[2]), List.of((ClusterLoadAssignment) c[3]), List.of((Listener) c[4]), List.of((RouteConfiguration) c[5]));
                DiscoveryRequest nack;
                try {
                    nack = xds.awaitRequest(r -> xds.requests().indexOf(r) >= seen && r.getTypeUrl().equals(type) && r.hasErrorDetail()
                            && !r.getErrorDetail().getMessage().isBlank(), Duration.ofSeconds(15));
                } catch (AssertionError e) {
                    missing.add(c[1] + ": no NACK");
                    continue;
                }
                details.add(c[1] + " -> " + nack.getErrorDetail().getMessage().lines().findFirst().orElse(""));
                JsonNode rej = Probes.admin(proxy, "/config_dump").path("dynamic").path("last_rejection");
                if (!rej.isMissingNode() && !rej.isNull() && !rej.path("error_detail").asText().isBlank()) {
                    rejectionsInDump++;
                }
            }
            // the good config again, and traffic through it
            xds.set(String.valueOf(version), List.of(cluster), List.of(endpoints), List.of(listener), List.of(routes));
            java.util.concurrent.locks.LockSupport.parkNanos(1_000_000_000L); // traffic on the restored version for a second
            load = traffic.stop();
        }
        details.forEach(d -> System.out.println("  xds NACK " + d));
        missing.forEach(m -> System.out.println("  xds " + m));
        rows.add(new ScorecardTest.Row("xDS malformed resources (CDS, EDS, LDS, RDS; a bad field each): NACKed with error_detail",
                (cases.length - missing.size()) + "/" + cases.length + " (last_rejection in /config_dump " + rejectionsInDump + ")", "all",
                missing.isEmpty() && rejectionsInDump == cases.length));
        rows.add(new ScorecardTest.Row("xDS malformed resources: data-plane errors meanwhile", load.describe(), "0",
                load.failed() == 0 && load.sent() > 0));
    }

    private static void outage(List<ScorecardTest.Row> rows, ProxyProcess proxy, XdsServer xds, String url, Cluster cluster,
                               Listener listener, RouteConfiguration routes, ClusterLoadAssignment toB) throws Exception {
        Probes.Load load;
        long pickedUpMs;
        try (Probes.Traffic traffic = new Probes.Traffic(url, RATE, s -> s == 200)) {
            xds.stop();
            java.util.concurrent.locks.LockSupport.parkNanos(3_000_000_000L); // three seconds without a control plane, traffic running
            boolean oldServed = body(url).equals("A");
            xds.set("after-restart", List.of(cluster), List.of(toB), List.of(listener), List.of(routes));
            xds.restart();
            long t = System.nanoTime();
            boolean picked;
            try {
                Await.until("the new version in force", Duration.ofSeconds(60), () -> body(url).equals("B"));
                picked = true;
            } catch (AssertionError e) {
                picked = false;
            }
            pickedUpMs = picked ? (System.nanoTime() - t) / 1_000_000 : -1;
            load = traffic.stop();
            rows.add(new ScorecardTest.Row("xDS server killed 3 s, restarted with a new version: old config served meanwhile, new one picked up",
                    (oldServed ? "old served" : "old NOT served") + ", " + (picked ? "new in force " + pickedUpMs + " ms after restart" : "new never seen"),
                    "both, within 60 s", oldServed && picked));
        }
        rows.add(new ScorecardTest.Row("xDS server killed and restarted: data-plane errors meanwhile", load.describe(), "0",
                load.failed() == 0 && load.sent() > 0));
    }

    /** An ADS server that takes the stream and every request on it, and never sends a response. */
    private static void silent(List<ScorecardTest.Row> rows, Path dir, HttpUpstream a) throws Exception {
        AtomicInteger requests = new AtomicInteger();
        Server server = OkHttpServerBuilder.forPort(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), InsecureServerCredentials.create())
                .addService(new AggregatedDiscoveryServiceGrpc.AggregatedDiscoveryServiceImplBase() {
                    @Override
                    public StreamObserver<DiscoveryRequest> streamAggregatedResources(StreamObserver<DiscoveryResponse> responses) {
                        return new StreamObserver<>() {
                            @Override
                            public void onNext(DiscoveryRequest r) {
                                requests.incrementAndGet();
                            }

                            @Override
                            public void onError(Throwable t) {}

                            @Override
                            public void onCompleted() {}
                        };
                    }
                })
                .build().start();
        try (ProxyProcess proxy = Probes.start(dir, """
                admin: { address: 127.0.0.1:0 }
                control_plane: { address: 127.0.0.1:%d, node: { id: scorecard }, initial_fetch_timeout: 3s }
                listeners:
                  - { name: static, address: 127.0.0.1:0, protocol: http, cluster: app }
                clusters:
                  - { name: app, endpoints: [{ address: %s }] }
                """.formatted(server.getPort(), a.address()), "listener static listening on")) {
            long start = System.nanoTime();
            String url = "http://127.0.0.1:" + proxy.listenerPort("static") + "/static";
            String ready = "http://127.0.0.1:" + proxy.adminPort() + "/ready";
            boolean servedAtOnce = body(url).equals("A");
            int readyEarly = Probes.get(ready).statusCode();
            boolean becameReady;
            try {
                Await.until("ready after initial_fetch_timeout", Duration.ofSeconds(30), () -> status(ready) == 200);
                becameReady = true;
            } catch (AssertionError e) {
                becameReady = false;
            }
            long readyMs = (System.nanoTime() - start) / 1_000_000;
            boolean stillServing = body(url).equals("A");
            rows.add(new ScorecardTest.Row("xDS server that takes the stream and never answers (initial_fetch_timeout 3 s): static config serves",
                    (servedAtOnce && stillServing ? "served" : "NOT served") + ", " + requests.get() + " requests on the stream", "served",
                    servedAtOnce && stillServing && requests.get() > 0));
            rows.add(new ScorecardTest.Row("xDS server that never answers: /ready 503 at first, then 200 once initial_fetch_timeout has passed",
                    readyEarly + ", then " + (becameReady ? "200 " + readyMs + " ms after the listener was up" : "never 200"),
                    "503, then 200 within 30 s", readyEarly == 503 && becameReady));
        } finally {
            server.shutdownNow();
        }
    }

    private static String body(String url) {
        try {
            var r = Probes.get(url);
            return r.statusCode() == 200 ? r.body().strip() : "status " + r.statusCode();
        } catch (Exception e) {
            return String.valueOf(e);
        }
    }

    private static int status(String url) {
        try {
            return Probes.get(url).statusCode();
        } catch (Exception e) {
            return -1;
        }
    }
}
