// Rich chat in a real browser against the real binary: files, edit, delete,
// reactions, replies, mentions with notifications, unread counts and search.

import type { Locator, Page } from "@playwright/test";
import { apiRegister, apiRoomId, apiSend, apiSendRich, apiUpload, expect, screenshot, test } from "./fixtures";

const general = (page: Page) => page.getByRole("log", { name: "Messages in #general" });
const composer = (page: Page, room = "#general") => page.getByRole("textbox", { name: `Message ${room}` });
/** The message (article) whose own text (not a quote of it) holds text. */
const message = (log: Locator, text: string) => log.locator("article.msg").filter({ has: log.page().locator(".text", { hasText: text }) });

async function say(page: Page, text: string, room = "#general") {
  await composer(page, room).fill(text);
  await composer(page, room).press("Enter");
}

/** A PNG drawn by the browser: a small bar chart, w×h, in one colour. */
async function png(page: Page, w: number, h: number, color: string): Promise<Buffer> {
  const b64 = await page.evaluate(
    ([w, h, color]) => {
      const c = document.createElement("canvas");
      c.width = w;
      c.height = h;
      const g = c.getContext("2d")!;
      g.fillStyle = "#f7f7f9";
      g.fillRect(0, 0, w, h);
      g.fillStyle = color;
      [0.35, 0.6, 0.45, 0.8, 0.7].forEach((v, i) => g.fillRect((w / 6) * (i + 0.5), h * (0.9 - v * 0.8), w / 9, h * v * 0.8));
      return c.toDataURL("image/png").split(",")[1]!;
    },
    [w, h, color] as const,
  );
  return Buffer.from(b64, "base64");
}

const pdf = Buffer.from(
  "%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n" +
    "trailer<</Root 1 0 R>>\n%%EOF\n",
);

test.describe("files", () => {
  test.use({ serverArgs: ["--max-upload-bytes", "300000"] });

  test("an image by button, a PDF by drop and an image by paste: previews and downloads for the other person", async ({ signUp }) => {
    const alice = await signUp("alice");
    const bob = await signUp("bob");

    // The attach button opens the file chooser.
    const chooser = alice.waitForEvent("filechooser");
    await alice.getByRole("button", { name: "Attach files" }).click();
    await (await chooser).setFiles({ name: "chart.png", mimeType: "image/png", buffer: await png(alice, 320, 200, "#4f46e5") });
    const files = alice.getByRole("list", { name: "Files to send" });
    await expect(files.getByRole("listitem").filter({ hasText: "chart.png" })).toContainText("Ready");

    // A PDF dropped anywhere on the room joins it.
    const drop = await alice.evaluateHandle((bytes) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(bytes)], "report.pdf", { type: "application/pdf" }));
      return dt;
    }, [...pdf]);
    await alice.dispatchEvent("section.room", "dragover", { dataTransfer: drop });
    await expect(alice.getByText("Drop files to share them in #general")).toBeVisible();
    await alice.dispatchEvent("section.room", "drop", { dataTransfer: drop });
    await expect(files.getByRole("listitem").filter({ hasText: "report.pdf" })).toContainText("Ready");

    // Too large for this server (300 kB): a clear error, and the others still go.
    const big = alice.waitForEvent("filechooser");
    await alice.getByRole("button", { name: "Attach files" }).click();
    await (await big).setFiles({ name: "huge.bin", mimeType: "application/octet-stream", buffer: Buffer.alloc(400_000, 1) });
    await expect(files.getByRole("alert")).toHaveText(/“huge.bin” is too large to upload \(files may be at most 293 KB\)/);
    await alice.getByRole("button", { name: "Remove huge.bin" }).click();

    await say(alice, "Numbers for Q3, and the report");
    await expect(files).toHaveCount(0);

    // Bob sees the picture inline and the PDF as a card he can download.
    const sent = message(general(bob), "Numbers for Q3");
    const img = sent.getByRole("img", { name: "chart.png" });
    await expect(img).toBeVisible();
    await expect.poll(() => img.evaluate((el: HTMLImageElement) => el.naturalWidth)).toBe(320);
    await expect(sent.getByRole("link", { name: "Open chart.png full size" })).toHaveAttribute("target", "_blank");
    await expect(sent.getByText("report.pdf")).toBeVisible();
    const download = bob.waitForEvent("download");
    await sent.getByRole("link", { name: "Download report.pdf" }).click();
    const d = await download;
    expect(d.suggestedFilename()).toBe("report.pdf");
    const stream = await d.createReadStream();
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).equals(pdf)).toBe(true);

    // A pasted image is sent without text.
    const pasted = await png(bob, 64, 64, "#0e8f6e");
    await composer(bob).focus();
    await bob.evaluate((bytes) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(bytes)], "pasted.png", { type: "image/png" }));
      document.getElementById("composer-input")!.dispatchEvent(new ClipboardEvent("paste", { clipboardData: dt, bubbles: true, cancelable: true }));
    }, [...pasted]);
    await expect(bob.getByRole("list", { name: "Files to send" })).toContainText("Ready");
    await composer(bob).press("Enter");
    const pastedImg = general(alice).getByRole("img", { name: "pasted.png" });
    await expect(pastedImg).toBeVisible();
    await expect.poll(() => pastedImg.evaluate((el: HTMLImageElement) => el.naturalWidth)).toBe(64);
  });
});

