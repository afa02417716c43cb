package dev.sidecar.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class HostPortTest {
    @Test
    void parses_names_ipv4_and_bracketed_ipv6() {
        assertEquals(new HostPort("127.0.0.1", 7001), HostPort.parse("127.0.0.1:7001"));
        assertEquals(new HostPort("api.internal", 443), HostPort.parse("api.internal:443"));
        assertEquals(new HostPort("::1", 8080), HostPort.parse("[::1]:8080"));
        assertEquals("[::1]:8080", new HostPort("::1", 8080).toString());
        // out-of-range ports parse; validation reports them with the field's path
        assertEquals(70000, HostPort.parse("h:70000").port());
    }

    @Test
    void rejects_malformed_addresses() {
        for (String bad : new String[] {"127.0.0.1", ":80", "::1:80", "[::1:80", "h:", "h:8o", "h:-1", "h:1234567890"}) {
            assertThrows(IllegalArgumentException.class, () -> HostPort.parse(bad), bad);
        }
    }
}
