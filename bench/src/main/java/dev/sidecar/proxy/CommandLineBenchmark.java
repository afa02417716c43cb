package dev.sidecar.proxy;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Warmup;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The command line's share of a start: one cold parse of {@code run -c FILE --log-level warn} in a
 * fresh JVM per fork, as {@code sidecar run} does it ({@link Main#commandLine()}, picocli's
 * programmatic API), against the same commands declared with picocli's annotations
 * ({@link Annotated}), which is how the proxy declared them before. The annotated model is read
 * by reflection and starts picocli's default factory, whose first use probes the class path for
 * Groovy. In this benchmark's single jar that probe opens one jar; on the proxy's class path it
 * opens all of them, so the real difference at a start is larger than here.
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 0)
@Measurement(iterations = 1)
@Fork(value = 10, jvmArgsAppend = {"-XX:+UseSerialGC", "-XX:-UsePerfData"})
public class CommandLineBenchmark {
    private static final String[] ARGS = {"run", "--config", "sidecar.yaml", "--log-level", "warn"};

    @Benchmark
    public Object programmatic() {
        return Main.commandLine().parseArgs(ARGS);
    }

    @Benchmark
    public Object annotated() {
        return new CommandLine(new Annotated()).parseArgs(ARGS);
    }

    /** The same commands and options as {@link Main#commandLine()}, declared with annotations. */
    @Command(name = "sidecar", mixinStandardHelpOptions = true,
            subcommands = {Annotated.Run.class, Annotated.Validate.class, Annotated.Version.class, CommandLine.HelpCommand.class})
    static final class Annotated {
        @Command(name = "run", mixinStandardHelpOptions = true)
        static final class Run {
            @Option(names = {"-c", "--config"}, paramLabel = "FILE", required = true)
            Path config;
            @Option(names = "--transport", paramLabel = "NAME")
            String transport;
            @Option(names = "--workers", paramLabel = "N")
            Integer workers;
            @Option(names = "--log-level", paramLabel = "LEVEL", defaultValue = "info")
            String logLevel;
            @Option(names = "--log-format", paramLabel = "FORMAT", defaultValue = "text")
            String logFormat;
        }

        @Command(name = "validate", mixinStandardHelpOptions = true)
        static final class Validate {
            @Option(names = {"-c", "--config"}, paramLabel = "FILE", required = true)
            Path config;
        }

        @Command(name = "version", mixinStandardHelpOptions = true)
        static final class Version {
        }
    }
}
