package dev.sidecar.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.util.Version;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * One Netty, and not an old one: every Netty artifact on the class path has the same version,
 * at or above the floor that carries the 2025-2026 request-smuggling and HTTP/2 flood fixes,
 * and no dependency brings a shaded second copy.
 */
class NettyVersionTest {
    private static final int[] FLOOR = {4, 2, 18};

    @Test
    void every_netty_artifact_is_one_version_at_or_above_the_floor() {
        Map<String, Version> artifacts = Version.identify();
        assertTrue(artifacts.containsKey("netty-common"), "netty-common is not on the class path: " + artifacts.keySet());
        Set<String> versions = new TreeSet<>();
        artifacts.values().forEach(v -> versions.add(v.artifactVersion()));
        assertEquals(1, versions.size(), "more than one Netty version on the class path: " + artifacts);
        String version = versions.iterator().next();
        assertTrue(atLeast(version, FLOOR), "Netty " + version + " is older than the floor 4.2.18.Final");
    }

    @Test
    void no_shaded_netty_copy() {
        for (String shaded : new String[] {"io.grpc.netty.shaded.io.netty.util.Version", "org.elasticsearch.shaded.netty.util.Version"}) {
            assertTrue(!present(shaded), shaded + " is on the class path: a second, shaded Netty");
        }
    }

    private static boolean present(String className) {
        try {
            Class.forName(className, false, NettyVersionTest.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException e) {
            return false;
        }
    }

    static boolean atLeast(String version, int[] floor) {
        String[] parts = version.split("[.-]");
        for (int i = 0; i < floor.length; i++) {
            int v = Integer.parseInt(parts[i]);
            if (v != floor[i]) {
                return v > floor[i];
            }
        }
        return true;
    }

    @Test
    void the_version_comparison_itself() {
        assertTrue(atLeast("4.2.18.Final", FLOOR));
        assertTrue(atLeast("4.2.20.Final", FLOOR));
        assertTrue(atLeast("4.3.0.Final", FLOOR));
        assertTrue(!atLeast("4.2.17.Final", FLOOR));
        assertTrue(!atLeast("4.1.118.Final", FLOOR));
    }
}
