// Pure helpers for what the views show: dates, names, grouping, links.

import type { Message, User } from "../protocol.gen";
import type { Pending } from "./socket";

/** Local calendar day of t, as YYYY-MM-DD. */
export function dayKey(t: Date): string {
  const m = String(t.getMonth() + 1).padStart(2, "0");
  const d = String(t.getDate()).padStart(2, "0");
  return `${t.getFullYear()}-${m}-${d}`;
}

const weekdayDate = new Intl.DateTimeFormat(undefined, { weekday: "long", month: "long", day: "numeric" });
const fullDate = new Intl.DateTimeFormat(undefined, { weekday: "long", year: "numeric", month: "long", day: "numeric" });
const clock = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const longStamp = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });

/** "Today", "Yesterday", or the date (with the year when not this year's). */
export function dayLabel(t: Date, now: Date = new Date()): string {
  const today = dayKey(now);
  if (dayKey(t) === today) return "Today";
  const y = new Date(now);
  y.setDate(y.getDate() - 1);
  if (dayKey(t) === dayKey(y)) return "Yesterday";
  return t.getFullYear() === now.getFullYear() ? weekdayDate.format(t) : fullDate.format(t);
}

/** Formatted times by minute: a list formats each minute once, not each row on every render. */
const clockCache = new Map<number, string>();

/** Time of day, in the reader's locale. */
export function timeLabel(t: Date): string {
  const minute = Math.floor(t.getTime() / 60_000);
  let s = clockCache.get(minute);
  if (s === undefined) {
    if (clockCache.size >= 5000) clockCache.clear();
    s = clock.format(t);
    clockCache.set(minute, s);
  }
  return s;
}

/** Date and time for a tooltip. */
export function stampLabel(t: Date): string {
  return longStamp.format(t);
}

/** One or two letters for an avatar. */
export function initials(name: string): string {
  const parts = name.split(/[._-]+/).filter(Boolean);
  if (parts.length >= 2) return (parts[0]![0]! + parts[1]![0]!).toUpperCase();
  return (parts[0]?.[0] ?? name[0] ?? "?").toUpperCase();
}

/** A stable palette index 0–7 for a name. */
export function hueIndex(name: string): number {
  let h = 2166136261;
  for (const ch of name.toLowerCase()) {
    h ^= ch.codePointAt(0)!;
    h = Math.imul(h, 16777619);
  }
  return (h >>> 0) % 8;
}

/** "alice is typing…", "alice and bob are typing…", … */
export function typingText(names: readonly string[]): string {
  const n = [...names].sort((a, b) => a.localeCompare(b));
  switch (n.length) {
    case 0:
      return "";
    case 1:
      return `${n[0]} is typing…`;
    case 2:
      return `${n[0]} and ${n[1]} are typing…`;
    case 3:
      return `${n[0]}, ${n[1]} and ${n[2]} are typing…`;
    default:
      return `${n[0]}, ${n[1]} and ${n.length - 2} others are typing…`;
  }
}

/** Consecutive messages of one sender within this span share a header. */
export const groupSpanMs = 5 * 60_000;

export type Row =
  | { kind: "day"; key: string; label: string }
  | { kind: "new"; key: string }
  | { kind: "system"; key: string; message: Message; at: Date }
  | {
      kind: "chat";
      key: string;
      message: Message;
      at: Date;
      /** First of a group: shows avatar, name and time. */
      head: boolean;
    }
  | { kind: "pending"; key: string; pending: Pending; sender: User | null; at: Date; head: boolean };

/**
 * Turns a room's messages (by seq) and its pending sends into the rows of
 * the list: day separators, the "new messages" marker after readSeq, system
 * lines, and chat messages grouped by sender.
 */
export function buildRows(
  messages: readonly Message[],
  pending: readonly Pending[],
  readSeq: number | null,
  me: User | null,
  now: Date = new Date(),
): Row[] {
  const rows: Row[] = [];
  let day = "";
  let prevSender: string | null = null;
  let prevAt = 0;
  let marked = readSeq === null;
  const open = (at: Date) => {
    const k = dayKey(at);
    if (k !== day) {
      day = k;
      rows.push({ kind: "day", key: `day-${k}`, label: dayLabel(at, now) });
      prevSender = null;
    }
  };
  for (const m of messages) {
    const at = new Date(m.ts);
    open(at);
    if (!marked && readSeq !== null && m.seq > readSeq && m.kind !== "system" && !m.deleted && m.sender && m.sender.id !== me?.id) {
      marked = true;
      rows.push({ kind: "new", key: "new-marker" });
      prevSender = null;
    }
    if (m.kind === "system" || !m.sender) {
      rows.push({ kind: "system", key: `m-${m.seq}`, message: m, at });
      prevSender = null;
      continue;
    }
    // A webhook's messages group by the name they show, not by their
    // sender (the hook's creator); an action (/me) stands alone.
    const who = m.via ? `via:${m.via.hook}\u0000${m.via.name ?? ""}` : m.sender.id;
    const head = m.kind === "me" || prevSender !== who || at.getTime() - prevAt > groupSpanMs;
    rows.push({ kind: "chat", key: `m-${m.seq}`, message: m, at, head });
    prevSender = m.kind === "me" ? null : who;
    prevAt = at.getTime();
  }
  for (const p of pending) {
    const at = new Date(p.createdAt);
    open(at);
    const head = prevSender !== (me?.id ?? "me") || at.getTime() - prevAt > groupSpanMs;
    rows.push({ kind: "pending", key: `p-${p.clientId}`, pending: p, sender: me, at, head });
    prevSender = me?.id ?? "me";
    prevAt = at.getTime();
  }
  return rows;
}

/** Whether two rows of one key show the same thing (so the older object can be kept). */
function sameRow(a: Row, b: Row): boolean {
  switch (a.kind) {
    case "day":
      return b.kind === "day" && a.label === b.label;
    case "new":
      return b.kind === "new";
    case "system":
      return b.kind === "system" && a.message === b.message;
    case "chat":
      return b.kind === "chat" && a.message === b.message && a.head === b.head;
    case "pending":
      return b.kind === "pending" && a.pending === b.pending && a.head === b.head && a.sender === b.sender;
  }
}

/**
 * Keeps the row objects of prev (by key) that did not change, so that rows
 * memoized on their row object render again only when they change.
 */
export function reuseRows(prev: ReadonlyMap<string, Row>, next: Row[]): Row[] {
  return next.map((r) => {
    const p = prev.get(r.key);
    return p && sameRow(p, r) ? p : r;
  });
}
