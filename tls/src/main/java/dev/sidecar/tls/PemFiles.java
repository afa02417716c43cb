package dev.sidecar.tls;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * PEM certificates and private keys, read with the JDK's own classes so that both TLS engines get
 * the same {@link X509Certificate} and {@link PrivateKey} objects.
 *
 * <p>Keys: PKCS#8 ({@code BEGIN PRIVATE KEY}) goes to {@link KeyFactory} as it is; PKCS#1
 * ({@code BEGIN RSA PRIVATE KEY}, RFC 8017 A.1.2) and SEC1 ({@code BEGIN EC PRIVATE KEY}, RFC 5915)
 * are wrapped into a PKCS#8 PrivateKeyInfo (RFC 5208) first, which needs only the algorithm
 * identifier in front: for RSA a fixed one, for EC the curve OID read from the SEC1 structure.
 * Encrypted keys are refused: a proxy that restarts unattended has nowhere to get a passphrase.
 */
final class PemFiles {
    private static final Pattern BLOCK = Pattern.compile("-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \\1-----", Pattern.DOTALL);

    /** DER of AlgorithmIdentifier { rsaEncryption (1.2.840.113549.1.1.1), NULL }. */
    private static final byte[] RSA_ALGORITHM = {0x30, 0x0d, 0x06, 0x09, 0x2a, (byte) 0x86, 0x48, (byte) 0x86, (byte) 0xf7, 0x0d, 0x01,
            0x01, 0x01, 0x05, 0x00};
    /** DER of OID id-ecPublicKey (1.2.840.10045.2.1). */
    private static final byte[] EC_PUBLIC_KEY_OID = {0x06, 0x07, 0x2a, (byte) 0x86, 0x48, (byte) 0xce, 0x3d, 0x02, 0x01};

    private PemFiles() {}

    private record Block(String type, byte[] der) {}

    private static List<Block> blocks(String text) {
        List<Block> out = new ArrayList<>();
        Matcher m = BLOCK.matcher(text);
        while (m.find()) {
            String body = m.group(2);
            if (body.contains(":")) {
                // RFC 1421 headers (Proc-Type: 4,ENCRYPTED) mark an encrypted traditional key
                out.add(new Block(m.group(1) + " (encrypted)", new byte[0]));
                continue;
            }
            try {
                out.add(new Block(m.group(1), Base64.getMimeDecoder().decode(body)));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("the " + m.group(1) + " block is not valid base64");
            }
        }
        return out;
    }

    /** Every certificate in the text, in order (leaf first in a chain). */
    static List<X509Certificate> certificates(byte[] pem) {
        List<X509Certificate> out = new ArrayList<>();
        CertificateFactory factory;
        try {
            factory = CertificateFactory.getInstance("X.509");
        } catch (CertificateException e) {
            throw new IllegalStateException(e);
        }
        for (Block b : blocks(new String(pem, StandardCharsets.US_ASCII))) {
            if (!b.type().equals("CERTIFICATE")) {
                continue;
            }
            try {
                out.add((X509Certificate) factory.generateCertificate(new ByteArrayInputStream(b.der())));
            } catch (CertificateException e) {
                throw new IllegalArgumentException("certificate " + (out.size() + 1) + " cannot be parsed: " + e.getMessage());
            }
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException("has no PEM CERTIFICATE block");
        }
        return out;
    }

    /** The one private key in the text: RSA or EC, in PKCS#8, PKCS#1 or SEC1. */
    static PrivateKey privateKey(byte[] pem) {
        List<Block> keys = blocks(new String(pem, StandardCharsets.US_ASCII)).stream()
                .filter(b -> b.type().endsWith("PRIVATE KEY") || b.type().endsWith("(encrypted)"))
                .toList();
        if (keys.isEmpty()) {
            throw new IllegalArgumentException("has no PEM private key block (BEGIN PRIVATE KEY, BEGIN RSA PRIVATE KEY or BEGIN EC PRIVATE KEY)");
        }
        if (keys.size() > 1) {
            throw new IllegalArgumentException("has " + keys.size() + " private keys; give one key per file");
        }
        Block b = keys.get(0);
        switch (b.type()) {
            case "PRIVATE KEY":
                return pkcs8(b.der(), null);
            case "RSA PRIVATE KEY":
                return pkcs8(privateKeyInfo(RSA_ALGORITHM, b.der()), "RSA");
            case "EC PRIVATE KEY":
                return pkcs8(privateKeyInfo(ecAlgorithm(b.der()), b.der()), "EC");
            case "ENCRYPTED PRIVATE KEY":
            default:
                if (b.type().contains("ENCRYPTED") || b.type().endsWith("(encrypted)")) {
                    throw new IllegalArgumentException("holds an encrypted private key; give it unencrypted"
                            + " (openssl pkey -in KEY -out KEY.plain) and protect the file instead");
                }
                throw new IllegalArgumentException("holds a " + b.type() + ", which is not supported (RSA or EC keys only)");
        }
    }

