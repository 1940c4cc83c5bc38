import { describe, expect, it } from "vitest";
import type { Room } from "../protocol.gen";
import { badgesFor, isPaused, levelNotifies, levelOf, pauseLabel, pauseUntil, titleCountByLevel, type LeveledRoom } from "./levels";

const room = (id: string, kind: Room["kind"], unread: number, notify?: LeveledRoom["notify"]): LeveledRoom => ({
  id,
  name: id,
  kind,
  last_seq: 10,
  members: 2,
  unread,
  member: true,
  ...(notify ? { notify } : {}),
});

describe("levelOf", () => {
  it("is the server's level, else a local mute as none, else the default", () => {
    expect(levelOf(room("a", "public", 0))).toBe("mentions");
    expect(levelOf(room("a", "private", 0))).toBe("mentions");
    expect(levelOf(room("d", "dm", 0))).toBe("all");
    expect(levelOf(room("a", "public", 0), new Set(["a"]))).toBe("none");
    expect(levelOf(room("a", "public", 0, "all"), new Set(["a"]))).toBe("all");
  });
});

describe("badgesFor", () => {
  it("all: the count and mentions; mentions: the mention badge only; none: nothing", () => {
    expect(badgesFor("all", 5, 1)).toEqual({ count: 5, mentions: 1, bold: true });
    expect(badgesFor("mentions", 5, 1)).toEqual({ count: 0, mentions: 1, bold: true });
    expect(badgesFor("mentions", 5, 0)).toEqual({ count: 0, mentions: 0, bold: true });
    expect(badgesFor("none", 5, 1)).toEqual({ count: 0, mentions: 0, bold: false });
    expect(badgesFor("all", 0, 0)).toEqual({ count: 0, mentions: 0, bold: false });
  });
});

describe("titleCountByLevel", () => {
  it("adds what the badges show", () => {
    const rooms = [room("a", "public", 3, "all"), room("b", "public", 5), room("c", "public", 7, "none"), room("d", "dm", 2)];
    const mentions = (id: string) => ({ a: 1, b: 2, c: 4 })[id] ?? 0;
    expect(titleCountByLevel(rooms, mentions)).toBe(3 + 2 + 0 + 2);
    expect(titleCountByLevel(rooms, mentions, new Set(["d"]))).toBe(3 + 2);
  });
});

describe("levelNotifies", () => {
  it("notifies everything, mentions, or nothing", () => {
    expect(levelNotifies("all", false)).toBe(true);
    expect(levelNotifies("mentions", false)).toBe(false);
    expect(levelNotifies("mentions", true)).toBe(true);
    expect(levelNotifies("none", true)).toBe(false);
  });
});

describe("pause", () => {
  it("lasts an hour, or until the next 8:00 local time", () => {
    const evening = new Date(2026, 2, 10, 21, 30);
    expect(pauseUntil("hour", evening)).toBe(evening.getTime() + 3_600_000);
    expect(pauseUntil("morning", evening)).toBe(new Date(2026, 2, 11, 8, 0).getTime());
    // Before 8:00 the coming morning is today's.
    expect(pauseUntil("morning", new Date(2026, 2, 10, 2, 15))).toBe(new Date(2026, 2, 10, 8, 0).getTime());
    // At 8:00 sharp it is tomorrow's; across a month's end too.
    expect(pauseUntil("morning", new Date(2026, 2, 31, 8, 0))).toBe(new Date(2026, 3, 1, 8, 0).getTime());
  });
  it("is on only before its end", () => {
    expect(isPaused(null, 5)).toBe(false);
    expect(isPaused(10, 5)).toBe(true);
    expect(isPaused(5, 5)).toBe(false);
  });
  it("says its end", () => {
    const now = new Date(2026, 2, 10, 21, 30);
    expect(pauseLabel(new Date(2026, 2, 10, 22, 30).getTime(), now, "en-GB")).toBe("until 22:30");
    expect(pauseLabel(new Date(2026, 2, 11, 8, 0).getTime(), now, "en-GB")).toBe("until tomorrow 8:00");
  });
});
