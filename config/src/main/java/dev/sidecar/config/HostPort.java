package dev.sidecar.config;

import static java.util.Objects.requireNonNull;

/**
 * A host (name, IPv4 literal or IPv6 literal) and a port, as written in the config:
 * {@code 127.0.0.1:7001}, {@code [::1]:7001}, {@code api.internal:443}. The port is kept as
 * written so that validation, not parsing, reports a port out of range.
 */
public record HostPort(String host, int port) {
    public HostPort {
        requireNonNull(host, "host");
    }

    // Written out rather than generated: a record's generated equals and hashCode are linked at
    // their first call through method handles, some milliseconds each at start-up.

    @Override
    public boolean equals(Object o) {
        return o instanceof HostPort other && port == other.port && host.equals(other.host);
    }

    @Override
    public int hashCode() {
        return 31 * host.hashCode() + port;
    }

    /** Parses {@code host:port}; throws {@link IllegalArgumentException} with the reason. */
    public static HostPort parse(String text) {
        String s = text.strip();
        int colon = s.lastIndexOf(':');
        if (colon < 0) {
            throw new IllegalArgumentException("'" + text + "' has no port; write host:port, e.g. 127.0.0.1:8080");
        }
        String host = s.substring(0, colon);
        String port = s.substring(colon + 1);
        if (host.startsWith("[")) {
            if (!host.endsWith("]")) {
                throw new IllegalArgumentException("'" + text + "' has an unclosed '[' around an IPv6 address");
            }
            host = host.substring(1, host.length() - 1);
        } else if (host.indexOf(':') >= 0) {
            throw new IllegalArgumentException("'" + text + "': put an IPv6 address in brackets, e.g. [::1]:8080");
        }
        if (host.isEmpty()) {
            throw new IllegalArgumentException("'" + text + "' has no host");
        }
        if (port.isEmpty() || port.length() > 9 || !port.chars().allMatch(Character::isDigit)) {
            throw new IllegalArgumentException("'" + text + "' has a port that is not a number");
        }
        return new HostPort(host, Integer.parseInt(port));
    }

    @Override
    public String toString() {
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
    }
}
