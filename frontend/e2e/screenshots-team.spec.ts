// Screenshots of the people-and-rooms views — the profile card, a room's
// member list, the admin screen and the room directory — on desktop and
// phone, light and dark, under docs/screenshots/ with MINICHAT_SCREENSHOTS=1
// (make screenshots), else under test-results/. Each view is also checked
// for what a person sees in it.

import { mkdirSync } from "node:fs";
import type { Page } from "@playwright/test";
import { apiCreateRoom, apiRegister, apiRoomId, apiSend, expect, screenshotDir as outDir, test } from "./fixtures";

const phone = { width: 390, height: 844 };
const desktop = { width: 1280, height: 800 };

/** Opens the sidebar's drawer first on a phone. */
async function sidebarButton(page: Page, name: string): Promise<void> {
  const menu = page.getByRole("button", { name: "Show rooms and people" });
  if (await menu.isVisible()) await menu.click();
  await page.getByRole("button", { name, exact: true }).click();
}

test("screenshots of the profile card, member list, admin screen and directory", async ({ server, signIn }) => {
  test.setTimeout(180_000);
  const alice = await apiRegister(server, "alice"); // the first account: the admin
  const bob = await apiRegister(server, "bob");
  await apiRegister(server, "carol");
  await apiRegister(server, "dave");
  const general = await apiRoomId(server, alice, "general");
  for (const name of ["design", "ops", "release-1-4"]) await apiCreateRoom(server, bob, name);
  await apiSend(server, bob, general, "Morning all! Staging is on 1.4.0-rc2 now.");
  await apiSend(server, alice, general, "Thanks Bob. Changelog review at 3?");

  // Bob sets a display name and a status, and stays online.
  const bobPage = await signIn("bob");
  await bobPage.getByRole("button", { name: "Settings" }).click();
  const settings = bobPage.getByRole("dialog", { name: "Settings" });
  await settings.getByLabel("Display name").fill("Bob Okafor");
  await settings.getByLabel("Status text").fill("Shipping 1.4 this week");
  await settings.getByRole("button", { name: "Save profile" }).click();
  await expect(settings.getByLabel("Display name")).toHaveValue("Bob Okafor");
  await settings.getByRole("button", { name: "Close" }).click();

  mkdirSync(outDir, { recursive: true });
  for (const [size, viewport] of [["desktop", desktop], ["phone", phone]] as const) {
    for (const scheme of ["light", "dark"] as const) {
      const page = await signIn("alice", { viewport, colorScheme: scheme });
      const log = page.getByRole("log", { name: "Messages in #general" });
      await expect(log.getByText("Changelog review at 3?")).toBeVisible();
      const shot = async (name: string) => {
        await page.mouse.move(1, 1);
        await page.screenshot({ path: `${outDir}/${size}-${scheme}-${name}.png` });
      };

      // The profile card, from a click on a sender's name.
      await log.getByRole("button", { name: "Bob Okafor (@bob): profile" }).first().click();
      const card = page.getByRole("dialog", { name: "Bob Okafor" });
      await expect(card.getByText("Shipping 1.4 this week")).toBeVisible();
      await expect(card.getByRole("button", { name: "Message" })).toBeVisible();
      await shot("profile");
      await page.keyboard.press("Escape");
      await expect(card).toBeHidden();

      // The member list, from the room header's count.
      await page.getByRole("button", { name: "4 members" }).click();
      const panel = page.getByRole("complementary", { name: "About #general" });
      const members = panel.getByRole("list", { name: "Members of #general" }).getByRole("listitem");
      await expect(members).toHaveCount(4);
      await expect(members.first()).toHaveAccessibleName(/^alice \(you\), Online/);
      await shot("members");
      await page.keyboard.press("Escape");
      await expect(panel).toBeHidden();

      // The admin screen.
      await sidebarButton(page, "Administration");
      const admin = page.getByRole("dialog", { name: "Administration" });
      await expect(admin.getByText("carol")).toBeVisible();
      await shot("admin");
      await page.keyboard.press("Escape");
      await expect(admin).toBeHidden();

      // The room directory.
      await sidebarButton(page, "Browse rooms");
      const directory = page.getByRole("dialog", { name: /rooms/i });
      await expect(directory.getByText("release-1-4")).toBeVisible();
      await shot("directory");
      await page.keyboard.press("Escape");
      await page.context().close();
    }
  }
});
