// Invitations, the room directory, sessions and passwords, as a person
// meets them (PROTOCOL.md §3).

import type { Page } from "@playwright/test";
import { apiCreateRoom, apiRegister, expect, password, screenshot, test } from "./fixtures";

const composer = (page: Page, room = "#general") => page.getByRole("textbox", { name: `Message ${room}` });
const phone = { width: 390, height: 844 };

async function createAccount(page: Page, name: string, pass = password) {
  await page.getByLabel("Username").fill(name);
  await page.getByLabel("Password").fill(pass);
  await page.getByRole("button", { name: "Create account" }).click();
}

async function signInForm(page: Page, name: string, pass: string) {
  await page.getByLabel("Username").fill(name);
  await page.getByLabel("Password").fill(pass);
  await page.getByRole("button", { name: "Sign in" }).click();
}

test.describe("on an invite-only server", () => {
  test.use({ serverArgs: ["--registration", "invite"] });

  test("the first visitor becomes the admin, copies the invite link, and a second person signs up through it", async ({ visit }) => {
    const admin = await visit("/");
    // A server without accounts asks for its admin, and offers no sign-in.
    await expect(admin.getByRole("heading", { name: "Set up minichat" })).toBeVisible();
    await expect(admin.getByRole("button", { name: "Sign in" })).toHaveCount(0);
    await createAccount(admin, "alice");

    // The admin is shown the invite link at once.
    const invite = admin.getByRole("dialog", { name: "Invite people" });
    await expect(invite).toBeVisible();
    await expect(invite.getByText("Your account is the admin of this server")).toBeVisible();
    const field = invite.getByRole("textbox", { name: "Invite link" });
    await expect(field).toHaveValue(/\/join\/[^/]+$/);
    await invite.getByRole("button", { name: "Copy" }).click();
    await expect(invite.getByRole("status").filter({ hasText: "Invite link copied." })).toBeVisible();
    const copied = await admin.evaluate(() => navigator.clipboard.readText());
    expect(copied).toBe(await field.inputValue());
    await admin.screenshot({ path: screenshot("desktop-invite") });
    await invite.getByRole("button", { name: "Done" }).click();
    await expect(invite).toBeHidden();
    await expect(composer(admin)).toBeVisible();

    // Without the link, sign-up says why it is refused.
    const stranger = await visit("/");
    await expect(stranger.getByText("New here? Open the invite link an admin sent you")).toBeVisible();
    await createAccount(stranger, "mallory");
    await expect(stranger.getByRole("alert")).toHaveText(/invite-only.*invite link/);
    await expect(composer(stranger)).toHaveCount(0);

    // With it, on a phone: sign-up opens with the code applied.
    const bob = await visit(new URL(copied).pathname, { viewport: phone });
    await expect(bob.getByRole("heading", { name: "You’re invited" })).toBeVisible();
    await createAccount(bob, "bob");
    await expect(composer(bob)).toBeVisible();
    expect(new URL(bob.url()).pathname).toBe("/");
    // bob is no admin: no invite dialog, and no way to it.
    await expect(bob.getByRole("dialog")).toHaveCount(0);
    await bob.getByRole("button", { name: "Show rooms and people" }).click();
    await expect(bob.getByRole("button", { name: "Browse rooms" })).toBeVisible();
    await expect(bob.getByRole("button", { name: "Invite people to minichat" })).toHaveCount(0);

    // The admin finds the link again in the sidebar, and resets it.
    await admin.getByRole("button", { name: "Invite people to minichat" }).click();
    await expect(field).toHaveValue(copied);
    // Reset asks first; focus follows the question and its answer.
    await invite.getByRole("button", { name: "Reset link" }).click();
    await expect(invite.getByRole("button", { name: "Reset now" })).toBeFocused();
    await invite.getByRole("button", { name: "Keep this link" }).click();
    await expect(invite.getByRole("button", { name: "Reset link" })).toBeFocused();
    await expect(field).toHaveValue(copied);
    await admin.keyboard.press("Enter");
    await expect(invite.getByRole("button", { name: "Reset now" })).toBeFocused();
    await admin.keyboard.press("Enter");
    await expect(invite.getByRole("status").filter({ hasText: "the old one no longer works" })).toBeVisible();
    await expect(field).not.toHaveValue(copied);
    await expect(field).toBeFocused();
    await expect(field).toHaveValue(/\/join\/[^/]+$/);

    // The old link is refused with a sentence that says what to do.
    const late = await visit(new URL(copied).pathname);
    await createAccount(late, "carol");
    await expect(late.getByRole("alert")).toHaveText("This invite link no longer works. Ask an admin for a new one.");
    // The new one works.
    const carol = await visit(new URL(await field.inputValue()).pathname);
    await createAccount(carol, "carol");
    await expect(composer(carol)).toBeVisible();
    // Opened again while signed in, the link says it is for new accounts.
    await carol.goto(new URL(await field.inputValue()).pathname);
    await expect(carol.getByText("You are already signed in as carol")).toBeVisible();
    await expect(composer(carol)).toBeVisible();
    expect(new URL(carol.url()).pathname).toBe("/");
  });
});

