// Seeds a small team's workspace and saves screenshots of the main view,
// light and dark, desktop and phone, under docs/screenshots/ with
// MINICHAT_SCREENSHOTS=1 (make screenshots), else under test-results/.

import { mkdirSync } from "node:fs";
import type { Page } from "@playwright/test";
import { apiCreateRoom, apiDM, apiJoin, apiRegister, apiRoomId, apiSend, expect, screenshotDir as outDir, test } from "./fixtures";

test("screenshot of the sign-in form", async ({ server, browser }) => {
  const context = await browser.newContext({ baseURL: server.url, colorScheme: "light", viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto("/");
  await page.getByLabel("Username").fill("alice");
  await page.getByLabel("Password").fill("short");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("alert")).toHaveText("Passwords have at least 8 characters.");
  mkdirSync(outDir, { recursive: true });
  await page.screenshot({ path: `${outDir}/signin-light.png` });
  await context.close();
});

test("screenshots of the main view", async ({ server, signIn }) => {
  const alice = await apiRegister(server, "alice");
  const bob = await apiRegister(server, "bob");
  const carol = await apiRegister(server, "carol");
  const dave = await apiRegister(server, "dave");
  await apiRegister(server, "erin.k");

  const general = await apiRoomId(server, alice, "general");
  const design = await apiCreateRoom(server, carol, "design");
  await apiJoin(server, alice, design);
  await apiCreateRoom(server, alice, "release-1.4", true);
  await apiCreateRoom(server, dave, "ops");

  const chat: Array<[typeof bob, string]> = [
    [bob, "Morning all! Staging is on 1.4.0-rc2 now."],
    [bob, "Release notes draft is here: https://example.com/notes/1.4 (comments welcome)"],
    [carol, "Nice. I’ll run through sign-up and the new sidebar on my phone before lunch."],
    [dave, "Heads-up: the nightly backup moved to 02:00 UTC, so expect a short pause in the metrics around then."],
    [alice, "Thanks Dave. Can we do a quick changelog review at 3?"],
    [bob, "Works for me."],
    [carol, "Same. I’ll bring before/after screenshots of the dark theme."],
    [alice, "Perfect. Agenda:\n1. changelog\n2. reconnect banner copy\n3. anything blocking rc3"],
  ];
  for (const [u, text] of chat) await apiSend(server, u, general, text);
  await apiSend(server, carol, design, "Pushed new avatar colours, have a look when you can.");
  await apiSend(server, carol, design, "Dark mode contrast is much better now.");
  const dm = await apiDM(server, bob, "alice");
  await apiSend(server, bob, dm, "Got a minute to look at the migration PR after the review?");

  // Others online: bob away with a status, carol active and typing.
  const bobPage = await signIn("bob");
  await bobPage.getByRole("button", { name: /^Set your status/ }).click();
  const dialog = bobPage.getByRole("dialog", { name: "Set your status" });
  await dialog.getByRole("radio", { name: "Away" }).check();
  await dialog.getByLabel("Status message").fill("In a meeting until 3");
  await dialog.getByRole("button", { name: "Save" }).click();
  const carolPage = await signIn("carol");

  const page = await signIn("alice");
  await page.getByRole("region", { name: "Rooms" }).getByRole("button", { name: /^general/ }).click();
  const log = page.getByRole("log", { name: "Messages in #general" });
  await expect(log.getByText("anything blocking rc3", { exact: false })).toBeVisible();
  await expect(page.getByRole("list", { name: "People" }).getByRole("button", { name: /^bob, away/ })).toBeVisible();

  mkdirSync(outDir, { recursive: true });
  const shoot = async (p: Page, name: string) => {
    // Carol types, so the indicator shows in the picture.
    const box = carolPage.getByRole("textbox", { name: "Message #general" });
    await box.fill("");
    await box.pressSequentially("Looks great", { delay: 20 });
    await expect(p.getByText("carol is typing…")).toBeVisible();
    await p.mouse.move(5, 5); // no hover highlight in the picture
    await p.screenshot({ path: `${outDir}/${name}.png` });
  };

  await page.emulateMedia({ colorScheme: "light" });
  await shoot(page, "desktop-light");
  await page.emulateMedia({ colorScheme: "dark" });
  await shoot(page, "desktop-dark");

  await page.setViewportSize({ width: 390, height: 844 });
  await page.emulateMedia({ colorScheme: "light" });
  await shoot(page, "phone-light");
  await page.emulateMedia({ colorScheme: "dark" });
  await shoot(page, "phone-dark");

  // The phone's drawer, opened from the keyboard-reachable menu button.
  await page.getByRole("button", { name: "Show rooms and people" }).click();
  const nav = page.getByRole("navigation", { name: "Rooms and people" });
  await expect(nav).toBeVisible();
  await expect(nav.getByRole("button", { name: /^general/ })).toBeFocused();
  await page.screenshot({ path: `${outDir}/phone-dark-sidebar.png` });
  await page.keyboard.press("Escape");
  await expect(nav).toBeHidden();
  await expect(page.getByRole("button", { name: "Show rooms and people" })).toBeFocused();
  // Choosing a room from the drawer opens it and closes the drawer.
  await page.getByRole("button", { name: "Show rooms and people" }).click();
  await nav.getByRole("button", { name: /^design/ }).click();
  await expect(nav).toBeHidden();
  await expect(page.getByRole("log", { name: "Messages in #design" }).getByText("Dark mode contrast is much better now.")).toBeVisible();
});
