// Real-browser test of php-push, run by browser_test.go:
//
//   node e2e/browser.mjs PAWL_URL PHP_URL SCREENSHOT_DIR
//
// Two headless Chromium pages (Debian's /usr/bin/chromium, driven by npm playwright-core; no
// browser is downloaded) open the notifications page; a third opens the PHP app, fills its
// form and submits it like a person would. It prints one line "RESULT {json}" with what each
// page shows; the Go test asserts on it.
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [pawl, php, shotDir] = process.argv.slice(2);
if (!pawl || !php || !shotDir) {
  console.error("usage: node e2e/browser.mjs PAWL_URL PHP_URL SCREENSHOT_DIR");
  process.exit(2);
}
setTimeout(() => {
  console.error("browser test: hard timeout");
  process.exit(3);
}, 100_000).unref();

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
    viewport: { width: 900, height: 600 },
    timeout: WAIT,
  });
  context.setDefaultTimeout(WAIT);
  const problems = [];
  const watch = (name, page) => {
    page.on("pageerror", (err) => problems.push(`${name}: page error: ${err.message}`));
    page.on("console", (msg) => {
      if (msg.type() === "error") problems.push(`${name}: console error: ${msg.text()}`);
    });
  };

  const readers = [];
  for (const name of ["reader1", "reader2"]) {
    const page = await context.newPage();
    watch(name, page);
    await page.goto(pawl + "/");
    await page.waitForSelector("#status.connected");
    readers.push([name, page]);
  }

  const form = await context.newPage();
  watch("php", form);
  await form.goto(php + "/");
  await form.fill("#title", "Order #1042 shipped");
  await form.fill("#body", "It leaves the warehouse today <script>alert(1)</script>");
  await form.click("#send");
  await form.waitForSelector("#result");

  const shown = (title) => [...document.querySelectorAll("#notifications .title")].some((el) => el.textContent === title);
  for (const [, page] of readers) await page.waitForFunction(shown, "Order #1042 shipped");

  const shots = {};
  for (const [name, page] of [...readers, ["php", form]]) {
    shots[name] = join(shotDir, `php-push-${name}.png`);
    await page.screenshot({ path: shots[name] });
  }
  const dom = (page) =>
    page.evaluate(() => ({
      status: document.getElementById("status").textContent,
      notifications: [...document.querySelectorAll("#notifications li")].map((li) => ({
        title: li.querySelector(".title").textContent,
        body: li.querySelector(".body").textContent,
        at: li.querySelector(".at").textContent,
        markup: li.querySelectorAll("script").length,
      })),
    }));
  const result = {
    readers: Object.fromEntries(await Promise.all(readers.map(async ([name, page]) => [name, await dom(page)]))),
    php: await form.evaluate(() => document.getElementById("result").textContent),
    screenshots: shots,
    problems,
  };
  console.log("RESULT " + JSON.stringify(result));
} catch (err) {
  console.error("browser test failed:", err && err.stack ? err.stack : err);
  process.exitCode = 1;
} finally {
  if (context) await context.close().catch(() => {});
  rmSync(userDataDir, { recursive: true, force: true });
}
