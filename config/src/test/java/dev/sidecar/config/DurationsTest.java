package dev.sidecar.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class DurationsTest {
    @Test
    void parses_every_unit_and_sequences() {
        assertEquals(Duration.ofMillis(250), Durations.parse("250ms"));
        assertEquals(Duration.ofSeconds(1), Durations.parse("1s"));
        assertEquals(Duration.ofHours(1), Durations.parse("1h"));
        assertEquals(Duration.ofMinutes(2), Durations.parse("2m"));
        assertEquals(Duration.ofNanos(5), Durations.parse("5ns"));
        assertEquals(Duration.ofNanos(7_000), Durations.parse("7us"));
        assertEquals(Duration.ofMinutes(90), Durations.parse("1h30m"));
        assertEquals(Duration.ofMillis(1500), Durations.parse("1.5s"));
        assertEquals(Duration.ZERO, Durations.parse("0s"));
    }

    @Test
    void rejects_what_would_be_a_guess() {
        assertEquals("'30' has no unit; write e.g. 30ms or 30s",
                assertThrows(IllegalArgumentException.class, () -> Durations.parse("30")).getMessage());
        assertEquals("'3 s' is not a duration; write e.g. 250ms, 1s, 1h",
                assertThrows(IllegalArgumentException.class, () -> Durations.parse("3 s")).getMessage());
        assertEquals("'1y' has unknown unit 'y' (use ns, us, ms, s, m, h)",
                assertThrows(IllegalArgumentException.class, () -> Durations.parse("1y")).getMessage());
        assertThrows(IllegalArgumentException.class, () -> Durations.parse(""));
        assertThrows(IllegalArgumentException.class, () -> Durations.parse("ms"));
        assertThrows(IllegalArgumentException.class, () -> Durations.parse("1..2s"));
        assertThrows(IllegalArgumentException.class, () -> Durations.parse("99999999999999h"));
    }

    @Test
    void format_is_the_inverse_of_parse() {
        for (String s : new String[] {"0s", "250ms", "1s", "1h", "1h30m", "1m0s5ms"}) {
            Duration d = Durations.parse(s);
            assertEquals(d, Durations.parse(Durations.format(d)), s);
        }
        assertEquals("1h30m", Durations.format(Duration.ofMinutes(90)));
        assertEquals("250ms", Durations.format(Duration.ofMillis(250)));
    }
}
