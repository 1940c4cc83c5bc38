import { defineConfig } from "@playwright/test";
import base from "../e2e/playwright.config";

// npm run perf: the client's performance in a long session, measured in the
// same headless Chromium as the end-to-end tests (see docs/client.md).
export default defineConfig({
  ...base,
  testDir: ".",
  testMatch: "*.perf.ts",
  globalSetup: "../e2e/global-setup.ts",
  timeout: 600_000,
  // No Playwright trace or screenshots: recording them (a screencast and DOM
  // snapshots) runs in the page being measured.
  use: { ...base.use, trace: "off", screenshot: "off" },
});
