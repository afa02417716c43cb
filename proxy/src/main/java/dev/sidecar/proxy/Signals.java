package dev.sidecar.proxy;

import sun.misc.Signal;

/**
 * SIGTERM and SIGINT handling. A JVM shutdown hook would run too, but the JVM then exits with
 * 143 whatever the hook does; catching the signal lets a drained proxy exit 0, which is what
 * Kubernetes and systemd read as a clean stop.
 */
final class Signals {
    private Signals() {}

    /** SIGHUP: reload the config, as nginx and HAProxy do. The action runs on the JVM's signal thread. */
    static void onHangUp(Runnable action) {
        Signal.handle(new Signal("HUP"), s -> new Thread(action, "sidecar-reload").start());
    }

    static void onTerminate(Runnable action) {
        Signal.handle(new Signal("TERM"), s -> action.run());
        Signal.handle(new Signal("INT"), s -> action.run());
    }
}