test.describe("on a closed server", () => {
  test.use({ serverArgs: ["--registration", "closed"] });

  test("the sign-in page offers no sign-up and says who makes accounts", async ({ server, visit }) => {
    await apiRegister(server, "alice");
    const page = await visit("/");
    await expect(page.getByText("Accounts on this server are made by an admin")).toBeVisible();
    await expect(page.getByRole("button", { name: "Sign in" })).toBeVisible();
    await expect(page.getByRole("button", { name: "Create account" })).toHaveCount(0);
    await signInForm(page, "alice", password);
    await expect(composer(page)).toBeVisible();
    // The admin's invite dialog says the link cannot work while sign-up is closed.
    await page.getByRole("button", { name: "Invite people to minichat" }).click();
    await expect(page.getByRole("dialog", { name: "Invite people" }).getByText("Sign-up is closed on this server")).toBeVisible();
  });
});

test("the room directory lists, searches and joins public rooms, including one made a second ago", async ({ server, signUp }) => {
  const bob = await apiRegister(server, "bob");
  await apiCreateRoom(server, bob, "design-review");
  await apiCreateRoom(server, bob, "deploys");
  await apiCreateRoom(server, bob, "secret-plans", true);
  const alice = await signUp("alice");

  // Rooms alice has not joined are not in her sidebar: the directory has them.
  const sidebar = alice.getByRole("navigation", { name: "Rooms and people" });
  await expect(sidebar.getByRole("button", { name: /design-review/ })).toHaveCount(0);
  await sidebar.getByRole("button", { name: "Browse rooms" }).click();
  const dir = alice.getByRole("dialog", { name: "Browse rooms" });
  const list = dir.getByRole("list", { name: "Public rooms" });
  await expect(list.getByRole("button", { name: "Join #design-review" })).toBeVisible();
  await expect(list.getByRole("button", { name: "Join #deploys" })).toBeVisible();
  await expect(list.getByRole("button", { name: "Open #general" })).toBeVisible();
  await expect(list.getByText("#secret-plans")).toHaveCount(0);
  await alice.screenshot({ path: screenshot("desktop-directory") });

  // Search by the start of the name; focus starts in the search field.
  const search = dir.getByRole("searchbox", { name: "Find a room by name" });
  await expect(search).toBeFocused();
  await search.fill("des");
  await expect(list.getByRole("listitem")).toHaveCount(1);
  await expect(list.getByRole("button", { name: "Join #design-review" })).toBeVisible();
  await search.fill("zzz");
  await expect(dir.getByText("No public room starts with “zzz”.")).toBeVisible();
  // Escape clears the search first, then closes the dialog.
  await alice.keyboard.press("Escape");
  await expect(search).toHaveValue("");
  await alice.keyboard.press("Escape");
  await expect(dir).toBeHidden();

  // A room created while the page is open is found without a reload.
  await apiCreateRoom(server, bob, "launch-party");
  await sidebar.getByRole("button", { name: "Browse rooms" }).click();
  await search.fill("launch");
  await list.getByRole("button", { name: "Join #launch-party" }).click();
  await expect(dir).toBeHidden();
  await expect(composer(alice, "#launch-party")).toBeFocused();
  await expect(sidebar.getByRole("button", { name: /^launch-party/ })).toBeVisible();

  // Joined rooms say so in the directory, and open instead.
  await sidebar.getByRole("button", { name: "Browse rooms" }).click();
  await search.fill("launch");
  await list.getByRole("button", { name: "Open #launch-party" }).click();
  await expect(composer(alice, "#launch-party")).toBeVisible();
});

const firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";

