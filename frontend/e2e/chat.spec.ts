import type { Page } from "@playwright/test";
import {
  apiHistoryStatus,
  apiRegister,
  apiRoomId,
  apiRooms,
  apiSend,
  apiSignIn,
  expect,
  screenshot,
  test,
} from "./fixtures";

const general = (page: Page) => page.getByRole("log", { name: "Messages in #general" });
const composer = (page: Page, room = "#general") => page.getByRole("textbox", { name: `Message ${room}` });

async function say(page: Page, text: string, room = "#general") {
  await composer(page, room).fill(text);
  await composer(page, room).press("Enter");
}

test("two people register and chat both ways", async ({ signUp }) => {
  const alice = await signUp("alice");
  const bob = await signUp("bob");

  await say(alice, "Hi bob, welcome to the team");
  await expect(general(bob).getByText("Hi bob, welcome to the team", { exact: true })).toBeVisible();
  await expect(composer(alice)).toHaveValue("");

  // Shift+Enter makes a new line; Enter sends.
  await composer(bob).click();
  await composer(bob).pressSequentially("Thanks alice!");
  await composer(bob).press("Shift+Enter");
  await composer(bob).pressSequentially("Glad to be here.");
  await expect(composer(bob)).toHaveValue("Thanks alice!\nGlad to be here.");
  await composer(bob).press("Enter");
  await expect(general(alice).getByText("Thanks alice! Glad to be here.")).toBeVisible();

  // Both sides show each message once, and nothing is left pending.
  for (const page of [alice, bob]) {
    await expect(general(page).getByText("Hi bob, welcome to the team", { exact: true })).toHaveCount(1);
    await expect(general(page).getByText("Sending…")).toHaveCount(0);
  }
  // Text is text: markup arrives as characters.
  await say(alice, "<b>not bold</b> <img src=x onerror=alert(1)>");
  await expect(general(bob).getByText("<b>not bold</b> <img src=x onerror=alert(1)>", { exact: true })).toBeVisible();
  await expect(general(bob).locator("b, img")).toHaveCount(0);
});

test("typing indicator appears and disappears", async ({ signUp }) => {
  const alice = await signUp("alice");
  const bob = await signUp("bob");

  await composer(alice).click();
  await composer(alice).pressSequentially("I am writing a longer", { delay: 40 });
  await expect(bob.getByText("alice is typing…")).toBeVisible();
  await expect(alice.getByText("alice is typing…")).toHaveCount(0);

  await composer(alice).pressSequentially(" message", { delay: 20 });
  await composer(alice).press("Enter");
  await expect(general(bob).getByText("I am writing a longer message", { exact: true })).toBeVisible();
  await expect(bob.getByText("alice is typing…")).toHaveCount(0);

  // Both typing, then the indicator names both.
  await composer(alice).pressSequentially("one", { delay: 30 });
  const carol = await signUp("carol");
  await composer(bob).pressSequentially("two", { delay: 30 });
  await composer(alice).pressSequentially("!", { delay: 30 });
  await expect(carol.getByText("alice and bob are typing…")).toBeVisible();
  // Clearing the box ends it.
  await composer(alice).fill("");
  await composer(bob).fill("");
  await expect(carol.getByText(/are typing|is typing/)).toHaveCount(0, { timeout: 8000 });
});

