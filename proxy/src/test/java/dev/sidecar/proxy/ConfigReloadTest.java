package dev.sidecar.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sidecar.config.ConfigException;
import dev.sidecar.config.HostPort;
import dev.sidecar.testkit.Await;
import dev.sidecar.testkit.Closer;
import dev.sidecar.testkit.ProxyProcess;
import dev.sidecar.testkit.TcpUpstream;
import dev.sidecar.testkit.Traffic;
import dev.sidecar.upstream.Endpoint;
import java.io.IOException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Applying a new config to a running proxy: versions, live changes, rollback, reload, SIGHUP. */
class ConfigReloadTest {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private final Closer closer = new Closer();

    @AfterEach
    void tearDown() throws Exception {
        closer.close();
    }

    private <T extends AutoCloseable> T track(T resource) {
        return closer.add(resource);
    }

    private static String config(String listeners, String clusters) {
        return "server: { drain_timeout: 1s }\nadmin: { address: 127.0.0.1:0 }\nlisteners:\n" + listeners + "clusters:\n" + clusters;
    }

    private static HttpResponse<String> post(int port, String path) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static void echoOnce(int port, int v) throws IOException {
        try (Socket s = Traffic.connect(port)) {
            s.getOutputStream().write(v);
            assertEquals(v, s.getInputStream().read());
        }
    }

    @Test
    void listeners_and_clusters_change_live_and_survivors_keep_their_state() throws Exception {
        TcpUpstream a = track(TcpUpstream.echo());
        TcpUpstream b = track(TcpUpstream.echo());
        Sidecar proxy = track(Sidecar.start(ConfigLoader.parse(config(
                "  - { name: one, address: 127.0.0.1:0, cluster: c1 }\n",
                "  - { name: c1, endpoints: [{ address: " + a.address() + " }] }\n"))));
        int one = proxy.listenerPort("one");
        Socket open = track(Traffic.connect(one));
        open.getOutputStream().write(1);
        assertEquals(1, open.getInputStream().read());
        Endpoint ea = proxy.clusters().get("c1").endpoint(HostPort.parse(a.address()));

        // v2: listener "one" goes, "two" comes (on cluster c2); c1 gains endpoint b
        ConfigVersions.Entry v2 = proxy.apply(ConfigLoader.parse(config(
                "  - { name: two, address: 127.0.0.1:0, cluster: c2 }\n",
                "  - { name: c1, endpoints: [{ address: " + a.address() + " }, { address: " + b.address() + " }] }\n"
                        + "  - { name: c2, endpoints: [{ address: " + b.address() + " }] }\n")), "test");
        assertEquals(2, v2.version());
        assertEquals(List.of("two"), v2.changes().listenersAdded());
        assertEquals(List.of("one"), v2.changes().listenersRemoved());
        assertEquals(List.of("c2"), v2.changes().clustersAdded());
        assertEquals(List.of("c1"), v2.changes().clustersChanged());
        assertSame(ea, proxy.clusters().get("c1").endpoint(HostPort.parse(a.address())), "a survived with its state");
        assertEquals(1, ea.activeConnections());

        echoOnce(proxy.listenerPort("two"), 2);
        assertEquals(1, b.accepted());
        Await.until("listener one to stop accepting", () -> {
            try (Socket s = new Socket("127.0.0.1", one)) {
                return false;
            } catch (IOException e) {
                return true;
            }
        });
        open.getOutputStream().write(3);
        assertEquals(3, open.getInputStream().read(), "a removed listener's connection keeps working during its drain");
        Await.until("the drain (1 s) to close it", Duration.ofSeconds(10), () -> Traffic.closedByPeer(open));
        assertTrue(proxy.scrape().contains("sidecar_cluster_endpoints{cluster=\"c2\"} 1.0"));
        assertTrue(!proxy.scrape().contains("listener=\"one\""), "the removed listener's meters are gone");
    }

