package dev.sidecar.config;

import static java.util.Objects.requireNonNull;

import java.util.List;

/**
 * TLS termination on a listener.
 *
 * @param certificates the first is served when the client sends no SNI or one no certificate
 *     covers; the others are chosen by SNI from the DNS names in their SANs (exact or wildcard)
 * @param alpn protocols offered in ALPN, in order of preference; empty for no ALPN
 * @param cipherSuites TLS 1.2 cipher suites by IANA name; empty for the built-in list
 * @param clientValidation mTLS; null when clients are not asked for a certificate
 * @param sessionResumption whether a returning client may resume its session (TLS 1.3 tickets,
 *     TLS 1.2 tickets and session IDs) instead of a full handshake; on by default
 */
public record TlsServerConfig(
        List<CertificateFiles> certificates,
        List<String> alpn,
        TlsVersion minVersion,
        TlsVersion maxVersion,
        List<String> cipherSuites,
        ClientValidation clientValidation,
        boolean sessionResumption) {

    public TlsServerConfig {
        certificates = List.copyOf(certificates);
        alpn = List.copyOf(alpn);
        requireNonNull(minVersion, "minVersion");
        requireNonNull(maxVersion, "maxVersion");
        cipherSuites = List.copyOf(cipherSuites);
    }

    /** With session resumption on. */
    public TlsServerConfig(List<CertificateFiles> certificates, List<String> alpn, TlsVersion minVersion, TlsVersion maxVersion,
            List<String> cipherSuites, ClientValidation clientValidation) {
        this(certificates, alpn, minVersion, maxVersion, cipherSuites, clientValidation, true);
    }

    /** One certificate, TLS 1.2 and 1.3, no ALPN, no mTLS. */
    public static TlsServerConfig of(CertificateFiles certificate) {
        return new TlsServerConfig(List.of(certificate), List.of(), TlsVersion.TLS_1_2, TlsVersion.TLS_1_3, List.of(), null);
    }

    public TlsServerConfig withClientValidation(ClientValidation v) {
        return new TlsServerConfig(certificates, alpn, minVersion, maxVersion, cipherSuites, v, sessionResumption);
    }

    public TlsServerConfig withAlpn(List<String> v) {
        return new TlsServerConfig(certificates, v, minVersion, maxVersion, cipherSuites, clientValidation, sessionResumption);
    }

    /**
     * How client certificates are checked.
     *
     * @param trustedCaFile PEM bundle of the CAs a client certificate must chain to
     * @param requireClientCertificate refuse clients without a certificate; when false a client
     *     may present none, but one it presents must still verify
     * @param matchSubjectAltNames a presented certificate must have a SAN matching one of these;
     *     empty for any
     */
    public record ClientValidation(String trustedCaFile, boolean requireClientCertificate, List<SanMatcher> matchSubjectAltNames) {
        public ClientValidation {
            requireNonNull(trustedCaFile, "trustedCaFile");
            matchSubjectAltNames = List.copyOf(matchSubjectAltNames);
        }
    }
}
