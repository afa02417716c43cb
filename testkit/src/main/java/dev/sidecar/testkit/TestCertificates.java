package dev.sidecar.testkit;

import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.util.io.pem.PemObject;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * Certificates made at test time, so that no private key is ever committed: a CA, server
 * certificates with DNS SANs, client certificates with SPIFFE URI SANs, expired ones, with RSA or
 * EC keys, written as PEM with keys in PKCS#1 / SEC1 ("traditional") or PKCS#8.
 *
 * <pre>{@code
 * TestCertificates.Authority ca = TestCertificates.authority("test CA");
 * TestCertificates.Issued server = ca.issue("server").dns("api.internal").build();
 * server.write(dir, "server", KeyFormat.PKCS8);   // dir/server.pem, dir/server.key
 * }</pre>
 */
public final class TestCertificates {
    public enum KeyType { RSA, EC }

    /** TRADITIONAL is {@code BEGIN RSA PRIVATE KEY} (PKCS#1) for RSA and {@code BEGIN EC PRIVATE KEY} (SEC1) for EC. */
    public enum KeyFormat { TRADITIONAL, PKCS8 }

    private static final AtomicLong SERIALS = new AtomicLong(System.currentTimeMillis());

    private TestCertificates() {}

    public static KeyPair keyPair(KeyType type) {
        try {
            if (type == KeyType.RSA) {
                KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
                g.initialize(2048);
                return g.generateKeyPair();
            }
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"));
            return g.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A self-signed CA with an EC key. */
    public static Authority authority(String name) {
        return authority(name, KeyType.EC);
    }

    public static Authority authority(String name, KeyType type) {
        KeyPair keys = keyPair(type);
        X500Name subject = new X500Name("CN=" + name);
        Instant now = Instant.now();
        try {
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(subject, nextSerial(), Date.from(now.minus(Duration.ofHours(1))),
                    Date.from(now.plus(Duration.ofDays(3650))), subject, keys.getPublic())
                    .addExtension(Extension.basicConstraints, true, new BasicConstraints(true))
                    .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign))
                    .addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(keys.getPublic()));
            return new Authority(sign(b, keys), keys);
        } catch (IOException | GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static BigInteger nextSerial() {
        return BigInteger.valueOf(SERIALS.incrementAndGet());
    }

    private static X509Certificate sign(X509v3CertificateBuilder b, KeyPair signer) throws GeneralSecurityException {
        try {
            String alg = signer.getPrivate().getAlgorithm().equals("RSA") ? "SHA256withRSA" : "SHA256withECDSA";
            ContentSigner s = new JcaContentSignerBuilder(alg).build(signer.getPrivate());
            return new JcaX509CertificateConverter().getCertificate(b.build(s));
        } catch (org.bouncycastle.operator.OperatorCreationException e) {
            throw new GeneralSecurityException(e);
        }
    }

    /** A certificate authority: it issues leaf certificates. */
    public static final class Authority {
        private final X509Certificate certificate;
        private final KeyPair keys;

        private Authority(X509Certificate certificate, KeyPair keys) {
            this.certificate = certificate;
            this.keys = keys;
        }

        public X509Certificate certificate() {
            return certificate;
        }

        /** Starts a leaf certificate with this common name. */
        public LeafBuilder issue(String commonName) {
            return new LeafBuilder(this, commonName);
        }

        /** Writes the CA certificate as PEM to {@code file}; returns it. */
        public Path write(Path file) {
            writeString(file, pem(certificate));
            return file;
        }

        /** A JDK SSLContext that trusts this CA and presents {@code client} (or nothing when null). */
        public SSLContext clientContext(Issued client) {
            return context(client, this);
        }
    }

    public static final class LeafBuilder {
        private final Authority ca;
        private final String commonName;
        private final List<GeneralName> sans = new ArrayList<>();
        private KeyType keyType = KeyType.EC;
        private Instant notBefore = Instant.now().minus(Duration.ofHours(1));
        private Instant notAfter = Instant.now().plus(Duration.ofDays(90));

        private LeafBuilder(Authority ca, String commonName) {
            this.ca = ca;
            this.commonName = commonName;
        }

        public LeafBuilder dns(String... names) {
            for (String n : names) {
                sans.add(new GeneralName(GeneralName.dNSName, n));
            }
            return this;
        }

        public LeafBuilder uri(String... uris) {
            for (String u : uris) {
                sans.add(new GeneralName(GeneralName.uniformResourceIdentifier, u));
            }
            return this;
        }

        public LeafBuilder ip(String... addresses) {
            for (String a : addresses) {
                sans.add(new GeneralName(GeneralName.iPAddress, a));
            }
            return this;
        }

        public LeafBuilder keyType(KeyType type) {
            this.keyType = type;
            return this;
        }

        /** Valid from two days ago until yesterday. */
        public LeafBuilder expired() {
            notBefore = Instant.now().minus(Duration.ofDays(2));
            notAfter = Instant.now().minus(Duration.ofDays(1));
            return this;
        }

        /** Not valid before {@code notBefore} (in the future: a certificate not yet valid). */
        public LeafBuilder validFrom(Instant notBefore) {
            this.notBefore = notBefore;
            return this;
        }

        public LeafBuilder validUntil(Instant notAfter) {
            this.notAfter = notAfter;
            return this;
        }

        public Issued build() {
            KeyPair keys = keyPair(keyType);
            try {
                JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
                X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(ca.certificate, nextSerial(), Date.from(notBefore),
                        Date.from(notAfter), new X500Name("CN=" + commonName), keys.getPublic())
                        .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
                        .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment))
                        .addExtension(Extension.extendedKeyUsage, false,
                                new ExtendedKeyUsage(new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}))
                        .addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(ca.certificate))
                        .addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(keys.getPublic()));
                if (!sans.isEmpty()) {
                    b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(sans.toArray(GeneralName[]::new)));
                }
                return new Issued(sign(b, ca.keys), keys, ca);
            } catch (IOException | GeneralSecurityException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    /** A leaf certificate, its key pair and its issuer. */
    public static final class Issued {
        private final X509Certificate certificate;
        private final KeyPair keys;
        private final Authority issuer;

        private Issued(X509Certificate certificate, KeyPair keys, Authority issuer) {
            this.certificate = certificate;
            this.keys = keys;
            this.issuer = issuer;
        }

        public X509Certificate certificate() {
            return certificate;
        }

        public KeyPair keys() {
            return keys;
        }

        /** The serial as {@code CertificateInfo} and {@code openssl x509 -serial} print it (hex; lower case here). */
        public String serialHex() {
            return certificate.getSerialNumber().toString(16);
        }

        /** Writes {@code dir/name.pem} (the certificate) and {@code dir/name.key}; returns the pair. */
        public PemPair write(Path dir, String name, KeyFormat format) {
            Path cert = writeChain(dir.resolve(name + ".pem"));
            Path key = writeKey(dir.resolve(name + ".key"), format);
            return new PemPair(cert, key);
        }

        public Path writeChain(Path file) {
            writeString(file, pem(certificate));
            return file;
        }

        public Path writeKey(Path file, KeyFormat format) {
            writeString(file, keyPem(keys, format));
            return file;
        }

        /** A JDK SSLContext presenting this certificate and trusting {@code trusted}. */
        public SSLContext context(Authority trusted) {
            return TestCertificates.context(this, trusted);
        }
    }

    /** A certificate file and its key file. */
    public record PemPair(Path cert, Path key) {}

    public static String pem(X509Certificate cert) {
        return pemObject(cert);
    }

    public static String keyPem(KeyPair keys, KeyFormat format) {
        try {
            if (format == KeyFormat.PKCS8) {
                return pemObject(new JcaPKCS8Generator(keys.getPrivate(), null).generate());
            }
            if (keys.getPrivate().getAlgorithm().equals("RSA")) {
                // a KeyPair is written in the traditional OpenSSL form: PKCS#1 for RSA
                return pemObject(keys);
            }
            // SEC1 as OpenSSL writes it, with the named curve in [0] and the public key in [1];
            // the JDK's own encoding leaves both out of the inner structure
            PrivateKeyInfo pki = PrivateKeyInfo.getInstance(keys.getPrivate().getEncoded());
            org.bouncycastle.asn1.sec.ECPrivateKey inner = org.bouncycastle.asn1.sec.ECPrivateKey.getInstance(pki.parsePrivateKey());
            SubjectPublicKeyInfo spki = SubjectPublicKeyInfo.getInstance(keys.getPublic().getEncoded());
            org.bouncycastle.asn1.sec.ECPrivateKey full = new org.bouncycastle.asn1.sec.ECPrivateKey(256, inner.getKey(),
                    spki.getPublicKeyData(), pki.getPrivateKeyAlgorithm().getParameters());
            return pemObject(new PemObject("EC PRIVATE KEY", full.getEncoded()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String pemObject(Object o) {
        StringWriter sw = new StringWriter();
        try (JcaPEMWriter w = new JcaPEMWriter(sw)) {
            w.writeObject(o);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return sw.toString();
    }

    private static void writeString(Path file, String text) {
        try {
            Files.writeString(file, text);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static SSLContext context(Issued own, Authority trusted) {
        try {
            KeyManagerFactory kmf = null;
            if (own != null) {
                KeyStore ks = KeyStore.getInstance("PKCS12");
                ks.load(null, null);
                ks.setKeyEntry("key", own.keys.getPrivate(), new char[0], new X509Certificate[] {own.certificate});
                kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
                kmf.init(ks, new char[0]);
            }
            TrustManagerFactory tmf = null;
            if (trusted != null) {
                KeyStore ts = KeyStore.getInstance("PKCS12");
                ts.load(null, null);
                ts.setCertificateEntry("ca", trusted.certificate);
                tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
                tmf.init(ts);
            }
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(kmf == null ? null : kmf.getKeyManagers(), tmf == null ? null : tmf.getTrustManagers(), new SecureRandom());
            return ctx;
        } catch (IOException | GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }
}