    @Test
    void rollback_reapplies_an_earlier_version_and_says_what_changed() throws Exception {
        TcpUpstream a = track(TcpUpstream.echo());
        Sidecar proxy = track(Sidecar.start(ConfigLoader.parse(config(
                "  - { name: one, address: 127.0.0.1:0, cluster: c1, max_connections: 5 }\n",
                "  - { name: c1, endpoints: [{ address: " + a.address() + " }] }\n"))));
        proxy.apply(ConfigLoader.parse(config(
                "  - { name: one, address: 127.0.0.1:0, cluster: c1, max_connections: 7 }\n",
                "  - { name: c1, lb_policy: random, endpoints: [{ address: " + a.address() + " }] }\n")), "test");
        assertEquals(7, proxy.config().listeners().get(0).maxConnections());

        HttpResponse<String> r = post(proxy.adminPort(), "/config/rollback?version=1");
        assertEquals(200, r.statusCode(), r.body());
        JsonNode body = JSON.readTree(r.body());
        assertEquals(3, body.get("version").asInt());
        assertEquals("rollback to version 1", body.get("source").asText());
        assertEquals("listeners changed: one; clusters changed: c1", body.get("summary").asText());
        assertEquals(5, proxy.config().listeners().get(0).maxConnections());
        echoOnce(proxy.listenerPort("one"), 4);

        JsonNode versions = JSON.readTree(HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + proxy.adminPort()
                + "/config/versions")).build(), HttpResponse.BodyHandlers.ofString()).body()).get("versions");
        assertEquals(3, versions.size());
        assertEquals("start", versions.get(0).get("source").asText());
        assertEquals(404, post(proxy.adminPort(), "/config/rollback?version=99").statusCode());
        assertEquals(400, post(proxy.adminPort(), "/config/rollback?version=x").statusCode());
    }

    @Test
    void a_bad_reload_changes_nothing_and_says_why() throws Exception {
        TcpUpstream a = track(TcpUpstream.echo());
        Path file = dir.resolve("c.yaml");
        String good = config("  - { name: one, address: 127.0.0.1:0, cluster: c1 }\n",
                "  - { name: c1, endpoints: [{ address: " + a.address() + " }] }\n");
        Files.writeString(file, good);
        Sidecar proxy = track(Sidecar.start(ConfigLoader.load(file)));
        proxy.reloadFrom(() -> ConfigLoader.load(file), "file " + file);

        Files.writeString(file, good.replace("cluster: c1 }", "cluster: nope }"));
        HttpResponse<String> r = post(proxy.adminPort(), "/config/reload");
        assertEquals(400, r.statusCode());
        assertTrue(r.body().contains("listeners[0].cluster: no cluster named 'nope'"), r.body());
        assertEquals(1, proxy.versions().all().size());
        echoOnce(proxy.listenerPort("one"), 5);

        assertThrows(ConfigException.class, proxy::reload);
        Files.writeString(file, good);
        assertEquals(200, post(proxy.adminPort(), "/config/reload").statusCode());
        assertEquals("no changes", proxy.versions().current().changes().toString());
    }

    @Test
    void an_admin_reload_that_adds_a_listener_works_with_one_event_loop() throws Exception {
        // One loop serves the admin request and would own the new listener: applying on that
        // loop would block on its own bind.
        TcpUpstream a = track(TcpUpstream.echo());
        Path file = dir.resolve("one.yaml");
        String base = "server: { workers: 1, drain_timeout: 1s }\nadmin: { address: 127.0.0.1:0 }\nlisteners:\n"
                + "  - { name: one, address: 127.0.0.1:0, cluster: c1 }\n%sclusters:\n  - { name: c1, endpoints: [{ address: "
                + a.address() + " }] }\n";
        Files.writeString(file, base.formatted(""));
        Sidecar proxy = track(Sidecar.start(ConfigLoader.load(file)));
        proxy.reloadFrom(() -> ConfigLoader.load(file), "file " + file);
        for (int i = 0; i < 5; i++) {
            String name = "extra" + i;
            Files.writeString(file, base.formatted("  - { name: " + name + ", address: 127.0.0.1:0, cluster: c1 }\n"));
            HttpResponse<String> r = post(proxy.adminPort(), "/config/reload");
            assertEquals(200, r.statusCode(), r.body());
            echoOnce(proxy.listenerPort(name), i);
        }
    }

    @Test
    void sighup_reloads_the_file() throws Exception {
        TcpUpstream a = track(TcpUpstream.echo());
        String first = config("  - { name: one, address: 127.0.0.1:0, cluster: c1 }\n",
                "  - { name: c1, endpoints: [{ address: " + a.address() + " }] }\n");
        ProxyProcess process = track(ProxyProcess.run(dir, first));
        Path file = Files.list(dir).filter(p -> p.toString().endsWith(".yaml")).findFirst().orElseThrow();
        Files.writeString(file, first.replace("clusters:\n", "  - { name: two, address: 127.0.0.1:0, cluster: c1 }\nclusters:\n"));
        Process kill = new ProcessBuilder("kill", "-HUP", Long.toString(process.pid())).start();
        assertEquals(0, kill.waitFor());
        Await.until("version 2 to be applied", () -> process.output().contains("config version 2 applied"));
        assertTrue(process.output().contains("listeners added: two"), process.output());
        echoOnce(process.listenerPort("two"), 6);
        echoOnce(process.listenerPort("one"), 7);
    }
}
