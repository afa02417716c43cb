package dev.sidecar.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sidecar.testkit.Await;
import dev.sidecar.testkit.Closer;
import dev.sidecar.testkit.TcpUpstream;
import dev.sidecar.testkit.TestCertificates;
import dev.sidecar.testkit.TestCertificates.KeyFormat;
import dev.sidecar.testkit.TestCertificates.KeyType;
import dev.sidecar.tls.PeerIdentity;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.math.BigInteger;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.List;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * TLS on TCP listeners and clusters, end to end through the real proxy on loopback: JDK TLS
 * clients and upstreams on one side, the proxy with each engine on the other, certificates made
 * at test time.
 */
class TlsProxyTest {
    private static final TestCertificates.Authority CA = TestCertificates.authority("sidecar test CA");
    private static final TestCertificates.Authority OTHER_CA = TestCertificates.authority("some other CA");
    private static final String WEB_ID = "spiffe://cluster.local/ns/default/sa/web";

    private final Closer closer = new Closer();

    @TempDir
    Path dir;

    @AfterEach
    void tearDown() throws Exception {
        closer.close();
    }

    private Sidecar start(String yaml) {
        return closer.add(Sidecar.start(ConfigLoader.parse(yaml)));
    }

    private String file(Path p) {
        return p.toString();
    }

    /** A proxy with one tcp listener "in" with {@code tls} (YAML, indented under the listener) to the echo upstream. */
    private Sidecar tlsListener(String engine, String tls, TcpUpstream upstream) {
        return start("""
                server: { tls_engine: %s }
                admin: { address: 127.0.0.1:0 }
                listeners:
                  - name: in
                    address: 127.0.0.1:0
                    cluster: up
                    tls:
                %s
                clusters:
                  - name: up
                    endpoints: [{ address: %s }]
                """.formatted(engine, indent(tls, 6), upstream.address()));
    }

    private static String indent(String text, int spaces) {
        StringBuilder sb = new StringBuilder();
        text.lines().forEach(l -> sb.append(" ".repeat(spaces)).append(l).append('\n'));
        return sb.toString().stripTrailing();
    }

    private String serverCert(String name, TestCertificates.Issued cert, KeyFormat format) {
        TestCertificates.PemPair f = cert.write(dir, name, format);
        return "{ cert_chain_file: " + f.cert() + ", private_key_file: " + f.key() + " }";
    }

    /** Opens a TLS connection with {@code ctx}, sends a line and returns the session once it echoed. */
    private static SSLSocket echoOnce(SSLContext ctx, int port, String sni, List<String> alpn, String... protocols) throws IOException {
        SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket();
        s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
        s.setSoTimeout(10_000);
        SSLParameters p = s.getSSLParameters();
        if (sni != null) {
            p.setServerNames(List.of(new SNIHostName(sni)));
        }
        if (!alpn.isEmpty()) {
            p.setApplicationProtocols(alpn.toArray(String[]::new));
        }
        if (protocols.length > 0) {
            p.setProtocols(protocols);
        }
        s.setSSLParameters(p);
        s.startHandshake();
        byte[] msg = "hello through tls\n".getBytes(StandardCharsets.US_ASCII);
        s.getOutputStream().write(msg);
        s.getOutputStream().flush();
        byte[] got = s.getInputStream().readNBytes(msg.length);
        assertArrayEquals(msg, got, "the upstream's echo came back through the proxy");
        return s;
    }

    private static BigInteger servedSerial(SSLSocket s) throws IOException {
        return ((X509Certificate) s.getSession().getPeerCertificates()[0]).getSerialNumber();
    }

