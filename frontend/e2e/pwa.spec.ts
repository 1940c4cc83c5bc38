// The installable app: manifest and icons, Chromium's installability check,
// the service worker's offline shell and update offer; push subscription
// from settings; notification levels and the pause.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "@playwright/test";
import { apiRegister, apiRoomId, apiSend, apiSendRich, expect, password, test } from "./fixtures";

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

test("the app opens offline from its cached shell and says it is offline", async ({ signUp }) => {
  const alice = await signUp("alice");
  await controlled(alice);
  await expect(alice.getByRole("textbox", { name: "Message #general" })).toBeVisible();

  await alice.context().setOffline(true);
  await alice.reload();
  // The app, not the browser's error page: the sidebar with the rooms as last seen, and the offline state.
  await expect(alice.getByRole("navigation", { name: "Rooms and people" })).toBeVisible();
  await expect(alice.getByRole("region", { name: "Rooms" }).getByRole("button", { name: /^general/ })).toBeVisible();
  // The browser says it is offline: the banner says so (not that the server is down).
  const offline = alice.getByRole("status").filter({ hasText: "You’re offline" });
  await expect(offline).toBeVisible();

  // Back online, it connects by itself and shows the room.
  await alice.context().setOffline(false);
  await expect(offline).toHaveCount(0, { timeout: 30_000 });
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

test("enabling push on this browser subscribes it with the server's key, lists it, tests and removes it", async ({ server, signUp }) => {
  const alice = await signUp("alice");
  await controlled(alice);
  await alice.context().grantPermissions(["notifications"], { origin: server.url });
  // PushManager.subscribe cannot work here: in a test's (incognito) context
  // Chromium refuses it ("AbortError: Registration failed - permission
  // denied"; no Push API in incognito), and with a profile on disk it must
  // register with its push service (Google's FCM), which this machine cannot
  // reach (the attempt never completed). The test tries the real call first;
  // when it fails, the browser's subscribe is replaced by one giving a
  // subscription with real P-256 keys (the server checks them), and the test
  // checks the client's own part: the key it subscribes with and the POST it
  // makes to /api/push/subscriptions (captured with page.route).
  const real = await alice.evaluate(async () => {
    const key = ((await (await fetch("/api/push/key")).json()) as { public_key: string }).public_key;
    const reg = await navigator.serviceWorker.ready;
    try {
      const b64 = key.replace(/-/g, "+").replace(/_/g, "/");
      const raw = Uint8Array.from(atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4)), (c) => c.charCodeAt(0));
      await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: raw });
      return true;
    } catch {
      return false;
    }
  });
  test.info().annotations.push({ type: "push", description: real ? "the browser's own subscribe worked" : "subscribe stubbed" });
  if (!real) {
    await alice.evaluate(async () => {
      const pair = (await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"])) as CryptoKeyPair;
      const b64u = (b: ArrayBuffer | Uint8Array) =>
        btoa(String.fromCharCode(...new Uint8Array(b))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
      const p256dh = b64u(await crypto.subtle.exportKey("raw", pair.publicKey));
      const auth = b64u(crypto.getRandomValues(new Uint8Array(16)));
      let current: unknown = null;
      const w = window as unknown as { __subscribedWith?: string };
      PushManager.prototype.subscribe = async function (opts?: PushSubscriptionOptionsInit) {
        w.__subscribedWith = b64u(opts!.applicationServerKey as Uint8Array);
        current = {
          endpoint: "https://push.example.com/send/alice-1",
          options: { applicationServerKey: (opts!.applicationServerKey as Uint8Array).buffer },
          toJSON: () => ({ endpoint: "https://push.example.com/send/alice-1", keys: { p256dh, auth } }),
          unsubscribe: async () => ((current = null), true),
        };
        return current as PushSubscription;
      };
      PushManager.prototype.getSubscription = async () => current as PushSubscription | null;
      (window as unknown as { __keys: unknown }).__keys = { p256dh, auth };
    });
  }
  const posted: unknown[] = [];
  await alice.route("**/api/push/subscriptions", async (route) => {
    if (route.request().method() === "POST") posted.push(route.request().postDataJSON());
    await route.continue();
  });

  await alice.getByRole("button", { name: "Settings" }).click();
  const settings = alice.getByRole("dialog", { name: "Settings" });
  const section = settings.getByRole("region", { name: "Notifications" });
  await expect(section).toContainText("direct messages");
  await expect(section.getByText("No browser gets push notifications yet.")).toBeVisible();
  await section.getByRole("button", { name: "Enable push on this browser" }).click();
  await expect(section.getByRole("status").filter({ hasText: "Push notifications are on for this browser." })).toBeVisible();
  const list = section.getByRole("list", { name: "Browsers with push notifications" });
  await expect(list.getByRole("listitem")).toHaveCount(1);
  await expect(list.getByText("This browser")).toBeVisible();
  expect(posted).toHaveLength(1);
  const body = posted[0] as { endpoint: string; keys: { p256dh: string; auth: string }; label: string };
  expect(body.label).toMatch(/Chrom/);
  if (!real) {
    const key = ((await (await alice.request.get("/api/push/key")).json()) as { public_key: string }).public_key;
    expect(await alice.evaluate(() => (window as unknown as { __subscribedWith: string }).__subscribedWith)).toBe(key);
    expect(body).toEqual({ endpoint: "https://push.example.com/send/alice-1", keys: await alice.evaluate(() => (window as unknown as { __keys: unknown }).__keys), label: body.label });
  }
  // The server has it.
  const subs = ((await (await alice.request.get("/api/push/subscriptions")).json()) as { subscriptions: Array<{ endpoint_origin: string }> }).subscriptions;
  expect(subs).toHaveLength(1);
  expect(subs[0]!.endpoint_origin).toBe(new URL(body.endpoint).origin);

  await section.getByRole("button", { name: "Send me a test push" }).click();
  await expect(section.getByRole("status").filter({ hasText: "A test notification is on its way" })).toBeVisible();

  await list.getByRole("button", { name: "Remove this browser" }).click();
  await expect(section.getByText("No browser gets push notifications yet.")).toBeVisible();
  await expect(section.getByRole("button", { name: "Enable push on this browser" })).toBeVisible();
});

