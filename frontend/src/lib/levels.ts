// Notification levels per room and the pause of all notifications: what a
// room's badges show, what counts in the title, when the page notifies, and
// the end of a pause. Pure functions; state.ts and the UI apply them.

import type { Room } from "../protocol.gen";

/** all: every message; mentions: mentions (and DMs) only; none: nothing. */
export type Level = "all" | "mentions" | "none";

export const levels: readonly Level[] = ["all", "mentions", "none"];

/** A room with the server's optional level (absent: the default). */
export type LeveledRoom = Room & { notify?: Level };

export function isLevel(v: unknown): v is Level {
  return v === "all" || v === "mentions" || v === "none";
}

/** The server's default: everything for direct messages, mentions for rooms. */
export function defaultLevel(kind: Room["kind"]): Level {
  return kind === "dm" ? "all" : "mentions";
}

/**
 * A room's level: the server's, else "none" for a room muted in this
 * browser before levels existed (until it is moved to the server), else the
 * default.
 */
export function levelOf(r: LeveledRoom, legacyMuted?: ReadonlySet<string>): Level {
  if (isLevel(r.notify)) return r.notify;
  if (legacyMuted?.has(r.id)) return "none";
  return defaultLevel(r.kind);
}

export interface Badges {
  /** The unread count badge (0: none). */
  count: number;
  /** The mention badge (0: none). */
  mentions: number;
  /** The name is emphasised: there is news the level cares about. */
  bold: boolean;
}

/**
 * What a room's entry shows: everything its count and mentions; mentions
 * only the mention badge (new messages emphasise the name); nothing no
 * count at all.
 */
export function badgesFor(level: Level, unread: number, mentions: number): Badges {
  switch (level) {
    case "all":
      return { count: unread, mentions, bold: unread > 0 || mentions > 0 };
    case "mentions":
      return { count: 0, mentions, bold: unread > 0 || mentions > 0 };
    case "none":
      return { count: 0, mentions: 0, bold: false };
  }
}

/** The count in the tab's title: what the rooms' badges show, added up. */
export function titleCountByLevel(rooms: Iterable<LeveledRoom>, mentions: (id: string) => number, legacyMuted?: ReadonlySet<string>): number {
  let n = 0;
  for (const r of rooms) {
    if (!r.member) continue;
    const b = badgesFor(levelOf(r, legacyMuted), r.unread, mentions(r.id));
    n += Math.max(b.count, b.mentions);
  }
  return n;
}

/** Whether a message at this level raises a notification (mentioned: it names the reader). */
export function levelNotifies(level: Level, mentioned: boolean): boolean {
  return level === "all" || (level === "mentions" && mentioned);
}

/** Whether notifications are paused at now (until: unix ms, or null). */
export function isPaused(until: number | null | undefined, now: number): boolean {
  return typeof until === "number" && until > now;
}

export type PauseChoice = "hour" | "morning";

/** The hour a morning pause ends. */
export const morningHour = 8;

/**
 * When a pause chosen at now ends (unix ms): an hour later, or the next
 * 8:00 local time (tomorrow's, or today's before 8:00).
 */
export function pauseUntil(choice: PauseChoice, now: Date): number {
  if (choice === "hour") return now.getTime() + 60 * 60 * 1000;
  const end = new Date(now.getFullYear(), now.getMonth(), now.getDate(), morningHour, 0, 0, 0);
  if (end.getTime() <= now.getTime()) end.setDate(end.getDate() + 1);
  return end.getTime();
}

/** "until 17:05", "until tomorrow 8:00", "until Mon 8:00" — the end of a pause as the reader reads it. */
export function pauseLabel(until: number, now: Date, locale?: string): string {
  const end = new Date(until);
  const time = end.toLocaleTimeString(locale, { hour: "numeric", minute: "2-digit" });
  const day = (d: Date) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  const days = Math.round((day(end) - day(now)) / 86_400_000);
  if (days <= 0) return `until ${time}`;
  if (days === 1) return `until tomorrow ${time}`;
  return `until ${end.toLocaleDateString(locale, { weekday: "short" })} ${time}`;
}

/** The words of a level in menus and labels. */
export const levelText: Record<Level, string> = {
  all: "All messages",
  mentions: "Mentions only",
  none: "Nothing",
};