test("edit, delete, react and reply show live for the other person and after a reload", async ({ server, signUp }) => {
  const alice = await signUp("alice");
  const bob = await signUp("bob");
  await say(alice, "Lunch at noon?");
  await say(alice, "Meet at the lobby");
  await expect(message(general(bob), "Meet at the lobby")).toBeVisible();

  // Bob reacts from the message's action bar and the picker.
  const lunchB = message(general(bob), "Lunch at noon?");
  await lunchB.hover();
  await lunchB.getByRole("button", { name: "Add reaction" }).click();
  await bob.getByRole("menuitem", { name: "👍 thumbs up" }).click();
  const lunchA = message(general(alice), "Lunch at noon?");
  const chipA = lunchA.getByRole("button", { name: /^👍 1: bob/ });
  await expect(chipA).toBeVisible();
  await expect(chipA).toHaveAttribute("title", "bob");
  // Alice adds hers by clicking the chip; Bob takes his back by clicking his.
  await chipA.click();
  await expect(lunchB.getByRole("button", { name: "👍 2: bob, alice" })).toHaveAttribute("aria-pressed", "true");
  await lunchB.getByRole("button", { name: "👍 2: bob, alice" }).click();
  await expect(lunchA.getByRole("button", { name: "👍 1: alice" })).toHaveAttribute("aria-pressed", "true");
  // The keyboard reaches the picker too: arrows move, Enter picks.
  await lunchB.hover();
  await lunchB.getByRole("button", { name: "Add reaction" }).focus();
  await bob.keyboard.press("Enter");
  await expect(bob.getByRole("menuitem", { name: "👍 thumbs up" })).toBeFocused();
  await bob.keyboard.press("ArrowRight");
  await bob.keyboard.press("ArrowRight");
  await bob.keyboard.press("ArrowRight");
  await bob.keyboard.press("Enter");
  await expect(lunchA.getByRole("button", { name: "🎉 1: bob" })).toBeVisible();
  await expect(lunchB.getByRole("button", { name: "Add reaction" })).toBeFocused();

  // Up in the empty composer edits Alice's last message; Escape cancels, Enter saves.
  await composer(alice).click();
  await composer(alice).press("ArrowUp");
  const edit = alice.getByRole("textbox", { name: "Edit message" });
  await expect(edit).toHaveValue("Meet at the lobby");
  await edit.press("Escape");
  await expect(edit).toHaveCount(0);
  await expect(composer(alice)).toBeFocused();
  await composer(alice).press("ArrowUp");
  await edit.fill("Meet at the **front** desk");
  await edit.press("Enter");
  const editedB = message(general(bob), "Meet at the front desk");
  await expect(editedB).toContainText("(edited)");
  await expect(editedB.locator("strong")).toHaveText("front");

  // Bob answers with a reply; Alice sees the quote.
  await editedB.hover();
  await editedB.getByRole("button", { name: "Reply" }).click();
  await expect(bob.getByText("Replying to alice")).toBeVisible();
  await expect(composer(bob)).toBeFocused();
  await composer(bob).fill("On my way");
  await composer(bob).press("Enter");
  await expect(bob.getByText("Replying to alice")).toHaveCount(0);
  const replyA = message(general(alice), "On my way");
  await expect(replyA.getByRole("button", { name: "In reply to alice: Meet at the front desk. Show that message" })).toBeVisible();

  // Alice deletes her first message: a tombstone for both.
  await lunchA.hover();
  await lunchA.getByRole("button", { name: "Delete message" }).click();
  await alice.getByRole("group", { name: "Delete this message?" }).getByRole("button", { name: "Delete" }).click();
  await expect(general(bob).getByText("Message deleted")).toBeVisible();
  await expect(general(bob).getByText("Lunch at noon?")).toHaveCount(0);
  await expect(general(alice).getByText("Message deleted")).toBeVisible();
  // Bob may not edit or delete Alice's messages.
  await editedB.hover();
  await expect(editedB.getByRole("button", { name: "Edit message" })).toHaveCount(0);
  await expect(editedB.getByRole("button", { name: "Delete message" })).toHaveCount(0);

  // After a reload everything is as it was.
  await bob.reload();
  const log = general(bob);
  await expect(message(log, "Meet at the front desk")).toContainText("(edited)");
  await expect(log.getByText("Message deleted")).toBeVisible();
  await expect(log.getByText("Lunch at noon?")).toHaveCount(0);
  await expect(log.getByRole("button", { name: /^In reply to alice/ })).toBeVisible();

  // A picture with a reaction, and the reply, for the docs.
  const carol = await apiRegister(server, "carol");
  const room = await apiRoomId(server, carol, "general");
  const photo = await apiUpload(server, carol, "whiteboard.png", "image/png", new Uint8Array(await png(bob, 360, 220, "#0369a1")));
  await apiSendRich(server, carol, room, { text: "Whiteboard from this morning — `v2` is the one we picked", attachments: [photo] });
  const board = message(log, "Whiteboard from this morning");
  await expect(board.getByRole("img", { name: "whiteboard.png" })).toBeVisible();
  await board.hover();
  await board.getByRole("button", { name: "Add reaction" }).click();
  await bob.getByRole("menuitem", { name: "🎉 party" }).click();
  await expect(board.getByRole("button", { name: "🎉 1: bob" })).toBeVisible();
  await expect.poll(() => board.getByRole("img").evaluate((el: HTMLImageElement) => el.naturalWidth)).toBe(360);
  await composer(bob).focus();
  await bob.mouse.move(5, 5);
  await bob.screenshot({ path: screenshot("desktop-rich") });

  // The quote jumps to the original and highlights it.
  await log.evaluate((el) => el.scrollTo({ top: el.scrollHeight }));
  await log.getByRole("button", { name: /^In reply to alice/ }).click();
  const original = message(log, "Meet at the front desk");
  await expect(original).toBeFocused();
  await expect(original).toHaveClass(/\blit\b/);
});

