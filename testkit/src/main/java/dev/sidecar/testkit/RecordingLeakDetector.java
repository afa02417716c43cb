package dev.sidecar.testkit;

import io.netty.util.ResourceLeakDetector;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A Netty leak detector that remembers every leak it reports, so a test run can fail on it
 * instead of leaving a log line nobody reads. Installed with
 * {@code -Dio.netty.customResourceLeakDetector=dev.sidecar.testkit.RecordingLeakDetector}
 * (the build does this for every test JVM and for proxy processes started by tests).
 */
public final class RecordingLeakDetector<T> extends ResourceLeakDetector<T> {
    /** Printed on stderr with each leak, so a parent process can find leaks in a child's output. */
    public static final String MARKER = "SIDECAR-LEAK-DETECTED";

    private static final List<String> LEAKS = new CopyOnWriteArrayList<>();

    public RecordingLeakDetector(Class<?> resourceType, int samplingInterval, long maxActive) {
        super(resourceType, samplingInterval, maxActive);
    }

    public RecordingLeakDetector(Class<?> resourceType, int samplingInterval) {
        super(resourceType, samplingInterval);
    }

    @Override
    protected void reportTracedLeak(String resourceType, String records) {
        record("LEAK: " + resourceType + ".release() was not called before it was garbage-collected." + records);
    }

    @Override
    protected void reportUntracedLeak(String resourceType) {
        record("LEAK: " + resourceType + ".release() was not called before it was garbage-collected.");
    }

    private static void record(String leak) {
        LEAKS.add(leak);
        System.err.println(MARKER + " " + leak);
    }

    /** The leaks reported in this JVM so far. */
    public static List<String> leaks() {
        return List.copyOf(LEAKS);
    }

    static void clear() {
        LEAKS.clear();
    }
}
