package dev.sidecar.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sidecar.testkit.Await;
import dev.sidecar.testkit.Closer;
import dev.sidecar.testkit.HttpUpstream;
import dev.sidecar.testkit.TestCertificates;
import dev.sidecar.testkit.TestCertificates.KeyFormat;
import dev.sidecar.testkit.TestCertificates.PemPair;
import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * HTTP listeners behind TLS and HTTP clusters reached over TLS, through the real proxy with
 * each engine: ALPN picks HTTP/2 or HTTP/1.1, mTLS identities go upstream in
 * x-forwarded-client-cert, upstream certificates are verified.
 */
class HttpsProxyTest {
    private static final TestCertificates.Authority CA = TestCertificates.authority("sidecar test CA");
    private static final TestCertificates.Authority OTHER_CA = TestCertificates.authority("some other CA");
    private static final String WEB_ID = "spiffe://cluster.local/ns/default/sa/web";

    private final Closer closer = new Closer();

    @TempDir
    Path dir;

    private Path ca;
    private PemPair server;

    @BeforeEach
    void certificates() {
        ca = CA.write(dir.resolve("ca.pem"));
        server = CA.issue("proxy").dns("localhost").ip("127.0.0.1").build().write(dir, "server", KeyFormat.PKCS8);
    }

    @AfterEach
    void tearDown() throws Exception {
        closer.close();
    }

    private Sidecar start(String engine, String listenerTls, String clusters) {
        return closer.add(Sidecar.start(ConfigLoader.parse("""
                server: { tls_engine: %s }
                admin: { address: 127.0.0.1:0 }
                listeners:
                  - name: web
                    address: 127.0.0.1:0
                    protocol: http
                    route_config:
                      virtual_hosts:
                        - name: all
                          domains: ["*"]
                          routes:
                            - { match: { prefix: /h2/ }, route: { cluster: h2, prefix_rewrite: / } }
                            - { match: { prefix: /bad/ }, route: { cluster: bad, prefix_rewrite: / } }
                            - { match: { prefix: / }, route: { cluster: app } }
                %s
                clusters:
                %s
                """.formatted(engine, listenerTls.isEmpty() ? "" : "    tls:\n" + listenerTls.indent(6), clusters))));
    }

    private String serverTls() {
        return """
                certificates: [{ cert_chain_file: %s, private_key_file: %s }]
                alpn: [h2, http/1.1]
                """.formatted(server.cert(), server.key());
    }

    /** curl to https://localhost:{@code port}{@code path} trusting the test CA; the body and HTTP version it printed. */
    private String curlHttps(int port, String path, String... options) throws Exception {
        List<String> args = new ArrayList<>(List.of("--max-time", "30", "--cacert", ca.toString(), "--resolve", "localhost:" + port + ":127.0.0.1",
                "-w", " %{http_version}"));
        args.addAll(List.of(options));
        args.add("https://localhost:" + port + path);
        CurlTest.Result r = CurlTest.curl(args.toArray(new String[0]));
        assertEquals(0, r.exit(), r.out());
        return r.out().trim();
    }

    private static HttpClient client(SSLContext ssl, HttpClient.Version version) {
        return HttpClient.newBuilder().sslContext(ssl).version(version).connectTimeout(Duration.ofSeconds(5)).build();
    }

