package dev.sidecar.l7;

import io.netty.util.AsciiString;
import io.netty.util.concurrent.FastThreadLocal;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The header names and the request-line and status-line words an event loop's HTTP/1.1 decoders
 * saw last, so that the next message reuses them instead of copying each into new objects: a
 * keep-alive connection sends the same names, method, version, status and reason over and over
 * (and often the same path), and so do the other connections of the loop. Bytes are matched
 * exactly, so what goes on keeps the case it came with.
 *
 * <p>A slot holds one entry, chosen by a hash of the bytes; a different entry hashing to it
 * replaces it, so the table's size is bounded whatever a peer sends, and entries longer than
 * {@link #MAX_LENGTH} are never kept. One per event loop thread (decoders run on their channel's
 * loop): no locks, and nothing per connection.
 */
final class HeadCache {
    /** Longer names and words are made anew each time, never kept. */
    static final int MAX_LENGTH = 128;
    private static final int SLOTS = 512;

    private static final FastThreadLocal<HeadCache> PER_THREAD = new FastThreadLocal<>() {
        @Override
        protected HeadCache initialValue() {
            return new HeadCache();
        }
    };

    private final AsciiString[] names = new AsciiString[SLOTS];
    private final String[] words = new String[SLOTS];

    /** The calling thread's cache; a decoder looks it up once, on its event loop. */
    static HeadCache current() {
        return PER_THREAD.get();
    }

    /** A header name equal to {@code length} bytes of {@code b} from {@code start}. */
    AsciiString name(byte[] b, int start, int length) {
        if (length > MAX_LENGTH) {
            return new AsciiString(b, start, length, true);
        }
        int slot = slot(b, start, length);
        AsciiString s = names[slot];
        if (s != null && s.length() == length
                && Arrays.equals(s.array(), s.arrayOffset(), s.arrayOffset() + length, b, start, start + length)) {
            return s;
        }
        s = new AsciiString(b, start, length, true);
        names[slot] = s;
        return s;
    }

    /** A request-line or status-line word (method, target, version, status, reason) equal to those bytes. */
    String word(byte[] b, int start, int length) {
        if (length > MAX_LENGTH) {
            return new String(b, start, length, StandardCharsets.ISO_8859_1);
        }
        int slot = slot(b, start, length);
        String s = words[slot];
        if (s != null && s.length() == length && sameChars(s, b, start)) {
            return s;
        }
        s = new String(b, start, length, StandardCharsets.ISO_8859_1);
        words[slot] = s;
        return s;
    }

    private static int slot(byte[] b, int start, int length) {
        int h = length;
        for (int i = start, end = start + length; i < end; i++) {
            h = 31 * h + b[i];
        }
        return (h ^ (h >>> 9)) & (SLOTS - 1);
    }

    private static boolean sameChars(String s, byte[] b, int start) {
        for (int i = 0, n = s.length(); i < n; i++) {
            if (s.charAt(i) != (char) (b[start + i] & 0xFF)) {
                return false;
            }
        }
        return true;
    }
}
