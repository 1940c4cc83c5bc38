import { describe, expect, it } from "vitest";
import type { Message, User } from "../protocol.gen";
import { buildRows, dayLabel, initials, typingText } from "./format";
import type { Pending } from "./socket";

const alice: User = { id: "u_a", name: "alice", role: "member" };
const bob: User = { id: "u_b", name: "bob", role: "member" };

function m(seq: number, sender: User | null, ts: string, text = `m${seq}`): Message {
  return { id: `m_${seq}`, room: "r_1", seq, kind: sender ? "chat" : "system", sender, text, ts };
}

describe("typingText", () => {
  it("names one, two, three and then counts", () => {
    expect(typingText([])).toBe("");
    expect(typingText(["alice"])).toBe("alice is typing…");
    expect(typingText(["bob", "alice"])).toBe("alice and bob are typing…");
    expect(typingText(["carol", "alice", "bob"])).toBe("alice, bob and carol are typing…");
    expect(typingText(["d", "c", "b", "a"])).toBe("a, b and 2 others are typing…");
  });
});

describe("initials and days", () => {
  it("takes one letter, or two for dotted names", () => {
    expect(initials("alice")).toBe("A");
    expect(initials("erin.k")).toBe("EK");
    expect(initials("_x")).toBe("X");
  });

  it("says today and yesterday", () => {
    const now = new Date(2026, 4, 10, 12);
    expect(dayLabel(new Date(2026, 4, 10, 1), now)).toBe("Today");
    expect(dayLabel(new Date(2026, 4, 9, 23), now)).toBe("Yesterday");
    expect(dayLabel(new Date(2026, 4, 1, 9), now)).not.toMatch(/Today|Yesterday/);
  });
});

describe("buildRows", () => {
  const t = (h: number, min: number, day = 10) => new Date(2026, 4, day, h, min).toISOString();

  it("groups by sender within five minutes and splits days", () => {
    const rows = buildRows(
      [
        m(1, null, t(9, 0, 9), "alice joined"),
        m(2, alice, t(9, 1, 9)),
        m(3, alice, t(9, 2, 9)),
        m(4, bob, t(9, 3, 9)),
        m(5, alice, t(9, 4, 9)),
        m(6, alice, t(9, 20, 9)),
        m(7, alice, t(9, 21)),
      ],
      [],
      null,
      alice,
      new Date(2026, 4, 10, 12),
    );
    expect(rows.map((r) => (r.kind === "chat" ? `${r.message.seq}${r.head ? "H" : ""}` : r.kind))).toEqual([
      "day",
      "system",
      "2H",
      "3",
      "4H",
      "5H",
      "6H",
      "day",
      "7H",
    ]);
  });

  it("marks the first unread message from someone else, and appends pending sends", () => {
    const pending: Pending[] = [{ clientId: "c1", room: "r_1", text: "on its way", createdAt: Date.parse(t(9, 6)), status: "sending" }];
    const rows = buildRows([m(1, alice, t(9, 0)), m(2, null, t(9, 1)), m(3, alice, t(9, 2)), m(4, bob, t(9, 3))], pending, 1, alice);
    expect(rows.map((r) => r.kind)).toEqual(["day", "chat", "system", "chat", "new", "chat", "pending"]);
    const last = rows.at(-1)!;
    // Deleted and own messages do not carry the line; the first standing one from someone else does.
    const gone = { ...m(2, bob, t(9, 1)), deleted: true, text: "" };
    const later = buildRows([m(1, alice, t(9, 0)), gone, m(3, alice, t(9, 2)), m(4, bob, t(9, 3))], [], 1, alice);
    expect(later.map((r) => (r.kind === "chat" ? r.message.seq : r.kind))).toEqual(["day", 1, 2, 3, "new", 4]);
    // No marker when nothing is unread.
    expect(buildRows([m(1, bob, t(9, 0))], [], null, alice).some((r) => r.kind === "new")).toBe(false);
    expect(last.kind === "pending" && last.head).toBe(true);
  });
});
