// Offline schema validation of Kubernetes objects: each object is checked against the OpenAPI
// schema of its apiVersion and kind, as compiled into the kubernetes-models package (no cluster,
// no network). kubernetes-models' schemas check types, required fields, enums and formats; like
// the schemas themselves, they do not reject fields they do not know.
//
//   kubectl kustomize DIR | node validate.mjs -
//   node validate.mjs FILE...   each FILE YAML (one or more documents) or JSON (an object, an
//                               array of objects, or a List); "-" reads standard input
//
// Prints one line per object, "ok KIND/NAME" or "invalid KIND/NAME: PATH MESSAGE; ...", and exits
// 0 when every object is valid, 1 when one is not (or has no schema here), 2 on a bad argument.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node validate.mjs FILE... (YAML or JSON; - for standard input)");
  process.exit(2);
}

let invalid = 0;
let checked = 0;
for (const file of files) {
  let objects;
  try {
    objects = read(file === "-" ? 0 : file);
  } catch (e) {
    console.error(`${file}: ${e.message}`);
    process.exit(2);
  }
  for (const object of objects) {
    const name = `${object?.kind ?? "?"}/${object?.metadata?.name ?? "?"}`;
    const problems = await check(object);
    checked++;
    if (problems.length === 0) {
      console.log(`ok ${name}`);
    } else {
      invalid++;
      console.log(`invalid ${name}: ${problems.join("; ")}`);
    }
  }
}
console.log(`${checked} object(s) checked, ${invalid} invalid`);
process.exit(invalid === 0 ? 0 : 1);

/** The objects in a file: YAML documents (JSON is YAML), arrays and Lists flattened, empty documents dropped. */
function read(file) {
  const objects = [];
  for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
    if (doc.errors.length > 0) {
      throw new Error(doc.errors[0].message);
    }
    const value = doc.toJS();
    for (const o of Array.isArray(value) ? value : [value]) {
      if (o?.kind === "List" && Array.isArray(o.items)) {
        objects.push(...o.items);
      } else if (o !== null && o !== undefined) {
        objects.push(o);
      }
    }
  }
  return objects;
}

/** The schema errors of one object, each "PATH MESSAGE"; empty when it is valid. */
async function check(object) {
  const apiVersion = object?.apiVersion;
  const kind = object?.kind;
  if (typeof apiVersion !== "string" || typeof kind !== "string" || !/^[A-Za-z0-9.\-/]+$/.test(apiVersion) || !/^[A-Za-z0-9]+$/.test(kind)) {
    return ["apiVersion and kind must be set"];
  }
  let model;
  try {
    // "v1" -> kubernetes-models/v1/Pod, "apps/v1" -> kubernetes-models/apps/v1/Deployment
    model = (await import(`kubernetes-models/${apiVersion}/${kind}`))[kind];
  } catch {
    model = undefined;
  }
  if (typeof model !== "function") {
    return [`no schema for apiVersion ${apiVersion}, kind ${kind}`];
  }
  try {
    new model(object).validate();
    return [];
  } catch (e) {
    if (Array.isArray(e.errors) && e.errors.length > 0) {
      return e.errors.map((err) => `${err.instancePath || "/"} ${err.message}${err.params?.allowedValues ? ` (${err.params.allowedValues.join(", ")})` : ""}`);
    }
    return [String(e.message ?? e)];
  }
}
