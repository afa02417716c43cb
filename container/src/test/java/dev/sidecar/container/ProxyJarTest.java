package dev.sidecar.container;

import static dev.sidecar.testkit.EnvoyResources.edsCluster;
import static dev.sidecar.testkit.EnvoyResources.endpoints;
import static dev.sidecar.testkit.EnvoyResources.httpListener;
import static dev.sidecar.testkit.EnvoyResources.routes;
import static dev.sidecar.testkit.EnvoyResources.tcpListener;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Any;
import dev.sidecar.testkit.Await;
import dev.sidecar.testkit.Closer;
import dev.sidecar.testkit.HttpUpstream;
import dev.sidecar.testkit.ProxyProcess;
import dev.sidecar.testkit.TcpUpstream;
import dev.sidecar.testkit.TestCertificates;
import dev.sidecar.testkit.Traffic;
import dev.sidecar.testkit.XdsServer;
import dev.sidecar.xds.translate.Translator;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.DataSource;
import io.envoyproxy.envoy.config.core.v3.Http1ProtocolOptions;
import io.envoyproxy.envoy.config.core.v3.ProxyProtocolConfig;
import io.envoyproxy.envoy.config.core.v3.TransportSocket;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.listener.v3.ListenerFilter;
import io.envoyproxy.envoy.extensions.filters.listener.original_dst.v3.OriginalDst;
import io.envoyproxy.envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol;
import io.envoyproxy.envoy.extensions.transport_sockets.proxy_protocol.v3.ProxyProtocolUpstreamTransport;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CommonTlsContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.TlsCertificate;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext;
import io.envoyproxy.envoy.extensions.upstreams.http.v3.HttpProtocolOptions;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
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
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The packaged proxy, {@code proxy/target/sidecar.jar}, run as {@code java -jar}: the jar holds
 * only the classes of the Envoy and Google API protos that the proxy's code reaches (the rest are
 * left out when the jar is built), so this drives it with every kind of xDS resource and typed
 * config the proxy translates, from a real control plane, and sends traffic through what it built.
 * The proxy's own tests run on the full class path and would not see a class the jar lacks.
 *
 * <p>Needs the jar ({@code ./mvnw package}); skipped with the reason when it is missing, except in
 * CI, where the build has made it before this module's tests run.
 */
class ProxyJarTest {
    private static final Path JAR = Path.of("..", "proxy", "target", "sidecar.jar");
    private static final Duration LIMIT = Duration.ofSeconds(30);
    private static final List<String> TYPES = List.of(Translator.CLUSTER_TYPE, Translator.ENDPOINT_TYPE, Translator.LISTENER_TYPE,
            Translator.ROUTE_TYPE);

    private final Closer closer = new Closer();

    @TempDir
    Path dir;

    @AfterEach
    void tearDown() throws Exception {
        closer.close();
    }

