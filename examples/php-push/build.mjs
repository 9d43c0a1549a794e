// The page's build: copies the browser build of autobahn.js from node_modules (npm
// autobahn-browser, pinned in package-lock.json) into assets/, which the Go program embeds.
//
//   npm ci && npm run build
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, "node_modules", "autobahn-browser");
const version = JSON.parse(readFileSync(join(pkg, "package.json"), "utf8")).version;
const out = join(here, "assets");
mkdirSync(out, { recursive: true });
copyFileSync(join(pkg, "autobahn.min.js"), join(out, "autobahn.min.js"));
copyFileSync(join(pkg, "LICENSE"), join(out, "autobahn.LICENSE"));
console.log(`assets/autobahn.min.js: autobahn-browser ${version}`);
