package dev.sidecar.config;

/**
 * A TLS protocol version, by Envoy's names. TLS 1.0 and 1.1 are not offered at all: both were
 * deprecated by RFC 8996 and every client in use speaks 1.2.
 */
public enum TlsVersion {
    TLS_1_2("TLSv1_2", "TLSv1.2"),
    TLS_1_3("TLSv1_3", "TLSv1.3");

    private final String configName;
    private final String protocolName;

    TlsVersion(String configName, String protocolName) {
        this.configName = configName;
        this.protocolName = protocolName;
    }

    public String configName() {
        return configName;
    }

    /** The JSSE protocol name ({@code TLSv1.2}). */
    public String protocolName() {
        return protocolName;
    }
}
