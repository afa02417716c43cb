package dev.sidecar.xds.translate;

/**
 * An xDS resource that cannot be used as sent: it names a feature the proxy does not have, or a
 * value out of range. The message names the resource and the field path, e.g.
 * {@code cluster 'api': lb_policy CLUSTER_PROVIDED is not supported}; it is what goes back to the
 * control plane as a NACK's {@code error_detail}.
 */
public final class Refusal extends RuntimeException {
    public Refusal(String message) {
        super(message, null, false, false);
    }
}
