package dev.sidecar.config;

/** What a listener speaks: bytes relayed to one cluster, or HTTP requests routed one by one. */
public enum ListenerProtocol {
    TCP("tcp"),
    /** HTTP/1.1 and HTTP/2 (prior knowledge or h2c upgrade) on the same port. */
    HTTP("http");

    private final String configName;

    ListenerProtocol(String configName) {
        this.configName = configName;
    }

    public String configName() {
        return configName;
    }
}
