// Long rooms: the page keeps a bounded window of messages, pages both ways,
// opens a reader far behind at their read marker, comes back with "Jump to
// present", and a reply to a message far back loads the page around it.

import type { Locator, Page } from "@playwright/test";
import { apiRegister, apiRoomId, expect, test, type ApiUser } from "./fixtures";
import type { Server } from "./server";

const general = (page: Page) => page.getByRole("log", { name: "Messages in #general" });

/** Posts texts in order as u (a few at a time, each waited for); returns the ids. */
async function seed(server: Server, u: ApiUser, room: string, texts: string[], replyTo?: (i: number) => string | undefined): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < texts.length; i++) {
    const res = await fetch(`${server.url}/api/rooms/${room}/messages`, {
      method: "POST",
      headers: { Authorization: `Bearer ${u.token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ text: texts[i], reply_to: replyTo?.(i) }),
    });
    expect(res.status).toBe(201);
    ids.push(((await res.json()) as { message: { id: string } }).message.id);
  }
  return ids;
}

const numbered = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix} ${i + 1}`);

/** The numbers of the messages with prefix in the page, in order. */
async function shown(log: Locator, prefix: string): Promise<number[]> {
  const texts = await log.locator(".msg:not(.system) .text").allInnerTexts();
  return texts.filter((t) => t.startsWith(prefix + " ")).map((t) => Number(t.slice(prefix.length + 1)));
}

/** Scrolls the list to one end until text is in the page, checking the window's bound on the way. */
async function scrollUntil(log: Locator, end: "top" | "bottom", text: string): Promise<void> {
  await expect
    .poll(
      async () => {
        await log.evaluate((el, end) => el.scrollTo({ top: end === "top" ? -el.scrollHeight : el.scrollHeight }), end);
        const n = await log.locator("article.msg").count();
        expect(n).toBeLessThanOrEqual(300);
        return log.getByText(text, { exact: true }).count();
      },
      { timeout: 30_000, intervals: [200] },
    )
    .toBe(1);
}

test("a long room pages back and forward in a bounded window", async ({ server, signUp }) => {
  test.setTimeout(120_000);
  const carol = await apiRegister(server, "carol");
  const room = await apiRoomId(server, carol, "general");
  await seed(server, carol, room, numbered("long", 700));

  const alice = await signUp("alice");
  const log = general(alice);
  await expect(log.getByText("long 700", { exact: true })).toBeVisible();

  // Back to the start: the far (newest) end is dropped on the way.
  await scrollUntil(log, "top", "long 1");
  await expect(log.getByText("This is the very beginning of #general.")).toBeVisible();
  let seqs = await shown(log, "long");
  expect(seqs.length).toBeLessThanOrEqual(300);
  expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1)); // in order, no gap
  await expect(log.getByText("long 700", { exact: true })).toHaveCount(0);
  await expect(alice.getByRole("button", { name: "Jump to present" })).toBeVisible();

  // A message sent meanwhile is not lost: it shows when the window reaches the present.
  await seed(server, carol, room, ["arrived while away"]);

  // Forward again to the newest.
  await scrollUntil(log, "bottom", "arrived while away");
  seqs = await shown(log, "long");
  expect(seqs.at(-1)).toBe(700);
  expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => 701 - seqs.length + i));
  await expect(log.getByText("long 1", { exact: true })).toHaveCount(0);
  await expect(alice.getByRole("button", { name: "Jump to present" })).toHaveCount(0);

  // Jump to present from the very top.
  await scrollUntil(log, "top", "long 1");
  await alice.getByRole("button", { name: "Jump to present" }).click();
  await expect(log.getByText("arrived while away", { exact: true })).toBeInViewport();
  await expect(log.getByText("long 1", { exact: true })).toHaveCount(0);
  await expect(alice.getByRole("button", { name: "Jump to present" })).toHaveCount(0);

  // Live messages follow at the bottom again.
  await seed(server, carol, room, ["live again"]);
  await expect(log.getByText("live again", { exact: true })).toBeInViewport();
});

