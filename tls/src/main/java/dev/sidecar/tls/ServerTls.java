package dev.sidecar.tls;

import dev.sidecar.config.CertificateFiles;
import dev.sidecar.config.TlsServerConfig;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelHandler;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.ReferenceCountedOpenSslContext;
import io.netty.handler.ssl.ReferenceCountedOpenSslEngine;
import io.netty.handler.ssl.SniHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.SupportedCipherSuiteFilter;
import io.netty.internal.tcnative.SSL;
import io.netty.util.DomainWildcardMappingBuilder;
import io.netty.util.Mapping;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.SSLException;

/**
 * TLS termination for one listener: its certificates (chosen by SNI), versions, ciphers, ALPN
 * and client validation, as contexts that {@link #newHandler} puts in front of a connection.
 *
 * <p>The L4 and L7 listeners use it the same way: {@code pipeline.addFirst(tls.newHandler(alloc))},
 * then wait for the {@code SslHandshakeCompletionEvent}; after it, {@code SslHandler} (found by
 * class: SNI replaces its own handler with one) gives the ALPN result and the session for
 * {@link PeerIdentity#of}.
 */
public final class ServerTls extends ReloadableTls {
    /**
     * Session resumption: a cache of 20,000 sessions for 5 minutes (nginx's ssl_session_timeout
     * default), and tickets, which both engines issue by default with keys of each context's own;
     * a reload makes new keys, so sessions from before it do a full handshake once. With
     * {@code session_resumption: false} (the OpenSSL engine only) there is neither: no tickets are
     * issued or accepted and no session is cached, so every connection is a full handshake.
     */
    static final long SESSION_CACHE_SIZE = 20_000;
    static final long SESSION_TIMEOUT_SECONDS = 300;
    /** A client that opens a connection and never finishes the handshake is closed after this. */
    static final long HANDSHAKE_TIMEOUT_MILLIS = 10_000;
    /**
     * The largest ClientHello the SNI handler buffers before it knows which certificate to use:
     * one full TLS record; real hellos, post-quantum key shares included, are a few KiB.
     */
    static final int MAX_CLIENT_HELLO = 16 * 1024;

    private final TlsServerConfig config;
    private final TlsEngine engine;
    private volatile Material material;

    /**
     * @param contexts one per configured certificate, the default first
     * @param sni chooses a context by the client's server name; null with one certificate
     */
    private record Material(List<SslContext> contexts, Mapping<String, SslContext> sni, List<CertificateInfo> certificates, byte[] digest) {}

    private ServerTls(String name, TlsServerConfig config, TlsEngine engine, Counters counters) {
        super(name, counters);
        this.config = config;
        this.engine = engine;
    }

    /** Loads and checks the files and builds the contexts; throws naming the field at fault. */
    public static ServerTls build(String name, TlsServerConfig config, TlsEngine engine) throws TlsMaterialException {
        ServerTls tls = new ServerTls(name, config, engine, new Counters());
        tls.rebuild(TlsFiles.read(tls.files()));
        return tls;
    }

    /**
     * The same listener's TLS with a changed config: built anew (this one is left as it is, for
     * the connections made with it) and counting into the same counters.
     */
    public ServerTls next(TlsServerConfig config) throws TlsMaterialException {
        ServerTls tls = new ServerTls(name(), config, engine, counters());
        tls.rebuild(TlsFiles.read(tls.files()));
        return tls;
    }

    /**
     * Loads and checks the files without building contexts: the config check. Each certificate
     * and the CA bundle are checked on their own, so one bad file does not hide another.
     */
    static List<TlsMaterialException> check(TlsServerConfig config) {
        List<TlsMaterialException> out = new ArrayList<>();
        Instant now = Instant.now();
        for (int i = 0; i < config.certificates().size(); i++) {
            CertificateFiles f = config.certificates().get(i);
            String field = "certificates[" + i + "]";
            try {
                TlsFiles.read(List.of(new TlsFiles.Ref(field + ".cert_chain_file", f.certChainFile()),
                        new TlsFiles.Ref(field + ".private_key_file", f.privateKeyFile()))).keyedChain(field, f, now);
            } catch (TlsMaterialException e) {
                out.add(e);
            }
        }
        if (config.clientValidation() != null) {
            TlsFiles.Ref ref = new TlsFiles.Ref("client_validation.trusted_ca_file", config.clientValidation().trustedCaFile());
            try {
                TlsFiles.read(List.of(ref)).certificates(ref);
            } catch (TlsMaterialException e) {
                out.add(e);
            }
        }
        return out;
    }

    public TlsServerConfig config() {
        return config;
    }

    public TlsEngine engine() {
        return engine;
    }

    /**
     * A new handler for one accepted connection: an {@link SslHandler} with one certificate, an
     * {@link SniHandler} (which becomes one after the ClientHello) with several. It must be the
     * first handler of the pipeline.
     */
    public ChannelHandler newHandler(ByteBufAllocator alloc) {
        Material m = material;
        if (m.sni() == null) {
            SslHandler h = withoutTickets(m.contexts().get(0).newHandler(alloc));
            h.setHandshakeTimeoutMillis(HANDSHAKE_TIMEOUT_MILLIS);
            return h;
        }
        return new SniHandler(m.sni(), MAX_CLIENT_HELLO, HANDSHAKE_TIMEOUT_MILLIS) {
            @Override
            protected SslHandler newSslHandler(SslContext context, ByteBufAllocator allocator) {
                return withoutTickets(super.newSslHandler(context, allocator));
            }
        };
    }

