// Shared fixtures: a fresh server per test, browser contexts signed up
// through the UI, and API helpers for seeding.

import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { test as base, expect, type Browser, type BrowserContext, type Page } from "@playwright/test";
import { Server } from "./server";

export { expect };

// Screenshots go to docs/screenshots/ when MINICHAT_SCREENSHOTS=1 (make
// screenshots), else under test-results/, so a test run leaves the tree as
// it found it.
export const screenshotDir = resolve(
  fileURLToPath(new URL(".", import.meta.url)),
  process.env.MINICHAT_SCREENSHOTS === "1" ? "../../docs/screenshots" : "../../test-results/screenshots",
);

export const screenshot = (name: string) => resolve(screenshotDir, `${name}.png`);

export const password = "correct-horse-battery";

export interface ApiUser {
  name: string;
  token: string;
}

export interface Opened {
  page: Page;
  context: BrowserContext;
}

interface Fixtures {
  /** Extra flags for the test's server (test.use({ serverArgs: [...] })). */
  serverArgs: string[];
  server: Server;
  /** Opens a new browser context and registers name through the sign-in form. */
  signUp: (name: string, opts?: { colorScheme?: "light" | "dark"; viewport?: { width: number; height: number } }) => Promise<Page>;
  /** Opens a new browser context for an existing user, signed in through the API. */
  signIn: (name: string, opts?: { colorScheme?: "light" | "dark"; viewport?: { width: number; height: number }; userAgent?: string }) => Promise<Page>;
  /** Opens a new browser context at path, signed in as nobody (the clipboard allowed). */
  visit: (path?: string, opts?: { viewport?: { width: number; height: number } }) => Promise<Page>;
}

/** Fails the test on any CSP violation or uncaught error in the page. */
function watch(page: Page, problems: string[]): void {
  page.on("console", (msg) => {
    if (msg.type() === "error" && /Content.Security.Policy|Refused to/i.test(msg.text())) problems.push(`CSP: ${msg.text()}`);
  });
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
}

async function newPage(browser: Browser, server: Server, contexts: BrowserContext[], problems: string[], opts: Parameters<Fixtures["signUp"]>[1] & { permissions?: string[]; userAgent?: string } = {}) {
  const context = await browser.newContext({
    baseURL: server.url,
    permissions: opts.permissions,
    userAgent: opts.userAgent,
    colorScheme: opts.colorScheme ?? "light",
    viewport: opts.viewport ?? { width: 1280, height: 800 },
    reducedMotion: "reduce",
  });
  contexts.push(context);
  const page = await context.newPage();
  watch(page, problems);
  return page;
}

export const test = base.extend<Fixtures>({
  serverArgs: [[], { option: true }],
  server: async ({ serverArgs }, use) => {
    const s = await Server.start({ args: serverArgs });
    await use(s);
    await s.stop();
  },
  signUp: async ({ browser, server }, use) => {
    const contexts: BrowserContext[] = [];
    const problems: string[] = [];
    await use(async (name, opts) => {
      const page = await newPage(browser, server, contexts, problems, opts);
      await page.goto("/");
      await page.getByLabel("Username").fill(name);
      await page.getByLabel("Password").fill(password);
      await page.getByRole("button", { name: "Create account" }).click();
      await expect(page.getByRole("textbox", { name: "Message #general" })).toBeVisible();
      // The first account (the admin) is shown the invite link first.
      const me = (await (await page.request.get("/api/me")).json()) as { user: { role: string } };
      if (me.user.role === "admin") {
        const invite = page.getByRole("dialog", { name: "Invite people" });
        await invite.getByRole("button", { name: "Done" }).click();
        await expect(invite).toBeHidden();
      }
      return page;
    });
    for (const c of contexts) await c.close().catch(() => undefined);
    expect(problems).toEqual([]);
  },
  signIn: async ({ browser, server }, use) => {
    const contexts: BrowserContext[] = [];
    const problems: string[] = [];
    await use(async (name, opts) => {
      const page = await newPage(browser, server, contexts, problems, opts);
      const res = await page.request.post("/api/session", { data: { username: name, password } });
      expect(res.status()).toBe(200);
      await page.goto("/");
      await expect(page.getByRole("textbox", { name: /^Message / })).toBeVisible();
      return page;
    });
    for (const c of contexts) await c.close().catch(() => undefined);
    expect(problems).toEqual([]);
  },
  visit: async ({ browser, server }, use) => {
    const contexts: BrowserContext[] = [];
    const problems: string[] = [];
    await use(async (path = "/", opts) => {
      const page = await newPage(browser, server, contexts, problems, { ...opts, permissions: ["clipboard-read", "clipboard-write"] });
      await page.goto(path);
      return page;
    });
    for (const c of contexts) await c.close().catch(() => undefined);
    expect(problems).toEqual([]);
  },
});