test("history loads on scroll", async ({ server, signUp }) => {
  const carol = await apiRegister(server, "carol");
  const room = await apiRoomId(server, carol, "general");
  for (let i = 1; i <= 130; i++) await apiSend(server, carol, room, `history ${i}`);

  const alice = await signUp("alice");
  const log = general(alice);
  await expect(log.getByText("history 130", { exact: true })).toBeVisible();
  await expect(log.getByText("history 1", { exact: true })).toHaveCount(0);

  // Scroll up until the first message is there.
  await expect
    .poll(
      async () => {
        await log.evaluate((el) => el.scrollTo({ top: -el.scrollHeight }));
        return log.getByText("history 1", { exact: true }).count();
      },
      { timeout: 15_000, intervals: [300] },
    )
    .toBe(1);
  await expect(log.getByText("This is the very beginning of #general.")).toBeVisible();
  // Every message once, in order.
  const texts = await log.locator(".msg:not(.system) .text").allInnerTexts();
  const seq = texts.filter((t) => t.startsWith("history ")).map((t) => Number(t.slice(8)));
  expect(seq).toEqual(Array.from({ length: 130 }, (_, i) => i + 1));

  // Reading older messages does not yank the reader down when one arrives.
  await log.evaluate((el) => el.scrollTo({ top: -el.scrollHeight }));
  await apiSend(server, carol, room, "a new one");
  await expect(alice.getByRole("button", { name: "New messages", exact: true })).toBeVisible();
  // (The list scrolls from its bottom: this is the distance from its top.)
  expect(await log.evaluate((el) => el.scrollTop + el.scrollHeight - el.clientHeight)).toBeLessThan(200);
  await alice.getByRole("button", { name: "New messages", exact: true }).click();
  await expect(log.getByText("a new one", { exact: true })).toBeInViewport();
});

