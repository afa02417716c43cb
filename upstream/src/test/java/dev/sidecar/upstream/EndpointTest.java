package dev.sidecar.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sidecar.config.HostPort;
import org.junit.jupiter.api.Test;

class EndpointTest {
    @Test
    void ip_literals_are_resolved_once_and_names_are_left_to_connect_time() {
        assertFalse(Endpoint.of(new HostPort("127.0.0.1", 80)).socketAddress().isUnresolved());
        assertFalse(Endpoint.of(new HostPort("::1", 80)).socketAddress().isUnresolved());
        assertTrue(Endpoint.of(new HostPort("api.internal", 80)).socketAddress().isUnresolved());
        assertTrue(Endpoint.of(new HostPort("999.1.1.1", 80)).socketAddress().isUnresolved());
        assertEquals(80, Endpoint.of(new HostPort("10.1.2.3", 80)).socketAddress().getPort());
    }

    @Test
    void literal_detection() {
        assertTrue(Endpoint.isIpLiteral("10.0.0.1"));
        assertTrue(Endpoint.isIpLiteral("fe80::1"));
        assertFalse(Endpoint.isIpLiteral("localhost"));
        assertFalse(Endpoint.isIpLiteral("10.0.0"));
        assertFalse(Endpoint.isIpLiteral("1.2.3.example"));
        assertFalse(Endpoint.isIpLiteral("999.1.1.1"));
        assertFalse(Endpoint.isIpLiteral("1..2.3"));
    }
}