test("the directory pages past its first 50 rooms", async ({ server, signUp }) => {
  const bob = await apiRegister(server, "bob");
  for (let i = 0; i < 55; i++) await apiCreateRoom(server, bob, `room-${String(i).padStart(2, "0")}`);
  const alice = await signUp("alice");
  await alice.getByRole("button", { name: "Browse rooms" }).click();
  const dir = alice.getByRole("dialog", { name: "Browse rooms" });
  const list = dir.getByRole("list", { name: "Public rooms" });
  await expect(list.getByRole("listitem")).toHaveCount(50);
  await expect(dir.getByText("50+ rooms")).toBeVisible();
  await dir.getByRole("button", { name: "Show more" }).click();
  // 55 rooms and general, each once, in name order.
  await expect(list.getByRole("listitem")).toHaveCount(56);
  await expect(dir.getByRole("button", { name: "Show more" })).toHaveCount(0);
  await expect(list.getByRole("listitem").last()).toContainText("#room-54");
});

test("settings list sessions; signing out one and everywhere sends those devices to sign-in", async ({ signUp, signIn }) => {
  const alice = await signUp("alice");
  const laptop = await signIn("alice", { userAgent: firefox });
  const mobile = await signIn("alice", { userAgent: iphone, viewport: phone });
  const ended = "Your session has ended. Sign in again to continue.";

  await alice.getByRole("button", { name: "Settings" }).click();
  const settings = alice.getByRole("dialog", { name: "Settings" });
  const sessions = settings.getByRole("list", { name: "Sessions" });
  await expect(sessions.getByRole("listitem")).toHaveCount(3);
  await expect(sessions.getByRole("listitem").first()).toContainText("This device");
  await expect(sessions.getByRole("listitem").first()).toContainText("Chrome on Linux");
  await expect(sessions.getByRole("listitem").filter({ hasText: "This device" })).toHaveCount(1);

  // Signing out one other session ends that one only.
  await sessions.getByRole("button", { name: /^Sign out Firefox on Linux, / }).click();
  await expect(settings.getByText("Signed out Firefox on Linux.")).toBeVisible();
  await expect(sessions.getByRole("listitem")).toHaveCount(2);
  await expect(laptop.getByText(ended)).toBeVisible();
  await expect(composer(laptop)).toHaveCount(0);
  await expect(composer(mobile)).toBeVisible();

  // Everywhere: this device too, after a confirmation.
  await settings.getByRole("button", { name: "Sign out everywhere" }).click();
  await settings.getByRole("button", { name: "Sign out everywhere now" }).click();
  await expect(alice.getByText("You are signed out on every device.")).toBeVisible();
  await expect(alice.getByRole("button", { name: "Sign in" })).toBeVisible();
  await expect(mobile.getByText(ended)).toBeVisible();
  await expect(composer(mobile)).toHaveCount(0);

  // Signing in again works.
  await signInForm(alice, "alice", password);
  await expect(composer(alice)).toBeVisible();
});

test("changing the password keeps this session, ends the others, and the new password signs in", async ({ signUp, signIn }) => {
  const alice = await signUp("alice");
  const other = await signIn("alice");
  const next = "a-new-and-longer-secret";

  await alice.getByRole("button", { name: "Settings" }).click();
  const settings = alice.getByRole("dialog", { name: "Settings" });
  // A mismatch is caught before asking the server.
  await settings.getByLabel("Current password").fill(password);
  await settings.getByLabel("New password", { exact: true }).fill(next);
  await settings.getByLabel("New password again").fill(next + "x");
  await settings.getByRole("button", { name: "Change password" }).click();
  await expect(settings.getByRole("alert").filter({ hasText: "The two new passwords are not the same." })).toBeVisible();
  // A wrong current password is refused with a sentence.
  await settings.getByLabel("Current password").fill("not-my-password");
  await settings.getByLabel("New password again").fill(next);
  await settings.getByRole("button", { name: "Change password" }).click();
  await expect(settings.getByRole("alert").filter({ hasText: "Your current password is not right." })).toBeVisible();
  await expect(settings.getByLabel("Current password")).toHaveAttribute("aria-invalid", "true");

  await settings.getByLabel("Current password").fill(password);
  await settings.getByRole("button", { name: "Change password" }).click();
  await expect(settings.getByText("Your password is changed.")).toBeVisible();
  await expect(settings.getByLabel("Current password")).toHaveValue("");

  // The other session is sent to sign-in; this one stays.
  await expect(other.getByText("Your session has ended. Sign in again to continue.")).toBeVisible();
  await settings.getByRole("button", { name: "Close" }).click();
  await expect(composer(alice)).toBeVisible();

  await signInForm(other, "alice", password);
  await expect(other.getByRole("alert")).toHaveText("Wrong username or password.");
  await signInForm(other, "alice", next);
  await expect(composer(other)).toBeVisible();
});

