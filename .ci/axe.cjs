// Check an HTML page for accessibility with axe-core (npm) in a real headless Chromium, driven by playwright-core.
// Usage: node .ci/axe.cjs PAGE.html SCREENSHOT.png [CHROMIUM]   (CHROMIUM defaults to /usr/bin/chromium)
// Prints axe's result as JSON ({violations, passes: count, incomplete: count, text: the rendered page's innerText})
// on stdout; exits 2 if it cannot run. The page is opened offline: every request that is not a local file in the
// page's own folder (its images) is aborted (nbconvert's pages name CDN scripts that a grader's machine need not
// reach).
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { chromium } = require("playwright-core");

const [page_, screenshot, executable = "/usr/bin/chromium"] = process.argv.slice(2);
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--no-first-run"];

(async () => {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "axe-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: executable, headless: true, args: FLAGS, viewport: { width: 1280, height: 900 },
  });
  try {
    const page = context.pages()[0] || (await context.newPage());
    const url = "file://" + path.resolve(page_);
    const folder = "file://" + path.dirname(path.resolve(page_)) + "/";
    const local = (u) => u === url || (u.startsWith(folder) && !u.slice(folder.length).includes(".."));
    await page.route("**/*", (route) => (local(route.request().url()) ? route.continue() : route.abort()));
    await page.goto(url, { waitUntil: "load" });
    await page.addScriptTag({ path: require.resolve("axe-core/axe.min.js") });
    const result = await page.evaluate(async () => {
      const r = await window.axe.run(document, { resultTypes: ["violations"] });
      return { violations: r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.map((n) => ({ target: n.target, html: n.html.slice(0, 300), summary: n.failureSummary })) })),
        passes: r.passes.length, incomplete: r.incomplete.length, version: window.axe.version,
        text: document.body.innerText };
    });
    await page.screenshot({ path: screenshot, fullPage: true });
    process.stdout.write(JSON.stringify(result));
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
})().catch((error) => {
  process.stderr.write(String(error && error.stack || error) + "\n");
  process.exit(2);
});
