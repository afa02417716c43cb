package dev.sidecar.testkit;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.Socket;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.zip.CRC32C;

/** Client-side traffic for tests: plain blocking sockets, deterministic payloads. */
public final class Traffic {
    private Traffic() {}

    /** A connected client socket to 127.0.0.1:{@code port} with a read timeout, so no test read hangs forever. */
    public static Socket connect(int port) {
        try {
            Socket s = new Socket(InetAddress.getLoopbackAddress(), port);
            s.setSoTimeout(Integer.getInteger("traffic.timeout", 30_000));
            s.setTcpNoDelay(true);
            return s;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Checksums of what went out and what came back. */
    public record EchoResult(long sentBytes, long sentCrc, long receivedBytes, long receivedCrc) {
        public boolean exact() {
            return sentBytes == receivedBytes && sentCrc == receivedCrc;
        }
    }

    /**
     * Sends {@code total} pseudo-random bytes (from {@code seed}) through an echo path on
     * {@code port}, half-closes, reads everything back until EOF, and checksums both directions.
     * Writing and reading run at once, so the exchange cannot deadlock on full buffers.
     */
    public static EchoResult echo(int port, long total, long seed) {
        try (Socket s = connect(port)) {
            CompletableFuture<long[]> sent = CompletableFuture.supplyAsync(() -> {
                try {
                    long[] r = write(s.getOutputStream(), total, seed);
                    s.shutdownOutput();
                    return r;
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
            long[] received = readToEnd(s.getInputStream());
            long[] out = sent.join();
            return new EchoResult(out[0], out[1], received[0], received[1]);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Writes {@code total} pseudo-random bytes; returns {bytes, crc}. */
    public static long[] write(OutputStream out, long total, long seed) throws IOException {
        SplittableRandom random = new SplittableRandom(seed);
        CRC32C crc = new CRC32C();
        byte[] chunk = new byte[64 * 1024];
        long left = total;
        while (left > 0) {
            int n = (int) Math.min(chunk.length, left);
            for (int i = 0; i < n; i += 8) {
                long v = random.nextLong();
                for (int k = 0; k < 8 && i + k < n; k++) {
                    chunk[i + k] = (byte) (v >>> (k * 8));
                }
            }
            out.write(chunk, 0, n);
            crc.update(chunk, 0, n);
            left -= n;
        }
        out.flush();
        return new long[] {total, crc.getValue()};
    }

    /** Reads until EOF; returns {bytes, crc}. */
    public static long[] readToEnd(InputStream in) throws IOException {
        CRC32C crc = new CRC32C();
        byte[] buf = new byte[64 * 1024];
        long total = 0;
        for (int n; (n = in.read(buf)) >= 0; ) {
            crc.update(buf, 0, n);
            total += n;
        }
        return new long[] {total, crc.getValue()};
    }

    /**
     * True once the peer has closed {@code s}: a read returns EOF or fails with a reset. Used
     * with {@link Await} to wait for the proxy to close a connection.
     */
    public static boolean closedByPeer(Socket s) {
        try {
            int saved = s.getSoTimeout();
            s.setSoTimeout(1);
            try {
                return s.getInputStream().read() < 0;
            } catch (java.net.SocketTimeoutException e) {
                return false;
            } finally {
                if (!s.isClosed()) {
                    s.setSoTimeout(saved);
                }
            }
        } catch (IOException e) {
            return true; // reset
        }
    }
}
