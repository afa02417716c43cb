package dev.sidecar.l4;

/**
 * Receives each finished connection's record, on the connection's event loop: an implementation
 * must hand it off (to a bounded queue) and return at once, never block.
 */
@FunctionalInterface
public interface ConnectionLog {
    void closed(ConnectionRecord record);
}
