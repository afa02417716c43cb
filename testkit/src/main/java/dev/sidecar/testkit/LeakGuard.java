package dev.sidecar.testkit;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.UnpooledByteBufAllocator;
import java.util.List;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Fails a test class whose code leaked a Netty buffer. Registered for every test class through
 * JUnit's extension auto-detection (the build turns it on), so no test can forget it.
 *
 * <p>Netty finds a leak only when a later allocation polls the reference queue after the leaked
 * buffer was collected; so after each class this collects garbage and allocates a few tracked
 * buffers, a bounded number of times, before asking {@link RecordingLeakDetector} what it saw.
 */
public final class LeakGuard implements AfterAllCallback {
    @Override
    public void afterAll(ExtensionContext context) {
        if (!leakDetectorInstalled()) {
            return;
        }
        for (int round = 0; round < 5 && RecordingLeakDetector.leaks().isEmpty(); round++) {
            System.gc();
            for (int i = 0; i < 64; i++) {
                ByteBuf a = ByteBufAllocator.DEFAULT.directBuffer(8);
                ByteBuf b = UnpooledByteBufAllocator.DEFAULT.heapBuffer(8);
                a.release();
                b.release();
            }
        }
        List<String> leaks = RecordingLeakDetector.leaks();
        RecordingLeakDetector.clear();
        if (!leaks.isEmpty()) {
            throw new AssertionError(leaks.size() + " Netty buffer leak(s) in " + context.getDisplayName() + ":\n" + leaks.get(0));
        }
    }

    private static boolean leakDetectorInstalled() {
        return RecordingLeakDetector.class.getName().equals(System.getProperty("io.netty.customResourceLeakDetector"));
    }
}
