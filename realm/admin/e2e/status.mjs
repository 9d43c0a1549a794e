// Real-browser test of the router's status page, run by status_browser_test.go:
//
//   node e2e/status.mjs http://127.0.0.1:PORT/status SCREENSHOT_PATH PLAYWRIGHT_DIR WANT_AUTHID WANT_TOPIC
//
// Headless Chromium (Debian's /usr/bin/chromium, driven by npm playwright-core — the copy
// that examples/wampchat installs, found from PLAYWRIGHT_DIR; no browser is downloaded) opens
// the page, waits until it lists a session with WANT_AUTHID and a subscription to WANT_TOPIC,
// saves a screenshot, and prints one line "RESULT {json}" with what the page shows.
import { createRequire } from "node:module";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [url, shot, playwrightDir, wantAuthid, wantTopic] = process.argv.slice(2);
if (!url || !shot || !playwrightDir || !wantAuthid || !wantTopic) {
  console.error("usage: node e2e/status.mjs URL SCREENSHOT_PATH PLAYWRIGHT_DIR AUTHID TOPIC");
  process.exit(2);
}
setTimeout(() => {
  console.error("status page test: hard timeout");
  process.exit(3);
}, 60_000).unref();

const { chromium } = createRequire(join(playwrightDir, "package.json"))("playwright-core");
const WAIT = 20_000;
const userDataDir = mkdtempSync(join(tmpdir(), "pawl-chromium-"));
let context;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    chromiumSandbox: false,
    args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--disable-dev-shm-usage"],
    viewport: { width: 1200, height: 800 },
    timeout: WAIT,
  });
  context.setDefaultTimeout(WAIT);
  const problems = [];
  const page = await context.newPage();
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error") problems.push(`console error: ${msg.text()}`);
  });
  await page.goto(url);
  const rowWith = (args) => {
    const [selector, text] = args;
    return [...document.querySelectorAll(selector + " tbody tr")].some((tr) => tr.textContent.includes(text));
  };
  await page.waitForFunction(rowWith, ["table.sessions", wantAuthid]);
  await page.waitForFunction(rowWith, ["table.subscriptions", wantTopic]);
  await page.screenshot({ path: shot, fullPage: true });

  const result = await page.evaluate(() => {
    const rows = (selector) =>
      [...document.querySelectorAll(selector + " tbody tr")].map((tr) => [...tr.cells].map((td) => td.textContent));
    return {
      realms: [...document.querySelectorAll("section.realm")].map((s) => s.dataset.realm),
      sessions: rows("table.sessions"),
      subscriptions: rows("table.subscriptions"),
      registrations: rows("table.registrations"),
      updated: document.getElementById("updated").textContent,
      error: document.getElementById("error").textContent,
    };
  });
  result.problems = problems;
  result.screenshot = shot;
  console.log("RESULT " + JSON.stringify(result));
} catch (err) {
  console.error("status page test failed:", err && err.stack ? err.stack : err);
  process.exitCode = 1;
} finally {
  if (context) await context.close().catch(() => {});
  rmSync(userDataDir, { recursive: true, force: true });
}
