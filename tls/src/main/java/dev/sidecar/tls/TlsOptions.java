package dev.sidecar.tls;

import dev.sidecar.config.TlsVersion;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/** Protocol versions, cipher suites and ALPN, shared by server and client contexts. */
final class TlsOptions {
    /**
     * TLS 1.2 suites: Mozilla's "intermediate" list without DHE (BoringSSL has none): ECDHE key
     * exchange (forward secrecy) with AEAD ciphers only, so no NULL, EXPORT, RC4, 3DES or CBC.
     */
    static final List<String> DEFAULT_TLS12_CIPHERS = List.of(
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256");

    /** Every TLS 1.3 suite is AEAD; BoringSSL does not let them be chosen, the JDK needs them listed. */
    static final List<String> TLS13_CIPHERS = List.of("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256");

    private TlsOptions() {}

    static String[] protocols(TlsVersion min, TlsVersion max) {
        List<String> out = new ArrayList<>();
        for (TlsVersion v : TlsVersion.values()) {
            if (v.compareTo(min) >= 0 && v.compareTo(max) <= 0) {
                out.add(v.protocolName());
            }
        }
        return out.toArray(String[]::new);
    }

    /** The configured TLS 1.2 suites (or the defaults), checked against the engine, then the TLS 1.3 ones. */
    static List<String> ciphers(List<String> configured, TlsEngine engine) throws TlsMaterialException {
        List<String> out = new ArrayList<>();
        if (configured.isEmpty()) {
            out.addAll(DEFAULT_TLS12_CIPHERS);
        } else {
            Set<String> supported = engine.supportedCipherSuites();
            for (int i = 0; i < configured.size(); i++) {
                String c = configured.get(i);
                if (!supported.contains(c)) {
                    throw new TlsMaterialException("cipher_suites[" + i + "]", "'" + c + "' is not a cipher suite the " + engine.configName()
                            + " engine supports (give IANA names such as TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)");
                }
                out.add(c);
            }
        }
        out.addAll(TLS13_CIPHERS);
        return out;
    }

    /**
     * ALPN in the form both engines accept: on the server, no protocol is selected when nothing
     * overlaps (the handshake goes on, RFC 7301 allows either); on the client, a server that picks
     * something not offered is accepted and the application sees what it picked.
     */
    static ApplicationProtocolConfig alpn(List<String> protocols) {
        if (protocols.isEmpty()) {
            return ApplicationProtocolConfig.DISABLED;
        }
        return new ApplicationProtocolConfig(ApplicationProtocolConfig.Protocol.ALPN,
                ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT, protocols);
    }
}
