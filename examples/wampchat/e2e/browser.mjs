// Real-browser test of the wampchat page, run by browser_test.go:
//
//   node e2e/browser.mjs http://127.0.0.1:PORT SCREENSHOT_DIR
//
// Two headless Chromium pages (Debian's /usr/bin/chromium, driven by npm playwright-core; no
// browser is downloaded) join the chat as alice and bob, wait until each sees both in the
// online list, exchange a message each way; then carol joins late on a phone-sized page
// (375 px wide) and must see what was said before (the room's history). It saves screenshots
// and prints one line "RESULT {json}" with what each page's DOM shows; the Go test asserts on it.
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [url, shotDir] = process.argv.slice(2);
if (!url || !shotDir) {
  console.error("usage: node e2e/browser.mjs URL SCREENSHOT_DIR");
  process.exit(2);
}
// A hard bound on the whole run, whatever hangs.
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
    args: [
      "--no-sandbox",
      "--headless",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-dev-shm-usage",
    ],
    viewport: { width: 1100, height: 680 },
    timeout: WAIT,
  });
  context.setDefaultTimeout(WAIT);

  const problems = [];
  const open = async (nick, viewport) => {
    const page = await context.newPage();
    if (viewport) await page.setViewportSize(viewport);
    page.on("pageerror", (err) => problems.push(`${nick}: page error: ${err.message}`));
    page.on("console", (msg) => {
      if (msg.type() === "error") problems.push(`${nick}: console error: ${msg.text()}`);
    });
    await page.goto(url + "/");
    await page.waitForSelector("#join-button:not([disabled])");
    await page.fill("#nick", nick);
    await page.click("#join-button");
    await page.waitForSelector("#join", { state: "hidden" });
    return page;
  };
  const alice = await open("alice");
  const bob = await open("bob");

  // Each sees both in the online list.
  const listed = (names) => {
    const shown = [...document.querySelectorAll("#users li")].map((li) => li.textContent);
    return names.every((n) => shown.includes(n));
  };
  await alice.waitForFunction(listed, ["alice", "bob"]);
  await bob.waitForFunction(listed, ["alice", "bob"]);

  // A message each way, typed and sent like a person would.
  const say = async (page, text) => {
    await page.fill("#text", text);
    await page.press("#text", "Enter");
  };
  const heard = (text) => [...document.querySelectorAll("#messages li.msg .text")].some((el) => el.textContent === text);
  await say(alice, "Hello Bob, this is Alice");
  await bob.waitForFunction(heard, "Hello Bob, this is Alice");
  await say(bob, "Hi Alice! Bob here");
  await alice.waitForFunction(heard, "Hi Alice! Bob here");
  await bob.waitForFunction(heard, "Hi Alice! Bob here"); // own message, back through the router

  // A late joiner on a phone sees the conversation so far.
  const carol = await open("carol", { width: 375, height: 740 });
  await carol.waitForFunction(heard, "Hi Alice! Bob here");
  await alice.waitForFunction(listed, ["alice", "bob", "carol"]);

  const shots = {};
  for (const [name, page] of [["alice", alice], ["bob", bob], ["carol", carol]]) {
    shots[name] = join(shotDir, `wampchat-${name}.png`);
    await page.screenshot({ path: shots[name] });
  }

  const dom = async (page) =>
    page.evaluate(() => ({
      status: document.getElementById("status").textContent,
      me: document.getElementById("me").textContent,
      room: document.getElementById("room-title").textContent,
      onlineCount: document.getElementById("online-count").textContent,
      users: [...document.querySelectorAll("#users li")].map((li) => ({
        nick: li.textContent,
        me: li.classList.contains("me"),
      })),
      messages: [...document.querySelectorAll("#messages li.msg")].map((li) => ({
        nick: li.querySelector(".nick").textContent,
        text: li.querySelector(".text").textContent,
        mine: li.classList.contains("mine"),
      })),
      system: [...document.querySelectorAll("#messages li.system")].map((li) => li.textContent),
      width: window.innerWidth,
      // Nothing wider than the screen: no sideways scrolling at phone width.
      scrollWidth: document.documentElement.scrollWidth,
      composerVisible: (() => {
        const r = document.getElementById("send").getBoundingClientRect();
        return r.right <= window.innerWidth && r.bottom <= window.innerHeight && r.width > 0;
      })(),
    }));
  const result = { alice: await dom(alice), bob: await dom(bob), carol: await dom(carol), screenshots: shots, problems };
  console.log("RESULT " + JSON.stringify(result));
} catch (err) {
  console.error("browser test failed:", err && err.stack ? err.stack : err);
  process.exitCode = 1;
} finally {
  if (context) await context.close().catch(() => {});
  rmSync(userDataDir, { recursive: true, force: true });
}
