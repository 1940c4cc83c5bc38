import { describe, expect, it } from "vitest";
import type { Message, User } from "./protocol.gen";
import { applyPresence, mergeMessages, type Person } from "./state";

const msg = (seq: number, text = `m${seq}`): Message => ({
  id: `m_${seq}`,
  room: "r",
  seq,
  kind: "chat",
  sender: null,
  text,
  ts: "2026-01-01T00:00:00.000Z",
});

describe("mergeMessages", () => {
  it("keeps one message per seq, in order, the later state winning", () => {
    const merged = mergeMessages([msg(3), msg(5), msg(4)], [msg(1), msg(4, "edited"), msg(6)]);
    expect(merged.map((m) => `${m.seq}:${m.text}`)).toEqual(["1:m1", "3:m3", "4:edited", "5:m5", "6:m6"]);
  });
});

describe("applyPresence", () => {
  const u = (name: string): User => ({ id: `u_${name}`, name, role: "member" });
  it("applies every change of a presence_batch, each person ending in their last state", () => {
    const before = new Map<string, Person>([
      ["ann", { name: "Ann", user: u("Ann"), status: "online" }],
      ["zed", { name: "zed", user: u("zed"), status: "away", text: "afk" }],
    ]);
    const after = applyPresence(before, [
      { user: u("Ann"), status: "away", text: "lunch" },
      { user: u("ben"), status: "online" },
      { user: u("cat"), status: "online" },
      { user: u("ben"), status: "offline" },
    ]);
    expect([...after.values()].map((p) => `${p.name}:${p.status}:${p.text ?? ""}`).sort()).toEqual([
      "Ann:away:lunch",
      "ben:offline:",
      "cat:online:",
      "zed:away:afk",
    ]);
    expect(before.get("ann")?.status).toBe("online");
  });
});
