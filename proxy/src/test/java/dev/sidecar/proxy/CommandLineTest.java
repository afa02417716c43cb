package dev.sidecar.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * The command line in process: help, version and usage errors of every command, as
 * {@code ProcessTest} checks the exit statuses of the real process. Nothing here starts a proxy.
 */
class CommandLineTest {
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int execute(String... args) {
        CommandLine line = Main.commandLine();
        line.setOut(new PrintWriter(out, true));
        line.setErr(new PrintWriter(err, true));
        return line.execute(args);
    }

    @Test
    void help_lists_the_commands_and_the_exit_statuses() {
        assertEquals(0, execute("--help"), err.toString());
        String usage = out.toString();
        assertTrue(usage.startsWith("Usage: sidecar [-hV] [COMMAND]"), usage);
        for (String command : new String[] {"run", "validate", "version", "help"}) {
            assertTrue(usage.contains("\n  " + command + " "), command + " in:\n" + usage);
        }
        assertTrue(usage.contains("Exit status:"), usage);
        // without a command the usage goes to stderr and the status says the line was wrong
        out.getBuffer().setLength(0);
        assertEquals(2, execute());
        assertTrue(err.toString().startsWith("Usage: sidecar [-hV] [COMMAND]"), err.toString());
    }

    @Test
    void help_names_a_command_or_refuses_one_that_does_not_exist() {
        assertEquals(0, execute("help", "run"));
        assertTrue(out.toString().startsWith("Usage: sidecar run [-hV] -c=FILE [--log-format=FORMAT] [--log-level=LEVEL]"),
                out.toString());
        assertTrue(out.toString().contains("--transport=NAME"), out.toString());
        assertEquals(2, execute("help", "frobnicate"));
        assertTrue(err.toString().startsWith("Unknown command 'frobnicate'.\nUsage: sidecar [-hV] [COMMAND]"), err.toString());
    }

    @Test
    void every_command_answers_help_and_version() {
        for (String command : new String[] {"run", "validate", "version", "help"}) {
            out.getBuffer().setLength(0);
            assertEquals(0, execute(command, "--help"), command + ": " + err);
            assertTrue(out.toString().startsWith("Usage: sidecar " + command + " [-hV]"), out.toString());
            out.getBuffer().setLength(0);
            assertEquals(0, execute(command, "-V"), command + ": " + err);
            assertEquals("sidecar " + Version.current(), out.toString().strip());
        }
    }

    @Test
    void usage_errors_name_the_option_and_show_the_commands_usage() {
        assertEquals(2, execute("run"));
        assertTrue(err.toString().startsWith("Missing required option: '--config=FILE'\nUsage: sidecar run "), err.toString());
        err.getBuffer().setLength(0);
        assertEquals(2, execute("run", "-c", "x.yaml", "--workers", "many"));
        assertTrue(err.toString().startsWith("Invalid value for option '--workers': 'many' is not an int\nUsage: sidecar run "),
                err.toString());
        err.getBuffer().setLength(0);
        assertEquals(2, execute("run", "-c", "x.yaml", "--log-format", "xml"));
        assertTrue(err.toString().startsWith("--log-format: 'xml' is not one of text | json\nUsage: sidecar run "), err.toString());
        err.getBuffer().setLength(0);
        assertEquals(2, execute("validate", "-c", "x.yaml", "extra"));
        assertTrue(err.toString().startsWith("Unmatched argument at index 3: 'extra'\nUsage: sidecar validate "), err.toString());
        err.getBuffer().setLength(0);
        assertEquals(2, execute("frobnicate"));
        assertTrue(err.toString().startsWith("Unmatched argument at index 0: 'frobnicate'"), err.toString());
    }

    @Test
    void validate_reads_the_file_it_is_given() {
        Path example = Path.of("..", "examples", "sidecar.yaml");
        assertEquals(0, execute("validate", "--config", example.toString()), err.toString());
        assertEquals(example + ": valid (1 listener, 1 cluster)", out.toString().strip());
        assertEquals(1, execute("validate", "-c", "no-such-file.yaml"));
    }

    /**
     * A line that starts with a command is parsed by a root holding that command alone
     * ({@code Main.commandLine(first)}, what {@code sidecar} runs): its answers, statuses and
     * messages are those of the whole command line.
     */
    @Test
    void the_command_line_for_one_command_answers_as_the_whole_one() {
        Path example = Path.of("..", "examples", "sidecar.yaml");
        String[][] lines = {
                {"run"}, {"run", "--help"}, {"run", "-V"}, {"run", "-c", "x.yaml", "--workers", "many"},
                {"run", "-c", "x.yaml", "--log-format", "xml"}, {"run", "-c", "x.yaml", "extra"}, {"run", "validate"},
                {"validate", "-c", "x.yaml", "extra"}, {"validate", "--help"}, {"validate", "-c", example.toString()},
                {"validate", "help"}, {"version", "--help"}, {"version", "-V"}, {"version", "run"}};
        for (String[] line : lines) {
            String[] whole = answer(Main.commandLine(), line);
            String[] one = answer(Main.commandLine(line[0]), line);
            assertEquals(String.join("\n", whole), String.join("\n", one), String.join(" ", line));
        }
    }

    /** The status, standard output and standard error of one line. */
    private static String[] answer(CommandLine line, String... args) {
        StringWriter o = new StringWriter();
        StringWriter e = new StringWriter();
        line.setOut(new PrintWriter(o, true));
        line.setErr(new PrintWriter(e, true));
        int status = line.execute(args);
        return new String[] {Integer.toString(status), o.toString(), e.toString()};
    }
}
