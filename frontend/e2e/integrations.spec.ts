// Integrations as people meet them: a personal API token made in the
// settings and used by a script, and a bot an admin makes and posts as.

import type { Page } from "@playwright/test";
import { expect, test } from "./fixtures";

const composer = (page: Page) => page.getByRole("textbox", { name: "Message #general" });

/** A script's call with a Bearer token (Node's fetch, outside the browser). */
async function withToken(url: string, token: string, method: string, path: string, body?: unknown) {
  const res = await fetch(url + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (await res.json().catch(() => null)) as Record<string, unknown> | null };
}

async function generalId(url: string, token: string): Promise<string> {
  const { body } = await withToken(url, token, "GET", "/api/rooms");
  const rooms = (body?.rooms ?? []) as { id: string; name: string }[];
  return rooms.find((r) => r.name === "general")!.id;
}

test("a token made in the settings posts from a script; revoked, it stops working", async ({ signUp, server }) => {
  const alice = await signUp("alice");
  await expect(composer(alice)).toBeVisible();
  await alice.getByRole("button", { name: "Settings" }).click();
  const settings = alice.getByRole("dialog", { name: "Settings" });
  await settings.getByLabel("Token name").fill("deploy script");
  await settings.getByLabel("Access").selectOption("write");
  await settings.getByLabel("Expires").selectOption({ label: "30 days" });
  await settings.getByRole("button", { name: "Create token" }).click();

  // Shown once, with a copy button; listed by name without it.
  const shown = settings.getByRole("textbox", { name: "New API token" });
  await expect(shown).toHaveValue(/^mct_/);
  const token = await shown.inputValue();
  const list = settings.getByRole("list", { name: "Your API tokens" });
  await expect(list.getByText("deploy script")).toBeVisible();
  await expect(list).toContainText("read and write");
  await expect(list).toContainText("never used");
  await settings.getByRole("button", { name: "Close" }).click();

  // The script posts as alice; the message shows in her browser.
  const room = await generalId(server.url, token);
  const sent = await withToken(server.url, token, "POST", `/api/rooms/${room}/messages`, { text: "deployed v2.1 to production" });
  expect(sent.status).toBe(201);
  await expect(alice.getByRole("log").getByText("deployed v2.1 to production")).toBeVisible();

  // Revoked in the settings: the next call is refused.
  await alice.getByRole("button", { name: "Settings" }).click();
  await alice.getByRole("dialog", { name: "Settings" }).getByRole("button", { name: "Revoke token deploy script" }).click();
  await expect(alice.getByRole("dialog", { name: "Settings" }).getByText('Token "deploy script" revoked.')).toBeVisible();
  expect((await withToken(server.url, token, "POST", `/api/rooms/${room}/messages`, { text: "too late" })).status).toBe(401);
});

test("an admin makes a bot, gives it a token, and its posts carry a BOT badge", async ({ signUp, server }) => {
  const alice = await signUp("alice");
  await alice.getByRole("button", { name: "Bots" }).click();
  const bots = alice.getByRole("dialog", { name: "Bots" });
  await bots.getByLabel("Bot name").fill("deploybot");
  await bots.getByLabel("Display name (optional)").fill("Deploy Bot");
  await bots.getByRole("button", { name: "Create bot" }).click();
  await expect(bots.getByRole("textbox", { name: "Webhook secret of deploybot" })).toHaveValue(/^[0-9a-f]{64}$/);

  await bots.getByLabel("Token name").fill("runner");
  await bots.getByRole("button", { name: "Create token" }).click();
  const token = await bots.getByRole("textbox", { name: "New token of deploybot" }).inputValue();
  expect(token).toMatch(/^mct_/);
  await expect(bots.getByRole("list", { name: "Tokens of deploybot" }).getByText("runner")).toBeVisible();
  await bots.getByRole("button", { name: "Close" }).click();

  // Invited into general, the bot posts with its token.
  const room = await generalId(server.url, token).catch(() => "");
  expect(room).toBe(""); // not a member yet: general is not among its rooms
  const mine = (await (await alice.request.get("/api/rooms")).json()) as { rooms: { id: string; name: string }[] };
  const general = mine.rooms.find((r) => r.name === "general")!.id;
  expect((await alice.request.post(`/api/rooms/${general}/invite`, { data: { username: "deploybot" } })).status()).toBe(204);
  const sent = await withToken(server.url, token, "POST", `/api/rooms/${general}/messages`, { text: "build 42 is green" });
  expect(sent.status).toBe(201);
  const row = alice.getByRole("article").filter({ hasText: "build 42 is green" });
  await expect(row.getByText("deploybot", { exact: true })).toBeVisible();
  await expect(row.getByText("BOT", { exact: true })).toBeVisible();
  // A bot cannot sign in with a password.
  expect((await alice.request.post("/api/session", { data: { username: "deploybot", password: "anything-at-all" } })).status()).toBe(401);
});
