// Real-browser test of a router restart, run by browser_test.go:
//
//   node e2e/restart.mjs http://127.0.0.1:PORT
//
// A headless Chromium page (Debian's /usr/bin/chromium, driven by npm playwright-core) joins
// the chat as alice and prints "READY". The Go test then stops the router (SIGTERM-style
// graceful shutdown) and starts it again on the same port, and writes a line to stdin. The
// page's autobahn.js must reconnect by itself, take its nickname back, and deliver a message
// sent after the restart. The script prints "RESULT {json}" with what the page shows.
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

const [url] = process.argv.slice(2);
if (!url) {
  console.error("usage: node e2e/restart.mjs URL");
  process.exit(2);
}
setTimeout(() => {
  console.error("restart test: hard timeout");
  process.exit(3);
}, 100_000).unref();

const WAIT = 20_000;
const lines = createInterface({ input: process.stdin });
const nextLine = () => new Promise((resolve) => lines.once("line", resolve));
const userDataDir = mkdtempSync(join(tmpdir(), "pawl-chromium-"));
let context;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    chromiumSandbox: false,
    args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--disable-dev-shm-usage"],
    timeout: WAIT,
  });
  context.setDefaultTimeout(WAIT);
  const page = await context.newPage();
  const statuses = [];
  await page.exposeFunction("recordStatus", (s) => statuses.push(s));
  await page.goto(url + "/");
  // Every status the page shows, in order (connected, reconnecting…, connected).
  await page.evaluate(() => {
    const el = document.getElementById("status");
    new MutationObserver(() => window.recordStatus(el.textContent)).observe(el, { childList: true, characterData: true, subtree: true });
  });
  await page.waitForSelector("#join-button:not([disabled])");
  await page.fill("#nick", "alice");
  await page.click("#join-button");
  await page.waitForSelector("#join", { state: "hidden" });
  const firstSession = await page.evaluate(() => state.session.id);
  console.log("READY");
  await nextLine(); // the router went away and came back

  await page.waitForFunction((first) => state.session && state.session.id !== first && state.nick === "alice" &&
    document.getElementById("status").textContent === "connected" && !document.getElementById("text").disabled, firstSession);
  await page.waitForFunction(() => [...document.querySelectorAll("#users li")].some((li) => li.textContent === "alice"));
  await page.fill("#text", "back after the restart");
  await page.press("#text", "Enter");
  await page.waitForFunction(() => [...document.querySelectorAll("#messages li.msg .text")]
    .some((el) => el.textContent === "back after the restart"));
  const result = await page.evaluate(() => ({
    status: document.getElementById("status").textContent,
    me: document.getElementById("me").textContent,
    composerEnabled: !document.getElementById("text").disabled,
  }));
  result.statuses = statuses;
  console.log("RESULT " + JSON.stringify(result));
} catch (err) {
  console.error("restart test failed:", err && err.stack ? err.stack : err);
  process.exitCode = 1;
} finally {
  lines.close();
  if (context) await context.close().catch(() => {});
  rmSync(userDataDir, { recursive: true, force: true });
}