    /**
     * With {@code session_resumption: false}, a connection's SSL neither issues tickets nor takes
     * them (BoringSSL reads the option per connection; Netty gives no handle on the context's).
     */
    private SslHandler withoutTickets(SslHandler h) {
        if (!config.sessionResumption() && h.engine() instanceof ReferenceCountedOpenSslEngine e) {
            SSL.setOptions(e.sslPointer(), SSL.SSL_OP_NO_TICKET);
        }
        return h;
    }

    /** The context of the default (first) certificate. */
    public SslContext defaultContext() {
        return material.contexts().get(0);
    }

    @Override
    public List<CertificateInfo> certificates() {
        return material.certificates();
    }

    @Override
    List<TlsFiles.Ref> files() {
        return refs(config);
    }

    private static List<TlsFiles.Ref> refs(TlsServerConfig config) {
        List<TlsFiles.Ref> refs = new ArrayList<>();
        for (int i = 0; i < config.certificates().size(); i++) {
            CertificateFiles f = config.certificates().get(i);
            refs.add(new TlsFiles.Ref("certificates[" + i + "].cert_chain_file", f.certChainFile()));
            refs.add(new TlsFiles.Ref("certificates[" + i + "].private_key_file", f.privateKeyFile()));
        }
        if (config.clientValidation() != null) {
            refs.add(new TlsFiles.Ref("client_validation.trusted_ca_file", config.clientValidation().trustedCaFile()));
        }
        return refs;
    }

    @Override
    byte[] currentDigest() {
        Material m = material;
        return m == null ? null : m.digest();
    }

    private record Loaded(List<TlsFiles.KeyedChain> chains, List<X509Certificate> clientCas) {}

    private static Loaded load(TlsServerConfig config, TlsFiles files, Instant now) throws TlsMaterialException {
        List<TlsFiles.KeyedChain> chains = new ArrayList<>();
        for (int i = 0; i < config.certificates().size(); i++) {
            chains.add(files.keyedChain("certificates[" + i + "]", config.certificates().get(i), now));
        }
        List<X509Certificate> cas = null;
        if (config.clientValidation() != null) {
            cas = files.certificates(new TlsFiles.Ref("client_validation.trusted_ca_file", config.clientValidation().trustedCaFile()));
        }
        return new Loaded(chains, cas);
    }

    @Override
    void rebuild(TlsFiles files) throws TlsMaterialException {
        Loaded loaded = load(config, files, Instant.now());
        List<String> ciphers = TlsOptions.ciphers(config.cipherSuites(), engine);
        if (!config.sessionResumption() && engine.provider() == SslProvider.JDK) {
            // the JDK's engine has no per-context switch for its tickets and cache
            throw new TlsMaterialException("session_resumption", "can be turned off only with the openssl engine (server.tls_engine)");
        }
        VerifyingTrustManager clientTrust = config.clientValidation() == null ? null
                : VerifyingTrustManager.of(loaded.clientCas(), config.clientValidation().matchSubjectAltNames(), null);
        List<SslContext> contexts = new ArrayList<>();
        List<CertificateInfo> infos = new ArrayList<>();
        for (int i = 0; i < loaded.chains().size(); i++) {
            TlsFiles.KeyedChain kc = loaded.chains().get(i);
            SslContextBuilder b = SslContextBuilder.forServer(kc.key(), kc.chain())
                    .sslProvider(engine.provider())
                    .protocols(TlsOptions.protocols(config.minVersion(), config.maxVersion()))
                    .ciphers(ciphers, SupportedCipherSuiteFilter.INSTANCE)
                    .applicationProtocolConfig(TlsOptions.alpn(config.alpn()))
                    .sessionCacheSize(SESSION_CACHE_SIZE)
                    .sessionTimeout(SESSION_TIMEOUT_SECONDS);
            if (clientTrust != null) {
                b.clientAuth(config.clientValidation().requireClientCertificate() ? ClientAuth.REQUIRE : ClientAuth.OPTIONAL)
                        .trustManager(clientTrust);
            }
            try {
                SslContext context = b.build();
                if (!config.sessionResumption()) {
                    // no session cache (TLS 1.2 session IDs); tickets are off per connection
                    ((ReferenceCountedOpenSslContext) context).sessionContext().setSessionCacheEnabled(false);
                }
                contexts.add(context);
            } catch (SSLException | RuntimeException e) {
                throw new TlsMaterialException("certificates[" + i + "]", "the " + engine.configName() + " engine cannot use it: "
                        + e.getMessage());
            }
            infos.addAll(TlsFiles.infos(kc));
        }
        Mapping<String, SslContext> sni = null;
        if (contexts.size() > 1) {
            DomainWildcardMappingBuilder<SslContext> mb = new DomainWildcardMappingBuilder<>(contexts.get(0));
            // added last to first, so that a name two certificates share goes to the earlier one
            for (int i = contexts.size() - 1; i >= 0; i--) {
                for (String dns : CertificateInfo.dnsNames(loaded.chains().get(i).leaf())) {
                    mb.add(dns, contexts.get(i));
                }
            }
            sni = mb.build();
        }
        material = new Material(List.copyOf(contexts), sni, List.copyOf(infos), files.digest());
    }
}