test("a reader far behind opens at the read marker", async ({ server, signIn }) => {
  test.setTimeout(120_000);
  const carol = await apiRegister(server, "carol");
  await apiRegister(server, "alice"); // a member of general, read up to now
  const room = await apiRoomId(server, carol, "general");
  await seed(server, carol, room, numbered("unread", 400).map((t) => (t === "unread 5" ? "unread 5 for @alice" : t)));

  const alice = await signIn("alice");
  const log = general(alice);
  // The counts are the server's: the mention far back counts though it is not loaded.
  await expect(alice.getByRole("button", { name: "general, new messages, 1 mention" })).toBeVisible();
  const line = log.getByRole("separator", { name: "New messages" });
  await expect(line).toBeInViewport();
  await expect(log.getByText("unread 1", { exact: true })).toBeInViewport();
  await expect(log.getByText("unread 400", { exact: true })).toHaveCount(0);
  await expect(alice.getByRole("button", { name: "Jump to present" })).toBeVisible();

  // Reading down to the end pages forward; the line stays where it was.
  await scrollUntil(log, "bottom", "unread 400");
  await expect(alice.getByRole("button", { name: "Jump to present" })).toHaveCount(0);
  // The room is read: no counts on it in the sidebar.
  await expect(alice.getByRole("button", { name: "general", exact: true })).toBeVisible();
});

test("a reply to a message far back loads the page around it", async ({ server, signUp }) => {
  test.setTimeout(120_000);
  const carol = await apiRegister(server, "carol");
  const room = await apiRoomId(server, carol, "general");
  const [target] = await seed(server, carol, room, ["the original question"]);
  await seed(server, carol, room, numbered("filler", 400));
  await seed(server, carol, room, ["the answer"], () => target);

  const alice = await signUp("alice");
  const log = general(alice);
  await expect(log.getByText("the answer", { exact: true })).toBeVisible();
  await log.getByRole("button", { name: /^In reply to .*Show that message$/ }).click();
  const orig = log.locator("article.msg", { hasText: "the original question" }).first();
  await expect(orig).toBeInViewport();
  await expect(orig).toBeFocused();
  await expect(log.getByText("the answer", { exact: true })).toHaveCount(0);
  await alice.getByRole("button", { name: "Jump to present" }).click();
  await expect(log.getByText("the answer", { exact: true })).toBeInViewport();
});

test.describe("a capped resume", () => {
  test.use({ serverArgs: ["--replay-max", "5"] });

  test("says how many earlier messages it left out, and pages them in on a click", async ({ server, signUp }) => {
    test.setTimeout(90_000);
    const carol = await apiRegister(server, "carol");
    const room = await apiRoomId(server, carol, "general");
    await seed(server, carol, room, numbered("before", 10));

    const alice = await signUp("alice");
    const log = general(alice);
    await expect(log.getByText("before 10", { exact: true })).toBeVisible();

    // While alice's tab cannot reach the server, carol posts 18 messages
    // (on a second copy of the server over the same database, on another
    // port). Back on the address alice knows, her resume replays only the
    // newest 5 and names the 13 it left out.
    await server.kill();
    await server.aside((url) => seed({ url } as Server, carol, room, numbered("while", 18)));
    await server.launch();

    await expect(log.getByText("while 18", { exact: true })).toBeVisible({ timeout: 30_000 });
    const marker = log.getByRole("button", { name: "13 earlier messages" });
    await expect(marker).toBeVisible();
    expect(await shown(log, "while")).toEqual([14, 15, 16, 17, 18]);

    // The marker sits where the missing messages go and loads them.
    await marker.click();
    await expect(log.getByText("while 1", { exact: true })).toBeVisible();
    await expect(marker).toHaveCount(0);
    expect(await shown(log, "while")).toEqual(numbered("", 18).map((_, i) => i + 1));
    expect(await shown(log, "before")).toEqual(numbered("", 10).map((_, i) => i + 1));
  });
});