test("a direct message is invisible to a third person", async ({ server, signUp }) => {
  const alice = await signUp("alice");
  const bob = await signUp("bob");
  const carolPage = await signUp("carol");

  await alice.getByRole("button", { name: "Start a direct message" }).click();
  const dialog = alice.getByRole("dialog", { name: "Start a direct message" });
  await dialog.getByRole("combobox", { name: "People" }).fill("bob");
  await dialog.getByRole("option", { name: "bob" }).click();
  await dialog.getByRole("button", { name: "Start conversation" }).click();
  await expect(composer(alice, "bob")).toBeVisible();
  await say(alice, "just between us", "bob");

  const dmId = decodeURIComponent(new URL(alice.url()).hash.replace(/^#\//, ""));
  expect(dmId).toMatch(/^r_/);

  // Bob sees the conversation appear, with its unread count, and the message.
  const dmItem = bob.getByRole("region", { name: "Direct messages" }).getByRole("button", { name: "alice, online, 1 unread" });
  await dmItem.click();
  await expect(bob.getByRole("log", { name: "Conversation with alice" }).getByText("just between us")).toBeVisible();

  // Carol sees no such conversation, and the server refuses her its history.
  await say(alice, "still private", "bob");
  await expect(bob.getByRole("log", { name: "Conversation with alice" }).getByText("still private")).toBeVisible();
  await expect(carolPage.getByText("just between us")).toHaveCount(0);
  await expect(carolPage.getByText("still private")).toHaveCount(0);
  await expect(carolPage.getByRole("region", { name: "Direct messages" }).getByText("No conversations yet")).toBeVisible();
  const carol = await apiSignIn(server, "carol");
  expect((await apiRooms(server, carol)).map((r) => r.id)).not.toContain(dmId);
  expect([403, 404]).toContain(await apiHistoryStatus(server, carol, dmId));
});

test("server killed and restarted while typing: banner, then every message once", async ({ server, signUp }) => {
  const alice = await signUp("alice");
  const bob = await signUp("bob");
  await say(alice, "before the crash");
  await expect(general(bob).getByText("before the crash", { exact: true })).toBeVisible();

  await server.kill();
  const banner = alice.getByRole("status").filter({ hasText: "Reconnecting…" });
  await expect(banner).toBeVisible();
  await expect(banner).toContainText(/retry in \d+ s/);

  // Keep typing and sending while the server is gone: the messages wait,
  // visibly, and the banner does not cover them.
  await composer(alice).click();
  await composer(alice).pressSequentially("sent while down 1", { delay: 15 });
  await composer(alice).press("Enter");
  await composer(alice).pressSequentially("sent while down 2", { delay: 15 });
  await composer(alice).press("Enter");
  await say(bob, "bob while down");
  await expect(general(alice).getByText("Sending…")).toHaveCount(2);
  await expect(general(alice).getByText("sent while down 2", { exact: true })).toBeInViewport();
  await composer(alice).pressSequentially("still typing", { delay: 25 });
  await alice.screenshot({ path: screenshot("desktop-reconnecting") });

  await server.launch();
  await expect(alice.getByRole("status").filter({ hasText: "Back online" })).toBeVisible({ timeout: 30_000 });

  for (const page of [alice, bob]) {
    const log = general(page);
    for (const text of ["before the crash", "sent while down 1", "sent while down 2", "bob while down"]) {
      await expect(log.getByText(text, { exact: true }), `${text} on ${page === alice ? "alice" : "bob"}`).toHaveCount(1, { timeout: 30_000 });
    }
    await expect(log.getByText("Sending…")).toHaveCount(0);
  }
  // Order is kept.
  const texts = await general(bob).locator(".msg .text").allInnerTexts();
  expect(texts.indexOf("sent while down 1")).toBeLessThan(texts.indexOf("sent while down 2"));

  // The draft survived; sending it works on the new connection.
  await expect(composer(alice)).toHaveValue("still typing");
  await composer(alice).press("Enter");
  await expect(general(bob).getByText("still typing", { exact: true })).toHaveCount(1);
  // Reloading shows the same log: nothing doubled on the server either.
  await bob.reload();
  for (const text of ["sent while down 1", "sent while down 2", "bob while down", "still typing"]) {
    await expect(general(bob).getByText(text, { exact: true })).toHaveCount(1);
  }
});

test("a frozen server is noticed within two heartbeats, and the link recovers", async ({ server, signUp }) => {
  const alice = await signUp("alice");
  const bob = await signUp("bob");
  await say(alice, "before the freeze");
  await expect(general(bob).getByText("before the freeze", { exact: true })).toBeVisible();

  // SIGSTOP: the TCP connections stay open but nothing comes through, so
  // only the client's dead-link timer (2 x the 2 s heartbeat) can tell.
  const frozenAt = Date.now();
  server.pause();
  try {
    await expect(alice.getByRole("status").filter({ hasText: "Reconnecting…" })).toBeVisible({ timeout: 8000 });
    expect(Date.now() - frozenAt).toBeGreaterThanOrEqual(3500);
    await say(alice, "sent during the freeze");
    await expect(general(alice).getByText("Sending…")).toHaveCount(1);
  } finally {
    server.resume();
  }
  await expect(alice.getByRole("status").filter({ hasText: "Back online" })).toBeVisible({ timeout: 30_000 });
  await expect(general(bob).getByText("sent during the freeze", { exact: true })).toHaveCount(1, { timeout: 30_000 });
  await expect(general(alice).getByText("sent during the freeze", { exact: true })).toHaveCount(1);
  await expect(general(alice).getByText("Sending…")).toHaveCount(0);
});

test("presence: away with a status, then offline when a person leaves", async ({ signUp }) => {
  const alice = await signUp("alice");
  const bob = await signUp("bob");
  const people = alice.getByRole("list", { name: "People" });
  await expect(people.getByRole("button", { name: /^bob, online/ })).toBeVisible();

  await bob.getByRole("button", { name: /^Set your status/ }).click();
  const dialog = bob.getByRole("dialog", { name: "Set your status" });
  await dialog.getByRole("radio", { name: "Away" }).check();
  await dialog.getByLabel("Status message").fill("At lunch");
  await dialog.getByRole("button", { name: "Save" }).click();
  await expect(people.getByRole("button", { name: /^bob, away/ })).toBeVisible();
  await expect(people.getByText("At lunch")).toBeVisible();

  await bob.context().close();
  await expect(people.getByRole("button", { name: /^bob, offline/ })).toBeVisible({ timeout: 15_000 });
});

test("signing out returns to the sign-in form; bad credentials are explained", async ({ signUp }) => {
  const alice = await signUp("alice");
  await alice.getByRole("button", { name: "Sign out" }).click();
  await expect(alice.getByRole("button", { name: "Sign in" })).toBeVisible();
  await alice.getByLabel("Username").fill("alice");
  await alice.getByLabel("Password").fill("wrong-password");
  await alice.getByRole("button", { name: "Sign in" }).click();
  await expect(alice.getByRole("alert")).toHaveText("Wrong username or password.");
  await alice.getByRole("button", { name: "Create account" }).click();
  await expect(alice.getByRole("alert")).toContainText("is taken");
  await alice.getByLabel("Password").fill("correct-horse-battery");
  await alice.getByRole("button", { name: "Sign in" }).click();
  await expect(composer(alice)).toBeVisible();
});

test("ending the session elsewhere (4401) returns every tab to sign-in", async ({ signUp }) => {
  const alice = await signUp("alice");
  const second = await alice.context().newPage();
  await second.goto("/");
  await expect(composer(second)).toBeVisible();
  await second.getByRole("button", { name: "Sign out" }).click();
  await expect(second.getByRole("button", { name: "Sign in" })).toBeVisible();
  // The first tab's socket is closed with 4401: it stops and asks to sign in.
  await expect(alice.getByRole("button", { name: "Sign in" })).toBeVisible();
  await expect(alice.getByText("Your session has ended. Sign in again to continue.")).toBeVisible();
});

test("keyboard only: create a private room, invite, post", async ({ signUp }) => {
  const bob = await signUp("bob");
  const alice = await signUp("alice");

  await alice.getByRole("button", { name: "Create room" }).focus();
  await alice.keyboard.press("Enter");
  const create = alice.getByRole("dialog", { name: "Create a room" });
  await expect(create.getByLabel("Room name")).toBeFocused();
  await alice.keyboard.type("secret-plans");
  await alice.keyboard.press("Tab");
  await alice.keyboard.press("Space"); // the Private checkbox
  await expect(create.getByRole("checkbox", { name: /Private/ })).toBeChecked();
  await alice.keyboard.press("Enter");
  await expect(create).toBeHidden();
  await expect(alice.getByRole("heading", { level: 1, name: "secret-plans" })).toBeVisible();
  await expect(composer(alice, "#secret-plans")).toBeFocused();

  await alice.getByRole("button", { name: "Invite" }).focus();
  await alice.keyboard.press("Enter");
  const inviteDialog = alice.getByRole("dialog", { name: "Invite people to #secret-plans" });
  await expect(inviteDialog.getByRole("combobox", { name: "People" })).toBeFocused();
  await alice.keyboard.type("bob");
  await expect(inviteDialog.getByRole("option", { name: "bob" })).toHaveAttribute("aria-selected", "true");
  await alice.keyboard.press("Enter"); // picks bob
  await alice.keyboard.press("Enter"); // invites
  await expect(inviteDialog).toBeHidden();
  await expect(alice.getByText("Invited bob to #secret-plans.")).toBeVisible();

  await composer(alice, "#secret-plans").focus();
  await alice.keyboard.type("Welcome to the plans");
  await alice.keyboard.press("Enter");

  // Bob was invited: the room appears for him with the message.
  const entry = bob.getByRole("region", { name: "Rooms" }).getByRole("button", { name: /^secret-plans, private/ });
  await expect(entry).toBeVisible();
  await entry.focus();
  await bob.keyboard.press("Enter");
  await expect(bob.getByRole("log", { name: "Messages in #secret-plans" }).getByText("Welcome to the plans")).toBeVisible();

  // Escape closes a dialog and gives focus back.
  const opener = bob.getByRole("button", { name: "Start a direct message" });
  await opener.focus();
  await bob.keyboard.press("Enter");
  await expect(bob.getByRole("dialog", { name: "Start a direct message" })).toBeVisible();
  await bob.keyboard.press("Escape");
  await expect(bob.getByRole("dialog")).toHaveCount(0);
  await expect(opener).toBeFocused();
});
