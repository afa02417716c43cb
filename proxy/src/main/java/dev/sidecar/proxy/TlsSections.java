package dev.sidecar.proxy;

import dev.sidecar.config.ClusterConfig;
import dev.sidecar.config.ConfigError;
import dev.sidecar.config.ConfigException;
import dev.sidecar.config.ListenerConfig;
import dev.sidecar.config.ProxyConfig;
import dev.sidecar.tls.CertificateInfo;
import dev.sidecar.tls.CertificateWatcher;
import dev.sidecar.tls.ClientTls;
import dev.sidecar.tls.ReloadableTls;
import dev.sidecar.tls.ServerTls;
import dev.sidecar.tls.TlsEngine;
import dev.sidecar.tls.TlsMaterialException;
import io.micrometer.core.instrument.Meter;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The TLS of every listener and cluster that has a {@code tls} section: built when the config
 * is applied, watched for file changes, and read by the data path through one volatile map per
 * side. A config change first builds everything it needs ({@link #prepare}), so a file that
 * cannot be used rejects the whole change before anything runs with it.
 */
final class TlsSections implements AutoCloseable {
    private final java.util.function.Supplier<TlsEngine> engineSource;
    private volatile TlsEngine engine;
    private final ProxyMetrics metrics;
    private final CertificateWatcher watcher;
    private volatile Map<String, ServerTls> listeners = Map.of();
    private volatile Map<String, ClientTls> clusters = Map.of();
    private final Map<String, List<Meter>> meters = new HashMap<>();
    /** What the meters read through; held here because function-backed meters hold their source only weakly. */
    private final Map<String, java.util.function.Supplier<ReloadableTls>> meterSources = new HashMap<>();

    /**
     * {@code engine} is asked for the first time a TLS section is built (or {@code /certs} asks),
     * so a proxy without TLS never loads an engine: with the default choice that would be
     * BoringSSL's native library and its JCA classes, a tenth of the start-up's CPU.
     */
    TlsSections(java.util.function.Supplier<TlsEngine> engine, ProxyMetrics metrics, CertificateWatcher watcher) {
        this.engineSource = engine;
        this.metrics = metrics;
        this.watcher = watcher;
    }

    TlsEngine engine() {
        TlsEngine e = engine;
        if (e == null) {
            synchronized (this) {
                e = engine;
                if (e == null) {
                    e = engineSource.get();
                    engine = e;
                }
            }
        }
        return e;
    }

    /** The engine if one has been chosen yet, else null. */
    TlsEngine engineIfChosen() {
        return engine;
    }

    /** What a config needs, built but not yet in use. */
    record Prepared(Map<String, ServerTls> listeners, Map<String, ClientTls> clusters) {}

    /**
     * Builds the TLS of {@code next}: sections whose config is unchanged keep their instance (and
     * their reloaded material), changed ones are built anew. Throws {@link ConfigException} with
     * every unusable file, each under its field's path.
     */
    Prepared prepare(ProxyConfig next) {
        List<ConfigError> errors = new ArrayList<>();
        Map<String, ServerTls> ls = new LinkedHashMap<>();
        for (int i = 0; i < next.listeners().size(); i++) {
            ListenerConfig l = next.listeners().get(i);
            if (l.tls() == null) {
                continue;
            }
            ServerTls current = listeners.get(l.name());
            try {
                ls.put(l.name(), current == null ? ServerTls.build("listener " + l.name(), l.tls(), engine())
                        : current.config().equals(l.tls()) ? current : current.next(l.tls()));
            } catch (TlsMaterialException e) {
                errors.add(new ConfigError("listeners[" + i + "].tls." + e.field(), e.reason()));
            }
        }
        Map<String, ClientTls> cs = new LinkedHashMap<>();
        for (int i = 0; i < next.clusters().size(); i++) {
            ClusterConfig c = next.clusters().get(i);
            if (c.tls() == null) {
                continue;
            }
            ClientTls current = clusters.get(c.name());
            try {
                cs.put(c.name(), current == null ? ClientTls.build("cluster " + c.name(), c.tls(), engine())
                        : current.config().equals(c.tls()) ? current : current.next(c.tls()));
            } catch (TlsMaterialException e) {
                errors.add(new ConfigError("clusters[" + i + "].tls." + e.field(), e.reason()));
            }
        }
        if (!errors.isEmpty()) {
            throw new ConfigException(errors);
        }
        return new Prepared(Map.copyOf(ls), Map.copyOf(cs));
    }

    /** Puts prepared TLS in use for new connections; the watcher follows, and so do the meters. */
    synchronized void publish(Prepared p) {
        Map<String, ReloadableTls> before = all();
        listeners = p.listeners();
        clusters = p.clusters();
        Map<String, ReloadableTls> after = all();
        for (Map.Entry<String, ReloadableTls> e : before.entrySet()) {
            if (after.get(e.getKey()) != e.getValue()) {
                watcher.unwatch(e.getValue());
            }
            if (!after.containsKey(e.getKey())) {
                metrics.remove(meters.remove(e.getKey()));
                meterSources.remove(e.getKey());
            }
        }
        for (Map.Entry<String, ReloadableTls> e : after.entrySet()) {
            watcher.watch(e.getValue());
            meters.computeIfAbsent(e.getKey(), key -> {
                String scope = key.substring(0, key.indexOf(' '));
                String name = key.substring(key.indexOf(' ') + 1);
                java.util.function.Supplier<ReloadableTls> source = () -> current(key);
                meterSources.put(key, source);
                return metrics.bindTls(scope, name, source);
            });
        }
    }

    /** Keyed by the section's name ({@code listener NAME}, {@code cluster NAME}). */
    private Map<String, ReloadableTls> all() {
        Map<String, ReloadableTls> out = new LinkedHashMap<>();
        listeners.values().forEach(t -> out.put(t.name(), t));
        clusters.values().forEach(t -> out.put(t.name(), t));
        return out;
    }

    private ReloadableTls current(String key) {
        return all().get(key);
    }

    ServerTls listener(String name) {
        return listeners.get(name);
    }

    /** The cluster's TLS, or null for plaintext: read by the data path on each upstream connect. */
    ClientTls cluster(String name) {
        return clusters.get(name);
    }

    /** Re-reads every watched file now; returns how many sections took new material. */
    int checkNow() {
        return watcher.checkNow();
    }

    /** The admin API's {@code GET /certs}. */
    Object view() {
        Instant now = Instant.now();
        List<Map<String, Object>> out = new ArrayList<>();
        for (ReloadableTls t : all().values()) {
            for (CertificateInfo c : t.certificates()) {
                Map<String, Object> m = new LinkedHashMap<>();
                int space = t.name().indexOf(' ');
                m.put(t.name().substring(0, space), t.name().substring(space + 1));
                m.put("file", c.file());
                m.put("subject", c.subject());
                m.put("issuer", c.issuer());
                m.put("subject_alt_names", c.sans());
                m.put("serial", c.serial());
                m.put("not_before", Objects.toString(c.notBefore()));
                m.put("not_after", c.notAfter().toString());
                m.put("days_until_expiry", c.daysUntilExpiry(now));
                out.add(m);
            }
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("engine", engine().configName());
        body.put("certificates", out);
        return body;
    }

    @Override
    public void close() {
        watcher.close();
    }
}
