// The installable app: manifest and icons, Chromium's installability check,
// the service worker's offline shell and update offer; push subscription
// from settings; notification levels and the pause.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "@playwright/test";
import { expect, test } from "./fixtures";

/** Width and height of a PNG, from its IHDR chunk. */
function pngSize(b: Buffer): [number, number] {
  expect(b.subarray(1, 4).toString("latin1")).toBe("PNG");
  return [b.readUInt32BE(16), b.readUInt32BE(20)];
}

/** Waits until the service worker is active and controls the page (a reload makes it so). */
async function controlled(page: Page): Promise<void> {
  await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));
  await page.reload();
  await expect.poll(() => page.evaluate(() => !!navigator.serviceWorker.controller)).toBe(true);
}

test("the manifest names the app and its icons, which load at their sizes", async ({ visit }) => {
  const page = await visit("/");
  const href = await page.locator('link[rel="manifest"]').getAttribute("href");
  expect(href).toBe("/manifest.webmanifest");
  const res = await page.request.get(href!);
  expect(res.status()).toBe(200);
  expect(res.headers()["content-type"]).toBe("application/manifest+json");
  const m = (await res.json()) as Record<string, unknown> & { icons: Array<{ src: string; sizes: string; type: string; purpose: string }> };
  expect(m).toMatchObject({ id: "/", name: "minichat", short_name: "minichat", start_url: "/", scope: "/", display: "standalone" });
  expect(m.theme_color).toMatch(/^#[0-9a-f]{6}$/);
  expect(m.background_color).toMatch(/^#[0-9a-f]{6}$/);
  for (const purpose of ["any", "maskable"]) {
    const sizes = m.icons.filter((i) => i.purpose === purpose).map((i) => i.sizes);
    expect(sizes).toEqual(expect.arrayContaining(["any", "192x192", "512x512"]));
  }
  for (const icon of m.icons) {
    const r = await page.request.get(icon.src);
    expect(r.status(), icon.src).toBe(200);
    expect(r.headers()["content-type"], icon.src).toBe(icon.type);
    if (icon.type === "image/png") expect(pngSize(await r.body()).join("x"), icon.src).toBe(icon.sizes);
    else expect((await r.text()).startsWith("<svg"), icon.src).toBe(true);
  }
  // The worker is served at the root, never cached without a check.
  const sw = await page.request.get("/sw.js");
  expect(sw.status()).toBe(200);
  expect(sw.headers()["content-type"]).toMatch(/^text\/javascript/);
  expect(sw.headers()["cache-control"]).toBe("no-cache");
});

test("Chromium finds the app installable", async ({ server, playwright }, info) => {
  // A test context is incognito, where nothing installs: a profile on disk.
  const dir = mkdtempSync(join(tmpdir(), "minichat-profile-"));
  const context = await playwright.chromium.launchPersistentContext(dir, { ...info.project.use.launchOptions, baseURL: server.url });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto("/");
    await controlled(page);
    const cdp = await context.newCDPSession(page);
    await expect
      .poll(async () => ((await cdp.send("Page.getInstallabilityErrors")) as { installabilityErrors: unknown[] }).installabilityErrors)
      .toEqual([]);
  } finally {
    await context.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the app opens offline from its cached shell and says it cannot reach the server", async ({ signUp }) => {
  const alice = await signUp("alice");
  await controlled(alice);
  await expect(alice.getByRole("textbox", { name: "Message #general" })).toBeVisible();

  await alice.context().setOffline(true);
  await alice.reload();
  // The app, not the browser's error page: the sidebar with the rooms as last seen, and the offline state.
  await expect(alice.getByRole("navigation", { name: "Rooms and people" })).toBeVisible();
  await expect(alice.getByRole("region", { name: "Rooms" }).getByRole("button", { name: /^general/ })).toBeVisible();
  await expect(alice.getByRole("status").filter({ hasText: "Can’t reach the server." })).toBeVisible();

  // Back online, it connects by itself and shows the room.
  await alice.context().setOffline(false);
  await expect(alice.getByRole("status").filter({ hasText: "Can’t reach the server." })).toHaveCount(0, { timeout: 30_000 });
  await expect(alice.getByText("alice joined")).toBeVisible();
});

test("a new version waits for the reader's reload", async ({ visit }) => {
  const page = await visit("/");
  await controlled(page);
  const before = await page.evaluate(() => navigator.serviceWorker.controller!.scriptURL);
  // A changed worker script (as after a deploy): another URL of the same file is a new version to the browser.
  await page.evaluate(() => navigator.serviceWorker.register("/sw.js?next", { scope: "/", updateViaCache: "none" }).then(() => undefined));
  const offer = page.getByRole("button", { name: "Reload to update" });
  await expect(offer).toBeVisible();
  // Nothing changed under the reader: the old worker still controls the page.
  expect(await page.evaluate(() => navigator.serviceWorker.controller!.scriptURL)).toBe(before);
  const waiting = await page.evaluate(() => navigator.serviceWorker.getRegistration().then((r) => !!r?.waiting));
  expect(waiting).toBe(true);
  await Promise.all([page.waitForEvent("load"), offer.click()]);
  await expect(offer).toHaveCount(0);
  await expect.poll(() => page.evaluate(() => navigator.serviceWorker.controller?.scriptURL)).toMatch(/\/sw\.js\?next$/);
});
