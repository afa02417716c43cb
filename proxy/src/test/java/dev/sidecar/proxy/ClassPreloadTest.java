package dev.sidecar.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The start-up class loading that keeps a proxy working after it ran out of file descriptors. */
class ClassPreloadTest {
    /** A loader over the given roots, which says what it has loaded. */
    private static final class Fresh extends URLClassLoader {
        Fresh(Path... roots) throws IOException {
            super(urls(roots), ClassLoader.getPlatformClassLoader());
        }

        Class<?> loaded(String name) {
            return findLoadedClass(name);
        }

        int preload() throws Exception {
            java.lang.reflect.Method run = loadClass(ClassPreload.class.getName()).getDeclaredMethod("run");
            run.setAccessible(true);
            return (int) run.invoke(null);
        }

        private static URL[] urls(Path[] roots) throws IOException {
            URL[] urls = new URL[roots.length];
            for (int i = 0; i < roots.length; i++) {
                urls[i] = roots[i].toUri().toURL();
            }
            return urls;
        }
    }

    /** The directory the proxy module's classes are in (this build's target/classes). */
    private static Path proxyClasses() throws Exception {
        Path root = Path.of(ClassPreload.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        assertTrue(Files.isDirectory(root), root + " is not a class directory");
        return root;
    }

    @Test
    void loadsTheClassesOfAClassDirectoryBeforeTheyAreUsed() throws Exception {
        try (Fresh loader = new Fresh(proxyClasses())) {
            String[] wanted = {"dev.sidecar.proxy.AcceptFailures", "dev.sidecar.proxy.Sidecar", "dev.sidecar.proxy.Transport"};
            for (String name : wanted) {
                assertNull(loader.loaded(name), name + " loaded before");
            }
            int loaded = loader.preload();
            assertTrue(loaded > 20, "loaded " + loaded);
            for (String name : wanted) {
                assertNotNull(loader.loaded(name), name + " not loaded");
            }
        }
    }

    @Test
    void leavesAJarToTheLoaderThatKeepsItOpen(@TempDir Path tmp) throws Exception {
        // ClassPreload alone in a directory, the rest of its package in a jar behind it
        Path dir = tmp.resolve("classes");
        Path jar = tmp.resolve("proxy.jar");
        Path pkg = proxyClasses().resolve("dev/sidecar/proxy");
        Files.createDirectories(dir.resolve("dev/sidecar/proxy"));
        Files.copy(pkg.resolve("ClassPreload.class"), dir.resolve("dev/sidecar/proxy/ClassPreload.class"));
        try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar));
                Stream<Path> files = Files.list(pkg)) {
            for (String d : List.of("dev/", "dev/sidecar/", "dev/sidecar/proxy/")) {
                out.putNextEntry(new JarEntry(d));
                out.closeEntry();
            }
            for (Path f : (Iterable<Path>) files::iterator) {
                String name = f.getFileName().toString();
                if (name.endsWith(".class") && !name.equals("ClassPreload.class")) {
                    out.putNextEntry(new JarEntry("dev/sidecar/proxy/" + name));
                    Files.copy(f, (OutputStream) out);
                    out.closeEntry();
                }
            }
        }
        try (Fresh loader = new Fresh(dir, jar)) {
            assertNotNull(loader.loadClass(ClassPreload.class.getName()));
            assertEquals(0, descriptorsOf(jar), "the jar is open before the preload");

            assertEquals(1, loader.preload(), "only ClassPreload itself, from the directory");
            assertNull(loader.loaded("dev.sidecar.proxy.AcceptFailures"), "a class of the jar was loaded ahead");
            long open = descriptorsOf(jar);
            assertTrue(open >= 1, "the lookup did not open the jar");

            // a class read from the jar later takes no descriptor of its own
            assertNotNull(Class.forName("dev.sidecar.proxy.AcceptFailures", false, loader));
            assertEquals(open, descriptorsOf(jar));
        }
    }

    /** How many of this process's open descriptors are the file {@code path}. */
    private static long descriptorsOf(Path path) throws IOException {
        Path real = path.toRealPath();
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.filter(fd -> {
                try {
                    return Files.readSymbolicLink(fd).equals(real);
                } catch (IOException e) {
                    return false; // closed while listed
                }
            }).count();
        }
    }
}
