/// <reference types="vitest/config" />
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";
import preact from "@preact/preset-vite";
import { serviceWorker } from "./sw-plugin.ts";

const root = fileURLToPath(new URL(".", import.meta.url));

// The Go server (go run . on :8080) serves the API and the socket in
// development. The Host header is passed through unchanged (no changeOrigin):
// /ws accepts only same-origin upgrades, and the browser's Origin is the dev
// server's, which then matches.
const backend = process.env.MINICHAT_BACKEND ?? "http://127.0.0.1:8080";

export default defineConfig({
  root,
  plugins: [preact(), serviceWorker(fileURLToPath(new URL("sw/sw.js", import.meta.url)))],
  // frontend/public holds .keep, so the build leaves frontend/dist/.keep (the
  // one file git keeps there) in place and the tree stays clean.
  publicDir: "public",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // One CSS file and no inline assets: the server's CSP allows only 'self'.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    // MINICHAT_BUILD_PLAIN=1: readable names in CPU profiles (npm run perf with PERF_PROFILE=1).
    ...(process.env.MINICHAT_BUILD_PLAIN ? { minify: false } : {}),
  },
  server: {
    port: 5173,
    proxy: {
      "/api": { target: backend },
      "/files": { target: backend },
      "/healthz": { target: backend },
      "/ws": { target: backend, ws: true },
    },
  },
  test: {
    root,
    include: ["src/**/*.test.ts", "src/**/*.test.tsx"],
    environment: "node",
  },
});
