import type { Locator, Page } from "@playwright/test";
import { apiCreateRoom, apiJoin, apiRegister, apiSignIn, expect, screenshot, test } from "./fixtures";

// Each test drives two or three browsers, and the first waits out a presence
// grace: more room than the default on a shared two-core machine.
test.describe.configure({ timeout: 150_000 });

const log = (page: Page, room = "#general") =>
  page.getByRole("log", { name: room.startsWith("#") ? `Messages in ${room}` : `Conversation with ${room}` });
/** The open room's header: its name, kind, members and topic. */
const head = (page: Page) => page.locator("header.room-head");
const composer = (page: Page, room = "#general") => page.getByRole("textbox", { name: `Message ${room}` });

async function say(page: Page, text: string, room = "#general") {
  await composer(page, room).fill(text);
  await composer(page, room).press("Enter");
}

test("the member list shows who is online, online first", async ({ server, signUp }) => {
  const alice = await signUp("alice");
  const bob = await signUp("bob");
  // carol has an account but no browser open: offline.
  await apiRegister(server, "carol");

  await alice.getByRole("button", { name: "3 members" }).click();
  const panel = alice.getByRole("complementary", { name: "About #general" });
  await expect(panel).toBeVisible();
  const members = panel.getByRole("list", { name: "Members of #general" }).getByRole("listitem");
  await expect(members).toHaveCount(3);
  // Online people first, each with a status in words, not only a dot.
  await expect(members.nth(0)).toHaveAccessibleName("alice (you), Online");
  await expect(members.nth(1)).toHaveAccessibleName("bob, Online");
  await expect(members.nth(2)).toHaveAccessibleName("carol, Offline");
  await expect(members.nth(1).getByText("Online")).toBeVisible();
  await expect(members.nth(2).getByText("Offline")).toBeVisible();

  // Bob closing his browser shows him offline, live.
  await bob.context().close();
  await expect(panel.getByRole("listitem", { name: "bob, Offline" })).toBeVisible({ timeout: 20_000 });
  await expect(members.nth(0)).toHaveAccessibleName("alice (you), Online");

  // Invite people opens the invite dialog; Escape and the close button close things.
  await panel.getByRole("button", { name: "Invite people" }).click();
  await expect(alice.getByRole("dialog", { name: "Invite people to #general" })).toBeVisible();
  await alice.keyboard.press("Escape");
  await expect(alice.getByRole("dialog", { name: "Invite people to #general" })).toHaveCount(0);
  await panel.getByRole("button", { name: "Close room details" }).click();
  await expect(panel).toHaveCount(0);
});

test("a topic change is seen live by another browser and stays in the log", async ({ signUp }) => {
  const alice = await signUp("alice");
  const bob = await signUp("bob");

  await alice.getByRole("button", { name: "2 members" }).click();
  const panel = alice.getByRole("complementary", { name: "About #general" });
  await panel.getByRole("button", { name: "Set a topic" }).click();
  await panel.getByRole("textbox", { name: "Topic" }).fill("Ship the beta by Friday");
  await panel.getByRole("button", { name: "Save topic" }).click();

  // Bob's header shows the topic, and the room's log says who set it.
  await expect(head(bob).getByText("Ship the beta by Friday")).toBeVisible();
  await expect(log(bob).getByText("alice set the topic: Ship the beta by Friday")).toBeVisible();
  await expect(head(alice).getByText("Ship the beta by Friday")).toBeVisible();
  await expect(panel.getByText("Ship the beta by Friday", { exact: true })).toBeVisible();
  await alice.screenshot({ path: screenshot("room-panel") });

  // After a reload the topic and its note are still there.
  await bob.reload();
  await expect(head(bob).getByText("Ship the beta by Friday")).toBeVisible();
  await expect(log(bob).getByText("alice set the topic: Ship the beta by Friday")).toBeVisible();
});

/** Picks a person in the new-conversation dialog's people picker. */
async function pick(dialog: Locator, name: string): Promise<void> {
  await dialog.getByRole("combobox", { name: "People" }).fill(name);
  await dialog.getByRole("option", { name, exact: true }).click();
  await expect(dialog.getByRole("button", { name: `Remove ${name}` })).toBeVisible();
}

