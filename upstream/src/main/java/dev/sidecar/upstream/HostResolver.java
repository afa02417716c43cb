package dev.sidecar.upstream;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.List;

/**
 * Resolves a host name to its addresses, for the periodic re-resolution of STRICT_DNS clusters.
 * May block: it is only called on the DNS refresh thread, never on an event loop or the control
 * executor. Tests put in their own answers.
 */
@FunctionalInterface
public interface HostResolver {
    List<InetAddress> resolve(String host) throws UnknownHostException;

    /** The system's resolver (/etc/hosts, then DNS), with the JDK's cache. */
    HostResolver SYSTEM = host -> List.of(InetAddress.getAllByName(host));
}
