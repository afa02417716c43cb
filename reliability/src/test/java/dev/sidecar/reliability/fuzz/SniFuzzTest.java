package dev.sidecar.reliability.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.sidecar.config.CertificateFiles;
import dev.sidecar.config.TlsServerConfig;
import dev.sidecar.config.TlsVersion;
import dev.sidecar.testkit.TestCertificates;
import dev.sidecar.tls.ServerTls;
import dev.sidecar.tls.TlsEngine;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.SSLException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Arbitrary bytes as the first bytes of a TLS connection to a listener with two certificates,
 * so the handler {@link ServerTls#newHandler} gives is Netty's SniHandler: it parses the
 * ClientHello for the server name, picks a certificate, and becomes an SslHandler. Invariants:
 * the only errors are decoder or TLS errors (DecoderException, SSLException, both as Netty
 * reports them), nothing else reaches the end of the pipeline, and the client's buffer is
 * released (leak detection at PARANOID checks the rest).
 */
class SniFuzzTest {
    private static ServerTls tls;
    private static Path dir;
    static long executions;

    @BeforeAll
    static void certificates() throws Exception {
        dir = Files.createTempDirectory("sni-fuzz");
        TestCertificates.Authority ca = TestCertificates.authority("sni fuzz CA");
        List<CertificateFiles> certs = new ArrayList<>();
        for (String name : List.of("a.internal", "b.internal")) {
            TestCertificates.Issued leaf = ca.issue(name).dns(name, "*." + name).build();
            TestCertificates.PemPair files = leaf.write(dir, name, TestCertificates.KeyFormat.PKCS8);
            certs.add(new CertificateFiles(files.cert().toString(), files.key().toString()));
        }
        tls = ServerTls.build("listener sni-fuzz", new TlsServerConfig(certs, List.of("h2", "http/1.1"), TlsVersion.TLS_1_2,
                TlsVersion.TLS_1_3, List.of(), null), TlsEngine.jdk());
    }

    @AfterAll
    static void stop() throws Exception {
        FuzzStats.report("tls-sni", executions);
        release();
    }

    static void release() throws Exception {
        try (var files = Files.list(dir)) {
            for (Path f : files.toList()) {
                Files.delete(f);
            }
        }
        Files.delete(dir);
    }

    /** Collects what reaches the end of the pipeline: decrypted bytes are dropped, errors kept. */
    private static final class Tail extends ChannelInboundHandlerAdapter {
        Throwable error;

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            io.netty.util.ReferenceCountUtil.release(msg);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (error == null) {
                error = cause;
            }
        }
    }

    @FuzzTest
    void clientHello(byte[] input) {
        executions++;
        Tail tail = new Tail();
        EmbeddedChannel ch = new EmbeddedChannel(tls.newHandler(io.netty.buffer.ByteBufAllocator.DEFAULT), tail);
        ByteBuf in = ch.alloc().buffer(input.length).writeBytes(input);
        try {
            ch.writeInbound(in);
            ch.runPendingTasks();
            ch.checkException();
        } catch (RuntimeException e) {
            tail.error = tail.error == null ? e : tail.error;
        } finally {
            ch.finishAndReleaseAll();
        }
        Throwable e = tail.error;
        if (e != null && !(e instanceof DecoderException) && !(e instanceof SSLException)) {
            throw new AssertionError("not a decoder or TLS error: " + e, e);
        }
        if (in.refCnt() != 0) {
            throw new AssertionError("the client's buffer was not released");
        }
    }
}
