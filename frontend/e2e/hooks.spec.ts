// Integrations in a real browser against the real binary: an incoming
// webhook made in the room's webhooks dialog and posted to from outside, a
// link preview of a page served by the test, and slash commands.

import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Locator, Page } from "@playwright/test";
import { expect, screenshot, test } from "./fixtures";

const general = (page: Page) => page.getByRole("log", { name: "Messages in #general" });
const composer = (page: Page) => page.getByRole("textbox", { name: "Message #general" });
const message = (log: Locator, text: string) => log.locator("article.msg").filter({ has: log.page().locator(".text", { hasText: text }) });

async function say(page: Page, text: string) {
  await composer(page).fill(text);
  await composer(page).press("Enter");
}

test("a webhook made in the room's settings posts a Slack payload into the room", async ({ signUp }) => {
  const alice = await signUp("alice");
  const bob = await signUp("bob");

  await alice.getByRole("button", { name: "Webhooks of #general" }).click();
  const dialog = alice.getByRole("dialog", { name: "Webhooks of #general" });
  await dialog.getByLabel("Webhook name").fill("Alerts");
  await dialog.getByRole("button", { name: "Add webhook" }).click();
  const address = dialog.getByLabel("Address of “Alerts”");
  await expect(address).toHaveValue(/\/hooks\/[A-Za-z0-9_-]{43}$/);
  const url = await address.inputValue();
  await expect(dialog.getByRole("list", { name: "Webhooks" })).toContainText("by alice");
  await dialog.getByRole("button", { name: "Close" }).click();

  // What Alertmanager sends: the message is an attachment.
  const res = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      username: "Alertmanager",
      attachments: [
        {
          fallback: "[FIRING:1] DiskFull",
          title: "[FIRING:1] DiskFull",
          title_link: "http://alertmanager.example/#/alerts",
          text: "db1 disk is 97% full",
          fields: [{ title: "severity", value: "page", short: true }],
          color: "danger",
        },
      ],
    }),
  });
  expect(res.status).toBe(200);

  const msg = message(general(bob), "db1 disk is 97% full");
  await expect(msg).toBeVisible();
  await expect(msg.locator(".sender")).toHaveText("Alertmanager via Alerts");
  await expect(msg.locator(".sender-tag")).toHaveText("webhook");
  await expect(msg).toContainText("[FIRING:1] DiskFull (http://alertmanager.example/#/alerts)");
  await expect(msg).toContainText("severity: page");

  // A bad payload is refused with a reason, and nothing is posted.
  const bad = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
  expect(bad.status).toBe(400);
  expect(((await bad.json()) as { error: { message: string } }).error.message).toContain("no text");
});

