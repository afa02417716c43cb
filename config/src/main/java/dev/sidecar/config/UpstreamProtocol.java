package dev.sidecar.config;

/** What an HTTP cluster's endpoints speak. */
public enum UpstreamProtocol {
    HTTP1("http1"),
    /** HTTP/2 over cleartext with prior knowledge; every request is a stream on a shared connection. */
    H2C("h2c"),
    /** HTTP/1.1 for HTTP/1.1 clients, h2c for HTTP/2 clients. */
    SAME_AS_DOWNSTREAM("same_as_downstream");

    private final String configName;

    UpstreamProtocol(String configName) {
        this.configName = configName;
    }

    public String configName() {
        return configName;
    }
}