    private static HttpResponse<String> get(HttpClient c, int port, String path, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(10));
        for (int i = 0; i < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        return c.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static String plainCluster(String name, HttpUpstream up) {
        return "  - { name: " + name + ", endpoints: [{ address: " + up.address() + " }] }\n";
    }

    @ParameterizedTest
    @ValueSource(strings = {"openssl", "jdk"})
    void https_listener_speaks_h2_and_http1_by_alpn_and_says_https_upstream(String engine) throws Exception {
        HttpUpstream up = closer.add(new HttpUpstream("a"));
        Sidecar p = start(engine, serverTls(), plainCluster("app", up) + plainCluster("h2", up) + plainCluster("bad", up));
        int port = p.listenerPort("web");
        SSLContext trusting = CA.clientContext(null);

        HttpResponse<String> h2 = get(client(trusting, HttpClient.Version.HTTP_2), port, "/one",
                "x-forwarded-client-cert", "By=forged;URI=spiffe://evil");
        assertEquals(200, h2.statusCode());
        assertEquals(HttpClient.Version.HTTP_2, h2.version(), "ALPN chose h2");
        HttpResponse<String> h1 = get(client(trusting, HttpClient.Version.HTTP_1_1), port, "/two");
        assertEquals(200, h1.statusCode());
        assertEquals(HttpClient.Version.HTTP_1_1, h1.version());

        HttpUpstream.Received first = up.received().get(0);
        assertEquals("https", first.header("x-forwarded-proto"));
        assertNull(first.header("x-forwarded-client-cert"), "a client's own x-forwarded-client-cert never goes upstream");
        assertEquals(1, p.httpListenerStats("web").h2Connections(), "one of the two connections was HTTP/2");

        SSLContext untrusting = OTHER_CA.clientContext(null);
        assertThrows(IOException.class, () -> get(client(untrusting, HttpClient.Version.HTTP_1_1), port, "/x"),
                "a client that does not trust the certificate cannot talk to the listener");
        String plain = HttpProxyTest.raw(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assertTrue(!plain.contains("HTTP/1.1 200"), "plaintext HTTP is not served on a TLS listener: " + plain);
    }

    @ParameterizedTest
    @ValueSource(strings = {"openssl", "jdk"})
    void mtls_identity_goes_upstream_in_x_forwarded_client_cert(String engine) throws Exception {
        HttpUpstream up = closer.add(new HttpUpstream("a"));
        String tls = serverTls() + """
                client_validation:
                  trusted_ca_file: %s
                  require_client_certificate: true
                  match_subject_alt_names: [{ prefix: "spiffe://cluster.local/" }]
                """.formatted(ca);
        Sidecar p = start(engine, tls, plainCluster("app", up) + plainCluster("h2", up) + plainCluster("bad", up));
        int port = p.listenerPort("web");
        TestCertificates.Issued web = CA.issue("web").uri(WEB_ID).build();
        HttpResponse<String> r = get(client(CA.clientContext(web), HttpClient.Version.HTTP_2), port, "/who",
                "x-forwarded-client-cert", "By=forged");
        assertEquals(200, r.statusCode());
        String xfcc = up.received().get(0).header("x-forwarded-client-cert");
        assertTrue(xfcc != null && xfcc.contains("URI=" + WEB_ID) && xfcc.contains("Hash="), xfcc);
        assertTrue(!xfcc.contains("forged"), xfcc);

        assertThrows(IOException.class, () -> get(client(CA.clientContext(null), HttpClient.Version.HTTP_1_1), port, "/x"),
                "no client certificate, no service");
        TestCertificates.Issued stranger = CA.issue("stranger").uri("spiffe://elsewhere/sa/x").build();
        assertThrows(IOException.class, () -> get(client(CA.clientContext(stranger), HttpClient.Version.HTTP_1_1), port, "/x"),
                "a SAN outside the allowed prefix is refused");
        assertEquals(1, up.requestCount());
    }

    @ParameterizedTest
    @ValueSource(strings = {"openssl", "jdk"})
    void http_clusters_reached_over_tls_are_verified_and_speak_h1_or_h2(String engine) throws Exception {
        TestCertificates.Issued api = CA.issue("api").dns("api.internal").build();
        HttpUpstream secure = closer.add(HttpUpstream.tls("secure", api.keys().getPrivate(), api.certificate()));
        String clusterTls = "{ sni: api.internal, trusted_ca_file: %s, match_subject_alt_names: [{ exact: api.internal }] }".formatted(ca);
        String clusters = """
                  - { name: app, upstream_protocol: http1, tls: %s, endpoints: [{ address: %s }] }
                  - name: h2
                    upstream_protocol: h2c
                    tls: { sni: api.internal, trusted_ca_file: %s, alpn: [h2] }
                    endpoints: [{ address: %s }]
                  - name: bad
                    tls: { sni: api.internal, trusted_ca_file: %s, match_subject_alt_names: [{ exact: other.internal }] }
                    endpoints: [{ address: %s }]
                """.formatted(clusterTls, secure.address(), ca, secure.address(), ca, secure.address());
        Sidecar p = start(engine, "", clusters);
        int port = p.listenerPort("web");
        HttpResponse<String> h1 = HttpProxyTest.get(port, "/hello");
        assertEquals(200, h1.statusCode());
        assertEquals("secure", h1.body());
        assertEquals("h1", h1.headers().firstValue("x-upstream-protocol").orElseThrow());
        HttpResponse<String> h2 = HttpProxyTest.get(port, "/h2/hello");
        assertEquals(200, h2.statusCode());
        assertEquals("h2", h2.headers().firstValue("x-upstream-protocol").orElseThrow(), "HTTP/2 over TLS to the upstream");
        HttpResponse<String> bad = HttpProxyTest.get(port, "/bad/hello");
        assertEquals(503, bad.statusCode(), "a certificate without the required SAN fails the connect");
        assertTrue(bad.body().contains("upstream connect error"), bad.body());
        assertEquals(2, secure.requestCount(), "nothing was sent over the refused connection");
        Await.until("the refused handshakes are counted",
                () -> p.scrape().lines().anyMatch(l -> l.startsWith("sidecar_cluster_tls_handshake_failures_total{cluster=\"bad\"}") && !l.endsWith(" 0.0")));
    }

    /** A client that comes back resumes its session, unless the listener says session_resumption: false. */
    @Test
    void a_returning_client_resumes_its_session_unless_session_resumption_is_off() throws Exception {
        HttpUpstream up = closer.add(new HttpUpstream("a"));
        String clusters = plainCluster("app", up) + plainCluster("h2", up) + plainCluster("bad", up);
        Sidecar on = start("openssl", serverTls(), clusters);
        // two certificates: SNI picks the context, and the handler it makes must not resume either
        PemPair other = CA.issue("other").dns("other.local").build().write(dir, "other", KeyFormat.PKCS8);
        Sidecar off = start("openssl", """
                certificates:
                  - { cert_chain_file: %s, private_key_file: %s }
                  - { cert_chain_file: %s, private_key_file: %s }
                session_resumption: false
                """.formatted(server.cert(), server.key(), other.cert(), other.key()), clusters);
        for (Sidecar p : List.of(on, off)) {
            SSLContext trusting = CA.clientContext(null); // one client session cache per proxy
            for (int i = 0; i < 3; i++) {
                // a new client each time, so a new connection and handshake
                assertEquals(200, get(client(trusting, HttpClient.Version.HTTP_1_1), p.listenerPort("web"), "/r" + i).statusCode());
            }
        }
        assertEquals(3, scraped(on, "sidecar_listener_tls_handshakes_total"));
        assertTrue(scraped(on, "sidecar_listener_tls_handshakes_resumed_total") >= 1, on.scrape());
        assertEquals(3, scraped(off, "sidecar_listener_tls_handshakes_total"));
        assertEquals(0, scraped(off, "sidecar_listener_tls_handshakes_resumed_total"), "every handshake was a full one");

        Sidecar.StartException jdk = assertThrows(Sidecar.StartException.class,
                () -> start("jdk", serverTls() + "session_resumption: false\n", clusters));
        assertTrue(jdk.getMessage().contains("listeners[0].tls.session_resumption: can be turned off only with the openssl engine"
                + " (server.tls_engine)"), jdk.getMessage());
    }

    /** The value of {@code name} for listener web in the proxy's Prometheus scrape. */
    private static double scraped(Sidecar p, String name) {
        String prefix = name + "{listener=\"web\"} ";
        return p.scrape().lines().filter(line -> line.startsWith(prefix)).mapToDouble(line -> Double.parseDouble(line.substring(prefix.length())))
                .findFirst().orElseThrow(() -> new AssertionError("no " + prefix + " in\n" + p.scrape()));
    }

    @ParameterizedTest
    @ValueSource(strings = {"openssl"})
    void curl_over_tls_with_http2_and_http1_and_openssl_s_client_alpn(String engine) throws Exception {
        boolean present = new File("/usr/bin/curl").canExecute();
        org.junit.jupiter.api.Assumptions.assumeTrue(present || System.getenv("CI") != null, "curl is not installed");
        HttpUpstream up = closer.add(new HttpUpstream("a"));
        Sidecar p = start(engine, serverTls(), plainCluster("app", up) + plainCluster("h2", up) + plainCluster("bad", up));
        for (String version : List.of("--http2", "--http1.1")) {
            assertEquals(version.equals("--http2") ? "a 2" : "a 1.1", curlHttps(p.listenerPort("web"), "/curl", version));
        }
        if (new File("/usr/bin/openssl").canExecute()) {
            for (String alpn : List.of("h2", "http/1.1")) {
                Process proc = new ProcessBuilder("openssl", "s_client", "-connect", "127.0.0.1:" + p.listenerPort("web"),
                        "-CAfile", ca.toString(), "-alpn", alpn, "-verify_return_error").redirectErrorStream(true).start();
                proc.getOutputStream().close(); // EOF on stdin: s_client ends after the handshake
                String out = new String(proc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                assertTrue(proc.waitFor(30, TimeUnit.SECONDS));
                assertTrue(out.contains("ALPN protocol: " + alpn), out);
                assertTrue(out.contains("Verify return code: 0 (ok)"), out);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"openssl", "jdk"})
    void certificates_rotated_under_load_fail_no_handshake_and_new_connections_see_the_new_serial(String engine) throws Exception {
        HttpUpstream up = closer.add(new HttpUpstream("a"));
        // a Kubernetes secret volume: tls.crt -> ..data/tls.crt, ..data -> ..v1; rotation swaps ..data
        Path volume = java.nio.file.Files.createDirectory(dir.resolve("secret"));
        TestCertificates.Issued v1 = CA.issue("proxy").ip("127.0.0.1").build();
        TestCertificates.Issued v2 = CA.issue("proxy").ip("127.0.0.1").build();
        for (String version : List.of("..v1", "..v2")) {
            Path d = java.nio.file.Files.createDirectory(volume.resolve(version));
            TestCertificates.Issued c = version.equals("..v1") ? v1 : v2;
            c.writeChain(d.resolve("tls.crt"));
            c.writeKey(d.resolve("tls.key"), KeyFormat.PKCS8);
        }
        java.nio.file.Files.createSymbolicLink(volume.resolve("..data"), Path.of("..v1"));
        java.nio.file.Files.createSymbolicLink(volume.resolve("tls.crt"), Path.of("..data/tls.crt"));
        java.nio.file.Files.createSymbolicLink(volume.resolve("tls.key"), Path.of("..data/tls.key"));
        Sidecar p = start(engine, "certificates: [{ cert_chain_file: %s, private_key_file: %s }]\n"
                .formatted(volume.resolve("tls.crt"), volume.resolve("tls.key")), plainCluster("app", up) + plainCluster("h2", up) + plainCluster("bad", up));
        int port = p.listenerPort("web");

        // clients keep opening new TLS connections (a full handshake each) while the files rotate
        SSLContext trusting = CA.clientContext(null);
        java.util.concurrent.atomic.AtomicBoolean rotated = new java.util.concurrent.atomic.AtomicBoolean();
        java.util.concurrent.atomic.AtomicInteger failures = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicInteger newSerialSeen = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicInteger oldAfterNew = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicInteger handshakes = new java.util.concurrent.atomic.AtomicInteger();
        List<Thread> clients = new ArrayList<>();
        for (int t = 0; t < 2; t++) {
            Thread c = new Thread(() -> {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (System.nanoTime() < deadline && (!rotated.get() || newSerialSeen.get() < 20)) {
                    try (javax.net.ssl.SSLSocket s = (javax.net.ssl.SSLSocket) trusting.getSocketFactory().createSocket("127.0.0.1", port)) {
                        s.setSoTimeout(10_000);
                        s.startHandshake();
                        handshakes.incrementAndGet();
                        java.math.BigInteger serial = ((java.security.cert.X509Certificate) s.getSession().getPeerCertificates()[0]).getSerialNumber();
                        s.getOutputStream().write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
                        String answer = new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
                        if (!answer.startsWith("HTTP/1.1 200")) {
                            failures.incrementAndGet();
                        }
                        if (serial.equals(v2.certificate().getSerialNumber())) {
                            newSerialSeen.incrementAndGet();
                        } else if (newSerialSeen.get() > 0) {
                            oldAfterNew.incrementAndGet(); // only a handshake that raced the swap may see the old one
                        }
                    } catch (IOException e) {
                        failures.incrementAndGet();
                    }
                }
            }, "rotation-client-" + t);
            c.start();
            clients.add(c);
        }
        Await.until("clients are connecting", () -> handshakes.get() >= 20);
        Path tmp = java.nio.file.Files.createSymbolicLink(volume.resolve("..data_tmp"), Path.of("..v2"));
        java.nio.file.Files.move(tmp, volume.resolve("..data"), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        assertEquals(1, p.checkCertificates(), "the listener took the new pair");
        rotated.set(true);
        for (Thread c : clients) {
            c.join(40_000);
        }
        assertEquals(0, failures.get(), "no handshake or request failed across the rotation (" + handshakes.get() + " handshakes)");
        assertTrue(newSerialSeen.get() >= 20, "new connections present the new certificate");
        assertTrue(oldAfterNew.get() <= 2, "the old certificate is gone once the new one is served: " + oldAfterNew.get());
    }

    @ParameterizedTest
    @ValueSource(strings = {"openssl"})
    void curl_through_a_tls_tcp_listener_in_front_of_a_plain_http_server(String engine) throws Exception {
        boolean present = new File("/usr/bin/curl").canExecute();
        org.junit.jupiter.api.Assumptions.assumeTrue(present || System.getenv("CI") != null, "curl is not installed");
        HttpUpstream up = closer.add(new HttpUpstream("legacy"));
        Sidecar p = closer.add(Sidecar.start(ConfigLoader.parse("""
                server: { tls_engine: %s }
                admin: { address: 127.0.0.1:0 }
                listeners:
                  - name: tcp-tls
                    address: 127.0.0.1:0
                    cluster: app
                    tls: { certificates: [{ cert_chain_file: %s, private_key_file: %s }], alpn: [http/1.1] }
                clusters: [{ name: app, endpoints: [{ address: %s }] }]
                """.formatted(engine, server.cert(), server.key(), up.address()))));
        int port = p.listenerPort("tcp-tls");
        assertEquals("legacy 1.1", curlHttps(port, "/legacy"), "HTTPS on the listener, plain HTTP behind it");
    }

    @org.junit.jupiter.api.Test
    void a_client_that_never_finishes_its_handshake_is_closed_after_ten_seconds() throws Exception {
        HttpUpstream up = closer.add(new HttpUpstream("a"));
        Sidecar p = start("auto", serverTls(), plainCluster("app", up) + plainCluster("h2", up) + plainCluster("bad", up));
        try (java.net.Socket s = new java.net.Socket("127.0.0.1", p.listenerPort("web"))) {
            s.setSoTimeout(20_000);
            long start = System.nanoTime();
            s.getOutputStream().write(new byte[] {0x16, 0x03, 0x01}); // the start of a ClientHello, then nothing
            int read;
            try {
                read = s.getInputStream().read();
            } catch (java.net.SocketException e) {
                read = -1; // reset
            }
            long waited = System.nanoTime() - start;
            assertEquals(-1, read, "closed by the proxy");
            assertTrue(waited >= java.util.concurrent.TimeUnit.SECONDS.toNanos(9), "not before the handshake timeout: " + waited / 1_000_000 + " ms");
        }
    }
}
