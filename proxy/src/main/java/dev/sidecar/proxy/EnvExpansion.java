package dev.sidecar.proxy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import dev.sidecar.config.ConfigError;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * {@code ${NAME}} and {@code ${NAME:-default}} in the config's string values, from the
 * environment: how a pod's node id, namespace or IP reach the file (the downward API sets
 * environment variables; a ConfigMap cannot know them). {@code $$} is a literal {@code $}.
 *
 * <p>Expanded after YAML parsing, value by value, so a variable's content is always data and
 * never YAML (no injected keys, no quoting trouble), and keys are never expanded. Only string
 * scalars are: a number or boolean written as {@code ${X}} stays a string and is refused by the
 * field that expects a number, naming the field. An unset variable without a default is an
 * error that names the field and the variable; an empty one expands to the empty string, as in
 * the shell.
 */
final class EnvExpansion {
    private EnvExpansion() {}

    /** Expands every string value of {@code root} in place; returns the errors, each with its field's path. */
    static List<ConfigError> expand(JsonNode root, Function<String, String> env) {
        List<ConfigError> errors = new ArrayList<>();
        walk(root, "", env, errors);
        return errors;
    }

    private static void walk(JsonNode node, String path, Function<String, String> env, List<ConfigError> errors) {
        if (node instanceof ObjectNode object) {
            for (Iterator<Map.Entry<String, JsonNode>> it = object.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> field = it.next();
                String p = path.isEmpty() ? field.getKey() : path + "." + field.getKey();
                if (field.getValue().isTextual()) {
                    String expanded = expandText(field.getValue().asText(), p, env, errors);
                    if (expanded != null) {
                        field.setValue(TextNode.valueOf(expanded));
                    }
                } else {
                    walk(field.getValue(), p, env, errors);
                }
            }
        } else if (node instanceof ArrayNode array) {
            for (int i = 0; i < array.size(); i++) {
                String p = path + "[" + i + "]";
                if (array.get(i).isTextual()) {
                    String expanded = expandText(array.get(i).asText(), p, env, errors);
                    if (expanded != null) {
                        array.set(i, TextNode.valueOf(expanded));
                    }
                } else {
                    walk(array.get(i), p, env, errors);
                }
            }
        }
    }

    /** The expanded text, or null when it has nothing to expand or an error was recorded. */
    static String expandText(String text, String path, Function<String, String> env, List<ConfigError> errors) {
        if (text.indexOf('$') < 0) {
            return null;
        }
        StringBuilder out = new StringBuilder(text.length());
        int i = 0;
        while (i < text.length()) {
            char c = text.charAt(i);
            if (c != '$') {
                out.append(c);
                i++;
            } else if (i + 1 < text.length() && text.charAt(i + 1) == '$') {
                out.append('$');
                i += 2;
            } else if (i + 1 < text.length() && text.charAt(i + 1) == '{') {
                int end = text.indexOf('}', i + 2);
                if (end < 0) {
                    errors.add(new ConfigError(path, "'${' without a closing '}' (write $$ for a literal $)"));
                    return null;
                }
                String body = text.substring(i + 2, end);
                int dflt = body.indexOf(":-");
                String name = dflt < 0 ? body : body.substring(0, dflt);
                if (!name.matches("[A-Za-z_][A-Za-z0-9_]*")) {
                    errors.add(new ConfigError(path, "'${" + body + "}': '" + name
                            + "' is not an environment variable name (letters, digits and '_', not starting with a digit)"));
                    return null;
                }
                String value = env.apply(name);
                if (value == null) {
                    if (dflt < 0) {
                        errors.add(new ConfigError(path, "environment variable " + name + " is not set (give a default with ${"
                                + name + ":-value})"));
                        return null;
                    }
                    value = body.substring(dflt + 2);
                }
                out.append(value);
                i = end + 1;
            } else {
                out.append(c);
                i++;
            }
        }
        return out.toString();
    }
}
