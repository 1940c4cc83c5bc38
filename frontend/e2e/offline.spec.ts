// Offline: the banner says so at once, messages written meanwhile wait,
// and they are delivered exactly once when the browser is back, even
// across a reload.

import { apiRoomId, apiSignIn, expect, test, type ApiUser } from "./fixtures";
import type { Page } from "@playwright/test";
import type { Server } from "./server";

const composer = (page: Page) => page.getByRole("textbox", { name: "Message #general" });
/** The messages in the list with this text (not the live region that reads them out). */
const rows = (page: Page, text: string) => page.getByRole("article").filter({ hasText: text });

async function send(page: Page, text: string) {
  await composer(page).fill(text);
  await composer(page).press("Enter");
}

/** How many messages of general have exactly this text, by the server's history. */
async function stored(server: Server, u: ApiUser, text: string): Promise<number> {
  const room = await apiRoomId(server, u, "general");
  const res = await fetch(`${server.url}/api/rooms/${room}/messages?limit=200`, { headers: { Authorization: `Bearer ${u.token}` } });
  const { messages } = (await res.json()) as { messages: { text: string }[] };
  return messages.filter((m) => m.text === text).length;
}

test("offline: the banner shows at once, my presence is offline, and a message sent meanwhile arrives once when back", async ({ signUp, server }) => {
  const bob = await signUp("bob");
  const alice = await signUp("alice");
  const banner = alice.getByRole("status").filter({ hasText: "You’re offline" });

  await alice.context().setOffline(true);
  await expect(banner).toBeVisible();
  await expect(banner).toContainText("messages will be sent when you’re back");
  await expect(alice.getByRole("button", { name: "Set your status (now offline)" })).toBeVisible();

  await send(alice, "written while offline");
  await expect(alice.locator(".msg.pending").getByText("written while offline")).toBeVisible();
  await expect(banner).toContainText("1 waiting");
  await expect(rows(bob, "written while offline")).toHaveCount(0);

  await alice.context().setOffline(false);
  await expect(banner).toBeHidden();
  await expect(rows(bob, "written while offline")).toHaveCount(1);
  await expect(alice.locator(".msg.pending")).toHaveCount(0);
  await expect(rows(alice, "written while offline")).toHaveCount(1);
  await expect(alice.getByRole("button", { name: "Set your status (now active)" })).toBeVisible();
  expect(await stored(server, await apiSignIn(server, "bob"), "written while offline")).toBe(1);
});

test("offline across a reload: a message queued before the reload is sent exactly once when the link is back", async ({ signUp, server }) => {
  const bob = await signUp("bob");
  const alice = await signUp("alice");
  // The page can only reload with the network, so after the offline
  // send the socket stays refused by the route below, the way a server
  // out of reach is: the page loads, the message must still be queued.
  let blocked = false;
  await alice.context().routeWebSocket(/\/ws$/, (ws) => {
    if (blocked) ws.close({ code: 1011, reason: "unreachable" });
    else ws.connectToServer();
  });
  await alice.reload();
  await expect(composer(alice)).toBeVisible();

  await alice.context().setOffline(true);
  await expect(alice.getByRole("status").filter({ hasText: "You’re offline" })).toBeVisible();
  await send(alice, "queued before the reload");
  await expect(alice.locator(".msg.pending").getByText("queued before the reload")).toBeVisible();

  blocked = true;
  await alice.context().setOffline(false);
  await alice.reload();
  // The page is back but the server is out of reach: nothing is delivered,
  // and the page says the message kept from before the reload still waits.
  await expect(alice.getByRole("navigation", { name: "Rooms and people" })).toBeVisible();
  await expect(alice.getByRole("status").filter({ hasText: "1 message will be sent when the connection is back." })).toBeVisible();
  await expect(rows(bob, "queued before the reload")).toHaveCount(0);

  // The server is reachable again: the queue kept across the reload goes
  // out on the next try, once.
  blocked = false;
  await expect(rows(bob, "queued before the reload")).toHaveCount(1, { timeout: 30_000 });
  await expect(rows(alice, "queued before the reload")).toHaveCount(1);
  await expect(alice.locator(".msg.pending")).toHaveCount(0);
  // Another reload sends nothing again.
  await alice.reload();
  await expect(composer(alice)).toBeVisible();
  await expect(rows(alice, "queued before the reload")).toHaveCount(1);
  await expect(rows(bob, "queued before the reload")).toHaveCount(1);
  expect(await stored(server, await apiSignIn(server, "bob"), "queued before the reload")).toBe(1);
});
