package dev.sidecar.config;

/**
 * Which TLS implementation handshakes and encrypts: OpenSSL (BoringSSL, through netty-tcnative)
 * or the JDK's own. AUTO takes OpenSSL where its native library loads, else the JDK's.
 */
public enum TlsEngineChoice {
    AUTO("auto"),
    OPENSSL("openssl"),
    JDK("jdk");

    private final String configName;

    TlsEngineChoice(String configName) {
        this.configName = configName;
    }

    public String configName() {
        return configName;
    }
}
