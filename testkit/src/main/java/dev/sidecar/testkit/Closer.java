package dev.sidecar.testkit;

import java.util.ArrayList;
import java.util.List;

/**
 * What a test opened, closed in reverse order when the test ends ({@code @AfterEach void
 * tearDown() throws Exception { closer.close(); }}); every close runs even if one throws.
 */
public final class Closer implements AutoCloseable {
    private final List<AutoCloseable> resources = new ArrayList<>();

    /** Registers {@code resource} and returns it. */
    public <T extends AutoCloseable> T add(T resource) {
        resources.add(resource);
        return resource;
    }

    @Override
    public void close() throws Exception {
        Exception first = null;
        for (int i = resources.size() - 1; i >= 0; i--) {
            try {
                resources.get(i).close();
            } catch (Exception e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        resources.clear();
        if (first != null) {
            throw first;
        }
    }
}
