package dev.sidecar.tls;

import dev.sidecar.config.ClusterConfig;
import dev.sidecar.config.ConfigError;
import dev.sidecar.config.ListenerConfig;
import dev.sidecar.config.ProxyConfig;
import java.util.ArrayList;
import java.util.List;

/**
 * What the config's own validation cannot see: whether each TLS section's files hold usable
 * material (PEM that parses, a key matching its certificate, certificates within their validity).
 * Reported as config errors with the field's full path.
 */
public final class TlsConfigCheck {
    private TlsConfigCheck() {}

    public static List<ConfigError> errors(ProxyConfig config) {
        List<ConfigError> out = new ArrayList<>();
        for (int i = 0; i < config.listeners().size(); i++) {
            ListenerConfig l = config.listeners().get(i);
            if (l.tls() != null) {
                for (TlsMaterialException e : ServerTls.check(l.tls())) {
                    out.add(new ConfigError("listeners[" + i + "].tls." + e.field(), e.reason()));
                }
            }
        }
        for (int i = 0; i < config.clusters().size(); i++) {
            ClusterConfig c = config.clusters().get(i);
            if (c.tls() != null) {
                for (TlsMaterialException e : ClientTls.check(c.tls())) {
                    out.add(new ConfigError("clusters[" + i + "].tls." + e.field(), e.reason()));
                }
            }
        }
        return out;
    }
}
