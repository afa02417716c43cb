package dev.sidecar.proxy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.JarURLConnection;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.stream.Stream;

/**
 * Loads the proxy's own classes at start, before traffic. The JVM loads a class when it is
 * first used, and reading it from a class directory (or a jar not opened yet) needs a file
 * descriptor: a proxy out of descriptors (EMFILE) would then fail to load, say, its HTTP/1.1
 * codec on the first connection accepted after the descriptors come back, and the JVM keeps
 * that failed resolution for good (JVMS 5.4.3), so the listener would stay broken after the
 * exhaustion is over. Loading (not initialising) every class of the data and control planes up
 * front costs a few hundred milliseconds of start-up and the metaspace those classes would take
 * anyway.
 */
final class ClassPreload {
    private static final List<String> PACKAGES = List.of("dev/sidecar/config", "dev/sidecar/upstream", "dev/sidecar/tls",
            "dev/sidecar/l4", "dev/sidecar/l7", "dev/sidecar/xds", "dev/sidecar/proxy");

    private ClassPreload() {}

    /** Loads every class under the packages above; returns how many. */
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

    /**
     * The classes under the packages, from class directories and jars. A jar is read once for
     * all of them: the proxy's jar holds its libraries too, tens of thousands of entries.
     */
    private static List<String> classNames(ClassLoader loader) {
        List<String> names = new ArrayList<>();
        Set<String> jarsRead = new HashSet<>();
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
                    } else if (root.getProtocol().equals("jar")) {
                        JarFile jar = ((JarURLConnection) root.openConnection()).getJarFile();
                        if (jarsRead.add(jar.getName())) {
                            for (Enumeration<JarEntry> e = jar.entries(); e.hasMoreElements(); ) {
                                String n = e.nextElement().getName();
                                if (n.endsWith(".class") && inPackages(n)) {
                                    names.add(className(n));
                                }
                            }
                        }
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
        return names;
    }

    private static boolean inPackages(String entry) {
        if (!entry.startsWith("dev/sidecar/")) {
            return false;
        }
        for (String pkg : PACKAGES) {
            if (entry.startsWith(pkg) && entry.charAt(pkg.length()) == '/') {
                return true;
            }
        }
        return false;
    }
}