    @ParameterizedTest(name = "engine {0}")
    @ValueSource(strings = {"openssl", "jdk"})
    void terminates_tls_and_relays_plaintext(String engine) throws Exception {
        TcpUpstream echo = closer.add(TcpUpstream.echo());
        TestCertificates.Issued cert = CA.issue("api").dns("api.internal").keyType(KeyType.RSA).build();
        Sidecar proxy = tlsListener(engine, "certificates: [" + serverCert("server", cert, KeyFormat.TRADITIONAL) + "]", echo);
        SSLContext client = CA.clientContext(null);

        try (SSLSocket s = echoOnce(client, proxy.listenerPort("in"), "api.internal", List.of())) {
            assertEquals("TLSv1.3", s.getSession().getProtocol());
            assertEquals(cert.certificate().getSerialNumber(), servedSerial(s));
        }
        try (SSLSocket s = echoOnce(client, proxy.listenerPort("in"), null, List.of(), "TLSv1.2")) {
            assertEquals("TLSv1.2", s.getSession().getProtocol());
            assertTrue(s.getSession().getCipherSuite().contains("_GCM_") || s.getSession().getCipherSuite().contains("CHACHA20"),
                    s.getSession().getCipherSuite());
        }
        // an older protocol than the minimum is refused
        assertThrows(SSLException.class, () -> echoOnce(client, proxy.listenerPort("in"), null, List.of(), "TLSv1.1").close());
        assertEquals(2, echo.accepted(), "only the good handshakes reached the upstream");
    }

    /**
     * JDK engine only: Netty's OpenSSL engine answers a received close_notify by closing its own
     * side too (TLS 1.2 behaviour), so there a client's half-close ends both directions.
     */
    @ParameterizedTest(name = "engine {0}")
    @ValueSource(strings = {"jdk"})
    void a_client_half_close_by_close_notify_reaches_the_upstream_and_the_reply_still_arrives(String engine) throws Exception {
        TcpUpstream echo = closer.add(TcpUpstream.echo());
        Sidecar proxy = tlsListener(engine, "certificates: [" + serverCert("server", CA.issue("api").dns("api.internal").build(),
                KeyFormat.PKCS8) + "]", echo);
        byte[] msg = new byte[256 * 1024];
        new java.util.Random(7).nextBytes(msg);
        try (SSLSocket s = (SSLSocket) CA.clientContext(null).getSocketFactory().createSocket("127.0.0.1", proxy.listenerPort("in"))) {
            s.setSoTimeout(10_000);
            s.startHandshake();
            s.getOutputStream().write(msg);
            s.getOutputStream().flush();
            s.shutdownOutput(); // TLS 1.3: close_notify, and the read side stays open
            byte[] back = s.getInputStream().readAllBytes();
            assertArrayEquals(msg, back, "everything came back, then a clean end (close_notify) rather than a truncation");
        }
        Await.until("the upstream side closed", () -> proxy.listenerStats("in").active() == 0);
    }

    @ParameterizedTest(name = "engine {0}")
    @ValueSource(strings = {"openssl", "jdk"})
    void sni_picks_the_certificate_and_alpn_negotiates(String engine) throws Exception {
        TcpUpstream echo = closer.add(TcpUpstream.echo());
        TestCertificates.Issued first = CA.issue("default").dns("default.internal").build();
        TestCertificates.Issued wildcard = CA.issue("b").dns("*.b.internal").keyType(KeyType.RSA).build();
        TestCertificates.Issued exact = CA.issue("c").dns("c.internal").build();
        Sidecar proxy = tlsListener(engine, """
                certificates: [%s, %s, %s]
                alpn: [h2, http/1.1]
                """.formatted(serverCert("first", first, KeyFormat.PKCS8), serverCert("wild", wildcard, KeyFormat.TRADITIONAL),
                serverCert("exact", exact, KeyFormat.TRADITIONAL)), echo);
        // a fresh client context per connection: a cached session would be resumed, with the
        // certificate of the connection that made it
        int port = proxy.listenerPort("in");

        try (SSLSocket s = echoOnce(CA.clientContext(null), port, "x.b.internal", List.of("h2", "http/1.1"))) {
            assertEquals(wildcard.certificate().getSerialNumber(), servedSerial(s));
            assertEquals("h2", s.getApplicationProtocol());
        }
        try (SSLSocket s = echoOnce(CA.clientContext(null), port, "c.internal", List.of("http/1.1"))) {
            assertEquals(exact.certificate().getSerialNumber(), servedSerial(s));
            assertEquals("http/1.1", s.getApplicationProtocol());
        }
        try (SSLSocket s = echoOnce(CA.clientContext(null), port, "unknown.internal", List.of())) {
            assertEquals(first.certificate().getSerialNumber(), servedSerial(s), "no certificate covers the name: the default");
        }
        try (SSLSocket s = echoOnce(CA.clientContext(null), port, null, List.of("spdy/3"))) {
            assertEquals(first.certificate().getSerialNumber(), servedSerial(s), "no SNI: the default");
            assertTrue(s.getApplicationProtocol() == null || s.getApplicationProtocol().isEmpty(), "nothing in common: no protocol");
        }
    }