test("a group conversation of three: everyone sees it and can post", async ({ signUp }) => {
  const alice = await signUp("alice");
  const bob = await signUp("bob");
  const carol = await signUp("carol");

  await alice.getByRole("button", { name: "Start a direct message" }).click();
  const dialog = alice.getByRole("dialog", { name: "Start a direct message" });
  await pick(dialog, "bob");
  await pick(dialog, "carol");
  await dialog.getByRole("button", { name: "Start conversation" }).click();
  await say(alice, "hello both of you", "bob, carol");
  await expect(log(alice, "bob, carol").getByText("hello both of you")).toBeVisible();
  await expect(head(alice).getByRole("button", { name: "3 members" })).toBeVisible();

  // The others see the conversation, named after the other two, and post.
  for (const [page, name, others] of [
    [bob, "bob", "alice, carol"],
    [carol, "carol", "alice, bob"],
  ] as const) {
    await page.getByRole("region", { name: "Direct messages" }).getByRole("button", { name: new RegExp(`^${others}`) }).click();
    await expect(log(page, others).getByText("hello both of you")).toBeVisible();
    await say(page, `${name} is here`, others);
  }
  for (const [page, others] of [
    [alice, "bob, carol"],
    [bob, "alice, carol"],
    [carol, "alice, bob"],
  ] as const) {
    await expect(log(page, others).getByText("bob is here")).toBeVisible();
    await expect(log(page, others).getByText("carol is here")).toBeVisible();
  }

  // Starting it again opens the same conversation.
  await alice.getByRole("button", { name: "Start a direct message" }).click();
  await pick(dialog, "carol");
  await pick(dialog, "bob");
  await dialog.getByRole("button", { name: "Start conversation" }).click();
  await expect(log(alice, "bob, carol").getByText("carol is here")).toBeVisible();
  await expect(alice.getByRole("region", { name: "Direct messages" }).getByRole("button", { name: /^bob, carol/ })).toHaveCount(1);
});

test("the creator renames and archives a room; the other member sees both live", async ({ server, signUp }) => {
  const alice = await signUp("alice");
  const bob = await signUp("bob");
  const id = await apiCreateRoom(server, await apiSignIn(server, "alice"), "plans");
  await apiJoin(server, await apiSignIn(server, "bob"), id);
  const rooms = (page: Page) => page.getByRole("navigation", { name: "Rooms and people" });

  await rooms(alice).getByRole("button", { name: /^plans/ }).click();
  await rooms(bob).getByRole("button", { name: /^plans/ }).click();
  await alice.getByRole("button", { name: "2 members" }).click();
  const panel = alice.getByRole("complementary", { name: "About #plans" });
  await panel.getByRole("button", { name: "Rename room" }).click();
  await panel.getByRole("textbox", { name: "Room name" }).fill("roadmap");
  await panel.getByRole("button", { name: "Rename", exact: true }).click();

  // Bob's sidebar and header follow, and the log says who renamed it.
  await expect(rooms(bob).getByRole("button", { name: /^roadmap/ })).toBeVisible();
  await expect(head(bob).getByRole("heading", { name: "roadmap" })).toBeVisible();
  await expect(log(bob, "#roadmap").getByText("alice renamed the room from plans to roadmap")).toBeVisible();

  // Archived: read-only for bob, marked in his sidebar; he may not unarchive it.
  await alice.getByRole("complementary", { name: "About #roadmap" }).getByRole("button", { name: "Archive room" }).click();
  await expect(rooms(bob).getByRole("button", { name: /^roadmap, archived/ })).toBeVisible();
  await expect(bob.getByText("This room is archived: it is read-only.")).toBeVisible();
  await expect(composer(bob, "#roadmap")).toHaveCount(0);
  await expect(bob.getByRole("button", { name: "Unarchive" })).toHaveCount(0);

  // Alice brings it back from the panel; bob can post again.
  await alice.getByRole("complementary", { name: "About #roadmap" }).getByRole("button", { name: "Unarchive room" }).click();
  await say(bob, "back in business", "#roadmap");
  await expect(log(alice, "#roadmap").getByText("back in business")).toBeVisible();
});
