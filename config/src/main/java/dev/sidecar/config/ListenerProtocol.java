package dev.sidecar.config;

/** What a listener speaks. HTTP comes with the L7 listeners. */
public enum ListenerProtocol {
    TCP("tcp");

    private final String configName;

    ListenerProtocol(String configName) {
        this.configName = configName;
    }

    public String configName() {
        return configName;
    }
}
