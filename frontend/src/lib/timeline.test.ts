import { describe, expect, it } from "vitest";
import type { Message } from "../protocol.gen";
import {
  addLive,
  addNewer,
  addOlder,
  applyUpdate,
  emptyTimeline,
  findById,
  indexOfSeq,
  showAround,
  showLatest,
  skip,
  skippedCount,
  type Timeline,
} from "./timeline";

const msg = (seq: number, text = `m${seq}`): Message => ({
  id: `m_${seq}`,
  room: "r",
  seq,
  kind: "chat",
  sender: null,
  text,
  ts: "2026-01-01T00:00:00.000Z",
});
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => msg(from + i));
const seqs = (t: Timeline) => t.messages.map((m) => m.seq);
const loaded = (from: number, to: number, more = true): Timeline => showLatest(emptyTimeline(), { messages: range(from, to), has_more: more });

describe("timeline window", () => {
  it("finds messages by seq and by id", () => {
    const t = loaded(10, 20);
    expect(indexOfSeq(t.messages, 15)).toBe(5);
    expect(indexOfSeq(t.messages, 21)).toBe(-1);
    expect(findById(t, "m_12")?.seq).toBe(12);
    expect(findById(t, "m_99")).toBeUndefined();
  });

  it("appends live messages in order and keeps at most the window, dropping the oldest while following", () => {
    let t = loaded(1, 8, false);
    t = addLive(t, [msg(9), msg(10)], true, 10);
    expect(seqs(t)).toEqual(range(1, 10).map((m) => m.seq));
    expect(t.hasOlder).toBe(false);
    t = addLive(t, [msg(11), msg(12)], true, 10);
    expect(seqs(t)).toEqual(range(3, 12).map((m) => m.seq));
    expect(t.hasOlder).toBe(true);
    expect(t.hasNewer).toBe(false);
  });

  it("keeps a reader's place when the window is full and they read further up", () => {
    let t = loaded(1, 10, false);
    t = addLive(t, [msg(11)], false, 10);
    expect(seqs(t)).toEqual(range(1, 10).map((m) => m.seq));
    expect(t.hasNewer).toBe(true);
    // Away from the present, live messages are not added.
    expect(addLive(t, [msg(12)], true, 10)).toBe(t);
  });

  it("replaces a message seen again and puts an older one in its place", () => {
    let t = loaded(5, 9, false);
    t = addLive(t, [msg(7, "again"), msg(3)], true);
    expect(seqs(t)).toEqual([3, 5, 6, 7, 8, 9]);
    expect(t.messages[3]!.text).toBe("again");
    // Not in front of the window when older messages exist on the server.
    const u = addLive(loaded(5, 9, true), [msg(2)], true);
    expect(seqs(u)).toEqual([5, 6, 7, 8, 9]);
  });

  it("applies updates only to messages in the window", () => {
    const t = loaded(1, 5);
    expect(applyUpdate(t, msg(9, "x"))).toBe(t);
    expect(applyUpdate(t, msg(3, "edited")).messages[2]!.text).toBe("edited");
  });

  it("pages back, dropping the newest end beyond the window", () => {
    let t = loaded(291, 300);
    for (let first = 291; first > 1; first -= 50) {
      t = addOlder(t, { messages: range(Math.max(1, first - 50), first - 1), has_more: first - 50 > 1 }, 100);
    }
    expect(t.messages.length).toBe(100);
    expect(seqs(t)[0]).toBe(1);
    expect(t.hasOlder).toBe(false);
    expect(t.hasNewer).toBe(true);
    // Then forward again, dropping the oldest end.
    const last = seqs(t).at(-1)!;
    t = addNewer(t, { messages: range(last + 1, last + 50), has_more: true, has_newer: true }, 100);
    expect(t.messages.length).toBe(100);
    expect(seqs(t).at(-1)).toBe(last + 50);
    expect(t.hasOlder).toBe(true);
    expect(t.hasNewer).toBe(true);
    t = addNewer(t, { messages: range(last + 51, 300), has_more: true }, 100);
    expect(seqs(t).at(-1)).toBe(300);
    expect(t.hasNewer).toBe(false);
  });

  it("ignores a page's overlap with the window", () => {
    const t = addOlder(loaded(10, 20), { messages: range(5, 15), has_more: true });
    expect(seqs(t)).toEqual(range(5, 20).map((m) => m.seq));
  });

  it("shows the page around a message, and the newest page keeps live arrivals", () => {
    const a = showAround({ messages: range(40, 60), has_more: true, has_newer: true });
    expect(a.hasNewer).toBe(true);
    expect(a.loaded).toBe(true);
    const live = addLive(emptyTimeline(), [msg(101)], true);
    const l = showLatest(live, { messages: range(51, 100), has_more: true });
    expect(seqs(l)).toEqual(range(51, 101).map((m) => m.seq));
    expect(showLatest(a, { messages: range(51, 100), has_more: true }).hasNewer).toBe(false);
  });

  it("marks a capped resume's skipped range and drops what it made stale", () => {
    let t = loaded(1, 10, false);
    t = addLive(t, range(601, 610), true);
    t = skip(t, 11, 600);
    expect(seqs(t)).toEqual(range(601, 610).map((m) => m.seq));
    expect(skippedCount(t)).toBe(590);
    expect(t.hasOlder).toBe(true);
    // Paging back goes into the hole, which is then ordinary history.
    t = addOlder(t, { messages: range(551, 600), has_more: true });
    expect(t.skipped).toBeUndefined();
    expect(seqs(t)[0]).toBe(551);
    // A window away from the present is left alone.
    const away = showAround({ messages: range(1, 10), has_more: false, has_newer: true });
    expect(skip(away, 11, 600)).toBe(away);
  });
});