test("a push shows its notification, and its link opens the room at the message", async ({ server, signUp }) => {
  const alice = await signUp("alice");
  await controlled(alice);
  await alice.context().grantPermissions(["notifications"], { origin: server.url });
  const carol = await apiRegister(server, "carol");
  const room = await apiRoomId(server, carol, "general");
  const target = await apiSendRich(server, carol, room, { text: "the one the notification points at" });
  for (let i = 1; i <= 120; i++) await apiSend(server, carol, room, `later ${i}`);

  // The push service's delivery, as Chromium does it, through DevTools.
  const cdp = await alice.context().newCDPSession(alice);
  const registered = new Promise<string>((resolve) =>
    cdp.on("ServiceWorker.workerRegistrationUpdated", (e: { registrations: Array<{ registrationId: string; scopeURL: string; isDeleted: boolean }> }) => {
      const r = e.registrations.find((x) => !x.isDeleted && x.scopeURL === `${server.url}/`);
      if (r) resolve(r.registrationId);
    }),
  );
  await cdp.send("ServiceWorker.enable");
  const payload = { v: 1, title: "carol in #general", body: "the one the notification points at", room_id: room, room: "general", seq: 2, message_id: target, url: `/#/general?m=${target}`, tag: `room:${room}` };
  await cdp.send("ServiceWorker.deliverPushMessage", { origin: server.url, registrationId: await registered, data: JSON.stringify(payload) });
  await expect
    .poll(() => alice.evaluate(async () => (await (await navigator.serviceWorker.ready).getNotifications()).map((n) => ({ title: n.title, body: n.body, tag: n.tag }))))
    .toEqual([{ title: "carol in #general", body: "the one the notification points at", tag: `room:${room}` }]);

  // Its link (what a click opens) shows the room at the message: in the open app (the hash changes)…
  const log = alice.getByRole("log", { name: "Messages in #general" });
  const hit = log.locator("article.msg").filter({ hasText: "the one the notification points at" });
  await alice.goto(`/#/general?m=${target}`);
  await expect(hit).toBeInViewport();
  await expect(hit).toBeFocused(); // a jump focuses its message (and highlights it for a moment)
  // …and in a new window, which loads the page around the message, far back.
  await alice.goto("about:blank");
  await alice.goto(`/#/general?m=${target}`);
  await expect(hit).toBeInViewport();
  await expect(hit).toBeFocused(); // a jump focuses its message (and highlights it for a moment)
  await expect(log.getByText("later 120", { exact: true })).toHaveCount(0);
});

