package dev.sidecar.upstream;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sidecar.config.HealthCheckConfig;
import org.junit.jupiter.api.Test;

class HealthCheckSessionTest {
    private static final HealthCheckConfig CHECK = HealthCheckConfig.builder(HealthCheckConfig.Tcp.connectOnly())
            .unhealthyThreshold(3).healthyThreshold(2).build();

    @Test
    void a_new_endpoint_becomes_healthy_on_its_first_pass() {
        HealthCheckSession s = new HealthCheckSession(CHECK, false);
        assertTrue(s.record(true));
        assertTrue(s.healthy());
    }

    @Test
    void it_takes_unhealthy_threshold_failures_in_a_row_to_leave() {
        HealthCheckSession s = new HealthCheckSession(CHECK, true);
        assertFalse(s.record(false));
        assertFalse(s.record(false));
        assertFalse(s.record(true)); // the run is broken
        assertFalse(s.record(false));
        assertFalse(s.record(false));
        assertTrue(s.healthy());
        assertTrue(s.record(false)); // third in a row
        assertFalse(s.healthy());
    }

    @Test
    void once_it_has_passed_it_takes_healthy_threshold_passes_to_return() {
        HealthCheckSession s = new HealthCheckSession(CHECK, false);
        s.record(true);
        for (int i = 0; i < 3; i++) {
            s.record(false);
        }
        assertFalse(s.healthy());
        assertFalse(s.record(true));
        assertFalse(s.record(false));
        assertFalse(s.record(true));
        assertTrue(s.record(true));
        assertTrue(s.healthy());
    }
}
