package dev.sidecar.proxy;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The start-up class loading that keeps a proxy working after it ran out of file descriptors. */
class ClassPreloadTest {
    /** A fresh loader over this JVM's class path, which says what it has loaded. */
    private static final class Fresh extends URLClassLoader {
        Fresh(URL[] urls) {
            super(urls, ClassLoader.getPlatformClassLoader());
        }

        Class<?> loaded(String name) {
            return findLoadedClass(name);
        }
    }

    @Test
    void loadsTheDataAndControlPlaneClassesBeforeTheyAreUsed() throws Exception {
        List<URL> urls = new ArrayList<>();
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            urls.add(Path.of(entry).toUri().toURL());
        }
        try (Fresh loader = new Fresh(urls.toArray(URL[]::new))) {
            String[] wanted = {"dev.sidecar.l7.Http1ServerCodec", "dev.sidecar.l4.Relay", "dev.sidecar.upstream.MaglevBalancer",
                    "dev.sidecar.xds.translate.Translator", "dev.sidecar.tls.TlsConfigCheck"};
            for (String name : wanted) {
                assertNull(loader.loaded(name), name + " loaded before");
            }
            java.lang.reflect.Method run = loader.loadClass(ClassPreload.class.getName()).getDeclaredMethod("run");
            run.setAccessible(true);
            int loaded = (int) run.invoke(null);
            assertTrue(loaded > 200, "loaded " + loaded);
            for (String name : wanted) {
                assertNotNull(loader.loaded(name), name + " not loaded");
            }
        }
    }
}