// --- API helpers (Bearer token, like a bot) ---

async function call<T>(server: Server, method: string, path: string, token?: string, body?: unknown): Promise<{ status: number; data: T }> {
  const res = await fetch(server.url + path, {
    method,
    headers: {
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, data: (text ? JSON.parse(text) : null) as T };
}

export async function apiRegister(server: Server, name: string): Promise<ApiUser> {
  const { status, data } = await call<{ token: string }>(server, "POST", "/api/users", undefined, { username: name, password });
  expect(status, `register ${name}`).toBe(201);
  return { name, token: data.token };
}

export interface RoomInfo {
  id: string;
  name: string;
  kind: string;
  member: boolean;
}

export async function apiRooms(server: Server, u: ApiUser): Promise<RoomInfo[]> {
  const { status, data } = await call<{ rooms: RoomInfo[] }>(server, "GET", "/api/rooms", u.token);
  expect(status).toBe(200);
  return data.rooms;
}

export async function apiRoomId(server: Server, u: ApiUser, name: string): Promise<string> {
  const r = (await apiRooms(server, u)).find((x) => x.name === name && x.kind !== "dm");
  if (!r) throw new Error(`no room ${name} for ${u.name}`);
  return r.id;
}

export async function apiSend(server: Server, u: ApiUser, room: string, text: string): Promise<void> {
  const { status } = await call(server, "POST", `/api/rooms/${room}/messages`, u.token, { text });
  expect(status, `send as ${u.name}`).toBe(201);
}

export async function apiCreateRoom(server: Server, u: ApiUser, name: string, isPrivate = false): Promise<string> {
  const { status, data } = await call<{ room: RoomInfo }>(server, "POST", "/api/rooms", u.token, { name, private: isPrivate });
  expect(status).toBe(201);
  return data.room.id;
}

export async function apiJoin(server: Server, u: ApiUser, room: string): Promise<void> {
  const { status } = await call(server, "POST", `/api/rooms/${room}/join`, u.token);
  expect(status).toBe(200);
}

export async function apiDM(server: Server, u: ApiUser, other: string): Promise<string> {
  const { status, data } = await call<{ room: RoomInfo }>(server, "POST", "/api/dms", u.token, { username: other });
  expect(status).toBe(200);
  return data.room.id;
}

export async function apiHistoryStatus(server: Server, u: ApiUser, room: string): Promise<number> {
  return (await call(server, "GET", `/api/rooms/${room}/messages`, u.token)).status;
}

/** A sign-in through the API, for an ApiUser made by the UI. */
export async function apiSignIn(server: Server, name: string): Promise<ApiUser> {
  const { status, data } = await call<{ token: string }>(server, "POST", "/api/session", undefined, { username: name, password });
  expect(status).toBe(200);
  return { name, token: data.token };
}

/** Uploads a file as u (multipart field "file"); returns the attachment id. */
export async function apiUpload(server: Server, u: ApiUser, name: string, type: string, bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const form = new FormData();
  form.append("file", new Blob([bytes], { type }), name);
  const res = await fetch(server.url + "/api/uploads", { method: "POST", headers: { Authorization: `Bearer ${u.token}` }, body: form });
  expect(res.status, `upload ${name}`).toBe(201);
  return ((await res.json()) as { attachment: { id: string } }).attachment.id;
}

/** Sends a message as u with attachments and an optional reply; returns its id. */
export async function apiSendRich(server: Server, u: ApiUser, room: string, body: { text?: string; attachments?: string[]; reply_to?: string }): Promise<string> {
  const { status, data } = await call<{ message: { id: string } }>(server, "POST", `/api/rooms/${room}/messages`, u.token, body);
  expect(status, `send as ${u.name}`).toBe(201);
  return data.message.id;
}