    @ParameterizedTest(name = "engine {0}")
    @ValueSource(strings = {"openssl", "jdk"})
    void mtls_accepts_a_matching_client_and_refuses_the_rest(String engine) throws Exception {
        TcpUpstream echo = closer.add(TcpUpstream.echo());
        Path ca = CA.write(dir.resolve("ca.pem"));
        Sidecar proxy = tlsListener(engine, """
                certificates: [%s]
                client_validation:
                  trusted_ca_file: %s
                  require_client_certificate: true
                  match_subject_alt_names: [{ prefix: "spiffe://cluster.local/ns/default/" }]
                """.formatted(serverCert("server", CA.issue("api").dns("api.internal").build(), KeyFormat.PKCS8), ca), echo);
        int port = proxy.listenerPort("in");

        TestCertificates.Issued web = CA.issue("web").uri(WEB_ID).build();
        try (SSLSocket s = echoOnce(web.context(CA), port, "api.internal", List.of())) {
            assertEquals("TLSv1.3", s.getSession().getProtocol());
        }
        // TLS 1.3 clients learn of a refused certificate only when they read: echoOnce reads
        assertRefused(CA.clientContext(null), port, "no client certificate");
        assertRefused(OTHER_CA.issue("web").uri(WEB_ID).build().context(CA), port, "a certificate from another CA");
        assertRefused(CA.issue("db").uri("spiffe://cluster.local/ns/prod/sa/db").build().context(CA), port, "a SAN outside the prefix");
        assertRefused(CA.issue("old").uri(WEB_ID).expired().build().context(CA), port, "an expired certificate");

        assertEquals(1, echo.accepted(), "refused clients never reach the upstream");
        Await.until("refusals counted", () -> proxy.scrape().contains("sidecar_listener_tls_handshake_failures_total{listener=\"in\"} 4.0"));
    }

    private static void assertRefused(SSLContext client, int port, String what) {
        assertThrows(IOException.class, () -> echoOnce(client, port, "api.internal", List.of()).close(), what + " is refused");
    }

    // ---- origination ----

    private Sidecar tlsCluster(String engine, String clusterTls, TcpUpstream upstream, String endpointHost) {
        return start("""
                server: { tls_engine: %s }
                admin: { address: 127.0.0.1:0 }
                listeners:
                  - name: in
                    address: 127.0.0.1:0
                    cluster: secure
                    max_connect_attempts: 1
                clusters:
                  - name: secure
                    tls:
                %s
                    endpoints: [{ address: "%s:%d" }]
                """.formatted(engine, indent(clusterTls, 6), endpointHost, upstream.port()));
    }

