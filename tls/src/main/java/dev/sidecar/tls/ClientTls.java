package dev.sidecar.tls;

import dev.sidecar.config.TlsClientConfig;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SupportedCipherSuiteFilter;
import dev.sidecar.config.TlsVersion;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;

/**
 * TLS origination for one cluster: the server certificate is verified against the CA bundle
 * and its name (see {@link VerifyingTrustManager}), a client certificate is presented when
 * configured, ALPN offers the configured protocols.
 *
 * <p>Use: {@code upstream.pipeline().addFirst(tls.newHandler(alloc, endpointHost, port))}, then
 * treat the upstream as connected only once {@link SslHandler#handshakeFuture()} succeeds; its
 * failure cause says why verification failed.
 */
public final class ClientTls extends ReloadableTls {
    private final TlsClientConfig config;
    private final TlsEngine engine;
    private volatile Material material;

    private record Material(SslContext context, List<CertificateInfo> certificates, byte[] digest) {}

    private ClientTls(String name, TlsClientConfig config, TlsEngine engine, Counters counters) {
        super(name, counters);
        this.config = config;
        this.engine = engine;
    }

    public static ClientTls build(String name, TlsClientConfig config, TlsEngine engine) throws TlsMaterialException {
        ClientTls tls = new ClientTls(name, config, engine, new Counters());
        tls.rebuild(TlsFiles.read(tls.files()));
        return tls;
    }

    /** The same cluster's TLS with a changed config, counting into the same counters. */
    public ClientTls next(TlsClientConfig config) throws TlsMaterialException {
        ClientTls tls = new ClientTls(name(), config, engine, counters());
        tls.rebuild(TlsFiles.read(tls.files()));
        return tls;
    }

    /** Loads and checks the files without building a context: the config check. */
    static List<TlsMaterialException> check(TlsClientConfig config) {
        List<TlsMaterialException> out = new ArrayList<>();
        if (config.trustedCaFile() != null) {
            TlsFiles.Ref ref = new TlsFiles.Ref("trusted_ca_file", config.trustedCaFile());
            try {
                TlsFiles.read(List.of(ref)).certificates(ref);
            } catch (TlsMaterialException e) {
                out.add(e);
            }
        }
        if (config.clientCertificate() != null) {
            try {
                TlsFiles.read(List.of(new TlsFiles.Ref("cert_chain_file", config.clientCertificate().certChainFile()),
                        new TlsFiles.Ref("private_key_file", config.clientCertificate().privateKeyFile())))
                        .keyedChain("", config.clientCertificate(), Instant.now());
            } catch (TlsMaterialException e) {
                out.add(e);
            }
        }
        return out;
    }

    public TlsClientConfig config() {
        return config;
    }

    /**
     * The name sent in SNI and verified in the certificate for an endpoint: the configured
     * {@code sni}, else the endpoint's host when it is a name (an IP address is never sent, RFC
     * 6066 3), else null.
     */
    public String serverName(String endpointHost) {
        if (config.sni() != null) {
            return config.sni();
        }
        return endpointHost == null || VerifyingTrustManager.isIpLiteral(endpointHost) ? null : endpointHost;
    }

    /** A handler for one upstream connection to {@code endpointHost:port}; it must be the first of the pipeline. */
    public SslHandler newHandler(ByteBufAllocator alloc, String endpointHost, int port) {
        String name = serverName(endpointHost);
        SslHandler h = material.context().newHandler(alloc, name != null ? name : endpointHost, port);
        SSLEngine engine = h.engine();
        SSLParameters p = engine.getSSLParameters();
        p.setServerNames(name != null ? List.of(new SNIHostName(name)) : List.of());
        engine.setSSLParameters(p);
        h.setHandshakeTimeoutMillis(ServerTls.HANDSHAKE_TIMEOUT_MILLIS);
        return h;
    }

    public SslContext context() {
        return material.context();
    }

