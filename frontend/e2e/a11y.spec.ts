// Accessibility: axe-core finds no violations on the sign-in page, the chat
// view with messages (light and dark), the settings and a dialog.

import AxeBuilder from "@axe-core/playwright";
import type { Page } from "@playwright/test";
import { apiRegister, apiRoomId, apiSend, expect, test } from "./fixtures";

/** The violations axe finds on the page, one line each, for a readable failure. */
async function violations(page: Page): Promise<string[]> {
  const { violations } = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]).analyze();
  return violations.flatMap((v) => v.nodes.map((n) => `${v.id} (${v.impact}): ${n.target.join(" ")} — ${n.failureSummary?.replace(/\s+/g, " ")}`));
}

for (const scheme of ["light", "dark"] as const) {
  test(`the sign-in page has no axe violations (${scheme})`, async ({ visit }) => {
    const page = await visit("/");
    await page.emulateMedia({ colorScheme: scheme });
    await expect(page.getByLabel("Username")).toBeVisible();
    expect(await violations(page)).toEqual([]);
  });

  test(`the chat view with messages has no axe violations (${scheme})`, async ({ server, signUp }) => {
    test.slow(); // three pages of axe on a busy machine
    const carol = await apiRegister(server, "carol");
    const alice = await signUp("alice", { colorScheme: scheme });
    const room = await apiRoomId(server, carol, "general");
    await apiSend(server, carol, room, "Hello **there**, @alice — see `make test` and https://example.com");
    await apiSend(server, carol, room, "> a quote\nand a second line");
    const log = alice.getByRole("log", { name: "Messages in #general" });
    await expect(log.getByText("a second line")).toBeVisible();
    await alice.getByRole("textbox", { name: "Message #general" }).fill("my reply");
    await alice.keyboard.press("Enter");
    await expect(log.getByText("my reply")).toBeVisible();
    expect(await violations(alice)).toEqual([]);

    await alice.getByRole("button", { name: "Settings" }).click();
    await expect(alice.getByRole("dialog", { name: "Settings" })).toBeVisible();
    expect(await violations(alice)).toEqual([]);
    await alice.keyboard.press("Escape");
    await expect(alice.getByRole("dialog")).toHaveCount(0);

    await alice.getByRole("button", { name: "Create room" }).click();
    await expect(alice.getByRole("dialog", { name: "Create a room" })).toBeVisible();
    expect(await violations(alice)).toEqual([]);
  });
}
