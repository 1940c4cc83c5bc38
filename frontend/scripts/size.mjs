// Fails the build when the client's gzipped JS + CSS outgrow the budget.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const budget = 60 * 1024;
const dir = new URL("../dist/assets/", import.meta.url).pathname;
let total = 0;
for (const f of readdirSync(dir)) {
  if (!/\.(js|css)$/.test(f)) continue;
  total += gzipSync(readFileSync(join(dir, f)), { level: 9 }).length;
}
const kb = (n) => (n / 1024).toFixed(1);
if (total > budget) {
  console.error(`client bundle: ${kb(total)} KiB gzipped JS+CSS, over the ${kb(budget)} KiB budget`);
  process.exit(1);
}
console.log(`client bundle: ${kb(total)} KiB gzipped JS+CSS (budget ${kb(budget)} KiB)`);
