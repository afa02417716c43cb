package dev.sidecar.config;

/** Which socket transport the event loops use; AUTO takes the best one the kernel allows. */
public enum TransportChoice {
    AUTO("auto"),
    IO_URING("io_uring"),
    EPOLL("epoll"),
    NIO("nio");

    private final String configName;

    TransportChoice(String configName) {
        this.configName = configName;
    }

    public String configName() {
        return configName;
    }
}
