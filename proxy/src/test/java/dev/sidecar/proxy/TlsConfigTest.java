package dev.sidecar.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sidecar.config.CertificateFiles;
import dev.sidecar.config.ClusterConfig;
import dev.sidecar.config.ConfigError;
import dev.sidecar.config.ConfigException;
import dev.sidecar.config.ProxyConfig;
import dev.sidecar.config.SanMatcher;
import dev.sidecar.config.TlsClientConfig;
import dev.sidecar.config.TlsEngineChoice;
import dev.sidecar.config.TlsServerConfig;
import dev.sidecar.config.TlsVersion;
import dev.sidecar.testkit.TestCertificates.KeyFormat;
import dev.sidecar.testkit.TestCertificates;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The YAML shape of listener and cluster {@code tls}, and every error it can have, each with its path. */
class TlsConfigTest {
    private static final TestCertificates.Authority CA = TestCertificates.authority("config test CA");

    @TempDir
    Path dir;
    private TestCertificates.PemPair server;
    private TestCertificates.PemPair client;
    private Path ca;

    @BeforeEach
    void files() {
        server = CA.issue("api").dns("api.internal").build().write(dir, "server", KeyFormat.PKCS8);
        client = CA.issue("web").uri("spiffe://cluster.local/ns/default/sa/web").build().write(dir, "client", KeyFormat.TRADITIONAL);
        ca = CA.write(dir.resolve("ca.pem"));
    }

    private String yaml(String listenerTls, String clusterTls) {
        return """
                server: { tls_engine: jdk }
                listeners:
                  - name: tls-in
                    address: 127.0.0.1:8443
                    protocol: tcp
                    cluster: secure
                    tls:
                %s
                clusters:
                  - name: secure
                    tls:
                %s
                    endpoints: [{ address: 127.0.0.1:9443 }]
                """.formatted(indent(listenerTls), indent(clusterTls));
    }

    private static String indent(String s) {
        return s.lines().map(l -> "      " + l).collect(Collectors.joining("\n"));
    }

    private String goodListener() {
        return """
                certificates:
                  - cert_chain_file: %s
                    private_key_file: %s
                alpn: [h2, http/1.1]
                min_version: TLSv1_2
                client_validation:
                  trusted_ca_file: %s
                  require_client_certificate: true
                  match_subject_alt_names: [{ prefix: "spiffe://cluster.local/" }]
                """.formatted(server.cert(), server.key(), ca);
    }

    private String goodCluster() {
        return """
                sni: api.internal
                trusted_ca_file: %s
                match_subject_alt_names: [{ exact: api.internal }]
                cert_chain_file: %s
                private_key_file: %s
                alpn: [h2]
                """.formatted(ca, client.cert(), client.key());
    }

    @Test
    void the_shape_in_the_issue_loads() {
        ProxyConfig c = ConfigLoader.parse(yaml(goodListener(), goodCluster()));
        assertEquals(TlsEngineChoice.JDK, c.server().tlsEngine());
        TlsServerConfig l = c.listeners().get(0).tls();
        assertEquals(List.of(new CertificateFiles(server.cert().toString(), server.key().toString())), l.certificates());
        assertEquals(List.of("h2", "http/1.1"), l.alpn());
        assertEquals(TlsVersion.TLS_1_2, l.minVersion());
        assertEquals(TlsVersion.TLS_1_3, l.maxVersion());
        assertEquals(List.of(), l.cipherSuites());
        assertEquals(new TlsServerConfig.ClientValidation(ca.toString(), true, List.of(SanMatcher.prefix("spiffe://cluster.local/"))),
                l.clientValidation());
        TlsClientConfig t = c.clusters().get(0).tls();
        assertEquals(new TlsClientConfig("api.internal", ca.toString(), List.of(SanMatcher.exact("api.internal")),
                new CertificateFiles(client.cert().toString(), client.key().toString()), List.of("h2")), t);
    }

    @Test
    void tls_is_optional_and_defaults_are_tls_1_2_to_1_3() {
        ProxyConfig c = ConfigLoader.parse("""
                listeners: [{ name: in, address: 127.0.0.1:1, cluster: c }]
                clusters: [{ name: c, endpoints: [{ address: 127.0.0.1:2 }] }]
                """);
        assertNull(c.listeners().get(0).tls());
        assertNull(c.clusters().get(0).tls());
        assertEquals(TlsEngineChoice.AUTO, c.server().tlsEngine());
        ClusterConfig minimal = ConfigLoader.parse(yaml("certificates: [{ cert_chain_file: " + server.cert() + ", private_key_file: "
                + server.key() + " }]", "{}")).clusters().get(0);
        assertEquals(new TlsClientConfig(null, null, List.of(), null, List.of()), minimal.tls(), "an empty cluster tls verifies against the JDK's CAs");
    }

