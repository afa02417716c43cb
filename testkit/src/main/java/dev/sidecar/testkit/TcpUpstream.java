package dev.sidecar.testkit;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An in-process TCP upstream on 127.0.0.1 and an ephemeral port, with plain blocking sockets
 * on daemon threads: deliberately not Netty, so the proxy's buffer pool and leak accounting see
 * only the proxy. Errors raised on its threads (other than the peer going away) are collected
 * and rethrown by {@link #close()}.
 */
public final class TcpUpstream implements AutoCloseable {
    /** What the upstream does with each accepted connection. */
    @FunctionalInterface
    public interface Behaviour {
        void serve(Socket socket, TcpUpstream upstream) throws IOException;
    }

    private final ServerSocket server;
    private final Behaviour behaviour;
    private final Set<Socket> open = ConcurrentHashMap.newKeySet();
    private final AtomicInteger accepted = new AtomicInteger();
    private final AtomicLong bytesRead = new AtomicLong();
    private final List<Throwable> errors = new CopyOnWriteArrayList<>();
    private volatile boolean closed;

    private TcpUpstream(String name, Behaviour behaviour, int backlog) {
        this(name, behaviour, backlog, 0);
    }

    private TcpUpstream(String name, Behaviour behaviour, int backlog, int port) {
        this(name, behaviour, backlog, port, null);
    }

    private TcpUpstream(String name, Behaviour behaviour, int backlog, int port, javax.net.ssl.SSLContext tls) {
        this.behaviour = behaviour;
        try {
            ServerSocket s = tls == null ? new ServerSocket() : tls.getServerSocketFactory().createServerSocket();
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), backlog);
            this.server = s;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Thread acceptor = new Thread(this::acceptLoop, "upstream-" + name + "-" + server.getLocalPort());
        acceptor.setDaemon(true);
        acceptor.start();
    }

    /** Writes back everything it reads; on the client's FIN it finishes writing and sends its own. */
    public static TcpUpstream echo() {
        return echoOn(0);
    }

    /** An echo upstream on a given loopback port: to bring one back where it was after {@link #close()}. */
    public static TcpUpstream echoOn(int port) {
        return new TcpUpstream("echo", (s, u) -> {
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            byte[] buf = new byte[64 * 1024];
            for (int n; (n = in.read(buf)) >= 0; ) {
                u.bytesRead.addAndGet(n);
                out.write(buf, 0, n);
            }
            s.shutdownOutput();
            s.close();
        }, 512, port);
    }

    /**
     * An echo upstream that speaks TLS with {@code tls} (the JDK's engine: independent of the
     * proxy's). A handshake the client aborts (it refused the certificate) is counted in
     * {@link #tlsHandshakeFailures()}, not raised as an error.
     */
    public static TcpUpstream tlsEcho(javax.net.ssl.SSLContext tls) {
        return new TcpUpstream("tls-echo", (s, u) -> {
            javax.net.ssl.SSLSocket ssl = (javax.net.ssl.SSLSocket) s;
            ssl.setWantClientAuth(true);
            try {
                ssl.startHandshake();
            } catch (javax.net.ssl.SSLException e) {
                u.tlsHandshakeFailures.incrementAndGet();
                s.close();
                return;
            }
            u.tlsSessions.add(ssl.getSession());
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            byte[] buf = new byte[64 * 1024];
            try {
                for (int n; (n = in.read(buf)) >= 0; ) {
                    u.bytesRead.addAndGet(n);
                    out.write(buf, 0, n);
                    out.flush();
                }
            } catch (javax.net.ssl.SSLException e) {
                // the proxy closed without close_notify: the client is gone, nothing to answer
            }
            s.close();
        }, 512, 0, tls);
    }

    private final AtomicInteger tlsHandshakeFailures = new AtomicInteger();
    private final List<javax.net.ssl.SSLSession> tlsSessions = new CopyOnWriteArrayList<>();

    /** TLS handshakes the client aborted ({@link #tlsEcho} only). */
    public int tlsHandshakeFailures() {
        return tlsHandshakeFailures.get();
    }

    /** The sessions of the TLS handshakes that succeeded ({@link #tlsEcho} only), in order. */
    public List<javax.net.ssl.SSLSession> tlsSessions() {
        return tlsSessions;
    }

    /** An upstream that serves each connection with {@code behaviour} on its own thread. */
    public static TcpUpstream custom(String name, Behaviour behaviour) {
        return new TcpUpstream(name, behaviour, 512);
    }

    /** Reads and discards; counts bytes. On the client's FIN it closes. */
    public static TcpUpstream sink() {
        return throttledSink(Long.MAX_VALUE);
    }

    /** A sink that reads at most {@code bytesPerSecond}: a slow consumer for backpressure tests. */
    public static TcpUpstream throttledSink(long bytesPerSecond) {
        return new TcpUpstream("sink", (s, u) -> {
            InputStream in = s.getInputStream();
            byte[] buf = new byte[16 * 1024];
            long start = System.nanoTime();
            long total = 0;
            for (int n; (n = in.read(buf)) >= 0; ) {
                u.bytesRead.addAndGet(n);
                total += n;
                if (bytesPerSecond != Long.MAX_VALUE) {
                    long dueNanos = (long) (total * 1e9 / bytesPerSecond);
                    long ahead = dueNanos - (System.nanoTime() - start);
                    if (ahead > 0) {
                        java.util.concurrent.locks.LockSupport.parkNanos(ahead); // pacing, not synchronisation
                    }
                }
            }
            s.close();
        }, 512);
    }

    /** Accepts and keeps connections open, never reading from them. */
    public static TcpUpstream neverReads() {
        return new TcpUpstream("never-reads", (s, u) -> {
            // Held open in `open` until the test closes the upstream.
        }, 512);
    }

    /** Accepts, then resets the connection (SO_LINGER 0, so the close sends RST). */
    public static TcpUpstream resetting() {
        return new TcpUpstream("reset", (s, u) -> {
            s.setSoLinger(true, 0);
            s.close();
        }, 512);
    }

    /**
     * A port that accepts nothing: a listen queue that is full and never accepted from. The
     * kernel drops further SYNs, so a connect hangs until its own timeout, as it does to a
     * black-holed host, without any traffic leaving loopback.
     */
    public static TcpUpstream blackHole() {
        TcpUpstream u = new TcpUpstream("black-hole", null, 1);
        InetSocketAddress target = new InetSocketAddress(InetAddress.getLoopbackAddress(), u.port());
        // The accept queue of a backlog-1 socket holds 2; fill it and then some.
        for (int i = 0; i < 4; i++) {
            Socket s = new Socket();
            try {
                s.connect(target, 200);
                u.open.add(s);
            } catch (IOException e) {
                closeQuietly(s);
                break; // queue full: that is the state we want
            }
        }
        return u;
    }

    /** A loopback port with nothing listening: connects to it are refused at once. */
    public static int refusingPort() {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void acceptLoop() {
        if (behaviour == null) {
            return; // black hole: never accept
        }
        while (!closed) {
            Socket s;
            try {
                s = server.accept();
            } catch (IOException e) {
                if (!closed) {
                    errors.add(e);
                }
                return;
            }
            accepted.incrementAndGet();
            open.add(s);
            Thread t = new Thread(() -> serve(s), Thread.currentThread().getName() + "-conn");
            t.setDaemon(true);
            t.start();
        }
    }

    private void serve(Socket s) {
        try {
            behaviour.serve(s, this);
        } catch (SocketException e) {
            // the peer went away or reset: part of what tests do
            closeQuietly(s);
        } catch (Throwable e) {
            closeQuietly(s);
            if (!closed) {
                errors.add(e);
            }
        } finally {
            // A behaviour that returns without closing (never-reads) leaves the socket open.
            if (s.isClosed()) {
                open.remove(s);
            }
        }
    }

    public int port() {
        return server.getLocalPort();
    }

    /** {@code 127.0.0.1:port}, as a config file writes it. */
    public String address() {
        return "127.0.0.1:" + port();
    }

    /** Connections accepted so far. */
    public int accepted() {
        return accepted.get();
    }

    /** Connections accepted and not yet closed by this side. */
    public int openConnections() {
        open.removeIf(Socket::isClosed);
        return open.size();
    }

    public long bytesRead() {
        return bytesRead.get();
    }

    @Override
    public void close() {
        closed = true;
        closeQuietly(server);
        for (Socket s : open) {
            closeQuietly(s);
        }
        if (!errors.isEmpty()) {
            AssertionError e = new AssertionError("upstream on port " + port() + " had " + errors.size() + " error(s)", errors.get(0));
            errors.stream().skip(1).forEach(e::addSuppressed);
            throw e;
        }
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception ignored) {
            // closing: nothing to do about it
        }
    }
}
