package dev.sidecar.tls;

import static java.util.Objects.requireNonNull;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.Certificate;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * The verified identity of a TLS peer, from its certificate: what an HTTP listener forwards
 * upstream in {@code x-forwarded-client-cert} and what an authorisation rule would look at.
 *
 * @param subject the subject's distinguished name (RFC 2253)
 * @param uris URI SANs, e.g. a SPIFFE ID {@code spiffe://cluster.local/ns/default/sa/web}
 * @param dnsNames DNS SANs
 * @param sha256 SHA-256 of the certificate's DER, hex, lower case (Envoy's XFCC {@code Hash})
 */
public record PeerIdentity(String subject, List<String> uris, List<String> dnsNames, String sha256) {
    public PeerIdentity {
        requireNonNull(subject, "subject");
        uris = List.copyOf(uris);
        dnsNames = List.copyOf(dnsNames);
        requireNonNull(sha256, "sha256");
    }

    /**
     * The peer's identity from a finished handshake's session, or empty when the peer sent no
     * certificate. Only sessions whose certificates were verified (an mTLS listener, or any
     * client connection) should be read this way: the session says what was presented.
     */
    public static Optional<PeerIdentity> of(SSLSession session) {
        Certificate[] chain;
        try {
            chain = session.getPeerCertificates();
        } catch (SSLPeerUnverifiedException e) {
            return Optional.empty();
        }
        if (chain.length == 0 || !(chain[0] instanceof X509Certificate leaf)) {
            return Optional.empty();
        }
        return Optional.of(of(leaf));
    }

    public static PeerIdentity of(X509Certificate cert) {
        List<String> sans = CertificateInfo.sans(cert);
        String hash;
        try {
            hash = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(cert.getEncoded()));
        } catch (NoSuchAlgorithmException | CertificateEncodingException e) {
            throw new IllegalStateException(e);
        }
        return new PeerIdentity(cert.getSubjectX500Principal().getName(),
                sans.stream().filter(s -> s.startsWith("URI:")).map(s -> s.substring(4)).toList(),
                sans.stream().filter(s -> s.startsWith("DNS:")).map(s -> s.substring(4)).toList(), hash);
    }

    /** The first URI SAN with the {@code spiffe://} scheme. */
    public Optional<String> spiffeId() {
        return uris.stream().filter(u -> u.startsWith("spiffe://")).findFirst();
    }

    /**
     * One element of Envoy's {@code x-forwarded-client-cert} header:
     * {@code Hash=<hex>;Subject="<dn>";URI=<uri>;DNS=<name>}, with a {@code URI} and a {@code DNS}
     * pair for every such SAN. Quotes and backslashes in the subject are escaped, and values that
     * contain {@code ,;=} are quoted, as Envoy does.
     */
    public String xfccElement() {
        StringBuilder sb = new StringBuilder("Hash=").append(sha256);
        sb.append(";Subject=\"").append(subject.replace("\\", "\\\\").replace("\"", "\\\"")).append('"');
        for (String u : uris) {
            sb.append(";URI=").append(quoteIfNeeded(u));
        }
        for (String d : dnsNames) {
            sb.append(";DNS=").append(quoteIfNeeded(d));
        }
        return sb.toString();
    }

    private static String quoteIfNeeded(String v) {
        if (v.indexOf(',') < 0 && v.indexOf(';') < 0 && v.indexOf('=') < 0 && v.indexOf('"') < 0) {
            return v;
        }
        return '"' + v.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
    }
}
