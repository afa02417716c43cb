import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.Enumeration;
import java.util.List;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

/**
 * Copies a jar without the entries whose names start with any of the given prefixes, the others
 * in the order they came, with their times:
 *
 * <pre>java JarWithout.java IN OUT PREFIX...</pre>
 *
 * runtime.sh drops the native libraries the proxy's jar carries for every platform from the
 * image's copy: the image has its own machine's, as files on java.library.path.
 */
public class JarWithout {
    public static void main(String[] args) throws IOException {
        if (args.length < 3) {
            System.err.println("usage: java JarWithout.java IN OUT PREFIX...");
            System.exit(2);
        }
        List<String> prefixes = List.of(args).subList(2, args.length);
        int dropped = 0;
        try (ZipFile in = new ZipFile(args[0]); ZipOutputStream out = new ZipOutputStream(new FileOutputStream(args[1]))) {
            for (Enumeration<? extends ZipEntry> entries = in.entries(); entries.hasMoreElements(); ) {
                ZipEntry e = entries.nextElement();
                if (prefixes.stream().anyMatch(e.getName()::startsWith)) {
                    dropped++;
                    continue;
                }
                ZipEntry copy = new ZipEntry(e.getName());
                copy.setTime(e.getTime());
                out.putNextEntry(copy);
                try (InputStream body = in.getInputStream(e)) {
                    body.transferTo(out);
                }
                out.closeEntry();
            }
        }
        System.err.println("JarWithout: " + dropped + " entries left out of " + args[1]);
    }
}
