package dev.sidecar.proxy;

import com.fasterxml.jackson.annotation.JsonTypeInfo;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.ser.std.StdSerializer;
import dev.sidecar.config.Durations;
import dev.sidecar.config.HashPolicy;
import dev.sidecar.config.HealthCheckConfig;
import dev.sidecar.config.HostPort;
import java.io.IOException;
import java.time.Duration;

/**
 * JSON for the admin API: config records in the YAML's own vocabulary (snake_case names,
 * durations as {@code 250ms}, addresses as {@code host:port}, enum values as written), so a
 * config dump reads like the file it came from.
 */
final class ConfigJson {
    private static final ObjectMapper MAPPER = build();

    private ConfigJson() {}

    static ObjectMapper mapper() {
        return MAPPER;
    }

    @JsonTypeInfo(use = JsonTypeInfo.Id.SIMPLE_NAME, include = JsonTypeInfo.As.PROPERTY, property = "type")
    private interface Typed {}

    private static ObjectMapper build() {
        SimpleModule module = new SimpleModule("sidecar-config");
        module.addSerializer(Duration.class, new StdSerializer<>(Duration.class) {
            @Override
            public void serialize(Duration d, JsonGenerator g, SerializerProvider p) throws IOException {
                g.writeString(Durations.format(d));
            }
        });
        module.addSerializer(HostPort.class, new StdSerializer<>(HostPort.class) {
            @Override
            public void serialize(HostPort a, JsonGenerator g, SerializerProvider p) throws IOException {
                g.writeString(a.toString());
            }
        });
        module.addSerializer(Enum.class, new StdSerializer<>(Enum.class) {
            @Override
            public void serialize(Enum e, JsonGenerator g, SerializerProvider p) throws IOException {
                g.writeString(e.name().toLowerCase(java.util.Locale.ROOT));
            }
        });
        return new ObjectMapper()
                .registerModule(module)
                .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
                .addMixIn(HealthCheckConfig.Kind.class, Typed.class)
                .addMixIn(HashPolicy.class, Typed.class);
    }
}
