// Writes brotli (.br) and gzip (.gz) forms of the built client's text files
// beside them; the server embeds them and serves the form a browser accepts.
// A form that saves less than a tenth is not written.
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

const dist = new URL("../dist/", import.meta.url).pathname;
const text = /\.(js|mjs|css|html|svg|json|txt|map|webmanifest|xml)$/;
let raw = 0;
let br = 0;
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      walk(p);
      continue;
    }
    if (!text.test(name)) continue;
    const body = readFileSync(p);
    const b = brotliCompressSync(body, {
      params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: body.length },
    });
    const g = gzipSync(body, { level: 9 });
    if (b.length <= body.length * 0.9) writeFileSync(p + ".br", b);
    if (g.length <= body.length * 0.9) writeFileSync(p + ".gz", g);
    raw += body.length;
    br += Math.min(b.length, body.length);
  }
}
walk(dist);
console.log(`compressed client: ${(raw / 1024).toFixed(1)} KiB of text, ${(br / 1024).toFixed(1)} KiB as brotli`);
