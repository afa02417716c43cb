package dev.sidecar.tls;

import dev.sidecar.config.SanMatcher;
import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Locale;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * PKIX chain validation against a CA bundle (the JDK's own validator: expiry, signatures, key
 * usage), then the name check: a peer certificate must carry a SAN (DNS, URI or IP) matching one
 * of the configured matchers; with no matchers, a server certificate's DNS SANs must cover the
 * SNI name (RFC 6125 rules: exact, or one wildcard as the whole leftmost label).
 *
 * <p>Done inside the handshake rather than after it, so a peer that fails gets a TLS alert and
 * the failure is a handshake failure on both engines, with this class's message as its cause.
 */
final class VerifyingTrustManager extends X509ExtendedTrustManager {
    private final X509ExtendedTrustManager pkix;
    private final List<SanMatcher> matchers;
    /** Client side only: the name the server must prove, when fixed by config; else the engine's peer host. */
    private final String serverName;

    private VerifyingTrustManager(X509ExtendedTrustManager pkix, List<SanMatcher> matchers, String serverName) {
        this.pkix = pkix;
        this.matchers = List.copyOf(matchers);
        this.serverName = serverName;
    }

    /** @param trusted the CA certificates; null for the JDK's default trust store */
    static VerifyingTrustManager of(List<X509Certificate> trusted, List<SanMatcher> matchers, String serverName) {
        try {
            TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
            if (trusted == null) {
                tmf.init((KeyStore) null);
            } else {
                KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
                ks.load(null, null);
                for (int i = 0; i < trusted.size(); i++) {
                    ks.setCertificateEntry("ca-" + i, trusted.get(i));
                }
                tmf.init(ks);
            }
            for (TrustManager tm : tmf.getTrustManagers()) {
                if (tm instanceof X509ExtendedTrustManager x) {
                    return new VerifyingTrustManager(x, matchers, serverName);
                }
            }
            throw new IllegalStateException("the JDK offers no X509ExtendedTrustManager");
        } catch (GeneralSecurityException | java.io.IOException e) {
            throw new IllegalStateException("cannot set up certificate validation: " + e.getMessage(), e);
        }
    }

    // ---- client certificates (this side is the server) ----

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
        try {
            pkix.checkClientTrusted(chain, authType, engine);
        } catch (CertificateException e) {
            throw untrusted("client", chain, e);
        }
        checkSans("client", chain[0], null);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        try {
            pkix.checkClientTrusted(chain, authType, socket);
        } catch (CertificateException e) {
            throw untrusted("client", chain, e);
        }
        checkSans("client", chain[0], null);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        try {
            pkix.checkClientTrusted(chain, authType);
        } catch (CertificateException e) {
            throw untrusted("client", chain, e);
        }
        checkSans("client", chain[0], null);
    }

    // ---- server certificates (this side is the client) ----

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
        try {
            pkix.checkServerTrusted(chain, authType, engine);
        } catch (CertificateException e) {
            throw untrusted("server", chain, e);
        }
        checkSans("server", chain[0], serverName != null ? serverName : engine == null ? null : engine.getPeerHost());
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        try {
            pkix.checkServerTrusted(chain, authType, socket);
        } catch (CertificateException e) {
            throw untrusted("server", chain, e);
        }
        checkSans("server", chain[0], serverName);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        try {
            pkix.checkServerTrusted(chain, authType);
        } catch (CertificateException e) {
            throw untrusted("server", chain, e);
        }
        checkSans("server", chain[0], serverName);
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
        return pkix.getAcceptedIssuers();
    }

    private static CertificateException untrusted(String who, X509Certificate[] chain, CertificateException cause) {
        String subject = chain == null || chain.length == 0 ? "(none)" : chain[0].getSubjectX500Principal().getName();
        return new CertificateException(who + " certificate " + subject + " is not trusted: " + cause.getMessage(), cause);
    }

    private void checkSans(String who, X509Certificate leaf, String hostName) throws CertificateException {
        if (!matchers.isEmpty()) {
            List<String> names = CertificateInfo.matchableNames(leaf);
            for (String n : names) {
                for (SanMatcher m : matchers) {
                    if (m.matches(n)) {
                        return;
                    }
                }
            }
            throw new CertificateException(who + " certificate " + leaf.getSubjectX500Principal().getName() + " has SANs "
                    + CertificateInfo.sans(leaf) + ", none of which matches " + matchers);
        }
        if (hostName != null && !isIpLiteral(hostName)) {
            for (String dns : CertificateInfo.dnsNames(leaf)) {
                if (dnsMatches(dns, hostName)) {
                    return;
                }
            }
            throw new CertificateException(who + " certificate " + leaf.getSubjectX500Principal().getName() + " has SANs "
                    + CertificateInfo.sans(leaf) + ", none of which covers " + hostName);
        }
    }

    /** RFC 6125 6.4.3: exact (case-insensitive), or {@code *.rest} covering exactly one more label. */
    static boolean dnsMatches(String pattern, String host) {
        String p = trimDot(pattern).toLowerCase(Locale.ROOT);
        String h = trimDot(host).toLowerCase(Locale.ROOT);
        if (!p.startsWith("*.")) {
            return p.equals(h);
        }
        int dot = h.indexOf('.');
        return dot > 0 && h.substring(dot).equals(p.substring(1)) && p.indexOf('.', 2) > 0;
    }

    private static String trimDot(String s) {
        return s.endsWith(".") ? s.substring(0, s.length() - 1) : s;
    }

    static boolean isIpLiteral(String host) {
        return host.indexOf(':') >= 0 || host.chars().allMatch(c -> c == '.' || (c >= '0' && c <= '9'));
    }
}
