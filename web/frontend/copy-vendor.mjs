// Copies the browser builds the command map loads into web/static/vendor/.
//
// Runs as the npm `postinstall` hook, so `npm ci` in web/frontend is the only
// set-up step: the page is then served fully offline (no CDN) from web/static.
// Only the files listed below are copied; node_modules never ends up under
// web/static. Uses Node built-ins only.

import { copyFileSync, existsSync, mkdirSync, rmSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const modules = join(here, "node_modules");
const vendor = join(here, "..", "static", "vendor");

// [package, file inside the package, destination inside vendor/].
// Destinations are the URL paths index.html uses (/vendor/...): keep in sync.
const FILES = [
  // Standalone UMD bundle of all deck.gl modules; defines the global `deck`.
  ["deck.gl", "dist.min.js", "deck.gl/dist.min.js"],
  // UMD build of h3-js; defines the global `h3` that deck's H3HexagonLayer uses.
  ["h3-js", "dist/h3-js.umd.js", "h3-js/h3-js.umd.js"],
];

const missing = FILES.filter(([pkg, file]) => !existsSync(join(modules, pkg, file)));
if (missing.length > 0) {
  for (const [pkg, file] of missing) console.error(`copy-vendor: missing ${pkg}/${file}`);
  console.error("copy-vendor: run `npm ci` in web/frontend first");
  process.exit(1);
}

// Clear only the folders this script owns, so an upgrade leaves no stale file.
for (const pkg of new Set(FILES.map(([, , dest]) => dest.split("/")[0]))) {
  rmSync(join(vendor, pkg), { recursive: true, force: true });
}

for (const [pkg, file, dest] of FILES) {
  const target = join(vendor, dest);
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(join(modules, pkg, file), target);
  const kib = Math.round(statSync(target).size / 1024);
  console.log(`copy-vendor: ${pkg}/${file} -> ${relative(here, target)} (${kib} KiB)`);
}
