import { describe, expect, it } from "vitest";
import type { Message, Room, User } from "../protocol.gen";
import { afterMessage, loadMuted, mentionsMe, saveMuted, shouldNotify, titleCount, trackMention, unreadMentions } from "./attention";

const alice: User = { id: "u_a", name: "alice", role: "member" };
const bob: User = { id: "u_b", name: "bob", role: "member" };

const room = (p: Partial<Room> = {}): Room => ({ id: "r_1", name: "general", kind: "public", last_seq: 10, members: 2, unread: 0, member: true, read_seq: 10, ...p });
const msg = (seq: number, sender: User | null = bob, text = "hi", extra: Partial<Message> = {}): Message => ({
  id: `m_${seq}`,
  room: "r_1",
  seq,
  kind: sender ? "chat" : "system",
  sender,
  text,
  ts: "2026-01-01T00:00:00.000Z",
  ...extra,
});

describe("afterMessage", () => {
  it("counts a new message from someone else while the reader looks elsewhere", () => {
    expect(afterMessage(room(), msg(11), { mine: false, fresh: true, reading: false })).toEqual({ patch: { last_seq: 11, unread: 1 }, read: false });
    expect(afterMessage(room({ unread: 4 }), msg(12), { mine: false, fresh: true, reading: false }).patch.unread).toBe(5);
  });

  it("marks read instead while the reader looks at the bottom of the room", () => {
    expect(afterMessage(room({ unread: 2 }), msg(11), { mine: false, fresh: true, reading: true })).toEqual({
      patch: { last_seq: 11, read_seq: 11, unread: 0 },
      read: true,
    });
  });

  it("does not count a replayed message the server's count already holds, a duplicate, system lines or own messages", () => {
    // welcome said last_seq 10 and unread 3: the replay of seq 9 is in those 3.
    expect(afterMessage(room({ unread: 3, read_seq: 7 }), msg(9), { mine: false, fresh: true, reading: false }).patch).toEqual({ last_seq: 10 });
    expect(afterMessage(room(), msg(11), { mine: false, fresh: false, reading: false }).patch).toEqual({ last_seq: 11 });
    expect(afterMessage(room(), msg(11, null, "bob joined"), { mine: false, fresh: true, reading: false }).patch).toEqual({ last_seq: 11 });
    expect(afterMessage(room({ unread: 2, read_seq: 5 }), msg(11, alice), { mine: true, fresh: true, reading: false })).toEqual({
      patch: { last_seq: 11, read_seq: 11, unread: 0 },
      read: false,
    });
  });
});

describe("mentions", () => {
  it("tracks each mentioning message once, and forgets deleted or edited-away ones", () => {
    let s = trackMention(undefined, msg(11, bob, "hey @alice"), alice);
    s = trackMention(s, msg(11, bob, "hey @alice"), alice); // seen again in a replay
    s = trackMention(s, msg(12, bob, "hey @Alice, and @bob"), alice);
    s = trackMention(s, msg(13, bob, "no one"), alice);
    s = trackMention(s, msg(14, alice, "I say @alice"), alice); // own
    s = trackMention(s, msg(15, bob, "`@alice` in code"), alice);
    expect([...s]).toEqual([11, 12]);
    expect(unreadMentions(s, 10)).toBe(2);
    expect(unreadMentions(s, 11)).toBe(1);
    expect(unreadMentions(s, 12)).toBe(0);
    s = trackMention(s, msg(12, bob, "", { deleted: true }), alice);
    s = trackMention(s, msg(11, bob, "hey all", { edited_at: "2026-01-01T00:01:00.000Z" }), alice);
    expect(unreadMentions(s, 0)).toBe(0);
    const same = trackMention(s, msg(16, bob, "x"), alice);
    expect(same).toBe(s);
    expect(mentionsMe(msg(1, bob, "@alice"), null)).toBe(false);
  });
});

describe("titleCount", () => {
  it("adds unread of rooms that are not muted, and mentions of muted ones", () => {
    const rooms = [room({ id: "a", unread: 3 }), room({ id: "b", unread: 5 }), room({ id: "c", unread: 2, member: false }), room({ id: "d", unread: 0 })];
    const mentions = (id: string) => ({ b: 1, d: 1 })[id] ?? 0;
    expect(titleCount(rooms, mentions, new Set())).toBe(3 + 5 + 1);
    expect(titleCount(rooms, mentions, new Set(["b"]))).toBe(3 + 1 + 1);
  });
});

describe("shouldNotify", () => {
  const base = { hidden: true, permission: "granted", muted: false, mine: false, mentioned: true, direct: false };
  it("notifies of mentions and direct messages while the tab is hidden", () => {
    expect(shouldNotify(base)).toBe(true);
    expect(shouldNotify({ ...base, mentioned: false, direct: true })).toBe(true);
  });
  it("stays quiet otherwise", () => {
    expect(shouldNotify({ ...base, hidden: false })).toBe(false);
    expect(shouldNotify({ ...base, permission: "default" })).toBe(false);
    expect(shouldNotify({ ...base, permission: "denied" })).toBe(false);
    expect(shouldNotify({ ...base, muted: true })).toBe(false);
    expect(shouldNotify({ ...base, mine: true })).toBe(false);
    expect(shouldNotify({ ...base, mentioned: false })).toBe(false);
  });
});

describe("muted rooms in storage", () => {
  it("round-trips, and survives missing or broken values", () => {
    const store = new Map<string, string>();
    const storage = { getItem: (k: string) => store.get(k) ?? null, setItem: (k: string, v: string) => void store.set(k, v) };
    expect(loadMuted(storage)).toEqual(new Set());
    saveMuted(storage, new Set(["r_1", "r_2"]));
    expect(loadMuted(storage)).toEqual(new Set(["r_1", "r_2"]));
    store.set("minichat.muted", "{not json");
    expect(loadMuted(storage)).toEqual(new Set());
    store.set("minichat.muted", '{"a":1}');
    expect(loadMuted(storage)).toEqual(new Set());
    expect(loadMuted(undefined)).toEqual(new Set());
    saveMuted({ setItem: () => { throw new Error("quota"); } }, new Set(["x"]));
  });
});
