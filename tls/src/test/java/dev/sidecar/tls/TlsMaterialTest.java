package dev.sidecar.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sidecar.config.CertificateFiles;
import dev.sidecar.config.SanMatcher;
import dev.sidecar.config.TlsClientConfig;
import dev.sidecar.config.TlsEngineChoice;
import dev.sidecar.config.TlsServerConfig;
import dev.sidecar.testkit.TestCertificates;
import dev.sidecar.testkit.TestCertificates.KeyFormat;
import dev.sidecar.testkit.TestCertificates.KeyType;
import io.netty.handler.ssl.OpenSsl;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class TlsMaterialTest {
    private static final TestCertificates.Authority CA = TestCertificates.authority("material test CA");

    @TempDir
    Path dir;

    @ParameterizedTest(name = "{0} key as {1}")
    @CsvSource({"RSA, TRADITIONAL", "RSA, PKCS8", "EC, TRADITIONAL", "EC, PKCS8"})
    void loads_rsa_and_ec_keys_in_every_pem_form(KeyType type, KeyFormat format) throws Exception {
        TestCertificates.Issued leaf = CA.issue("server").dns("api.internal").keyType(type).build();
        TestCertificates.PemPair files = leaf.write(dir, "server", format);
        String header = Files.readString(files.key()).lines().findFirst().orElseThrow();
        String expected = format == KeyFormat.PKCS8 ? "-----BEGIN PRIVATE KEY-----"
                : type == KeyType.RSA ? "-----BEGIN RSA PRIVATE KEY-----" : "-----BEGIN EC PRIVATE KEY-----";
        assertEquals(expected, header, "the key file is in the form under test");

        PrivateKey key = PemFiles.privateKey(Files.readAllBytes(files.key()));
        assertEquals(leaf.keys().getPrivate().getAlgorithm(), key.getAlgorithm());
        assertTrue(TlsFiles.keyMatches(key, leaf.certificate()));

        for (TlsEngine engine : engines()) {
            ServerTls tls = ServerTls.build("listener t", TlsServerConfig.of(new CertificateFiles(files.cert().toString(),
                    files.key().toString())), engine);
            assertEquals(leaf.serialHex(), tls.certificates().get(0).serial(), engine + " loaded the certificate");
            assertEquals(List.of("DNS:api.internal"), tls.certificates().get(0).sans());
        }
    }

    @Test
    void a_key_that_is_not_the_certificates_is_refused_naming_the_key_field() {
        TestCertificates.Issued a = CA.issue("a").dns("a.internal").build();
        TestCertificates.Issued b = CA.issue("b").dns("b.internal").build();
        Path cert = a.writeChain(dir.resolve("a.pem"));
        Path key = b.writeKey(dir.resolve("b.key"), KeyFormat.PKCS8);
        TlsServerConfig config = new TlsServerConfig(List.of(
                new CertificateFiles(cert.toString(), a.writeKey(dir.resolve("a.key"), KeyFormat.PKCS8).toString()),
                new CertificateFiles(cert.toString(), key.toString())),
                List.of(), dev.sidecar.config.TlsVersion.TLS_1_2, dev.sidecar.config.TlsVersion.TLS_1_3, List.of(), null);

        TlsMaterialException e = assertThrows(TlsMaterialException.class, () -> ServerTls.build("listener t", config, TlsEngine.jdk()));
        assertEquals("certificates[1].private_key_file", e.field());
        assertTrue(e.reason().contains("does not match the certificate CN=a"), e.reason());
    }

    @Test
    void an_rsa_key_beside_an_ec_certificate_is_a_mismatch_too() {
        TestCertificates.Issued ec = CA.issue("ec").keyType(KeyType.EC).build();
        TestCertificates.Issued rsa = CA.issue("rsa").keyType(KeyType.RSA).build();
        assertTrue(!TlsFiles.keyMatches(rsa.keys().getPrivate(), ec.certificate()));
    }

    @Test
    void an_expired_certificate_is_refused_naming_the_chain_field() {
        TestCertificates.Issued old = CA.issue("old").dns("old.internal").expired().build();
        TestCertificates.PemPair files = old.write(dir, "old", KeyFormat.PKCS8);

        TlsMaterialException e = assertThrows(TlsMaterialException.class, () -> ServerTls.build("listener t",
                TlsServerConfig.of(new CertificateFiles(files.cert().toString(), files.key().toString())), TlsEngine.jdk()));
        assertEquals("certificates[0].cert_chain_file", e.field());
        assertTrue(e.reason().contains("CN=old") && e.reason().contains("expired on"), e.reason());
    }

    @Test
    void files_that_hold_no_pem_say_so() throws Exception {
        Path junk = Files.writeString(dir.resolve("junk.pem"), "not a certificate\n");
        Path encrypted = Files.writeString(dir.resolve("enc.key"), "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n");
        TestCertificates.Issued leaf = CA.issue("x").build();
        Path cert = leaf.writeChain(dir.resolve("x.pem"));

        TlsMaterialException e = assertThrows(TlsMaterialException.class, () -> ServerTls.build("l",
                TlsServerConfig.of(new CertificateFiles(junk.toString(), junk.toString())), TlsEngine.jdk()));
        assertEquals("certificates[0].cert_chain_file", e.field());
        assertTrue(e.reason().contains("has no PEM CERTIFICATE block"), e.reason());

        e = assertThrows(TlsMaterialException.class, () -> ServerTls.build("l",
                TlsServerConfig.of(new CertificateFiles(cert.toString(), encrypted.toString())), TlsEngine.jdk()));
        assertEquals("certificates[0].private_key_file", e.field());
        assertTrue(e.reason().contains("encrypted"), e.reason());

        e = assertThrows(TlsMaterialException.class, () -> ServerTls.build("l",
                TlsServerConfig.of(new CertificateFiles(cert.toString(), dir.resolve("missing.key").toString())), TlsEngine.jdk()));
        assertEquals("certificates[0].private_key_file", e.field());
        assertTrue(e.reason().contains("does not exist"), e.reason());
    }

    @Test
    void a_cipher_suite_the_engine_lacks_is_refused_by_index() throws Exception {
        TestCertificates.PemPair files = CA.issue("c").build().write(dir, "c", KeyFormat.PKCS8);
        TlsServerConfig config = new TlsServerConfig(List.of(new CertificateFiles(files.cert().toString(), files.key().toString())),
                List.of(), dev.sidecar.config.TlsVersion.TLS_1_2, dev.sidecar.config.TlsVersion.TLS_1_3,
                List.of("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_EXPORT_WITH_RC4_40_MD5"), null);
        TlsMaterialException e = assertThrows(TlsMaterialException.class, () -> ServerTls.build("l", config, TlsEngine.jdk()));
        assertEquals("cipher_suites[1]", e.field());
    }

    @Test
    void server_name_checks_follow_rfc_6125_wildcards() {
        assertTrue(VerifyingTrustManager.dnsMatches("api.internal", "API.internal"));
        assertTrue(VerifyingTrustManager.dnsMatches("*.example.com", "a.example.com"));
        assertTrue(!VerifyingTrustManager.dnsMatches("*.example.com", "a.b.example.com"));
        assertTrue(!VerifyingTrustManager.dnsMatches("*.example.com", "example.com"));
        assertTrue(!VerifyingTrustManager.dnsMatches("*.com", "example.com"));
    }

    @Test
    void the_trust_manager_names_what_failed() throws Exception {
        TestCertificates.Issued good = CA.issue("api").dns("api.internal").build();
        TestCertificates.Authority other = TestCertificates.authority("other CA");
        TestCertificates.Issued stranger = other.issue("api").dns("api.internal").build();
        List<X509Certificate> trusted = List.of(CA.certificate());

        VerifyingTrustManager bySni = VerifyingTrustManager.of(trusted, List.of(), "api.internal");
        bySni.checkServerTrusted(new X509Certificate[] {good.certificate()}, "ECDHE_ECDSA");
        CertificateException e = assertThrows(CertificateException.class,
                () -> bySni.checkServerTrusted(new X509Certificate[] {stranger.certificate()}, "ECDHE_ECDSA"));
        assertTrue(e.getMessage().startsWith("server certificate CN=api is not trusted"), e.getMessage());

        VerifyingTrustManager wrongName = VerifyingTrustManager.of(trusted, List.of(), "db.internal");
        e = assertThrows(CertificateException.class, () -> wrongName.checkServerTrusted(new X509Certificate[] {good.certificate()}, "ECDHE_ECDSA"));
        assertTrue(e.getMessage().contains("none of which covers db.internal"), e.getMessage());

        TestCertificates.Issued web = CA.issue("web").uri("spiffe://cluster.local/ns/default/sa/web").build();
        VerifyingTrustManager spiffe = VerifyingTrustManager.of(trusted, List.of(SanMatcher.prefix("spiffe://cluster.local/ns/default/")), null);
        spiffe.checkClientTrusted(new X509Certificate[] {web.certificate()}, "ECDHE_ECDSA");
        VerifyingTrustManager other2 = VerifyingTrustManager.of(trusted, List.of(SanMatcher.exact("spiffe://cluster.local/ns/prod/sa/web")), null);
        e = assertThrows(CertificateException.class, () -> other2.checkClientTrusted(new X509Certificate[] {web.certificate()}, "ECDHE_ECDSA"));
        assertTrue(e.getMessage().contains("none of which matches [exact: spiffe://cluster.local/ns/prod/sa/web]"), e.getMessage());
    }

    @Test
    void peer_identity_carries_spiffe_id_subject_and_hash() {
        TestCertificates.Issued web = CA.issue("web").uri("spiffe://cluster.local/ns/default/sa/web").dns("web.default").build();
        PeerIdentity id = PeerIdentity.of(web.certificate());
        assertEquals("spiffe://cluster.local/ns/default/sa/web", id.spiffeId().orElseThrow());
        assertEquals("CN=web", id.subject());
        assertEquals(64, id.sha256().length());
        assertEquals("Hash=" + id.sha256() + ";Subject=\"CN=web\";URI=spiffe://cluster.local/ns/default/sa/web;DNS=web.default",
                id.xfccElement());
    }

    @Test
    void client_contexts_load_a_client_certificate_and_a_ca() throws Exception {
        Path ca = CA.write(dir.resolve("ca.pem"));
        TestCertificates.PemPair client = CA.issue("web").uri("spiffe://cluster.local/ns/default/sa/web").build()
                .write(dir, "client", KeyFormat.TRADITIONAL);
        for (TlsEngine engine : engines()) {
            ClientTls tls = ClientTls.build("cluster c", new TlsClientConfig("api.internal", ca.toString(), List.of(),
                    new CertificateFiles(client.cert().toString(), client.key().toString()), List.of("h2")), engine);
            assertEquals(List.of("URI:spiffe://cluster.local/ns/default/sa/web"), tls.certificates().get(0).sans());
            assertEquals("api.internal", tls.serverName("10.0.0.1"));
        }
        ClientTls bare = ClientTls.build("cluster d", new TlsClientConfig(null, ca.toString(), List.of(), null, List.of()), TlsEngine.jdk());
        assertEquals(null, bare.serverName("10.0.0.1"));
        assertEquals("db.internal", bare.serverName("db.internal"));
    }

    static List<TlsEngine> engines() {
        assertTrue(OpenSsl.isAvailable(), "netty-tcnative loads here: " + OpenSsl.unavailabilityCause());
        return List.of(TlsEngine.select(TlsEngineChoice.OPENSSL), TlsEngine.jdk());
    }
}