/** A site on loopback: /page with OpenGraph tags and /card.png. */
async function site(): Promise<{ url: string; close: () => Promise<void> }> {
  // A 2×2 PNG.
  const png = Buffer.from(
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGNkYPjPwMDAxMDAwMDAAAANHQEDk7xV5wAAAABJRU5ErkJggg==",
    "base64",
  );
  const srv: HttpServer = createServer((req, res) => {
    if (req.url === "/page") {
      res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
      res.end(`<!doctype html><html><head><title>x</title>
        <meta property="og:title" content="The release notes">
        <meta property="og:description" content="Everything new in version 2.">
        <meta property="og:image" content="/card.png"></head><body></body></html>`);
    } else if (req.url === "/card.png") {
      res.writeHead(200, { "Content-Type": "image/png" });
      res.end(png);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => srv.close(() => r())) };
}

test.describe("link previews", () => {
  test.use({ serverArgs: ["--link-previews=true", "--allow-private-targets"] });

  test("a link gets a preview card for everyone, which its sender can remove", async ({ signUp }) => {
    test.slow(); // two people signed up, a fetch and an image through the server
    const s = await site();
    try {
      const alice = await signUp("alice");
      const bob = await signUp("bob");
      await say(alice, `notes are out: ${s.url}/page`);

      const card = general(bob).getByRole("group", { name: "Link preview: The release notes" });
      await expect(card).toBeVisible();
      await expect(card.getByRole("link", { name: "The release notes" })).toHaveAttribute("href", `${s.url}/page`);
      await expect(card).toContainText("Everything new in version 2.");
      // The image comes through the server, and loads.
      const img = card.locator("img");
      await expect(img).toHaveAttribute("src", /^\/api\/rooms\/.+\/preview-image$/);
      await expect.poll(() => img.evaluate((el: HTMLImageElement) => el.complete && el.naturalWidth)).toBe(2);
      // Only the sender is offered the removal.
      await expect(card.getByRole("button", { name: "Remove the link preview" })).toHaveCount(0);

      const mine = general(alice).getByRole("group", { name: "Link preview: The release notes" });
      await mine.getByRole("button", { name: "Remove the link preview" }).click();
      await expect(card).toBeHidden();
      await expect(message(general(bob), "notes are out")).toBeVisible();
    } finally {
      await s.close();
    }
  });
});

test("slash commands: a menu as you type, keyboard navigable, and /me shown as an action", async ({ signUp }) => {
  const alice = await signUp("alice");

  await composer(alice).fill("/");
  const menu = alice.getByRole("listbox", { name: "Commands" });
  await expect(menu.getByRole("option")).toHaveText([/^\/me/, /^\/topic/, /^\/invite/, /^\/leave/, /^\/dm/]);
  // Arrow keys move through it, Escape closes it.
  await composer(alice).press("ArrowDown");
  await expect(menu.getByRole("option", { selected: true })).toContainText("/topic");
  await composer(alice).press("Escape");
  await expect(menu).toBeHidden();

  await composer(alice).fill("/m");
  await expect(menu.getByRole("option")).toHaveCount(1);
  await composer(alice).press("Tab");
  await expect(composer(alice)).toHaveValue("/me ");
  await expect(menu).toBeHidden();
  await composer(alice).pressSequentially("waves at everyone");
  await composer(alice).press("Enter");

  const action = general(alice).locator("article.msg.me");
  await expect(action.locator(".text")).toHaveText("* alice waves at everyone");
});

test("slash commands: a mistake gets a hint and stays in the box; // sends a slash", async ({ signUp }) => {
  const alice = await signUp("alice");
  await say(alice, "/shrug");
  await expect(alice.locator("#composer-error")).toHaveText(/Unknown command \/shrug/);
  await expect(composer(alice)).toHaveValue("/shrug");
  // Enter on a command's whole name takes it from the menu; again, it runs.
  await say(alice, "/invite");
  await expect(composer(alice)).toHaveValue("/invite ");
  await composer(alice).press("Enter");
  await expect(alice.locator("#composer-error")).toHaveText(/Usage: \/invite @name/);

  await say(alice, "//shrug");
  await expect(message(general(alice), "/shrug")).toBeVisible();
  await expect(composer(alice)).toHaveValue("");
});

test("on a phone, in dark mode, the webhooks dialog fits and works by keyboard", async ({ signUp }) => {
  const alice = await signUp("alice", { colorScheme: "dark", viewport: { width: 390, height: 800 } });
  const open = alice.getByRole("button", { name: "Webhooks of #general" });
  await expect(open).toBeInViewport();
  await open.focus();
  await alice.keyboard.press("Enter");
  const dialog = alice.getByRole("dialog", { name: "Webhooks of #general" });
  await dialog.getByLabel("Webhook name").fill("Deploys");
  await alice.keyboard.press("Enter");
  await expect(dialog.getByLabel("Address of “Deploys”")).toBeInViewport();
  await expect(dialog.getByRole("button", { name: "Delete Deploys" })).toBeInViewport();
  await alice.screenshot({ path: screenshot("hooks-phone-dark") });
});