    /**
     * A JDK SSLContext with the same checks, for a client that is not Netty (the xDS gRPC
     * channel): the server's chain against {@code trusted_ca_file} (or the JDK's trust store), its
     * name against {@code match_subject_alt_names} or else {@code sni}, and the client
     * certificate when one is configured. The files are read now.
     */
    public static javax.net.ssl.SSLContext jdkContext(TlsClientConfig config) throws TlsMaterialException {
        ClientTls tls = new ClientTls("control_plane", config, TlsEngine.jdk(), new Counters());
        TlsFiles files = TlsFiles.read(tls.files());
        List<X509Certificate> cas = config.trustedCaFile() == null ? null
                : files.certificates(new TlsFiles.Ref("trusted_ca_file", config.trustedCaFile()));
        TlsFiles.KeyedChain client = config.clientCertificate() == null ? null
                : files.keyedChain("", config.clientCertificate(), Instant.now());
        try {
            javax.net.ssl.KeyManager[] keys = null;
            if (client != null) {
                java.security.KeyStore store = java.security.KeyStore.getInstance("PKCS12");
                store.load(null, null);
                store.setKeyEntry("client", client.key(), new char[0], client.chain().toArray(new X509Certificate[0]));
                javax.net.ssl.KeyManagerFactory kmf = javax.net.ssl.KeyManagerFactory.getInstance(javax.net.ssl.KeyManagerFactory.getDefaultAlgorithm());
                kmf.init(store, new char[0]);
                keys = kmf.getKeyManagers();
            }
            javax.net.ssl.SSLContext context = javax.net.ssl.SSLContext.getInstance("TLS");
            context.init(keys, new javax.net.ssl.TrustManager[] {VerifyingTrustManager.of(cas, config.matchSubjectAltNames(), config.sni())}, null);
            return context;
        } catch (java.security.GeneralSecurityException | java.io.IOException e) {
            throw new TlsMaterialException(client != null ? "cert_chain_file" : "trusted_ca_file", "cannot build a TLS context: " + e.getMessage());
        }
    }

    @Override
    public List<CertificateInfo> certificates() {
        return material.certificates();
    }

    @Override
    List<TlsFiles.Ref> files() {
        return refs(config);
    }

    private static List<TlsFiles.Ref> refs(TlsClientConfig config) {
        List<TlsFiles.Ref> refs = new ArrayList<>();
        if (config.trustedCaFile() != null) {
            refs.add(new TlsFiles.Ref("trusted_ca_file", config.trustedCaFile()));
        }
        if (config.clientCertificate() != null) {
            refs.add(new TlsFiles.Ref("cert_chain_file", config.clientCertificate().certChainFile()));
            refs.add(new TlsFiles.Ref("private_key_file", config.clientCertificate().privateKeyFile()));
        }
        return refs;
    }

    @Override
    byte[] currentDigest() {
        Material m = material;
        return m == null ? null : m.digest();
    }

    @Override
    void rebuild(TlsFiles files) throws TlsMaterialException {
        List<X509Certificate> cas = config.trustedCaFile() == null ? null
                : files.certificates(new TlsFiles.Ref("trusted_ca_file", config.trustedCaFile()));
        TlsFiles.KeyedChain client = config.clientCertificate() == null ? null
                : files.keyedChain("", config.clientCertificate(), Instant.now());
        SslContextBuilder b = SslContextBuilder.forClient()
                .sslProvider(engine.provider())
                .protocols(TlsOptions.protocols(TlsVersion.TLS_1_2, TlsVersion.TLS_1_3))
                .ciphers(TlsOptions.ciphers(List.of(), engine), SupportedCipherSuiteFilter.INSTANCE)
                .applicationProtocolConfig(TlsOptions.alpn(config.alpn()))
                // names are checked by the trust manager (SAN matchers or the SNI name), the same
                // way on both engines, rather than by the JDK's endpoint identification
                .endpointIdentificationAlgorithm(null)
                .trustManager(VerifyingTrustManager.of(cas, config.matchSubjectAltNames(), config.sni()));
        if (client != null) {
            b.keyManager(client.key(), client.chain());
        }
        SslContext context;
        try {
            context = b.build();
        } catch (SSLException | RuntimeException e) {
            throw new TlsMaterialException(client != null ? "cert_chain_file" : "trusted_ca_file", "the " + engine.configName()
                    + " engine cannot use it: " + e.getMessage());
        }
        material = new Material(context, client == null ? List.of() : TlsFiles.infos(client), files.digest());
    }
}
