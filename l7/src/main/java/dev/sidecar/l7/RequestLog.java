package dev.sidecar.l7;

/** Receives a record of each finished request, on its event loop; must only hand it on, never block. */
public interface RequestLog {
    void finished(RequestRecord record);
}