    @Test
    void the_jar_takes_every_translated_xds_resource_and_proxies_through_them() throws Exception {
        if (!Files.isRegularFile(JAR)) {
            assertTrue(System.getenv("CI") == null, JAR + " is missing: the package phase makes it before this module's tests");
            Assumptions.abort(JAR + " is missing (./mvnw package makes it)");
        }
        TestCertificates.Authority ca = TestCertificates.authority("jar test CA");
        TestCertificates.PemPair server = ca.issue("web").ip("127.0.0.1").build().write(dir, "web", TestCertificates.KeyFormat.PKCS8);
        HttpUpstream web = closer.add(new HttpUpstream("web-a"));
        TcpUpstream echo = closer.add(TcpUpstream.echo());
        XdsServer xds = closer.add(new XdsServer());

        // clusters: EDS with HTTP/1.1 protocol options; TLS inside a PROXY protocol transport;
        // original destination
        Cluster webCluster = edsCluster("web").toBuilder()
                .putTypedExtensionProtocolOptions("envoy.extensions.upstreams.http.v3.HttpProtocolOptions", Any.pack(HttpProtocolOptions.newBuilder()
                        .setExplicitHttpConfig(HttpProtocolOptions.ExplicitHttpConfig.newBuilder()
                                .setHttpProtocolOptions(Http1ProtocolOptions.getDefaultInstance())).build()))
                .build();
        TransportSocket upstreamTls = TransportSocket.newBuilder().setName("envoy.transport_sockets.tls")
                .setTypedConfig(Any.pack(UpstreamTlsContext.newBuilder().setSni("api.internal").build())).build();
        Cluster secure = Cluster.newBuilder().setName("secure").setType(Cluster.DiscoveryType.STATIC)
                .setLoadAssignment(endpoints("secure", 9))
                .setTransportSocket(TransportSocket.newBuilder().setName("envoy.transport_sockets.upstream_proxy_protocol")
                        .setTypedConfig(Any.pack(ProxyProtocolUpstreamTransport.newBuilder()
                                .setConfig(ProxyProtocolConfig.newBuilder().setVersion(ProxyProtocolConfig.Version.V2))
                                .setTransportSocket(upstreamTls).build())))
                .build();
        Cluster passthrough = Cluster.newBuilder().setName("passthrough").setType(Cluster.DiscoveryType.ORIGINAL_DST)
                .setLbPolicy(Cluster.LbPolicy.CLUSTER_PROVIDED).build();

        // listeners: HTTP over RDS, the same behind TLS, TCP, and TCP behind the PROXY protocol and
        // original-destination listener filters
        Listener http = httpListener("http-in", "routes");
        Listener https = http.toBuilder().setName("https-in").setFilterChains(0, http.getFilterChains(0).toBuilder()
                .setTransportSocket(TransportSocket.newBuilder().setName("envoy.transport_sockets.tls")
                        .setTypedConfig(Any.pack(DownstreamTlsContext.newBuilder().setCommonTlsContext(CommonTlsContext.newBuilder()
                                .addTlsCertificates(TlsCertificate.newBuilder()
                                        .setCertificateChain(DataSource.newBuilder().setFilename(server.cert().toString()))
                                        .setPrivateKey(DataSource.newBuilder().setFilename(server.key().toString())))
                                .addAlpnProtocols("http/1.1")).build())))).build();
        Listener tcp = tcpListener("tcp-in", "echo");
        Listener out = tcpListener("out", "passthrough").toBuilder()
                .addListenerFilters(ListenerFilter.newBuilder().setName("envoy.filters.listener.proxy_protocol")
                        .setTypedConfig(Any.pack(ProxyProtocol.getDefaultInstance())))
                .addListenerFilters(ListenerFilter.newBuilder().setName("envoy.filters.listener.original_dst")
                        .setTypedConfig(Any.pack(OriginalDst.getDefaultInstance())))
                .build();
        xds.set("1", List.of(webCluster, edsCluster("echo"), secure, passthrough), List.of(endpoints("web", web.port()), endpoints("echo", echo.port())),
                List.of(http, https, tcp, out), List.of(routes("routes", "web", null, null)));

        ProxyProcess proxy = closer.add(ProxyProcess.runJar(JAR, dir, """
                server: { drain_timeout: 1s, workers: 1 }
                admin: { address: 127.0.0.1:0 }
                control_plane: { address: %s, node: { id: jar-test, cluster: test }, initial_fetch_timeout: 10s }
                """.formatted(xds.address())));

        for (String type : TYPES) {
            xds.awaitRequest(r -> r.getTypeUrl().equals(type) && r.getVersionInfo().equals("1") && !r.getResponseNonce().isEmpty(), LIMIT);
        }
        for (DiscoveryRequest r : xds.requests()) {
            assertTrue(!r.hasErrorDetail(), "the jar refused " + r.getTypeUrl() + ": " + r.getErrorDetail().getMessage() + "\n" + proxy.output());
        }
        Await.until("the xDS listeners in the log", LIMIT,
                () -> List.of("http-in", "https-in", "tcp-in", "out").stream().allMatch(n -> proxy.output().contains("listener " + n + " listening on")));

        HttpClient plain = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        HttpResponse<String> viaHttp = plain.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + proxy.listenerPort("http-in") + "/")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, viaHttp.statusCode());
        assertEquals("web-a", viaHttp.headers().firstValue("x-upstream").orElse("-"));

        HttpClient tls = HttpClient.newBuilder().sslContext(ca.clientContext(null)).connectTimeout(Duration.ofSeconds(5)).build();
        HttpResponse<String> viaHttps = tls.send(HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + proxy.listenerPort("https-in") + "/"))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, viaHttps.statusCode());

        try (Socket s = Traffic.connect(proxy.listenerPort("tcp-in"))) {
            s.getOutputStream().write(42);
            assertEquals(42, s.getInputStream().read());
        }
    }
}
