// Renders the Go types of the event specification with quicktype (quicktype-core, pinned in
// package-lock.json). Run by events/contracts/golang.py, which post-processes what it prints.
// stdin: {"document": <JSON Schema>, "root": <name of its root type>, "package": <Go package name>}
// stdout: the Go source as quicktype writes it.
import { text } from "node:stream/consumers";
import {
  FetchingJSONSchemaStore,
  GoTargetLanguage,
  InputData,
  JSONSchemaInput,
  quicktype,
} from "quicktype-core";

// quicktype maps `format: date-time` to time.Time, which re-encodes "+00:00" as "Z" and drops the
// producer's precision: times stay the RFC 3339 strings the message carries.
class GoWithTextTimes extends GoTargetLanguage {
  get stringTypeMapping() {
    return new Map();
  }
}

const request = JSON.parse(await text(process.stdin));
const input = new JSONSchemaInput(new FetchingJSONSchemaStore());
// One source whose root refers to every message: quicktype then makes one type per definition
// (with a source per message it made a copy of each shared type per message).
await input.addSource({ name: request.root, schema: JSON.stringify(request.document) });
const inputData = new InputData();
inputData.addInput(input);
const result = await quicktype({
  inputData,
  lang: new GoWithTextTimes(),
  rendererOptions: { package: request.package, "just-types-and-package": "true" },
});
process.stdout.write(result.lines.join("\n") + "\n");
