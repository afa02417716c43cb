package dev.sidecar.reliability.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.sidecar.xds.translate.Refusal;
import dev.sidecar.xds.translate.Translator;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import java.util.Arrays;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;

/**
 * Arbitrary protobuf bytes as the four xDS resources the proxy takes (the first byte picks
 * which: Listener, Cluster, RouteConfiguration, ClusterLoadAssignment): bytes protobuf cannot
 * parse are not the translator's to see; everything protobuf parses is translated, or refused
 * with a {@link Refusal} whose message names the resource and the field
 * ({@code cluster 'x': lb_policy ...}), which becomes the NACK's error_detail. Any other
 * exception is a finding.
 */
class XdsTranslatorFuzzTest {
    private static final Pattern REFUSAL = Pattern.compile("(?s)(listener|cluster|route_configuration|cluster_load_assignment) '.*': \\S.*");
    static long executions;

    @AfterAll
    static void stop() {
        FuzzStats.report("xds-translate", executions);
    }

    @FuzzTest
    void resource(byte[] input) {
        executions++;
        if (input.length == 0) {
            return;
        }
        byte[] message = Arrays.copyOfRange(input, 1, input.length);
        try {
            switch ((input[0] & 0xff) % 4) {
                case 0 -> Translator.listener(Listener.parseFrom(message));
                case 1 -> Translator.cluster(Cluster.parseFrom(message));
                case 2 -> Translator.routeConfig(RouteConfiguration.parseFrom(message));
                default -> Translator.endpoints(ClusterLoadAssignment.parseFrom(message));
            }
        } catch (InvalidProtocolBufferException e) {
            // not a resource: the xDS client never hands such bytes on
        } catch (Refusal r) {
            if (r.getMessage() == null || !REFUSAL.matcher(r.getMessage()).matches()) {
                throw new AssertionError("a refusal that names no resource and field: " + r.getMessage());
            }
        }
    }
}
