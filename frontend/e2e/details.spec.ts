// Small things people rely on: room names as typed, thumbnails of images
// waiting to be sent, file cards beside images, DM search results.

import type { Page } from "@playwright/test";
import { apiDM, apiRoomId, apiSendRich, apiSignIn, apiUpload, expect, test } from "./fixtures";

/** A PNG drawn by the browser, w×h, in one colour. */
async function png(page: Page, w: number, h: number, color: string): Promise<Buffer> {
  const b64 = await page.evaluate(
    ([w, h, color]) => {
      const c = document.createElement("canvas");
      c.width = w;
      c.height = h;
      const g = c.getContext("2d")!;
      g.fillStyle = color;
      g.fillRect(0, 0, w, h);
      return c.toDataURL("image/png").split(",")[1]!;
    },
    [w, h, color] as const,
  );
  return Buffer.from(b64, "base64");
}

test("the room-name field turns spaces into dashes and says what is wrong in a sentence", async ({ signUp }) => {
  const alice = await signUp("alice");
  await alice.getByRole("button", { name: "Create room" }).click();
  const create = alice.getByRole("dialog", { name: "Create a room" });
  const name = create.getByLabel("Room name");
  await expect(create.getByText("Letters, digits, dots, dashes and underscores")).toBeVisible();
  await name.pressSequentially("design review");
  await expect(name).toHaveValue("design-review");
  await name.fill("café!");
  await expect(create.getByRole("alert").filter({ hasText: "can’t contain “é” “!”" })).toBeVisible();
  await expect(name).toHaveAttribute("aria-invalid", "true");
  await create.getByRole("button", { name: "Create room" }).click();
  await expect(create).toBeVisible(); // refused here, not by the browser's bubble
  await name.fill("");
  await name.pressSequentially("launch plans");
  await create.getByRole("button", { name: "Create room" }).click();
  await expect(alice.getByRole("heading", { level: 1, name: "launch-plans" })).toBeVisible();
});

test("an image waiting in the composer shows a thumbnail; a file card beside an image keeps its height", async ({ signUp, server }) => {
  const alice = await signUp("alice");
  const chooser = alice.waitForEvent("filechooser");
  await alice.getByRole("button", { name: "Attach files" }).click();
  await (await chooser).setFiles({ name: "red.png", mimeType: "image/png", buffer: await png(alice, 200, 120, "#c2410c") });
  const item = alice.getByRole("list", { name: "Files to send" }).getByRole("listitem").filter({ hasText: "red.png" });
  const thumb = item.locator("img.upload-thumb");
  await expect(thumb).toBeVisible();
  expect(await thumb.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBe(200);

  // A tall image and a text file in one message: the card stays a card.
  const me = await apiSignIn(server, "alice");
  const room = await apiRoomId(server, me, "general");
  const tall = await apiUpload(server, me, "tall.png", "image/png", new Uint8Array(await png(alice, 120, 260, "#0369a1")));
  const notes = await apiUpload(server, me, "notes.txt", "text/plain", new TextEncoder().encode("hello"));
  await apiSendRich(server, me, room, { text: "both", attachments: [tall, notes] });
  const img = alice.getByRole("img", { name: "tall.png" });
  await expect(img).toBeVisible();
  await expect.poll(async () => (await img.boundingBox())?.height ?? 0).toBeGreaterThan(200);
  const card = alice.locator(".att-file").filter({ hasText: "notes.txt" });
  const cardBox = await card.boundingBox();
  expect(cardBox!.height).toBeLessThan(100);
});

test("a search result in a direct message says whose DM it is", async ({ signUp, server }) => {
  test.slow(); // two sign-ups, a DM and a search: slow on a loaded machine
  await signUp("bob");
  const alice = await signUp("alice");
  const bob = await apiSignIn(server, "bob");
  const dm = await apiDM(server, bob, "alice");
  await apiSendRich(server, bob, dm, { text: "the secret handshake" });
  await alice.getByRole("button", { name: "Search messages" }).click();
  const dialog = alice.getByRole("dialog", { name: "Search messages" });
  await dialog.getByLabel("Words to find").fill("handshake");
  const result = dialog.getByRole("list", { name: "Search results" }).getByRole("button");
  await expect(result).toHaveCount(1);
  await expect(result).toContainText("bob · DM with bob");
  await expect(result).not.toContainText("bob in");
});
