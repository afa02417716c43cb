package dev.sidecar.config;

/**
 * The PROXY protocol version a cluster writes to its endpoints (HAProxy's
 * <a href="https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt">proxy-protocol.txt</a>):
 * v1 is a text line, v2 a binary block. A listener with {@code proxy_protocol: true} accepts both.
 */
public enum ProxyProtocolVersion {
    V1("v1"),
    V2("v2");

    private final String configName;

    ProxyProtocolVersion(String configName) {
        this.configName = configName;
    }

    public String configName() {
        return configName;
    }
}
