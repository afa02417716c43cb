package dev.sidecar.proxy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.stream.Stream;

/**
 * Loads the proxy's own classes from class directories at start, before traffic. The JVM loads
 * a class when it is first used, and reading it from a class directory needs a file descriptor:
 * a proxy out of descriptors (EMFILE) would then fail to load, say, its HTTP/1.1 codec on the
 * first connection accepted after the descriptors come back, and the JVM keeps that failed
 * resolution for good (JVMS 5.4.3), so the listener would stay broken after the exhaustion is
 * over. Classes in jars need nothing ahead: looking the packages up opens every jar of the class
 * path, the class loader keeps each open for good and reads classes through the descriptor it
 * has, so only directories are walked and their classes loaded (not initialised). The proxy's
 * one jar (the build's {@code sidecar.jar}) is not read through: walking its entries, tens of
 * thousands with the libraries', would cost some 45 ms of a start on one CPU.
 */
final class ClassPreload {
    private static final List<String> PACKAGES = List.of("dev/sidecar/config", "dev/sidecar/upstream", "dev/sidecar/tls",
            "dev/sidecar/l4", "dev/sidecar/l7", "dev/sidecar/xds", "dev/sidecar/proxy");

    private ClassPreload() {}

    /** Loads every class under the packages above that is in a class directory; returns how many. */
    static int run() {
        ClassLoader loader = ClassPreload.class.getClassLoader();
        int loaded = 0;
        for (String name : classNames(loader)) {
            try {
                Class.forName(name, false, loader);
                loaded++;
            } catch (ClassNotFoundException | LinkageError e) {
                // a class for an optional dependency that is absent: it is not used either
            }
        }
        return loaded;
    }

    /** {@code a/b/C.class} as {@code a.b.C}. */
    private static String className(String entry) {
        return entry.substring(0, entry.length() - ".class".length()).replace('/', '.');
    }

    /** The classes under the packages in class directories; the lookup opens the jars on the way. */
    private static List<String> classNames(ClassLoader loader) {
        List<String> names = new ArrayList<>();
        try {
            for (String pkg : PACKAGES) {
                Enumeration<URL> roots = loader.getResources(pkg);
                while (roots.hasMoreElements()) {
                    URL root = roots.nextElement();
                    if (root.getProtocol().equals("file")) {
                        Path dir = Path.of(root.toURI());
                        try (Stream<Path> files = Files.walk(dir)) {
                            files.map(f -> dir.relativize(f).toString().replace(java.io.File.separatorChar, '/'))
                                    .filter(f -> f.endsWith(".class") && !f.endsWith("module-info.class"))
                                    .forEach(f -> names.add(className(pkg + "/" + f)));
                        }
                    }
                    // a jar root: the lookup opened the jar and the loader keeps it open
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
        return names;
    }
}
