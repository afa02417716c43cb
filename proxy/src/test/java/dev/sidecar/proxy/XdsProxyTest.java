package dev.sidecar.proxy;

import static dev.sidecar.testkit.EnvoyResources.edsCluster;
import static dev.sidecar.testkit.EnvoyResources.endpoints;
import static dev.sidecar.testkit.EnvoyResources.httpListener;
import static dev.sidecar.testkit.EnvoyResources.largeAssignment;
import static dev.sidecar.testkit.EnvoyResources.routes;
import static dev.sidecar.testkit.EnvoyResources.tcpListener;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sidecar.testkit.Await;
import dev.sidecar.testkit.Closer;
import dev.sidecar.testkit.HttpUpstream;
import dev.sidecar.testkit.TcpUpstream;
import dev.sidecar.testkit.Traffic;
import dev.sidecar.testkit.XdsServer;
import dev.sidecar.xds.translate.Translator;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import java.io.IOException;
import java.net.ConnectException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The proxy driven by a real xDS server (java-control-plane's SimpleCache and V3DiscoveryServer,
 * in process on loopback), with real traffic through it.
 */
class XdsProxyTest {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration LIMIT = Duration.ofSeconds(15);

    private final Closer closer = new Closer();

    @AfterEach
    void tearDown() throws Exception {
        closer.close();
    }

    private <T extends AutoCloseable> T track(T resource) {
        return closer.add(resource);
    }

    private Sidecar start(XdsServer xds, String staticPart, String controlPlaneSettings) {
        return track(Sidecar.start(bootstrap(xds, controlPlaneSettings, staticPart)));
    }

    private Sidecar start(XdsServer xds, String staticPart) {
        return track(Sidecar.start(bootstrap(xds, "initial_fetch_timeout: 5s", staticPart)));
    }

    private static dev.sidecar.config.ProxyConfig bootstrap(XdsServer xds, String controlPlaneSettings, String staticPart) {
        return ConfigLoader.parse("server: { drain_timeout: 1s }\nadmin: { address: 127.0.0.1:0 }\n"
                + "control_plane: { address: " + xds.address() + ", node: { id: test-node, cluster: test }, " + controlPlaneSettings + " }\n"
                + staticPart);
    }

    /** The value, or null when it throws: for conditions polled while the proxy may not answer yet. */
    private static <T> T quietly(java.util.concurrent.Callable<T> f) {
        try {
            return f.call();
        } catch (Exception e) {
            return null;
        }
    }

