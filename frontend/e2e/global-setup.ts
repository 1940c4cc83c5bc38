// Builds the client bundle, then the Go binary that embeds it, once per run.
// Tests start that binary on a random port with a fresh data directory.

import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repo = resolve(fileURLToPath(new URL(".", import.meta.url)), "../..");

export default function globalSetup(): void {
  if (process.env.MINICHAT_BIN) return; // a prebuilt binary was given
  const out = mkdtempSync(join(tmpdir(), "minichat-e2e-"));
  const bin = join(out, "minichat");
  const started = Date.now();
  // The bundle first: embed.go embeds frontend/dist at go build time.
  execFileSync("npm", ["run", "--silent", "build"], { cwd: repo, stdio: ["ignore", "ignore", "inherit"] });
  execFileSync("go", ["build", "-o", bin, "."], { cwd: repo, stdio: "inherit" });
  console.log(`e2e: built the client and ${bin} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  process.env.MINICHAT_BIN = bin;
}
