package dev.sidecar.tls;

import dev.sidecar.config.TlsEngineChoice;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslProvider;
import java.security.NoSuchAlgorithmException;
import java.util.Set;
import javax.net.ssl.SSLContext;

/**
 * The TLS implementation: OpenSSL (BoringSSL linked into netty-tcnative) or the JDK's JSSE. The
 * same config and the same certificates work on both; OpenSSL is the default wherever its native
 * library loads, the JDK's the fallback (and a choice: {@code server.tls_engine: jdk}).
 */
public final class TlsEngine {
    private final SslProvider provider;

    private TlsEngine(SslProvider provider) {
        this.provider = provider;
    }

    public static TlsEngine jdk() {
        return new TlsEngine(SslProvider.JDK);
    }

    /**
     * The engine {@code choice} asks for; throws {@link IllegalStateException} saying why when it
     * asks for OpenSSL and OpenSSL cannot load here.
     */
    public static TlsEngine select(TlsEngineChoice choice) {
        switch (choice) {
            case JDK:
                return jdk();
            case OPENSSL:
                if (!OpenSsl.isAvailable()) {
                    throw new IllegalStateException("server.tls_engine: openssl is not available on this host: "
                            + OpenSsl.unavailabilityCause());
                }
                return new TlsEngine(SslProvider.OPENSSL);
            case AUTO:
            default:
                return OpenSsl.isAvailable() ? new TlsEngine(SslProvider.OPENSSL) : jdk();
        }
    }

    public SslProvider provider() {
        return provider;
    }

    /** {@code openssl} or {@code jdk}, as the config names them. */
    public String configName() {
        return provider == SslProvider.JDK ? "jdk" : "openssl";
    }

    /** The name and the library version, for the start log. */
    public String describe() {
        return provider == SslProvider.JDK ? "jdk (JSSE, Java " + Runtime.version().feature() + ")"
                : "openssl (" + OpenSsl.versionString() + ")";
    }

    /** Cipher suites this engine can use, by IANA name. */
    Set<String> supportedCipherSuites() {
        if (provider != SslProvider.JDK) {
            return OpenSsl.availableJavaCipherSuites();
        }
        try {
            return Set.of(SSLContext.getDefault().getSupportedSSLParameters().getCipherSuites());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public String toString() {
        return configName();
    }
}