    private static int ready(Sidecar proxy) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + proxy.adminPort() + "/ready")).build(),
                HttpResponse.BodyHandlers.ofString()).statusCode();
    }

    private static boolean hasListener(Sidecar proxy, String name) {
        return proxy.config().listeners().stream().anyMatch(l -> l.name().equals(name));
    }

    private static String get(int port, String path) throws Exception {
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(),
                HttpResponse.BodyHandlers.ofString());
        return r.statusCode() + " " + r.headers().firstValue("x-upstream").orElse("-");
    }

    private static void echoOnce(int port, int v) throws IOException {
        try (Socket s = Traffic.connect(port)) {
            s.getOutputStream().write(v);
            assertEquals(v, s.getInputStream().read());
        }
    }

    private static JsonNode configDump(Sidecar proxy) throws Exception {
        return JSON.readTree(HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + proxy.adminPort() + "/config_dump")).build(),
                HttpResponse.BodyHandlers.ofString()).body());
    }

    private static boolean acked(DiscoveryRequest r, String type, String version) {
        return r.getTypeUrl().equals(type) && r.getVersionInfo().equals(version) && !r.hasErrorDetail() && !r.getResponseNonce().isEmpty();
    }

    /** Requests in a loop on one thread until stopped; counts what each upstream answered and every failure. */
    private static final class Load implements AutoCloseable {
        final AtomicInteger ok = new AtomicInteger();
        final AtomicInteger failed = new AtomicInteger();
        final AtomicReference<String> lastFailure = new AtomicReference<>();
        final AtomicBoolean stop = new AtomicBoolean();
        final Thread thread;

        Load(int port) {
            thread = new Thread(() -> {
                while (!stop.get()) {
                    try {
                        String r = get(port, "/");
                        if (r.startsWith("200 ")) {
                            ok.incrementAndGet();
                        } else {
                            failed.incrementAndGet();
                            lastFailure.set(r);
                        }
                    } catch (Exception e) {
                        failed.incrementAndGet();
                        lastFailure.set(e.toString());
                    }
                }
            }, "load");
            thread.start();
        }

        void awaitMore(int n) {
            int target = ok.get() + n;
            Await.until(n + " more requests", LIMIT, () -> ok.get() >= target);
        }

        @Override
        public void close() throws InterruptedException {
            stop.set(true);
            thread.join(10_000);
        }
    }

    @Test
    void starts_from_xds_only_and_traffic_flows() throws Exception {
        TcpUpstream echo = track(TcpUpstream.echo());
        HttpUpstream web = track(new HttpUpstream("web-a"));
        XdsServer xds = track(new XdsServer());
        xds.set("1", List.of(edsCluster("echo"), edsCluster("web")), List.of(endpoints("echo", echo.port()), endpoints("web", web.port())),
                List.of(tcpListener("tcp-in", "echo"), httpListener("http-in", "web-routes")), List.of(routes("web-routes", "web", null, null)));
        Sidecar proxy = start(xds, "");
        Await.until("the xDS listeners", LIMIT, () -> hasListener(proxy, "tcp-in") && hasListener(proxy, "http-in"));

        echoOnce(proxy.listenerPort("tcp-in"), 7);
        assertEquals("200 web-a", get(proxy.listenerPort("http-in"), "/"));
        for (String type : List.of(Translator.CLUSTER_TYPE, Translator.ENDPOINT_TYPE, Translator.LISTENER_TYPE, Translator.ROUTE_TYPE)) {
            xds.awaitRequest(r -> acked(r, type, "1"), LIMIT);
        }
        assertTrue(proxy.xds().status().connected());
        JsonNode dump = configDump(proxy);
        assertEquals("1", dump.at("/dynamic/versions/Cluster").asText());
        assertEquals("1", dump.at("/dynamic/resource_versions/listeners/tcp-in").asText());
        assertTrue(proxy.scrape().contains("sidecar_xds_connected 1.0"), proxy.scrape());
    }

    @Test
    void delta_xds_drives_the_proxy_and_an_endpoint_change_reaches_traffic_without_a_failed_request() throws Exception {
        HttpUpstream a = track(new HttpUpstream("a"));
        HttpUpstream b = track(new HttpUpstream("b"));
        XdsServer xds = track(new XdsServer());
        xds.set("1", List.of(edsCluster("app")), List.of(endpoints("app", a.port())), List.of(httpListener("in", "r")),
                List.of(routes("r", "app", null, null)));
        Sidecar proxy = start(xds, "", "initial_fetch_timeout: 5s, api_type: delta");
        Await.until("the listener", LIMIT, () -> hasListener(proxy, "in"));
        assertTrue(xds.requests().isEmpty(), "a state-of-the-world request in delta mode");
        try (Load load = new Load(proxy.listenerPort("in"))) {
            load.awaitMore(20);
            xds.set("2", List.of(edsCluster("app")), List.of(endpoints("app", a.port(), b.port())), List.of(httpListener("in", "r")),
                    List.of(routes("r", "app", null, null)));
            Await.until("requests on the added endpoint", LIMIT, () -> b.requestCount() > 5);
            xds.set("3", List.of(edsCluster("app")), List.of(endpoints("app", b.port())), List.of(httpListener("in", "r")),
                    List.of(routes("r", "app", null, null)));
            Await.until("the endpoint removed", LIMIT, () -> proxy.config().clusters().stream()
                    .anyMatch(c -> c.name().equals("app") && c.endpoints().size() == 1 && c.endpoints().get(0).address().port() == b.port()));
            load.awaitMore(1); // the one request that may have picked the old endpoint just before the update ends first
            int onA = a.requestCount();
            load.awaitMore(50);
            assertEquals(onA, a.requestCount(), "the removed endpoint got new requests");
            assertEquals(0, load.failed.get(), "failed requests, the last: " + load.lastFailure.get());
        }
        assertEquals(1, xds.deltaResponses().stream().filter(r -> r.getTypeUrl().equals(Translator.CLUSTER_TYPE)).count(),
                "the unchanged cluster was sent again");
    }

    @Test
    void a_listener_whose_routes_never_arrive_answers_404_after_initial_fetch_timeout_until_they_do() throws Exception {
        HttpUpstream web = track(new HttpUpstream("web"));
        XdsServer xds = track(new XdsServer());
        xds.set("1", List.of(edsCluster("web")), List.of(endpoints("web", web.port())), List.of(httpListener("in", "late-routes")),
                List.of());
        Sidecar proxy = start(xds, "", "initial_fetch_timeout: 300ms");
        xds.awaitRequest(r -> r.getTypeUrl().equals(Translator.ROUTE_TYPE) && r.getResourceNamesList().contains("late-routes"), LIMIT);
        Await.until("the listener, without its routes", LIMIT, () -> hasListener(proxy, "in"));
        assertEquals("404 -", get(proxy.listenerPort("in"), "/"));
        Await.until("ready", LIMIT, () -> Integer.valueOf(200).equals(quietly(() -> ready(proxy))));

        xds.set("2", List.of(edsCluster("web")), List.of(endpoints("web", web.port())), List.of(httpListener("in", "late-routes")),
                List.of(routes("late-routes", "web", null, null)));
        Await.until("the routes", LIMIT, () -> "200 web".equals(quietly(() -> get(proxy.listenerPort("in"), "/"))));
    }

    @Test
    void an_endpoint_added_gets_traffic_and_one_removed_drains_without_a_failed_request() throws Exception {
        HttpUpstream a = track(new HttpUpstream("a"));
        HttpUpstream b = track(new HttpUpstream("b"));
        XdsServer xds = track(new XdsServer());
        xds.set("1", List.of(edsCluster("app")), List.of(endpoints("app", a.port())), List.of(httpListener("in", "r")),
                List.of(routes("r", "app", null, null)));
        Sidecar proxy = start(xds, "");
        Await.until("the listener", LIMIT, () -> hasListener(proxy, "in"));
        try (Load load = new Load(proxy.listenerPort("in"))) {
            load.awaitMore(20);
            xds.set("2", List.of(edsCluster("app")), List.of(endpoints("app", a.port(), b.port())), List.of(httpListener("in", "r")),
                    List.of(routes("r", "app", null, null)));
            Await.until("requests on the added endpoint", LIMIT, () -> b.requestCount() > 5);
            xds.set("3", List.of(edsCluster("app")), List.of(endpoints("app", b.port())), List.of(httpListener("in", "r")),
                    List.of(routes("r", "app", null, null)));
            xds.awaitRequest(r -> acked(r, Translator.ENDPOINT_TYPE, "3"), LIMIT);
            assertEquals("3", configDump(proxy).at("/dynamic/versions/ClusterLoadAssignment").asText(),
                    "the dump shows the version just accepted, not the one before");
            load.awaitMore(1); // the one request that may have picked the old endpoint just before the update ends first
            int onA = a.requestCount();
            load.awaitMore(50);
            assertEquals(onA, a.requestCount(), "the removed endpoint got new requests");
            assertEquals(0, load.failed.get(), "failed requests, the last: " + load.lastFailure.get());
        }
    }

    @Test
    void a_listener_and_a_route_are_added_changed_and_removed_under_traffic() throws Exception {
        HttpUpstream a = track(new HttpUpstream("a"));
        HttpUpstream b = track(new HttpUpstream("b"));
        TcpUpstream echo = track(TcpUpstream.echo());
        XdsServer xds = track(new XdsServer());
        List<Cluster> clusters = List.of(edsCluster("a"), edsCluster("b"), edsCluster("echo"));
        var eps = List.of(endpoints("a", a.port()), endpoints("b", b.port()), endpoints("echo", echo.port()));
        xds.set("1", clusters, eps, List.of(httpListener("in", "r")), List.of(routes("r", "a", null, null)));
        Sidecar proxy = start(xds, "");
        Await.until("the listener", LIMIT, () -> hasListener(proxy, "in"));
        int port = proxy.listenerPort("in");
        try (Load load = new Load(port)) {
            load.awaitMore(10);
            // a route added: /b/ goes to b
            xds.set("2", clusters, eps, List.of(httpListener("in", "r")), List.of(routes("r", "a", "/b/", "b")));
            Await.until("the /b/ route", LIMIT, () -> {
                try {
                    return get(port, "/b/x").equals("200 b");
                } catch (Exception e) {
                    return false;
                }
            });
            // the route changed: everything to b
            xds.set("3", clusters, eps, List.of(httpListener("in", "r")), List.of(routes("r", "b", null, null)));
            Await.until("the default route moving to b", LIMIT, () -> {
                try {
                    return get(port, "/").equals("200 b");
                } catch (Exception e) {
                    return false;
                }
            });
            // the load thread may have one request in flight on the old table
            int onA = a.requestCount() + 1;
            // a listener added
            xds.set("4", clusters, eps, List.of(httpListener("in", "r"), tcpListener("tcp", "echo")), List.of(routes("r", "b", null, null)));
            Await.until("the added listener", LIMIT, () -> hasListener(proxy, "tcp"));
            int tcpPort = proxy.listenerPort("tcp");
            echoOnce(tcpPort, 5);
            // ... and removed
            xds.set("5", clusters, eps, List.of(httpListener("in", "r")), List.of(routes("r", "b", null, null)));
            Await.until("the listener removed", LIMIT, () -> !hasListener(proxy, "tcp"));
            assertThrows(ConnectException.class, () -> new Socket("127.0.0.1", tcpPort).close());
            load.awaitMore(20);
            assertTrue(a.requestCount() <= onA, "a kept getting requests after the route moved");
            assertEquals(0, load.failed.get(), "failed requests, the last: " + load.lastFailure.get());
        }
        assertEquals(port, proxy.listenerPort("in"), "the unchanged listener was rebound");
    }

    @Test
    void a_bad_resource_is_nacked_with_its_detail_and_the_previous_config_keeps_serving() throws Exception {
        HttpUpstream a = track(new HttpUpstream("a"));
        XdsServer xds = track(new XdsServer());
        xds.set("1", List.of(edsCluster("app")), List.of(endpoints("app", a.port())), List.of(httpListener("in", "r")),
                List.of(routes("r", "app", null, null)));
        Sidecar proxy = start(xds, "clusters:\n  - { name: static-one, endpoints: [{ address: 127.0.0.1:1 }] }\n");
        Await.until("the listener", LIMIT, () -> hasListener(proxy, "in"));
        int port = proxy.listenerPort("in");

        Cluster bad = edsCluster("app").toBuilder().setLbPolicy(Cluster.LbPolicy.CLUSTER_PROVIDED).build();
        xds.set("2", List.of(bad), List.of(endpoints("app", a.port())), List.of(httpListener("in", "r")), List.of(routes("r", "app", null, null)));
        DiscoveryRequest nack = xds.awaitRequest(r -> r.getTypeUrl().equals(Translator.CLUSTER_TYPE) && r.hasErrorDetail(), LIMIT);
        assertEquals("cluster 'app': lb_policy CLUSTER_PROVIDED is not supported", nack.getErrorDetail().getMessage());
        assertEquals("1", nack.getVersionInfo(), "a NACK carries the last accepted version");
        assertEquals("200 a", get(port, "/"));
        JsonNode dump = configDump(proxy);
        assertEquals("cluster 'app': lb_policy CLUSTER_PROVIDED is not supported", dump.at("/dynamic/last_rejection/error_detail").asText());
        assertEquals("2", dump.at("/dynamic/last_rejection/version").asText());
        assertTrue(proxy.scrape().contains("sidecar_xds_updates_rejected_total{type=\"Cluster\"}"), proxy.scrape());

        // a dynamic name that a static resource has is refused as well
        xds.set("3", List.of(edsCluster("app"), edsCluster("static-one")), List.of(endpoints("app", a.port()), endpoints("static-one", a.port())),
                List.of(httpListener("in", "r")), List.of(routes("r", "app", null, null)));
        DiscoveryRequest collision = xds.awaitRequest(r -> r.hasErrorDetail() && r.getErrorDetail().getMessage().contains("static-one"), LIMIT);
        assertEquals("cluster 'static-one': a static cluster has this name", collision.getErrorDetail().getMessage());
        assertEquals("200 a", get(port, "/"));

        // a good version replaces the rejection
        xds.set("4", List.of(edsCluster("app")), List.of(endpoints("app", a.port())), List.of(httpListener("in", "r")),
                List.of(routes("r", "app", null, null)));
        xds.awaitRequest(r -> acked(r, Translator.CLUSTER_TYPE, "4"), LIMIT);
        Await.until("the rejection cleared", LIMIT, () -> proxy.xds().status().lastRejection() == null);
    }

    @Test
    void traffic_continues_while_the_control_plane_is_away_and_the_proxy_resyncs_when_it_is_back() throws Exception {
        HttpUpstream a = track(new HttpUpstream("a"));
        HttpUpstream b = track(new HttpUpstream("b"));
        XdsServer xds = track(new XdsServer());
        xds.set("1", List.of(edsCluster("app")), List.of(endpoints("app", a.port())), List.of(httpListener("in", "r")),
                List.of(routes("r", "app", null, null)));
        Sidecar proxy = start(xds, "");
        Await.until("the listener", LIMIT, () -> hasListener(proxy, "in"));
        int port = proxy.listenerPort("in");
        try (Load load = new Load(port)) {
            load.awaitMore(10);
            xds.stop();
            Await.until("the stream seen down", LIMIT, () -> !proxy.xds().status().connected());
            assertTrue(proxy.scrape().contains("sidecar_xds_connected 0.0"));
            load.awaitMore(50);
            assertEquals("200 a", get(port, "/"));
            assertFalse(configDump(proxy).at("/dynamic/connected").asBoolean());

            xds.set("2", List.of(edsCluster("app")), List.of(endpoints("app", b.port())), List.of(httpListener("in", "r")),
                    List.of(routes("r", "app", null, null)));
            xds.restart();
            Await.until("the stream back", Duration.ofSeconds(30), () -> proxy.xds().status().connected());
            Await.until("traffic on the endpoint sent after the outage", LIMIT, () -> b.requestCount() > 5);
            load.awaitMore(10);
            assertEquals(0, load.failed.get(), "failed requests, the last: " + load.lastFailure.get());
        }
    }

    @Test
    void a_ten_thousand_endpoint_update_is_applied_while_traffic_flows_without_a_failed_request() throws Exception {
        HttpUpstream a = track(new HttpUpstream("a"));
        XdsServer xds = track(new XdsServer());
        xds.set("1", List.of(edsCluster("app")), List.of(endpoints("app", a.port())), List.of(httpListener("in", "r")),
                List.of(routes("r", "app", null, null)));
        Sidecar proxy = start(xds, "");
        Await.until("the listener", LIMIT, () -> hasListener(proxy, "in"));
        try (Load load = new Load(proxy.listenerPort("in"))) {
            load.awaitMore(20);
            xds.set("2", List.of(edsCluster("app")), List.of(largeAssignment("app", 10_000, 0, a.port())), List.of(httpListener("in", "r")),
                    List.of(routes("r", "app", null, null)));
            Await.until("10,001 endpoints in the cluster", LIMIT, () -> proxy.clusters().get("app").snapshot().endpoints().size() == 10_001);
            xds.awaitRequest(r -> acked(r, Translator.ENDPOINT_TYPE, "2"), LIMIT);
            assertEquals(1 + 10_000 / 3 + (10_000 % 3 > 0 ? 1 : 0), proxy.clusters().get("app").snapshot().healthyEndpoints());
            load.awaitMore(20);
            // a second large update that keeps all but 500 of them and adds 500 new ones
            xds.set("3", List.of(edsCluster("app")), List.of(largeAssignment("app", 10_000, 500, a.port())), List.of(httpListener("in", "r")),
                    List.of(routes("r", "app", null, null)));
            xds.awaitRequest(r -> acked(r, Translator.ENDPOINT_TYPE, "3"), LIMIT);
            assertTrue(proxy.clusters().get("app").snapshot().endpoints().stream().anyMatch(e -> e.address().host().equals("127.0.42.1")),
                    "the shifted set is in force");
            load.awaitMore(20);
            // and back to the one real endpoint
            xds.set("4", List.of(edsCluster("app")), List.of(endpoints("app", a.port())), List.of(httpListener("in", "r")),
                    List.of(routes("r", "app", null, null)));
            Await.until("one endpoint again", LIMIT, () -> proxy.clusters().get("app").snapshot().endpoints().size() == 1);
            load.awaitMore(20);
            assertEquals(0, load.failed.get(), "failed requests, the last: " + load.lastFailure.get());
        }
    }

    @Test
    void a_proxy_restarted_while_the_control_plane_is_away_serves_the_cached_config(@TempDir Path dir) throws Exception {
        HttpUpstream a = track(new HttpUpstream("a"));
        TcpUpstream echo = track(TcpUpstream.echo());
        XdsServer xds = track(new XdsServer());
        xds.set("7", List.of(edsCluster("app"), edsCluster("echo")), List.of(endpoints("app", a.port()), endpoints("echo", echo.port())),
                List.of(httpListener("in", "r"), tcpListener("tcp", "echo")), List.of(routes("r", "app", null, null)));
        Path cache = dir.resolve("xds.cache");
        String settings = "initial_fetch_timeout: 30s, cache_file: '" + cache + "'";
        Sidecar first = Sidecar.start(bootstrap(xds, settings, ""));
        try {
            Await.until("the listeners", LIMIT, () -> hasListener(first, "in") && hasListener(first, "tcp"));
            assertEquals("200 a", get(first.listenerPort("in"), "/"));
            xds.awaitRequest(r -> acked(r, Translator.ROUTE_TYPE, "7"), LIMIT);
        } finally {
            first.close();
        }
        assertTrue(Files.size(cache) > 0, "the cache file was written");
        assertFalse(Files.exists(dir.resolve("xds.cache.tmp")), "the temporary file was renamed");
        xds.stop();

        Sidecar second = track(Sidecar.start(bootstrap(xds, settings, "")));
        Await.until("the cached listeners", LIMIT, () -> hasListener(second, "in") && hasListener(second, "tcp"));
        Await.until("ready on the cached config with the control plane away", LIMIT,
                () -> Integer.valueOf(200).equals(quietly(() -> ready(second))));
        assertFalse(second.xds().status().connected());
        assertEquals("200 a", get(second.listenerPort("in"), "/"));
        echoOnce(second.listenerPort("tcp"), 9);
        assertEquals("7", configDump(second).at("/dynamic/versions/Cluster").asText());

        // the control plane back, still at the cached version: it has nothing to send, yet the stream is up
        xds.restart();
        Await.until("the stream back", Duration.ofSeconds(30), () -> second.xds().status().connected());
        assertEquals("200 a", get(second.listenerPort("in"), "/"));
        // and a newer version replaces the cached one
        HttpUpstream b = track(new HttpUpstream("b"));
        xds.set("8", List.of(edsCluster("app"), edsCluster("echo")), List.of(endpoints("app", b.port()), endpoints("echo", echo.port())),
                List.of(httpListener("in", "r"), tcpListener("tcp", "echo")), List.of(routes("r", "app", null, null)));
        Await.until("traffic on the endpoint of version 8", LIMIT, () -> "200 b".equals(quietly(() -> get(second.listenerPort("in"), "/"))));
    }

    @Test
    void a_corrupt_cache_file_is_ignored(@TempDir Path dir) throws Exception {
        HttpUpstream a = track(new HttpUpstream("a"));
        XdsServer xds = track(new XdsServer());
        xds.set("1", List.of(edsCluster("app")), List.of(endpoints("app", a.port())), List.of(httpListener("in", "r")),
                List.of(routes("r", "app", null, null)));
        Path cache = dir.resolve("xds.cache");
        Files.write(cache, new byte[] {0x7f, 0x01, 0x02, 0x03, (byte) 0xff, (byte) 0xff});
        Sidecar proxy = start(xds, "", "initial_fetch_timeout: 5s, cache_file: '" + cache + "'");
        Await.until("the listener from the control plane", LIMIT, () -> hasListener(proxy, "in"));
        assertEquals("200 a", get(proxy.listenerPort("in"), "/"));
        xds.awaitRequest(r -> acked(r, Translator.ROUTE_TYPE, "1"), LIMIT);
        // ... and replaced by a good one after the accepted updates
        Await.until("the cache rewritten", LIMIT, () -> java.util.Objects.requireNonNullElse(quietly(() -> Files.size(cache)), 0L) > 100);

        // unreadable contents with the control plane away: the proxy starts all the same, with its static part
        proxy.close();
        xds.stop();
        Files.write(cache, "not a cache".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        TcpUpstream echo = track(TcpUpstream.echo());
        Sidecar again = start(xds, "clusters:\n  - { name: s, endpoints: [{ address: " + echo.address() + " }] }\n"
                + "listeners:\n  - { name: static-in, address: 127.0.0.1:0, cluster: s }\n", "initial_fetch_timeout: 1s, cache_file: '" + cache + "'");
        echoOnce(again.listenerPort("static-in"), 3);
        assertFalse(hasListener(again, "in"));
        Await.until("ready after initial_fetch_timeout", LIMIT, () -> Integer.valueOf(200).equals(quietly(() -> ready(again))));
    }

    @Test
    void ready_waits_for_the_first_config_from_the_control_plane() throws Exception {
        HttpUpstream a = track(new HttpUpstream("a"));
        XdsServer xds = track(new XdsServer());
        xds.set("1", List.of(edsCluster("app")), List.of(endpoints("app", a.port())), List.of(httpListener("in", "r")),
                List.of(routes("r", "app", null, null)));
        xds.stop();
        Sidecar proxy = start(xds, "", "initial_fetch_timeout: 60s");
        assertEquals(503, ready(proxy), "ready before the control plane answered");
        xds.restart();
        Await.until("ready once the first config is in force", Duration.ofSeconds(30), () -> Integer.valueOf(200).equals(quietly(() -> ready(proxy))));
        assertTrue(hasListener(proxy, "in"), "ready only once the listener from the control plane is there");
        assertEquals("200 a", get(proxy.listenerPort("in"), "/"));
    }

    @Test
    void ready_after_initial_fetch_timeout_when_the_control_plane_never_answers() throws Exception {
        XdsServer xds = track(new XdsServer());
        xds.stop();
        Sidecar proxy = start(xds, "", "initial_fetch_timeout: 1s");
        assertEquals(503, ready(proxy));
        Await.until("ready after initial_fetch_timeout", LIMIT, () -> Integer.valueOf(200).equals(quietly(() -> ready(proxy))));
        assertFalse(proxy.xds().status().connected());
    }

    @Test
    void a_dynamic_listener_or_route_may_name_a_cluster_that_does_not_exist_yet() throws Exception {
        HttpUpstream a = track(new HttpUpstream("a"));
        TcpUpstream echo = track(TcpUpstream.echo());
        XdsServer xds = track(new XdsServer());
        // the route names 'later' and the tcp listener 'echo', neither of which the control plane has sent
        xds.set("1", List.of(edsCluster("app")), List.of(endpoints("app", a.port())), List.of(httpListener("in", "r"), tcpListener("tcp", "echo")),
                List.of(routes("r", "app", "/later/", "later")));
        Sidecar proxy = start(xds, "");
        Await.until("the listeners", LIMIT, () -> hasListener(proxy, "in") && hasListener(proxy, "tcp"));
        for (String type : List.of(Translator.CLUSTER_TYPE, Translator.LISTENER_TYPE, Translator.ROUTE_TYPE)) {
            xds.awaitRequest(r -> acked(r, type, "1"), LIMIT);
        }
        assertTrue(xds.requests().stream().noneMatch(DiscoveryRequest::hasErrorDetail), "nothing was NACKed");
        int port = proxy.listenerPort("in");
        assertEquals("200 a", get(port, "/"));
        HttpResponse<String> nc = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/later/x")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(503, nc.statusCode());
        assertTrue(nc.body().contains("cluster not found"), nc.body());
        // a tcp listener without its cluster refuses connections cleanly, and counts them
        int tcpPort = proxy.listenerPort("tcp");
        try (Socket s = Traffic.connect(tcpPort)) {
            s.setSoTimeout(5_000);
            assertEquals(-1, s.getInputStream().read(), "closed by the proxy");
        }
        Await.until("the refusal counted", LIMIT, () -> proxy.listenerStats("tcp").noCluster() == 1);
        assertTrue(proxy.scrape().contains("sidecar_listener_no_cluster_total{listener=\"tcp\"} 1.0"), proxy.scrape());

        // the clusters arrive: both listeners serve them, with no rebind
        xds.set("2", List.of(edsCluster("app"), edsCluster("later"), edsCluster("echo")),
                List.of(endpoints("app", a.port()), endpoints("later", a.port()), endpoints("echo", echo.port())),
                List.of(httpListener("in", "r"), tcpListener("tcp", "echo")), List.of(routes("r", "app", "/later/", "later")));
        Await.until("the route to 'later' served", LIMIT, () -> "200 a".equals(quietly(() -> get(port, "/later/x"))));
        Await.until("the tcp listener served", LIMIT, () -> quietly(() -> {
            echoOnce(tcpPort, 4);
            return true;
        }) != null);

        // and the cluster removed before the route that names it: accepted, 503 again
        xds.set("3", List.of(edsCluster("app"), edsCluster("echo")), List.of(endpoints("app", a.port()), endpoints("echo", echo.port())),
                List.of(httpListener("in", "r"), tcpListener("tcp", "echo")), List.of(routes("r", "app", "/later/", "later")));
        xds.awaitRequest(r -> acked(r, Translator.CLUSTER_TYPE, "3"), LIMIT);
        Await.until("503 for the removed cluster", LIMIT, () -> Integer.valueOf(503).equals(quietly(() -> HTTP.send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + port + "/later/x")).build(), HttpResponse.BodyHandlers.ofString()).statusCode())));
        assertEquals("200 a", get(port, "/"));

        // a static listener naming an unknown cluster is still refused: in a file, that is a typo
        dev.sidecar.config.ConfigException e = assertThrows(dev.sidecar.config.ConfigException.class, () -> proxy.apply(ConfigLoader.parse(
                "server: { drain_timeout: 1s }\nadmin: { address: 127.0.0.1:0 }\nlisteners:\n  - { name: typo, address: 127.0.0.1:0, cluster: ap }\n"),
                "test"));
        assertTrue(e.getMessage().contains("no cluster named 'ap'"), e.getMessage());
    }

    @Test
    void the_control_plane_can_be_reached_over_tls_and_a_certificate_it_does_not_trust_keeps_it_away(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        dev.sidecar.testkit.TestCertificates.Authority ca = dev.sidecar.testkit.TestCertificates.authority("control plane CA");
        dev.sidecar.testkit.TestCertificates.PemPair serverPem = ca.issue("xds").dns("xds.internal").ip("127.0.0.1").build()
                .write(dir, "xds", dev.sidecar.testkit.TestCertificates.KeyFormat.PKCS8);
        java.nio.file.Path caFile = ca.write(dir.resolve("ca.pem"));
        java.nio.file.Path otherCa = dev.sidecar.testkit.TestCertificates.authority("another CA").write(dir.resolve("other.pem"));
        HttpUpstream web = track(new HttpUpstream("web-a"));
        XdsServer xds = track(new XdsServer(new java.nio.file.Path[] {serverPem.cert(), serverPem.key()}));
        xds.set("1", List.of(edsCluster("web")), List.of(endpoints("web", web.port())), List.of(httpListener("http-in", "web-routes")),
                List.of(routes("web-routes", "web", null, null)));

        Sidecar proxy = start(xds, "", "tls: { sni: xds.internal, trusted_ca_file: " + caFile + ", match_subject_alt_names: [{ exact: xds.internal }] }");
        Await.until("the listener from the control plane over TLS", LIMIT, () -> hasListener(proxy, "http-in"));
        assertEquals("200 web-a", get(proxy.listenerPort("http-in"), "/"));
        assertTrue(proxy.xds().status().connected());

        Sidecar untrusting = start(xds, "listeners: [{ name: static-in, address: 127.0.0.1:0, cluster: s }]\n"
                + "clusters: [{ name: s, endpoints: [{ address: " + web.address() + " }] }]\n", "tls: { trusted_ca_file: " + otherCa + " }");
        assertTrue(untrusting.listenerPort("static-in") > 0, "the static part serves");
        Await.until("the untrusting proxy's stream to fail", LIMIT, () -> untrusting.xds().status().streamEnds() > 0);
        assertTrue(!untrusting.xds().status().connected(), "no stream to a control plane whose certificate is not trusted");
        assertTrue(untrusting.xds().status().lastStreamEnd().contains("UNAVAILABLE"), untrusting.xds().status().lastStreamEnd());
        assertTrue(!hasListener(untrusting, "http-in"));
    }
}
