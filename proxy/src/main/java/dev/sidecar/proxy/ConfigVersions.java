package dev.sidecar.proxy;

import static java.util.Objects.requireNonNull;

import dev.sidecar.config.ClusterConfig;
import dev.sidecar.config.ListenerConfig;
import dev.sidecar.config.ProxyConfig;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * The configs the proxy has applied, newest last, each with a number, where it came from and what
 * it changed. Kept so the admin API can show them and roll back to one. Bounded: the oldest are
 * forgotten first.
 */
final class ConfigVersions {
    static final int KEPT = 20;

    record Entry(int version, ProxyConfig config, String source, Instant appliedAt, Changes changes) {
        Entry {
            requireNonNull(config, "config");
            requireNonNull(source, "source");
        }
    }

    /**
     * What one config changed relative to the one before. {@code restartOnly} lists settings that
     * differ but only take effect at the next start (the server section and the admin address).
     */
    record Changes(List<String> listenersAdded, List<String> listenersRemoved, List<String> listenersChanged,
                   List<String> clustersAdded, List<String> clustersRemoved, List<String> clustersChanged,
                   List<String> restartOnly) {
        static Changes between(ProxyConfig before, ProxyConfig after) {
            List<String> restart = new ArrayList<>();
            if (before != null && !before.server().equals(after.server())) {
                restart.add("server");
            }
            if (before != null && !before.admin().equals(after.admin())) {
                restart.add("admin");
            }
            Diff l = Diff.of(before == null ? List.of() : before.listeners(), after.listeners(), ListenerConfig::name);
            Diff c = Diff.of(before == null ? List.of() : before.clusters(), after.clusters(), ClusterConfig::name);
            return new Changes(l.added, l.removed, l.changed, c.added, c.removed, c.changed, restart);
        }

        boolean none() {
            return listenersAdded.isEmpty() && listenersRemoved.isEmpty() && listenersChanged.isEmpty()
                    && clustersAdded.isEmpty() && clustersRemoved.isEmpty() && clustersChanged.isEmpty() && restartOnly.isEmpty();
        }

        @Override
        public String toString() {
            if (none()) {
                return "no changes";
            }
            List<String> parts = new ArrayList<>();
            part(parts, "listeners added", listenersAdded);
            part(parts, "listeners removed", listenersRemoved);
            part(parts, "listeners changed", listenersChanged);
            part(parts, "clusters added", clustersAdded);
            part(parts, "clusters removed", clustersRemoved);
            part(parts, "clusters changed", clustersChanged);
            part(parts, "changed but applied only at the next start", restartOnly);
            return String.join("; ", parts);
        }

        private static void part(List<String> parts, String what, List<String> names) {
            if (!names.isEmpty()) {
                parts.add(what + ": " + String.join(", ", names));
            }
        }
    }

    private record Diff(List<String> added, List<String> removed, List<String> changed) {
        static <T> Diff of(List<T> before, List<T> after, Function<T, String> name) {
            Map<String, T> old = new LinkedHashMap<>();
            before.forEach(t -> old.put(name.apply(t), t));
            List<String> added = new ArrayList<>();
            List<String> changed = new ArrayList<>();
            for (T t : after) {
                T was = old.remove(name.apply(t));
                if (was == null) {
                    added.add(name.apply(t));
                } else if (!was.equals(t)) {
                    changed.add(name.apply(t));
                }
            }
            return new Diff(added, new ArrayList<>(old.keySet()), changed);
        }
    }

    private final Deque<Entry> entries = new ArrayDeque<>();
    private int next = 1;

    synchronized Entry record(ProxyConfig config, String source, Changes changes) {
        Entry e = new Entry(next++, config, source, Instant.now(), changes);
        entries.addLast(e);
        while (entries.size() > KEPT) {
            entries.removeFirst();
        }
        return e;
    }

    synchronized Entry current() {
        return entries.peekLast();
    }

    synchronized Optional<Entry> find(int version) {
        return entries.stream().filter(e -> e.version() == version).findFirst();
    }

    synchronized List<Entry> all() {
        return List.copyOf(entries);
    }
}
