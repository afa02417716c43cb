package dev.sidecar.tls;

import java.security.cert.CertificateException;

/** Why a handshake failed, in one line a person can act on. */
public final class TlsErrors {
    private TlsErrors() {}

    /**
     * The most telling message in {@code cause}'s chain: a certificate check's own (which names
     * the certificate and what it lacked) when there is one, else the innermost message, which
     * on both engines is closer to the reason than the "handshake failed" wrapped around it.
     */
    public static String describe(Throwable cause) {
        String certificate = null;
        String innermost = null;
        for (Throwable t = cause; t != null && t.getCause() != t; t = t.getCause()) {
            if (t instanceof CertificateException && t.getMessage() != null && certificate == null) {
                certificate = t.getMessage();
            }
            if (t.getMessage() != null) {
                innermost = t.getMessage();
            }
        }
        if (certificate != null) {
            return certificate;
        }
        return innermost != null ? innermost : String.valueOf(cause);
    }
}