test("mentions: autocomplete, highlight, badge, title count and a notification while hidden", async ({ server, signUp }) => {
  const alice = await signUp("alice");
  const bob = await signUp("bob");
  // Bob's tab can be "hidden" on demand, and notifications are recorded as they are shown.
  await bob.addInitScript(() => {
    const w = window as unknown as { __hidden: boolean; __shown: Array<{ title: string; body: string }> };
    w.__hidden = false;
    w.__shown = [];
    Object.defineProperty(Document.prototype, "visibilityState", { get: () => (w.__hidden ? "hidden" : "visible") });
    const Real = window.Notification;
    window.Notification = class extends Real {
      constructor(title: string, opts?: NotificationOptions) {
        super(title, opts);
        w.__shown.push({ title, body: opts?.body ?? "" });
      }
    } as typeof Notification;
  });
  await bob.reload();
  // Permission is asked only from a button; the browser grants it here.
  const enable = bob.getByRole("button", { name: "Enable notifications" });
  await expect(enable).toBeVisible();
  await bob.context().grantPermissions(["notifications"], { origin: server.url });
  await enable.click();
  await expect(enable).toHaveCount(0);

  // Bob reads another room; Alice mentions him in #general, picked from the list.
  await bob.getByRole("button", { name: "Create room" }).click();
  await bob.getByRole("dialog", { name: "Create a room" }).getByLabel("Room name").fill("random");
  await bob.getByRole("dialog", { name: "Create a room" }).getByRole("button", { name: "Create room" }).click();
  await expect(composer(bob, "#random")).toBeVisible();
  await bob.evaluate(() => {
    (window as unknown as { __hidden: boolean }).__hidden = true;
    document.dispatchEvent(new Event("visibilitychange"));
  });

  await composer(alice).click();
  await composer(alice).pressSequentially("@b");
  const options = alice.getByRole("listbox", { name: "People" });
  await expect(options.getByRole("option", { name: "@bob" })).toHaveAttribute("aria-selected", "true");
  await composer(alice).press("Enter");
  await expect(composer(alice)).toHaveValue("@bob ");
  await composer(alice).pressSequentially("can you check the build?");
  await composer(alice).press("Enter");
  await say(alice, "no mention here");

  const generalB = bob.getByRole("region", { name: "Rooms" }).getByRole("button", { name: /^general/ });
  // #general notifies of mentions (a room's default): its mention counts, other news only shows.
  await expect(generalB).toHaveAccessibleName("general, new messages, 1 mention");
  await expect(bob).toHaveTitle(/^\(1\) #random · minichat$/);
  await expect.poll(() => bob.evaluate(() => (window as unknown as { __shown: unknown[] }).__shown)).toEqual([
    { title: "alice in #general", body: "@bob can you check the build?" },
  ]);

  // Counts survive a reload (the mention is found in the unread page).
  await bob.reload();
  await expect(generalB).toHaveAccessibleName("general, new messages, 1 mention");

  // Opening the room shows the "New messages" line, highlights the mention and clears the counts.
  await bob.evaluate(() => {
    (window as unknown as { __hidden: boolean }).__hidden = false;
  });
  await generalB.click();
  const log = general(bob);
  await expect(log.getByRole("separator", { name: "New messages" })).toBeVisible();
  await expect(message(log, "can you check the build?")).toHaveClass(/mentions-me/);
  await expect(message(log, "can you check the build?").locator(".mention.self")).toHaveText("@bob");
  await expect(message(log, "no mention here")).not.toHaveClass(/mentions-me/);
  await expect(generalB).toHaveAccessibleName("general");
  await expect(bob).toHaveTitle(/^#general · minichat$/);

  // Notifications off ("Nothing"): no notification, the room says so, and nothing counts.
  await bob.getByRole("button", { name: "Notifications for #general: Mentions only" }).click();
  await bob.getByRole("menuitemradio", { name: /^Nothing/ }).click();
  await expect(bob.getByRole("button", { name: "Notifications for #general: Nothing" })).toBeVisible();
  await bob.getByRole("region", { name: "Rooms" }).getByRole("button", { name: /^random/ }).click();
  await bob.evaluate(() => {
    (window as unknown as { __hidden: boolean }).__hidden = true;
  });
  await say(alice, "@bob still there?");
  await say(alice, "ok");
  await expect(generalB).toHaveAccessibleName("general, muted");
  await expect(bob).toHaveTitle(/^#random · minichat$/);
  // (The reload above started a fresh record: the first notification was before it.)
  const shown = await bob.evaluate(() => (window as unknown as { __shown: unknown[] }).__shown);
  expect(shown).toEqual([]);
  // The level is kept (on the server).
  await bob.reload();
  await expect(generalB).toHaveAccessibleName("general, muted");
});

test("search, and a reply's quote, find a message far back and open it in context", async ({ server, signUp }) => {
  const carol = await apiRegister(server, "carol");
  const room = await apiRoomId(server, carol, "general");
  let target = "";
  for (let i = 1; i <= 260; i++) {
    if (i === 7) target = await apiSendRich(server, carol, room, { text: "the deploy key is in the vault, not the wiki" });
    else await apiSend(server, carol, room, `filler ${i}`);
  }
  await apiSendRich(server, carol, room, { text: "as I said way back", reply_to: target });
  const alice = await signUp("alice");
  const log = general(alice);
  await expect(log.getByText("filler 260", { exact: true })).toBeVisible();
  await expect(log.getByText(/deploy key/)).toHaveCount(0);

  await composer(alice).press("Control+k");
  const dialog = alice.getByRole("dialog", { name: "Search messages" });
  await dialog.getByLabel("Words to find").fill("vault");
  const result = dialog.getByRole("list", { name: "Search results" }).getByRole("button");
  await expect(result).toHaveCount(1);
  await expect(result).toContainText("carol in #general");
  await expect(result.locator("mark")).toHaveText("vault");
  await dialog.getByLabel("Words to find").fill("nothing-like-this");
  await expect(dialog.getByRole("status")).toHaveText("No messages match.");
  await dialog.getByLabel("Words to find").fill("VAULT wiki");
  await expect(result.locator("mark")).toHaveText(["vault", "wiki"]);
  await result.click();

  await expect(dialog).toHaveCount(0);
  const found = message(log, "the deploy key is in the vault");
  await expect(found).toBeInViewport();
  await expect(found).toBeFocused();
  await expect(found).toHaveClass(/\blit\b/);
  // In context: the page around it is loaded, its neighbours in order with no gap.
  await expect(log.getByText("filler 6", { exact: true })).toBeVisible();
  await expect(log.getByText("filler 8", { exact: true })).toBeVisible();
  const texts = await log.locator("article.msg .text").allInnerTexts();
  const n = texts.filter((t) => t.startsWith("filler ")).map((t) => Number(t.slice(7)));
  expect(n).toEqual(Array.from({ length: n.at(-1)! }, (_, i) => i + 1).filter((i) => i !== 7 && i >= n[0]!));
  // Not the whole room: the newest messages are not in the page until the reader goes back.
  await expect(log.getByText("filler 260", { exact: true })).toHaveCount(0);
  await expect(alice.getByRole("button", { name: "Jump to present" })).toBeVisible();

  // After a reload only the newest page is there; the reply's quote pages back to its original.
  await alice.reload();
  await expect(log.getByText("filler 7", { exact: true })).toHaveCount(0);
  // The original is not loaded yet, so the quote cannot name it.
  const quote = message(log, "as I said way back").getByRole("button", { name: "In reply to an earlier message. Show that message" });
  await quote.click();
  await expect(found).toBeFocused();
  await expect(found).toBeInViewport();
  await expect(found).toHaveClass(/\blit\b/);
});
