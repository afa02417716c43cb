package dev.sidecar.tls;

import dev.sidecar.config.CertificateFiles;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECKey;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The files one TLS section uses, each read once: the bytes that are digested (to notice a
 * change) are the bytes that are parsed, so a file replaced between the two cannot be loaded
 * under the old file's digest.
 */
final class TlsFiles {
    /** A file and the config field (relative to the tls section) that names it. */
    record Ref(String field, String path) {}

    /** A certificate chain with the private key that matches its leaf. */
    record KeyedChain(String certFile, List<X509Certificate> chain, PrivateKey key) {
        X509Certificate leaf() {
            return chain.get(0);
        }
    }

    private final Map<String, byte[]> contents;
    private final byte[] digest;

    private TlsFiles(Map<String, byte[]> contents, byte[] digest) {
        this.contents = contents;
        this.digest = digest;
    }

    static TlsFiles read(List<Ref> refs) throws TlsMaterialException {
        Map<String, byte[]> contents = new LinkedHashMap<>();
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        for (Ref r : refs) {
            if (contents.containsKey(r.path())) {
                continue;
            }
            byte[] bytes;
            try {
                // through symlinks: a Kubernetes secret volume swaps its ..data link, and what
                // counts is the content the link leads to now
                bytes = Files.readAllBytes(Path.of(r.path()));
            } catch (NoSuchFileException e) {
                throw new TlsMaterialException(r.field(), "file " + r.path() + " does not exist");
            } catch (IOException | RuntimeException e) {
                throw new TlsMaterialException(r.field(), "file " + r.path() + " is not readable: " + e.getMessage());
            }
            contents.put(r.path(), bytes);
            sha.update(r.path().getBytes(StandardCharsets.UTF_8));
            sha.update(ByteBuffer.allocate(4).putInt(bytes.length).flip());
            sha.update(bytes);
        }
        return new TlsFiles(contents, sha.digest());
    }

    byte[] digest() {
        return digest.clone();
    }

    /** The trusted CA certificates in {@code ref}'s file. */
    List<X509Certificate> certificates(Ref ref) throws TlsMaterialException {
        try {
            return PemFiles.certificates(contents.get(ref.path()));
        } catch (IllegalArgumentException e) {
            throw new TlsMaterialException(ref.field(), "file " + ref.path() + " " + e.getMessage());
        }
    }

    /**
     * The chain and key of {@code files}, checked: the leaf is within its validity period now, and
     * the key is the leaf's (a signature made with the key verifies with the certificate's public
     * key, which tests RSA and EC keys alike without comparing their parameters field by field).
     */
    KeyedChain keyedChain(String field, CertificateFiles files, Instant now) throws TlsMaterialException {
        String chainField = field.isEmpty() ? "cert_chain_file" : field + ".cert_chain_file";
        String keyField = field.isEmpty() ? "private_key_file" : field + ".private_key_file";
        List<X509Certificate> chain = certificates(new Ref(chainField, files.certChainFile()));
        PrivateKey key;
        try {
            key = PemFiles.privateKey(contents.get(files.privateKeyFile()));
        } catch (IllegalArgumentException e) {
            throw new TlsMaterialException(keyField, "file " + files.privateKeyFile() + " " + e.getMessage());
        }
        X509Certificate leaf = chain.get(0);
        String subject = leaf.getSubjectX500Principal().getName();
        try {
            leaf.checkValidity(java.util.Date.from(now));
        } catch (CertificateExpiredException e) {
            throw new TlsMaterialException(chainField, "certificate " + subject + " in " + files.certChainFile() + " expired on "
                    + leaf.getNotAfter().toInstant());
        } catch (CertificateNotYetValidException e) {
            throw new TlsMaterialException(chainField, "certificate " + subject + " in " + files.certChainFile() + " is not valid before "
                    + leaf.getNotBefore().toInstant());
        }
        if (!keyMatches(key, leaf)) {
            throw new TlsMaterialException(keyField, "the private key in " + files.privateKeyFile() + " does not match the certificate "
                    + subject + " in " + files.certChainFile());
        }
        return new KeyedChain(files.certChainFile(), chain, key);
    }

    private static final byte[] PROBE = "sidecar key check".getBytes(StandardCharsets.US_ASCII);

    static boolean keyMatches(PrivateKey key, X509Certificate cert) {
        String certAlgorithm = cert.getPublicKey().getAlgorithm();
        if (!certAlgorithm.equals(key.getAlgorithm())) {
            return false;
        }
        String algorithm = key instanceof ECKey ? "SHA256withECDSA" : "SHA256withRSA";
        try {
            Signature signer = Signature.getInstance(algorithm);
            signer.initSign(key);
            signer.update(PROBE);
            byte[] signature = signer.sign();
            Signature verifier = Signature.getInstance(algorithm);
            verifier.initVerify(cert.getPublicKey());
            verifier.update(PROBE);
            return verifier.verify(signature);
        } catch (java.security.GeneralSecurityException e) {
            return false;
        }
    }

    static List<CertificateInfo> infos(KeyedChain kc) {
        List<CertificateInfo> out = new ArrayList<>();
        out.add(CertificateInfo.of(kc.certFile(), kc.leaf()));
        return out;
    }
}