test("a room's notification level is kept on the server and reaches the user's other browser", async ({ signUp, signIn }) => {
  const alice = await signUp("alice");
  const entry = (p: Page) => p.getByRole("region", { name: "Rooms" }).getByRole("button", { name: /^general/ });
  await expect(entry(alice)).toHaveAccessibleName("general");
  const bell = alice.getByRole("button", { name: "Notifications for #general: Mentions only" });
  await bell.click();
  const menu = alice.getByRole("menu", { name: "Notify me in #general about" });
  await expect(menu.getByRole("menuitemradio", { name: /^Mentions only/ })).toHaveAttribute("aria-checked", "true");
  await expect(menu.getByRole("menuitemradio", { name: /^Mentions only/ })).toBeFocused();
  // Keyboard: down to "Nothing", Enter.
  await alice.keyboard.press("ArrowDown");
  await expect(menu.getByRole("menuitemradio", { name: /^Nothing/ })).toBeFocused();
  await alice.keyboard.press("Enter");
  await expect(menu).toHaveCount(0);
  await expect(alice.getByRole("button", { name: "Notifications for #general: Nothing" })).toBeFocused();
  await expect(entry(alice)).toHaveAccessibleName("general, muted");

  await alice.reload();
  await expect(entry(alice)).toHaveAccessibleName("general, muted");
  const other = await signIn("alice");
  await expect(entry(other)).toHaveAccessibleName("general, muted");
  await expect(other.getByRole("button", { name: "Notifications for #general: Nothing" })).toBeVisible();

  // Back to everything, from the other browser; the first sees it on its next start.
  await other.getByRole("button", { name: "Notifications for #general: Nothing" }).click();
  await other.getByRole("menuitemradio", { name: /^All messages/ }).click();
  await expect(entry(other)).toHaveAccessibleName("general");
  await alice.reload();
  await expect(alice.getByRole("button", { name: "Notifications for #general: All messages" })).toBeVisible();
});

test("a room muted in this browser before levels becomes \"nothing\" on the server", async ({ server, visit }) => {
  await apiRegister(server, "alice");
  const page = await visit("/");
  const res = await page.request.post("/api/session", { data: { username: "alice", password } });
  expect(res.status()).toBe(200);
  const rooms = ((await (await page.request.get("/api/rooms")).json()) as { rooms: Array<{ id: string; name: string }> }).rooms;
  const id = rooms.find((r) => r.name === "general")!.id;
  await page.evaluate((id) => localStorage.setItem("minichat.muted", JSON.stringify([id])), id);
  await page.goto("/");
  await expect(page.getByRole("button", { name: "Notifications for #general: Nothing" })).toBeVisible();
  await expect.poll(async () => ((await (await page.request.get("/api/rooms")).json()) as { rooms: Array<{ name: string; notify?: string }> }).rooms.find((r) => r.name === "general")?.notify).toBe("none");
  await expect.poll(() => page.evaluate(() => localStorage.getItem("minichat.muted"))).toBe("[]");
});

test("pausing notifications shows in the sidebar and settings until resumed", async ({ signUp }) => {
  const alice = await signUp("alice");
  await alice.getByRole("button", { name: "Settings" }).click();
  const settings = alice.getByRole("dialog", { name: "Settings" });
  await settings.getByRole("button", { name: "For 1 hour" }).click();
  await expect(settings.getByText(/^Paused until /)).toBeVisible();
  await settings.getByRole("button", { name: "Close" }).last().click();
  const note = alice.getByRole("navigation", { name: "Rooms and people" }).getByRole("status").filter({ hasText: "Notifications paused until" });
  await expect(note).toBeVisible();
  const me = (await (await alice.request.get("/api/me")).json()) as { notifications_paused_until?: number };
  expect(me.notifications_paused_until).toBeGreaterThan(Date.now() + 50 * 60 * 1000);
  await alice.reload();
  await expect(note).toBeVisible();
  await note.getByRole("button", { name: "Resume" }).click();
  await expect(note).toHaveCount(0);
  await alice.reload();
  await expect(alice.getByRole("textbox", { name: "Message #general" })).toBeVisible();
  await expect(note).toHaveCount(0);
});