    private static PrivateKey pkcs8(byte[] der, String algorithm) {
        List<String> tries = algorithm != null ? List.of(algorithm) : List.of("RSA", "EC");
        GeneralSecurityException last = null;
        for (String a : tries) {
            try {
                return KeyFactory.getInstance(a).generatePrivate(new PKCS8EncodedKeySpec(der));
            } catch (GeneralSecurityException e) {
                last = e;
            }
        }
        throw new IllegalArgumentException("the private key cannot be read as an RSA or EC key"
                + (last != null && last.getMessage() != null ? ": " + last.getMessage() : ""));
    }

    /** PrivateKeyInfo ::= SEQUENCE { version 0, AlgorithmIdentifier, OCTET STRING privateKey }. */
    private static byte[] privateKeyInfo(byte[] algorithm, byte[] key) {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        body.writeBytes(new byte[] {0x02, 0x01, 0x00});
        body.writeBytes(algorithm);
        body.writeBytes(tlv(0x04, key));
        return tlv(0x30, body.toByteArray());
    }

    /**
     * AlgorithmIdentifier { id-ecPublicKey, namedCurve } for a SEC1 ECPrivateKey ::= SEQUENCE {
     * version 1, OCTET STRING privateKey, [0] parameters OPTIONAL, [1] publicKey OPTIONAL }.
     */
    private static byte[] ecAlgorithm(byte[] sec1) {
        Der seq = new Der(sec1, 0);
        if (seq.tag != 0x30) {
            throw new IllegalArgumentException("the EC private key is not a DER SEQUENCE");
        }
        int pos = seq.contentStart;
        while (pos < seq.end) {
            Der field = new Der(sec1, pos);
            if (field.tag == 0xa0) {
                Der oid = new Der(sec1, field.contentStart);
                if (oid.tag != 0x06) {
                    break;
                }
                ByteArrayOutputStream body = new ByteArrayOutputStream();
                body.writeBytes(EC_PUBLIC_KEY_OID);
                body.write(sec1, field.contentStart, oid.end - field.contentStart);
                return tlv(0x30, body.toByteArray());
            }
            pos = field.end;
        }
        throw new IllegalArgumentException("the EC private key does not name its curve; write it with its parameters"
                + " (openssl ec -in KEY -param_enc named_curve) or as PKCS#8");
    }

    private static byte[] tlv(int tag, byte[] content) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(tag);
        int n = content.length;
        if (n < 0x80) {
            out.write(n);
        } else if (n < 0x100) {
            out.write(0x81);
            out.write(n);
        } else if (n < 0x10000) {
            out.write(0x82);
            out.write(n >> 8);
            out.write(n);
        } else {
            out.write(0x83);
            out.write(n >> 16);
            out.write(n >> 8);
            out.write(n);
        }
        out.writeBytes(content);
        return out.toByteArray();
    }

    /** One DER element's tag and extent: enough of a DER walk for the two structures above. */
    private static final class Der {
        final int tag;
        final int contentStart;
        final int end;

        Der(byte[] b, int at) {
            if (at + 2 > b.length) {
                throw new IllegalArgumentException("the key is truncated (DER ends early)");
            }
            tag = b[at] & 0xff;
            int len = b[at + 1] & 0xff;
            int p = at + 2;
            if (len >= 0x80) {
                int bytes = len & 0x7f;
                if (bytes == 0 || bytes > 3 || p + bytes > b.length) {
                    throw new IllegalArgumentException("the key has a DER length this reader does not take");
                }
                len = 0;
                for (int i = 0; i < bytes; i++) {
                    len = (len << 8) | (b[p++] & 0xff);
                }
            }
            contentStart = p;
            end = p + len;
            if (end > b.length) {
                throw new IllegalArgumentException("the key is truncated (DER ends early)");
            }
        }
    }
}