test.describe("refusals", () => {
  test.use({ serverArgs: ["--upload-quota", "4KiB", "--create-room-rate", "1"] });

  test("a full upload quota and a room-creation limit are said as sentences", async ({ signUp }) => {
    const alice = await signUp("alice");

    // The first file fits the 4 KiB quota; the second would pass it.
    const files = alice.getByRole("list", { name: "Files to send" });
    for (const [name, size] of [["notes.txt", 3000], ["more.txt", 3000]] as const) {
      const chooser = alice.waitForEvent("filechooser");
      await alice.getByRole("button", { name: "Attach files" }).click();
      await (await chooser).setFiles({ name, mimeType: "text/plain", buffer: Buffer.alloc(size, "x") });
    }
    await expect(files.getByRole("listitem").filter({ hasText: "notes.txt" })).toContainText("Ready");
    await expect(files.getByRole("listitem").filter({ hasText: "more.txt" })).toContainText(
      "“more.txt” was not uploaded. You have used all the file storage your account may have.",
    );

    // One room a minute: the second is refused, and the dialog says how long to wait.
    await alice.getByRole("button", { name: "Create room" }).click();
    const create = alice.getByRole("dialog", { name: "Create a room" });
    await create.getByLabel("Room name").fill("first");
    await create.getByRole("button", { name: "Create room" }).click();
    await expect(composer(alice, "#first")).toBeVisible();
    await alice.getByRole("button", { name: "Create room" }).click();
    await create.getByLabel("Room name").fill("second");
    await create.getByRole("button", { name: "Create room" }).click();
    await expect(create.getByRole("alert")).toHaveText(/^You have created many rooms in a short time\. Wait (a moment|a second|\d+ (seconds|minutes)) and try again\.$/);
  });
});

test("at a phone's width the directory and settings open from the drawer and work by keyboard", async ({ server, signUp }) => {
  const bob = await apiRegister(server, "bob");
  await apiCreateRoom(server, bob, "random");
  const alice = await signUp("alice", { viewport: phone });

  await alice.getByRole("button", { name: "Show rooms and people" }).click();
  const browse = alice.getByRole("button", { name: "Browse rooms" });
  await browse.focus();
  await alice.keyboard.press("Enter");
  const dir = alice.getByRole("dialog", { name: "Browse rooms" });
  await expect(dir.getByRole("searchbox", { name: "Find a room by name" })).toBeFocused();
  const join = dir.getByRole("button", { name: "Join #random" });
  await expect(join).toBeInViewport();
  await join.focus();
  await alice.keyboard.press("Enter");
  await expect(dir).toBeHidden();
  // The drawer closed on the way: the room is in front.
  await expect(composer(alice, "#random")).toBeInViewport();

  await alice.getByRole("button", { name: "Show rooms and people" }).click();
  await alice.getByRole("button", { name: "Settings" }).click();
  const settings = alice.getByRole("dialog", { name: "Settings" });
  await expect(settings.getByRole("list", { name: "Sessions" }).getByRole("listitem")).toHaveCount(1);
  await expect(settings.getByText("You are signed in on this device only.")).toBeVisible();
  // Everything in the dialog fits the width: nothing scrolls sideways.
  const overflow = await settings.evaluate((d) => d.scrollWidth - d.clientWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await alice.screenshot({ path: screenshot("phone-settings") });
  await settings.getByLabel("Current password").focus();
  await alice.keyboard.press("Escape");
  await expect(settings).toBeHidden();
});

test.describe("an expiring session", () => {
  test.use({ serverArgs: ["--session-max", "8s"] });

  test("returns the page to sign-in with a sentence when the session expires", async ({ signUp }) => {
    const alice = await signUp("alice");
    await expect(composer(alice)).toBeVisible();
    // The server ends the session 8 s after sign-in and closes its socket
    // within a heartbeat (2 s here): the page says why it is signed out.
    await expect(alice.getByText("Your session has ended. Sign in again to continue.")).toBeVisible({ timeout: 30_000 });
    await expect(composer(alice)).toHaveCount(0);
    await signInForm(alice, "alice", password);
    await expect(composer(alice)).toBeVisible();
  });
});
