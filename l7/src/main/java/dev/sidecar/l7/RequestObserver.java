package dev.sidecar.l7;

/**
 * Told about every finished request, on the event loop that carried it: the metrics registry
 * records durations through this without the l7 module knowing the registry. Must not block.
 */
public interface RequestObserver {
    RequestObserver NONE = (listener, status, durationNanos) -> { };

    void requestFinished(String listener, int status, long durationNanos);
}
