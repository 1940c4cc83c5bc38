// What asks for the reader's attention: unread counts, unread mentions, the
// tab title and browser notifications. Pure functions; state.ts applies them.

import type { Message, Room, User } from "../protocol.gen";
import { mentionsName } from "./markup";

/**
 * How a room's counters change when message m arrives. fresh: the message
 * was not in the client's log yet. A seq at or below the room's last_seq is
 * already counted in the server's unread (a replay after welcome), so only
 * later ones count. The server counts chat messages of others; so does this.
 * read: the reader is looking, so the marker moves (send a read frame).
 */
export function afterMessage(
  r: Room,
  m: Message,
  opts: { mine: boolean; fresh: boolean; reading: boolean },
): { patch: Partial<Room>; read: boolean } {
  const patch: Partial<Room> = { last_seq: Math.max(r.last_seq, m.seq) };
  if (opts.mine) {
    patch.read_seq = Math.max(r.read_seq ?? 0, m.seq);
    patch.unread = 0;
    return { patch, read: false };
  }
  if (!opts.fresh || m.seq <= r.last_seq) return { patch, read: false };
  if (opts.reading) {
    patch.read_seq = m.seq;
    patch.unread = 0;
    return { patch, read: true };
  }
  if ((m.kind === "chat" || m.kind === "me") && !m.deleted) patch.unread = (r.unread ?? 0) + 1;
  return { patch, read: false };
}

/** Whether m, by someone else, mentions me and still stands. */
export function mentionsMe(m: Message, me: User | null): boolean {
  return !!me && (m.kind === "chat" || m.kind === "me") && !m.deleted && m.sender?.id !== me.id && mentionsName(m.text, me.name);
}

/**
 * The seqs of messages in a room that mention the reader, kept as a set so
 * that a message seen twice (replay, history, update) counts once. Returns
 * the set unchanged when nothing changes.
 */
export function trackMention(set: ReadonlySet<number> | undefined, m: Message, me: User | null): ReadonlySet<number> {
  const cur = set ?? new Set<number>();
  const has = cur.has(m.seq);
  const should = mentionsMe(m, me);
  if (has === should) return cur;
  const next = new Set(cur);
  if (should) next.add(m.seq);
  else next.delete(m.seq);
  return next;
}

/** Mentions after the read marker. */
export function unreadMentions(set: ReadonlySet<number> | undefined, readSeq: number | undefined): number {
  let n = 0;
  for (const s of set ?? []) if (s > (readSeq ?? 0)) n++;
  return n;
}

/**
 * The count in the tab's title: unread messages of rooms that are not
 * muted, and mentions everywhere.
 */
export function titleCount(rooms: Iterable<Room>, mentions: (id: string) => number, muted: ReadonlySet<string>): number {
  let n = 0;
  for (const r of rooms) {
    if (!r.member) continue;
    n += muted.has(r.id) ? mentions(r.id) : Math.max(r.unread, mentions(r.id));
  }
  return n;
}

/** Whether a new message should raise a browser notification. */
export function shouldNotify(opts: {
  hidden: boolean;
  permission: string;
  muted: boolean;
  mine: boolean;
  mentioned: boolean;
  direct: boolean;
}): boolean {
  return opts.hidden && opts.permission === "granted" && !opts.muted && !opts.mine && (opts.mentioned || opts.direct);
}

const mutedKey = "minichat.muted";

/** The muted room ids kept in storage (absent or unreadable: none). */
export function loadMuted(storage: Pick<Storage, "getItem"> | undefined): Set<string> {
  try {
    const v: unknown = JSON.parse(storage?.getItem(mutedKey) ?? "[]");
    return new Set(Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);
  } catch {
    return new Set();
  }
}

export function saveMuted(storage: Pick<Storage, "setItem"> | undefined, muted: ReadonlySet<string>): void {
  try {
    storage?.setItem(mutedKey, JSON.stringify([...muted]));
  } catch {
    /* private mode or full: muting lasts for this page only */
  }
}
