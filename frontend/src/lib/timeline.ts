// A room's timeline as the page holds it: a bounded window of messages (by
// ascending seq) around what the reader looks at, paged both ways, with
// what the server holds beyond each end. Pure functions: every change
// returns a new Timeline (or the same one when nothing changes), so a
// room's signal changes only when its window does.

import type { Message } from "../protocol.gen";

/** The most messages a window holds; the far end is dropped beyond it. */
export const WindowSize = 300;
/** Messages per page fetched while scrolling. */
export const PageSize = 50;

export interface Timeline {
  /** Messages by ascending seq, no two with the same seq. */
  readonly messages: readonly Message[];
  /** The server holds messages older than the first one here. */
  readonly hasOlder: boolean;
  /**
   * The server holds messages newer than the last one here: the window is
   * away from the present, and live messages are not added to it.
   */
  readonly hasNewer: boolean;
  /** A first page (newest, or around a place) has been fetched. */
  readonly loaded: boolean;
  /** A page is being fetched: which way. */
  readonly loading: "older" | "newer" | "jump" | null;
  readonly error?: string;
  /**
   * A capped resume skipped these log entries just above the window's
   * first message: the list shows "N earlier messages" there, and pages
   * into them only when asked.
   */
  readonly skipped?: { readonly from: number; readonly to: number };
}

/** A page of history as the server answers it. */
export interface HistoryPage {
  messages: readonly Message[];
  has_more: boolean;
  has_newer?: boolean;
}

export function emptyTimeline(): Timeline {
  return { messages: [], hasOlder: true, hasNewer: false, loaded: false, loading: null };
}

/** Index of the message with seq, or -1 (binary search). */
export function indexOfSeq(ms: readonly Message[], seq: number): number {
  let lo = 0;
  let hi = ms.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const s = ms[mid]!.seq;
    if (s === seq) return mid;
    if (s < seq) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** Where a message of seq goes in ms (the first index with a seq >= seq). */
function insertAt(ms: readonly Message[], seq: number): number {
  let lo = 0;
  let hi = ms.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ms[mid]!.seq < seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const byIdCache = new WeakMap<readonly Message[], Map<string, Message>>();

/** The message of the window with that id (an index built once per window). */
export function findById(t: Timeline, id: string): Message | undefined {
  let m = byIdCache.get(t.messages);
  if (!m) {
    m = new Map(t.messages.map((x) => [x.id, x]));
    byIdCache.set(t.messages, m);
  }
  return m.get(id);
}

export function hasSeq(t: Timeline, seq: number): boolean {
  return indexOfSeq(t.messages, seq) >= 0;
}

/**
 * Adds messages that arrived live (or in a replay), oldest first. A message
 * newer than the last is appended without sorting; an older one replaces or
 * is put in its place. A window away from the present ignores them (the
 * reader gets them with "Jump to present"). When the window overflows, a
 * reader following the bottom (follow) loses the oldest messages; one who
 * is reading further up keeps the window, which then stops at its end.
 */
export function addLive(t: Timeline, incoming: readonly Message[], follow: boolean, max = WindowSize): Timeline {
  if (incoming.length === 0 || t.hasNewer) return t;
  const ms = t.messages.slice();
  let hasNewer = false;
  for (const m of incoming) {
    const last = ms[ms.length - 1];
    if (!last || m.seq > last.seq) {
      if (!follow && ms.length >= max) {
        hasNewer = true; // the window stays where the reader is
        break;
      }
      ms.push(m);
      continue;
    }
    const i = insertAt(ms, m.seq);
    if (ms[i]?.seq === m.seq) ms[i] = m;
    else if (i > 0 || !t.hasOlder) ms.splice(i, 0, m); // not before the window's start if older ones exist
  }
  const drop = ms.length - max;
  return {
    ...t,
    messages: drop > 0 ? ms.slice(drop) : ms,
    hasOlder: t.hasOlder || drop > 0,
    hasNewer,
    skipped: drop > 0 ? undefined : t.skipped,
  };
}

/** Applies the new state of a message (an edit, deletion or reaction) if it is in the window. */
export function applyUpdate(t: Timeline, m: Message): Timeline {
  const i = indexOfSeq(t.messages, m.seq);
  if (i < 0) return t;
  const ms = t.messages.slice();
  ms[i] = m;
  return { ...t, messages: ms };
}

/** Puts the page before the window's first message in front of it, dropping the far (newest) end beyond max. */
export function addOlder(t: Timeline, page: HistoryPage, max = WindowSize): Timeline {
  const first = t.messages[0]?.seq ?? Infinity;
  const older = page.messages.filter((m) => m.seq < first);
  let ms = [...older, ...t.messages];
  let hasNewer = t.hasNewer;
  if (ms.length > max) {
    ms = ms.slice(0, max);
    hasNewer = true;
  }
  return { ...t, messages: ms, hasOlder: page.has_more, hasNewer, loading: null, error: undefined, skipped: undefined };
}

/** Puts the page after the window's last message behind it, dropping the far (oldest) end beyond max. */
export function addNewer(t: Timeline, page: HistoryPage, max = WindowSize): Timeline {
  const last = t.messages[t.messages.length - 1]?.seq ?? -Infinity;
  const newer = page.messages.filter((m) => m.seq > last);
  let ms = [...t.messages, ...newer];
  let hasOlder = t.hasOlder;
  let skipped = t.skipped;
  if (ms.length > max) {
    ms = ms.slice(ms.length - max);
    hasOlder = true;
    skipped = undefined;
  }
  return { ...t, messages: ms, hasOlder, hasNewer: !!page.has_newer, loading: null, error: undefined, skipped };
}

/**
 * Makes the window the newest page, keeping messages that arrived live
 * meanwhile (they are newer than the page, or the same).
 */
export function showLatest(t: Timeline, page: HistoryPage, max = WindowSize): Timeline {
  const last = page.messages[page.messages.length - 1]?.seq ?? 0;
  const kept = t.hasNewer ? [] : t.messages.filter((m) => m.seq > last);
  let ms = [...page.messages, ...kept];
  let hasOlder = page.has_more;
  if (ms.length > max) {
    ms = ms.slice(ms.length - max);
    hasOlder = true;
  }
  return { messages: ms, hasOlder, hasNewer: false, loaded: true, loading: null };
}

/** Makes the window the page around a message (a jump, or the read marker). */
export function showAround(page: HistoryPage): Timeline {
  return { messages: page.messages.slice(), hasOlder: page.has_more, hasNewer: !!page.has_newer, loaded: true, loading: null };
}

/**
 * A capped resume skipped log entries from..to: what the window holds up to
 * `to` is stale (edits of that range were skipped too), so it goes, and the
 * list offers the skipped range above the replayed messages. A window away
 * from the present is left alone: it is paged afresh anyway.
 */
export function skip(t: Timeline, from: number, to: number): Timeline {
  if (t.hasNewer || to < from) return t;
  return { ...t, messages: t.messages.filter((m) => m.seq > to), hasOlder: true, skipped: { from, to } };
}

/** How many log entries a skipped range spans. */
export function skippedCount(t: Timeline): number {
  return t.skipped ? t.skipped.to - t.skipped.from + 1 : 0;
}
