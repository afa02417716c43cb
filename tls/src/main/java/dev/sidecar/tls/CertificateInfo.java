package dev.sidecar.tls;

import static java.util.Objects.requireNonNull;

import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * What an operator wants to know about a loaded certificate: whose it is, which names it covers,
 * which one it is (serial), and when it runs out.
 *
 * @param file the file it was loaded from
 * @param sans subject alternative names as {@code DNS:name}, {@code URI:uri}, {@code IP:address}
 * @param serial hexadecimal, lower case
 */
public record CertificateInfo(String file, String subject, String issuer, List<String> sans, String serial, Instant notBefore,
                              Instant notAfter) {
    public CertificateInfo {
        requireNonNull(file, "file");
        requireNonNull(subject, "subject");
        sans = List.copyOf(sans);
        requireNonNull(serial, "serial");
        requireNonNull(notAfter, "notAfter");
    }

    public static CertificateInfo of(String file, X509Certificate cert) {
        return new CertificateInfo(file, cert.getSubjectX500Principal().getName(), cert.getIssuerX500Principal().getName(), sans(cert),
                cert.getSerialNumber().toString(16), cert.getNotBefore().toInstant(), cert.getNotAfter().toInstant());
    }

    /** Whole days from {@code now} until it expires; negative once it has. */
    public long daysUntilExpiry(Instant now) {
        return Math.floorDiv(Duration.between(now, notAfter).toSeconds(), 86_400L);
    }

    public long secondsUntilExpiry(Instant now) {
        return Duration.between(now, notAfter).toSeconds();
    }

    static List<String> sans(X509Certificate cert) {
        List<String> out = new ArrayList<>();
        Collection<List<?>> all;
        try {
            all = cert.getSubjectAlternativeNames();
        } catch (CertificateParsingException e) {
            return out;
        }
        if (all == null) {
            return out;
        }
        for (List<?> entry : all) {
            int type = (Integer) entry.get(0);
            Object value = entry.get(1);
            if (!(value instanceof String s)) {
                continue;
            }
            // RFC 5280 4.2.1.6 GeneralName tags
            if (type == 2) {
                out.add("DNS:" + s);
            } else if (type == 6) {
                out.add("URI:" + s);
            } else if (type == 7) {
                out.add("IP:" + s);
            } else if (type == 1) {
                out.add("email:" + s);
            }
        }
        return out;
    }

    /** The DNS and URI SANs without their prefixes: what SAN matchers are held against. */
    static List<String> matchableNames(X509Certificate cert) {
        List<String> out = new ArrayList<>();
        for (String san : sans(cert)) {
            if (san.startsWith("DNS:") || san.startsWith("URI:")) {
                out.add(san.substring(4));
            } else if (san.startsWith("IP:")) {
                out.add(san.substring(3));
            }
        }
        return out;
    }

    static List<String> dnsNames(X509Certificate cert) {
        return sans(cert).stream().filter(s -> s.startsWith("DNS:")).map(s -> s.substring(4)).toList();
    }
}