    private static void plainEcho(int port) throws IOException {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(10_000);
            byte[] msg = "hello to a tls upstream\n".getBytes(StandardCharsets.US_ASCII);
            s.getOutputStream().write(msg);
            assertArrayEquals(msg, s.getInputStream().readNBytes(msg.length));
        }
    }

    /** The proxy closes the client's connection without a byte back: its upstream could not be reached. */
    private static void assertClosedUnanswered(int port) throws IOException {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write("anyone?\n".getBytes(StandardCharsets.US_ASCII));
            InputStream in = s.getInputStream();
            int b;
            try {
                b = in.read();
            } catch (IOException reset) {
                b = -1;
            }
            assertEquals(-1, b, "closed without an answer");
        }
    }

    @ParameterizedTest(name = "engine {0}")
    @ValueSource(strings = {"openssl", "jdk"})
    void originates_tls_with_sni_san_check_and_client_certificate(String engine) throws Exception {
        TestCertificates.Issued server = CA.issue("api").dns("api.internal").build();
        TcpUpstream upstream = closer.add(TcpUpstream.tlsEcho(server.context(CA)));
        TestCertificates.PemPair client = CA.issue("sidecar").uri(WEB_ID).keyType(KeyType.RSA).build().write(dir, "client", KeyFormat.PKCS8);
        Sidecar proxy = tlsCluster(engine, """
                sni: api.internal
                trusted_ca_file: %s
                match_subject_alt_names: [{ exact: api.internal }]
                cert_chain_file: %s
                private_key_file: %s
                """.formatted(CA.write(dir.resolve("ca.pem")), client.cert(), client.key()), upstream, "127.0.0.1");

        plainEcho(proxy.listenerPort("in"));

        javax.net.ssl.SSLSession session = upstream.tlsSessions().get(0);
        assertEquals(List.of(new SNIHostName("api.internal")),
                ((javax.net.ssl.ExtendedSSLSession) session).getRequestedServerNames(), "SNI sent");
        assertEquals(WEB_ID, PeerIdentity.of(session).orElseThrow().spiffeId().orElseThrow(), "the client certificate was presented");
    }

    @ParameterizedTest(name = "engine {0}")
    @ValueSource(strings = {"openssl", "jdk"})
    void refuses_an_upstream_with_the_wrong_san_an_untrusted_ca_or_an_expired_certificate(String engine) throws Exception {
        Path ca = CA.write(dir.resolve("ca.pem"));
        String tls = "sni: api.internal\ntrusted_ca_file: " + ca + "\nmatch_subject_alt_names: [{ exact: api.internal }]";
        TcpUpstream wrongSan = closer.add(TcpUpstream.tlsEcho(CA.issue("db").dns("db.internal").build().context(CA)));
        TcpUpstream untrusted = closer.add(TcpUpstream.tlsEcho(OTHER_CA.issue("api").dns("api.internal").build().context(CA)));
        TcpUpstream expired = closer.add(TcpUpstream.tlsEcho(CA.issue("api").dns("api.internal").expired().build().context(CA)));

        for (TcpUpstream bad : List.of(wrongSan, untrusted, expired)) {
            Sidecar proxy = tlsCluster(engine, tls, bad, "127.0.0.1");
            assertClosedUnanswered(proxy.listenerPort("in"));
            Await.until("the refused handshake counted", () -> proxy.scrape().contains(
                    "sidecar_cluster_tls_handshake_failures_total{cluster=\"secure\"} 1.0"));
            assertEquals(1, proxy.clusters().get("secure").connectFailures(), "a refused certificate is a failed connect");
            assertEquals(0, bad.bytesRead(), "nothing was sent to an upstream that failed verification");
            proxy.close();
        }
    }

    @ParameterizedTest(name = "upstream_protocol {0}")
    @ValueSource(strings = {"http1", "h2c"})
    void pooled_connections_made_before_a_cluster_turned_to_tls_are_not_reused(String protocol) throws Exception {
        dev.sidecar.testkit.HttpUpstream plain = closer.add(new dev.sidecar.testkit.HttpUpstream("plain"));
        Path ca = CA.write(dir.resolve("ca.pem"));
        String yaml = """
                server: { workers: 1 }
                admin: { address: 127.0.0.1:0 }
                listeners: [{ name: web, address: 127.0.0.1:0, protocol: http, cluster: app }]
                clusters:
                  - name: app
                    upstream_protocol: %s
                    endpoints: [{ address: %s }]
                """.formatted(protocol, plain.address());
        Sidecar proxy = start(yaml);
        int port = proxy.listenerPort("web");
        assertEquals(200, HttpProxyTest.get(port, "/a").statusCode(), "plaintext, and the connection stays pooled");
        proxy.apply(ConfigLoader.parse(yaml.replace("    endpoints:", "    tls: { trusted_ca_file: " + ca + " }\n    endpoints:")), "test");
        // the upstream speaks plaintext only: a TLS connection to it fails, and the old one must not carry the request
        assertEquals(503, HttpProxyTest.get(port, "/b").statusCode());
        assertTrue(plain.received().stream().noneMatch(r -> r.uri().equals("/b")), "nothing went over the connection made without TLS");
        assertEquals(1, plain.received().stream().filter(r -> r.uri().equals("/a")).count());
    }

    @Test
    void without_san_matchers_the_certificate_must_cover_the_endpoint_host_name() throws Exception {
        TcpUpstream upstream = closer.add(TcpUpstream.tlsEcho(CA.issue("localhost").dns("localhost.localdomain", "localhost").build().context(CA)));
        Path ca = CA.write(dir.resolve("ca.pem"));
        Sidecar good = tlsCluster("auto", "trusted_ca_file: " + ca, upstream, "localhost");
        plainEcho(good.listenerPort("in"));
        good.close();
        Sidecar bad = tlsCluster("auto", "trusted_ca_file: " + ca + "\nsni: other.internal", upstream, "localhost");
        assertClosedUnanswered(bad.listenerPort("in"));
    }

    // ---- reload ----

    @ParameterizedTest(name = "engine {0}")
    @ValueSource(strings = {"openssl", "jdk"})
    void rotated_files_serve_new_connections_and_a_bad_file_keeps_the_old(String engine) throws Exception {
        TcpUpstream echo = closer.add(TcpUpstream.echo());
        TestCertificates.Issued v1 = CA.issue("api").dns("api.internal").build();
        TestCertificates.PemPair files = v1.write(dir, "server", KeyFormat.PKCS8);
        Sidecar proxy = tlsListener(engine, "certificates: [{ cert_chain_file: " + files.cert() + ", private_key_file: " + files.key() + " }]",
                echo);
        SSLContext client = CA.clientContext(null);
        int port = proxy.listenerPort("in");
        SSLSocket open = echoOnce(client, port, "api.internal", List.of());
        assertEquals(v1.certificate().getSerialNumber(), servedSerial(open));
        assertEquals(0, proxy.checkCertificates(), "nothing changed yet");

        // rotate: key first, then certificate, as a careless script would; the check between
        // sees a mismatch and keeps v1
        TestCertificates.Issued v2 = CA.issue("api").dns("api.internal").keyType(KeyType.RSA).build();
        v2.writeKey(files.key(), KeyFormat.TRADITIONAL);
        assertEquals(0, proxy.checkCertificates());
        try (SSLSocket s = echoOnce(client, port, "api.internal", List.of())) {
            assertEquals(v1.certificate().getSerialNumber(), servedSerial(s), "a key without its certificate keeps the old pair");
        }
        assertTrue(proxy.scrape().contains("sidecar_listener_tls_reload_failures_total{listener=\"in\"} 1.0"), proxy.scrape());
        v2.writeChain(files.cert());
        assertEquals(1, proxy.checkCertificates());
        try (SSLSocket s = echoOnce(client, port, "api.internal", List.of())) {
            assertEquals(v2.certificate().getSerialNumber(), servedSerial(s), "new connections get the new certificate");
        }
        // the connection made before the rotation goes on
        open.getOutputStream().write("still here\n".getBytes(StandardCharsets.US_ASCII));
        assertEquals("still here\n", new String(open.getInputStream().readNBytes(11), StandardCharsets.US_ASCII));
        open.close();

        // an expired replacement is refused too
        TestCertificates.Issued expired = CA.issue("api").dns("api.internal").expired().build();
        expired.write(dir, "server", KeyFormat.PKCS8);
        assertEquals(0, proxy.checkCertificates());
        try (SSLSocket s = echoOnce(client, port, "api.internal", List.of())) {
            assertEquals(v2.certificate().getSerialNumber(), servedSerial(s));
        }
        assertTrue(proxy.scrape().contains("sidecar_listener_tls_reload_failures_total{listener=\"in\"} 2.0"));
        assertTrue(proxy.scrape().contains("sidecar_listener_tls_reloads_total{listener=\"in\"} 1.0"));
    }

    @Test
    void a_kubernetes_style_symlink_swap_is_picked_up() throws Exception {
        // a secret volume: dir/..data -> ..v1 (a directory); dir/tls.crt -> ..data/tls.crt
        Path volume = Files.createDirectory(dir.resolve("secret"));
        TestCertificates.Issued v1 = CA.issue("api").dns("api.internal").build();
        Path d1 = Files.createDirectory(volume.resolve("..v1"));
        v1.writeChain(d1.resolve("tls.crt"));
        v1.writeKey(d1.resolve("tls.key"), KeyFormat.TRADITIONAL);
        Files.createSymbolicLink(volume.resolve("..data"), Path.of("..v1"));
        Files.createSymbolicLink(volume.resolve("tls.crt"), Path.of("..data/tls.crt"));
        Files.createSymbolicLink(volume.resolve("tls.key"), Path.of("..data/tls.key"));
        TcpUpstream echo = closer.add(TcpUpstream.echo());
        Sidecar proxy = tlsListener("auto", "certificates: [{ cert_chain_file: " + volume.resolve("tls.crt") + ", private_key_file: "
                + volume.resolve("tls.key") + " }]", echo);
        SSLContext client = CA.clientContext(null);

        TestCertificates.Issued v2 = CA.issue("api").dns("api.internal").build();
        Path d2 = Files.createDirectory(volume.resolve("..v2"));
        v2.writeChain(d2.resolve("tls.crt"));
        v2.writeKey(d2.resolve("tls.key"), KeyFormat.TRADITIONAL);
        // the kubelet's swap: a new link renamed over ..data, atomically
        Path tmp = Files.createSymbolicLink(volume.resolve("..data_tmp"), Path.of("..v2"));
        Files.move(tmp, volume.resolve("..data"), java.nio.file.StandardCopyOption.ATOMIC_MOVE);

        assertEquals(1, proxy.checkCertificates());
        try (SSLSocket s = echoOnce(client, proxy.listenerPort("in"), "api.internal", List.of())) {
            assertEquals(v2.certificate().getSerialNumber(), servedSerial(s));
        }
    }

    @Test
    void admin_lists_the_certificates_in_use() throws Exception {
        TcpUpstream echo = closer.add(TcpUpstream.echo());
        TestCertificates.Issued cert = CA.issue("api").dns("api.internal").uri(WEB_ID).build();
        Sidecar proxy = tlsListener("auto", "certificates: [" + serverCert("server", cert, KeyFormat.PKCS8) + "]", echo);
        java.net.http.HttpResponse<String> r = java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
                java.net.URI.create("http://127.0.0.1:" + proxy.adminPort() + "/certs")).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode());
        com.fasterxml.jackson.databind.JsonNode c = new com.fasterxml.jackson.databind.ObjectMapper().readTree(r.body()).get("certificates").get(0);
        assertEquals("in", c.get("listener").asText());
        assertEquals(cert.serialHex(), c.get("serial").asText());
        assertEquals("CN=api", c.get("subject").asText());
        assertEquals("[\"DNS:api.internal\",\"URI:" + WEB_ID + "\"]", c.get("subject_alt_names").toString());
        assertEquals(89, c.get("days_until_expiry").asInt(), "90 days less the hour the certificate is backdated by");
        assertTrue(proxy.scrape().contains("sidecar_listener_tls_certificate_expiry_seconds{listener=\"in\"}"));
    }

    // ---- openssl s_client ----

    @Test
    void openssl_s_client_completes_a_handshake_and_gets_the_echo() throws Exception {
        Path openssl = Path.of("/usr/bin/openssl");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isExecutable(openssl), "openssl is not installed");
        TcpUpstream echo = closer.add(TcpUpstream.echo());
        Path ca = CA.write(dir.resolve("ca.pem"));
        Sidecar proxy = tlsListener("auto", "certificates: [" + serverCert("server", CA.issue("api").dns("api.internal").build(),
                KeyFormat.TRADITIONAL) + "]\nalpn: [h2, http/1.1]", echo);
        Process p = new ProcessBuilder(openssl.toString(), "s_client", "-connect", "127.0.0.1:" + proxy.listenerPort("in"),
                "-servername", "api.internal", "-CAfile", ca.toString(), "-verify_return_error", "-alpn", "http/1.1", "-quiet")
                .redirectErrorStream(true).start();
        try {
            OutputStream in = p.getOutputStream();
            in.write("ping from openssl\n".getBytes(StandardCharsets.US_ASCII));
            in.flush();
            java.io.BufferedReader r = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream(), StandardCharsets.US_ASCII));
            String got;
            StringBuilder seen = new StringBuilder();
            while ((got = r.readLine()) != null && !got.equals("ping from openssl")) {
                seen.append(got).append('\n');
            }
            assertEquals("ping from openssl", got, "s_client output:\n" + seen);
        } finally {
            p.destroy();
            p.waitFor();
        }
    }
}