    private List<String> errors(String yaml) {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse(yaml));
        return e.errors().stream().map(ConfigError::toString).toList();
    }

    private static void assertHas(List<String> errors, String expected) {
        assertTrue(errors.stream().anyMatch(e -> e.startsWith(expected)), "expected an error starting with\n  " + expected + "\nin\n  "
                + String.join("\n  ", errors));
    }

    @Test
    void shape_errors_name_their_field() {
        List<String> errors = errors(yaml("""
                certificates:
                  - cert_chain_file: %s
                  - { cert_chain_file: %s, private_key_file: %s, password: x }
                alpn: [h2, h2, ""]
                min_version: TLSv1_3
                max_version: TLSv1_2
                cipher_suites: [""]
                client_validation:
                  require_client_certificate: "no"
                  match_subject_alt_names: [{ exact: a, prefix: b }, { prefix: "" }, { regex: x }]
                """.formatted(server.cert(), server.cert(), server.key()), """
                sni: 10.0.0.1
                cert_chain_file: %s
                trusted_ca_file: %s
                alpn: [h2]
                verify: false
                """.formatted(client.cert(), dir.resolve("nope.pem"))).replace("tls_engine: jdk", "tls_engine: boringssl"));
        assertHas(errors, "server.tls_engine: 'boringssl' is not one of auto | openssl | jdk");
        assertHas(errors, "listeners[0].tls.certificates[0].private_key_file: is required");
        assertHas(errors, "listeners[0].tls.certificates[1].password: unknown field");
        assertHas(errors, "listeners[0].tls.client_validation.trusted_ca_file: is required");
        assertHas(errors, "listeners[0].tls.client_validation.require_client_certificate: must be true or false");
        assertHas(errors, "listeners[0].tls.client_validation.match_subject_alt_names[0]: must have exactly one of exact, prefix");
        assertHas(errors, "listeners[0].tls.client_validation.match_subject_alt_names[2].regex: unknown field");
        assertHas(errors, "clusters[0].tls.private_key_file: is required with cert_chain_file");
        assertHas(errors, "clusters[0].tls.verify: unknown field");
        // the semantic pass runs on what parsed
        List<String> semantic = errors(yaml("""
                certificates: [{ cert_chain_file: %s, private_key_file: %s }]
                alpn: [h2, h2, ""]
                min_version: TLSv1_3
                max_version: TLSv1_2
                cipher_suites: [""]
                client_validation:
                  trusted_ca_file: %s
                  match_subject_alt_names: [{ prefix: "" }]
                """.formatted(server.cert(), server.key(), ca), """
                sni: 10.0.0.1
                trusted_ca_file: %s
                """.formatted(dir.resolve("nope.pem"))));
        assertHas(semantic, "listeners[0].tls.alpn[1]: 'h2' is listed twice");
        assertHas(semantic, "listeners[0].tls.alpn[2]: '' must be 1..255 bytes");
        assertHas(semantic, "listeners[0].tls.max_version: TLSv1_2 is below min_version TLSv1_3");
        assertHas(semantic, "listeners[0].tls.cipher_suites[0]: is empty");
        assertHas(semantic, "listeners[0].tls.client_validation.match_subject_alt_names[0].prefix: is empty");
        assertHas(semantic, "clusters[0].tls.sni: '10.0.0.1' is not a host name");
        assertHas(semantic, "clusters[0].tls.trusted_ca_file: file " + dir.resolve("nope.pem") + " does not exist");
    }

    @Test
    void old_protocol_versions_are_not_accepted() {
        assertHas(errors(yaml(goodListener().replace("min_version: TLSv1_2", "min_version: TLSv1_1"), goodCluster())),
                "listeners[0].tls.min_version: 'TLSv1_1' is not one of TLSv1_2 | TLSv1_3");
    }

    @Test
    void file_contents_are_checked_with_the_field_path() {
        TestCertificates.PemPair other = CA.issue("other").dns("other.internal").build().write(dir, "other", KeyFormat.PKCS8);
        TestCertificates.PemPair expired = CA.issue("old").dns("old.internal").expired().build().write(dir, "old", KeyFormat.TRADITIONAL);
        List<String> errors = errors(yaml("""
                certificates:
                  - { cert_chain_file: %s, private_key_file: %s }
                  - { cert_chain_file: %s, private_key_file: %s }
                """.formatted(expired.cert(), expired.key(), server.cert(), other.key()), """
                trusted_ca_file: %s
                cert_chain_file: %s
                private_key_file: %s
                """.formatted(server.key(), client.cert(), client.key())));
        assertHas(errors, "listeners[0].tls.certificates[0].cert_chain_file: certificate CN=old in " + expired.cert() + " expired on ");
        assertHas(errors, "listeners[0].tls.certificates[1].private_key_file: the private key in " + other.key()
                + " does not match the certificate CN=api in " + server.cert());
        assertHas(errors, "clusters[0].tls.trusted_ca_file: file " + server.key() + " has no PEM CERTIFICATE block");
    }

    @Test
    void tls_on_http_listeners_and_their_clusters_is_accepted() {
        ProxyConfig config = ConfigLoader.parse("""
                listeners:
                  - name: https
                    address: 127.0.0.1:8443
                    protocol: http
                    cluster: secure
                    tls: { certificates: [{ cert_chain_file: %s, private_key_file: %s }] }
                clusters:
                  - name: secure
                    tls: { trusted_ca_file: %s }
                    endpoints: [{ address: 127.0.0.1:9443 }]
                """.formatted(server.cert(), server.key(), ca));
        assertEquals("https", config.listeners().get(0).name());
        assertTrue(config.listeners().get(0).tls() != null && config.clusters().get(0).tls() != null);
    }
}
