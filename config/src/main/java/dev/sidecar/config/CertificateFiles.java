package dev.sidecar.config;

import static java.util.Objects.requireNonNull;

/**
 * A certificate chain (PEM, leaf first) and its private key (PEM: PKCS#8, PKCS#1 RSA or SEC1 EC),
 * as file paths; a relative path is relative to the proxy's working directory, as every other
 * path in the config is.
 */
public record CertificateFiles(String certChainFile, String privateKeyFile) {
    public CertificateFiles {
        requireNonNull(certChainFile, "certChainFile");
        requireNonNull(privateKeyFile, "privateKeyFile");
    }
}
