package dev.sidecar.config;

import java.util.List;

/**
 * TLS origination to a cluster's endpoints.
 *
 * @param sni the server name sent, and the name the certificate must carry when
 *     {@code matchSubjectAltNames} is empty; null to send the endpoint's host name (none for an
 *     IP address)
 * @param trustedCaFile PEM bundle of the CAs the server certificate must chain to; null for the
 *     JDK's default trust store
 * @param matchSubjectAltNames the server certificate must have a SAN matching one of these; when
 *     empty, a DNS SAN must cover the SNI name (when there is one)
 * @param clientCertificate sent when the server asks for one (mTLS); null for none
 * @param alpn protocols offered in ALPN; empty for no ALPN
 */
public record TlsClientConfig(
        String sni,
        String trustedCaFile,
        List<SanMatcher> matchSubjectAltNames,
        CertificateFiles clientCertificate,
        List<String> alpn) {

    public TlsClientConfig {
        matchSubjectAltNames = List.copyOf(matchSubjectAltNames);
        alpn = List.copyOf(alpn);
    }
}
