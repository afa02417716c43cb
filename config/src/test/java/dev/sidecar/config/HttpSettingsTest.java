package dev.sidecar.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.lang.reflect.Constructor;
import java.lang.reflect.RecordComponent;
import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** HttpSettings' equals and hashCode are written out; each component must take part in them. */
class HttpSettingsTest {
    @Test
    void equal_settings_are_equal_and_hash_alike() throws Exception {
        HttpSettings copy = copyWith(-1, null);
        assertEquals(HttpSettings.DEFAULT, copy);
        assertEquals(HttpSettings.DEFAULT.hashCode(), copy.hashCode());
        assertNotEquals(HttpSettings.DEFAULT, null);
        assertNotEquals(HttpSettings.DEFAULT, "settings");
    }

    @Test
    void every_component_takes_part_in_equals_and_hash_code() throws Exception {
        RecordComponent[] components = HttpSettings.class.getRecordComponents();
        assertEquals(16, components.length, "a component was added: check equals and hashCode");
        for (int i = 0; i < components.length; i++) {
            Object value = components[i].getAccessor().invoke(HttpSettings.DEFAULT);
            Object other;
            if (value instanceof Integer n) {
                other = n + 1;
            } else if (value instanceof Boolean b) {
                other = !b;
            } else if (value instanceof Duration d) {
                other = d.plusMillis(1);
            } else {
                throw new AssertionError("no other value for " + components[i]);
            }
            HttpSettings changed = copyWith(i, other);
            String name = components[i].getName();
            assertNotEquals(HttpSettings.DEFAULT, changed, name + " is not compared by equals");
            assertNotEquals(changed, HttpSettings.DEFAULT, name + " is not compared by equals");
            assertNotEquals(HttpSettings.DEFAULT.hashCode(), changed.hashCode(), name + " is not in hashCode");
        }
    }

    /** DEFAULT with component {@code index} replaced by {@code value} (index -1: an equal copy). */
    private static HttpSettings copyWith(int index, Object value) throws Exception {
        RecordComponent[] components = HttpSettings.class.getRecordComponents();
        Object[] args = new Object[components.length];
        for (int i = 0; i < components.length; i++) {
            args[i] = i == index ? value : components[i].getAccessor().invoke(HttpSettings.DEFAULT);
        }
        Class<?>[] types = Arrays.stream(components).map(RecordComponent::getType).toArray(Class<?>[]::new);
        Constructor<HttpSettings> c = HttpSettings.class.getDeclaredConstructor(types);
        return c.newInstance(args);
    }
}
