// Writes dist/sw.js from sw/sw.js after the build: its version is a hash of
// the built files, so every build that changes the client is a new service
// worker, and its shell list names the hashed assets to cache.

import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Plugin } from "vite";

/** Files of frontend/public the shell keeps too (the rest stay online-only). */
const publicShell = ["/manifest.webmanifest", "/favicon.svg", "/icons/icon.svg", "/icons/icon-192.png"];

export function serviceWorker(src: string): Plugin {
  let outDir = "dist";
  return {
    name: "minichat-service-worker",
    apply: "build",
    configResolved(c) {
      outDir = c.build.outDir.startsWith("/") ? c.build.outDir : join(c.root, c.build.outDir);
    },
    writeBundle(_opts, bundle) {
      const hash = createHash("sha256");
      const assets: string[] = [];
      for (const name of Object.keys(bundle).sort()) {
        const item = bundle[name]!;
        hash.update(name).update(item.type === "chunk" ? item.code : item.source);
        if (name.startsWith("assets/")) assets.push(`/${name}`);
      }
      const code = readFileSync(src, "utf8");
      hash.update(code);
      const shell = ["/", ...assets, ...publicShell];
      const out = code
        .replace('"__VERSION__"', JSON.stringify(hash.digest("hex").slice(0, 16)))
        .replace("__SHELL__", JSON.stringify(shell));
      writeFileSync(join(outDir, "sw.js"), out);
    },
  };
}
