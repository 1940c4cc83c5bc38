import type { Page } from "@playwright/test";
import { apiCreateRoom, apiRegister, apiRooms, apiSignIn, expect, test } from "./fixtures";

const general = (page: Page) => page.getByRole("log", { name: "Messages in #general" });
const composer = (page: Page, room = "#general") => page.getByRole("textbox", { name: `Message ${room}` });

/** A 16×16 PNG, red on the left, blue on the right. */
const picture = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAGklEQVR4nGO4YGCAFRkEXMCKGEY1jGoYvhoAX7dAEDTQnFMAAAAASUVORK5CYII=",
  "base64",
);

async function say(page: Page, text: string) {
  await composer(page).fill(text);
  await composer(page).press("Enter");
}

test("a profile edited in one browser shows live in another, and its card opens a DM", async ({ signUp }) => {
  const alice = await signUp("alice");
  const bob = await signUp("bob");
  await say(alice, "Morning all");
  await expect(general(bob).getByRole("button", { name: "alice: profile" })).toBeVisible();

  // Alice names herself and picks a picture in the settings.
  await alice.getByRole("button", { name: "Settings" }).click();
  const settings = alice.getByRole("dialog", { name: "Settings" });
  await settings.getByLabel("Display name").fill("  Alice\u202e Liddell ");
  await settings.getByLabel("Status text").fill("In the garden");
  await settings.getByRole("button", { name: "Save profile" }).click();
  await expect(settings.getByText("Your profile is saved.")).toBeVisible();
  // The server stripped the bidi override and the spaces.
  await expect(settings.getByLabel("Display name")).toHaveValue("Alice Liddell");
  await settings.getByLabel("Upload a picture").setInputFiles({ name: "me.png", mimeType: "image/png", buffer: picture });
  await expect(settings.getByText("Your picture is changed.")).toBeVisible();
  await settings.getByRole("button", { name: "Close" }).click();

  // Bob, without reloading, sees her new name on her message, her picture
  // beside it, and her username on hover.
  const name = general(bob).getByRole("button", { name: "Alice Liddell (@alice): profile" });
  await expect(name).toBeVisible();
  await expect(name).toHaveAttribute("title", "@alice");
  const img = general(bob).locator(".gutter img").first();
  await expect(img).toHaveAttribute("src", /^\/api\/avatars\/a_[a-z0-9]+\?size=64$/);
  await expect.poll(() => img.evaluate((el: HTMLImageElement) => el.complete && el.naturalWidth)).toBe(64);
  // Her own sidebar follows too.
  await expect(alice.locator(".me-name")).toHaveText("Alice Liddell");

  // Removing the picture brings the initials back, live.
  await alice.getByRole("button", { name: "Settings" }).click();
  await alice.getByRole("dialog", { name: "Settings" }).getByRole("button", { name: "Remove picture" }).click();
  await expect(alice.getByRole("dialog", { name: "Settings" }).getByText("Your picture is removed.")).toBeVisible();
  await alice.getByRole("dialog", { name: "Settings" }).getByRole("button", { name: "Close" }).click();
  await expect(general(bob).locator(".gutter img")).toHaveCount(0);
  await expect(general(bob).locator(".gutter .avatar").first()).toHaveText("AL");

  // The card: name, username, role, status; Message opens the DM.
  await name.click();
  const card = bob.getByRole("dialog", { name: "Alice Liddell" });
  await expect(card.getByText("@alice")).toBeVisible();
  await expect(card.getByText("Admin")).toBeVisible();
  await expect(card.getByText("In the garden")).toBeVisible();
  await card.getByRole("button", { name: "Message" }).click();
  await expect(card).toBeHidden();
  await expect(composer(bob, "alice")).toBeFocused();
});

test("the people picker invites to a room and starts a DM by keyboard alone", async ({ server, signIn }) => {
  const admin = await apiRegister(server, "alice");
  await apiRegister(server, "bob");
  await apiRegister(server, "bobby");
  await apiRegister(server, "carol");
  await apiCreateRoom(server, admin, "secret", true);
  const alice = await signIn("alice");
  await alice.goto("/#/secret");
  await alice.reload();
  await expect(composer(alice, "#secret")).toBeVisible();

  // Invite: type, arrows, Enter picks; Enter with nothing open submits.
  await alice.getByRole("button", { name: "Invite people", exact: true }).focus();
  await alice.keyboard.press("Enter");
  const dialog = alice.getByRole("dialog", { name: "Invite people to #secret" });
  const input = dialog.getByRole("combobox", { name: "People" });
  await expect(input).toBeFocused();
  await alice.keyboard.type("bo");
  const list = dialog.getByRole("listbox");
  await expect(list.locator(".pp-option-name")).toHaveText(["bob", "bobby"]);
  await expect(list.getByRole("option", { name: "bob", exact: true })).toHaveAttribute("aria-selected", "true");
  await alice.keyboard.press("ArrowDown");
  await expect(list.getByRole("option", { name: "bobby" })).toHaveAttribute("aria-selected", "true");
  await alice.keyboard.press("Enter");
  await expect(dialog.getByRole("button", { name: "Remove bobby" })).toBeVisible();
  await expect(input).toHaveValue("");
  // bobby is picked, so only bob is offered now.
  await alice.keyboard.type("BO");
  await expect(list.locator(".pp-option-name")).toHaveText(["bob"]);
  await alice.keyboard.press("Enter");
  await expect(dialog.getByRole("button", { name: "Remove bob", exact: true })).toBeVisible();
  // Escape closes the suggestions, not the dialog; Backspace drops the last chip.
  await alice.keyboard.type("ca");
  await expect(list.locator(".pp-option-name")).toHaveText(["carol"]);
  await alice.keyboard.press("Escape");
  await expect(list).toBeHidden();
  await expect(dialog).toBeVisible();
  await alice.keyboard.press("Control+A");
  await alice.keyboard.press("Backspace");
  await alice.keyboard.press("Backspace");
  await expect(dialog.getByRole("button", { name: "Remove bob", exact: true })).toHaveCount(0);
  await alice.keyboard.type("bob");
  await expect(list.locator(".pp-option-name")).toHaveText(["bob"]);
  await alice.keyboard.press("Enter");
  await alice.keyboard.press("Enter");
  await expect(dialog).toBeHidden();
  await expect(alice.getByText("Invited bobby, bob to #secret.")).toBeVisible();
  for (const who of ["bob", "bobby"]) {
    const u = await apiSignIn(server, who);
    expect((await apiRooms(server, u)).some((r) => r.name === "secret" && r.member), `${who} is in #secret`).toBe(true);
  }

  // A DM: the same picker, one person.
  await alice.getByRole("button", { name: "Start a direct message" }).focus();
  await alice.keyboard.press("Enter");
  const dm = alice.getByRole("dialog", { name: "Start a direct message" });
  await expect(dm.getByRole("combobox", { name: "People" })).toBeFocused();
  await alice.keyboard.type("car");
  await expect(dm.locator(".pp-option-name")).toHaveText(["carol"]);
  await alice.keyboard.press("Enter");
  await expect(dm.getByRole("button", { name: "Remove carol" })).toBeVisible();
  await alice.keyboard.press("Enter");
  await expect(dm).toBeHidden();
  await expect(composer(alice, "carol")).toBeFocused();
});
