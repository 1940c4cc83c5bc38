// Application state as signals, fed by the socket client and the HTTP API.
// Components read these signals and call the actions below; they never talk
// to the socket directly.

import { batch, computed, signal, type ReadonlySignal, type Signal } from "@preact/signals";
import { deviceName, joinCode, onlyInvisible, refusal } from "./lib/access";
import { api, ApiError, call, signedIn, whenUnauthorized, type Page } from "./lib/api";
import { afterMessage, loadMuted, mentionsMe, saveMuted, shouldNotify } from "./lib/attention";
import { isPaused, levelNotifies, levelOf, titleCountByLevel, type Level, type LeveledRoom } from "./lib/levels";
import { loadSnapshot, saveSnapshot } from "./lib/offline";
import { enablePush, pushSupported } from "./lib/push";
import { parseHash } from "./lib/route";
import { fileSize, snippet } from "./lib/markup";
import { browserStorage, outboxFor } from "./lib/outbox";
import { ChatSocket, type ConnState, type Pending } from "./lib/socket";
import * as tl from "./lib/timeline";
import { added, failed, finished, previewOf, progressed, releasePreviews, removed, sendable, upload, type Upload } from "./lib/uploads";
import { latest, learnUsers } from "./profiles";
import { shownName } from "./lib/people";
import { MaxAttachments, type ClientStatus, type Message, type Presence, type PresenceStatus, type Room, type ServerFrame, type User } from "./protocol.gen";

export interface Person {
  name: string;
  user?: User;
  status: PresenceStatus;
  text?: string;
}

interface TypingEntry {
  name: string;
  until: number;
}

/** How long a typing state lasts without news (the server ends it after 6 s). */
const typingTTL = 7000;

export const me = signal<User | null>(null);
/** The first /api/me answer has arrived. */
export const ready = signal(false);
/** Why the sign-in form is shown again, if it is. */
export const signInNote = signal<string | null>(null);

export const rooms = signal<ReadonlyMap<string, Room>>(new Map());
export const activeId = signal<string | null>(null);
/**
 * One signal per room's timeline (a bounded window, see lib/timeline.ts):
 * a message re-renders its own room's list only.
 */
const logSignals = new Map<string, Signal<tl.Timeline>>();

/** The timeline signal of a room (created empty on first use). */
export function roomLog(id: string): ReadonlySignal<tl.Timeline> {
  return logSignal(id);
}

function logSignal(id: string): Signal<tl.Timeline> {
  let s = logSignals.get(id);
  if (!s) {
    s = signal(tl.emptyTimeline());
    logSignals.set(id, s);
  }
  return s;
}
export const pending = signal<readonly Pending[]>([]);
export const conn = signal<ConnState>({ phase: "idle", attempt: 0, retryAt: null, everConnected: false });
/** The server cannot store messages right now (sends answered unavailable). */
export const unsaved = signal(false);
/** True for a few seconds after a lost connection came back. */
export const backOnline = signal(false);
/** People by lower-case name. */
export const people = signal<ReadonlyMap<string, Person>>(new Map());
export const typing = signal<ReadonlyMap<string, ReadonlyMap<string, TypingEntry>>>(new Map());
/** A short-lived notice for the whole app (errors of actions). */
export const toast = signal<string | null>(null);
/** The reader of the active room is at the bottom of the list. */
export const atBottom = signal(true);
/** Per room: the read marker when the room was opened, for the "new" line. */
export const openedAt = signal<ReadonlyMap<string, number>>(new Map());
/**
 * Rooms muted in this browser before notification levels lived on the
 * server (localStorage): shown as "none" until moved there (see migrateMutes).
 */
export const muted = signal<ReadonlySet<string>>(loadMuted(globalThis.localStorage));
/** Per room: the message the composer answers. */
export const replyTo = signal<ReadonlyMap<string, Message>>(new Map());
/** Per room: files attached in the composer. */
export const uploads = signal<ReadonlyMap<string, readonly Upload[]>>(new Map());
/** The message being edited in place. */
export const editing = signal<{ room: string; seq: number } | null>(null);
/** A message to scroll to and highlight (n changes on every jump). */
export const flash = signal<{ room: string; seq: number; n: number } | null>(null);
/** Browser notifications: "unsupported", or Notification.permission. */
export const notifyPermission = signal<string>(typeof Notification === "undefined" ? "unsupported" : Notification.permission);

/** Unread mentions per room: the server's count, kept up by live messages. */
export const mentionCounts = computed(() => {
  const out = new Map<string, number>();
  for (const [id, r] of rooms.value) if (r.mentions) out.set(id, r.mentions);
  return out;
});

/** The count shown in the tab's title. */
export const titleUnread = computed(() => titleCountByLevel(rooms.value.values(), (id) => mentionCounts.value.get(id) ?? 0, muted.value));

/** All notifications are paused until this time (unix ms), or null. */
export const pausedUntil = signal<number | null>(null);

/** A room's notification level (lib/levels.ts). */
export function roomLevel(r: Room): Level {
  return levelOf(r, muted.value);
}

export const activeRoom = computed(() => (activeId.value ? rooms.value.get(activeId.value) ?? null : null));

/** The rooms the reader belongs to; other public rooms are in the directory. */
export const sortedRooms = computed(() => {
  const list = [...rooms.value.values()].filter((r) => r.kind !== "dm" && r.member);
  return list.sort((a, b) => Number(b.member) - Number(a.member) || a.name.localeCompare(b.name));
});

export const dms = computed(() =>
  [...rooms.value.values()].filter((r) => r.kind === "dm").sort((a, b) => a.name.localeCompare(b.name)),
);

const statusRank: Record<PresenceStatus, number> = { online: 0, away: 1, offline: 2 };

export const sortedPeople = computed(() => {
  const mine = me.value?.name.toLowerCase();
  return [...people.value.values()]
    .filter((p) => p.name.toLowerCase() !== mine)
    .sort((a, b) => statusRank[a.status] - statusRank[b.status] || a.name.localeCompare(b.name));
});

export const myPresence = computed<Person | null>(() => {
  const u = me.value;
  if (!u) return null;
  const p = people.value.get(u.name.toLowerCase()) ?? { name: u.name, user: u, status: "online" as const };
  // Offline, the reader is offline to everyone else too: say so here.
  return conn.value.offline ? { ...p, status: "offline" } : p;
});

/** Names of people typing in the active room. */
export const typingNames = computed(() => {
  const id = activeId.value;
  const t = id ? typing.value.get(id) : undefined;
  return t ? [...t.values()].map((e) => e.name) : [];
});

let socket: ChatSocket | null = null;
let typingSweep: ReturnType<typeof setInterval> | null = null;
let backOnlineTimer: ReturnType<typeof setTimeout> | null = null;
let toastTimer: ReturnType<typeof setTimeout> | null = null;

// --- small immutable updates ---

function setIn<K, V>(m: ReadonlyMap<K, V>, k: K, v: V): Map<K, V> {
  const n = new Map(m);
  n.set(k, v);
  return n;
}

function without<K, V>(m: ReadonlyMap<K, V>, k: K): Map<K, V> {
  const n = new Map(m);
  n.delete(k);
  return n;
}

/** Merges messages into a room's log by seq; a later state of a seq wins. */
export function mergeMessages(existing: readonly Message[], incoming: readonly Message[]): Message[] {
  if (incoming.length === 0) return existing as Message[];
  const bySeq = new Map<number, Message>();
  for (const m of existing) bySeq.set(m.seq, m);
  for (const m of incoming) bySeq.set(m.seq, m);
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}

function updateLog(room: string, fn: (l: tl.Timeline) => tl.Timeline): void {
  const s = logSignal(room);
  s.value = fn(s.value);
}

/** Resets a room's timeline: it is fetched again when shown. */
function resetLog(room: string): void {
  arrivals.delete(room);
  logSignal(room).value = tl.emptyTimeline();
}

// --- arrivals, applied once per animation frame ---

/** Messages received per room since the last frame, oldest first. */
const arrivals = new Map<string, Message[]>();
/** Counter changes (unread, mentions, last_seq, read_seq) of those messages, per room. */
const roomPatches = new Map<string, Partial<Room>>();
/** The socket's pending sends as of its last report, applied with the arrivals. */
let pendingNext: readonly Pending[] | null = null;
let flushScheduled = false;

function scheduleFlush(): void {
  if (flushScheduled) return;
  flushScheduled = true;
  // A hidden tab gets no animation frames; its lists still stay current.
  if (typeof requestAnimationFrame === "function" && document.visibilityState === "visible") requestAnimationFrame(flush);
  else setTimeout(flush, 50);
}

/** Applies the queued arrivals: one change per room, and the pending sends with them. */
function flush(): void {
  flushScheduled = false;
  batch(() => {
    for (const [room, ms] of arrivals) updateLog(room, (l) => tl.addLive(l, ms, isFollowing(room)));
    arrivals.clear();
    if (roomPatches.size) {
      const next = new Map(rooms.value);
      for (const [id, p] of roomPatches) {
        const r = next.get(id);
        if (r) next.set(id, { ...r, ...p });
      }
      roomPatches.clear();
      rooms.value = next;
    }
    if (pendingNext) pending.value = pendingNext;
    pendingNext = null;
  });
}

/** Whether the reader of room follows its newest messages (so the window may drop its oldest). */
function isFollowing(room: string): boolean {
  return activeId.value !== room || atBottom.value;
}

function upsertRoom(r: Room): void {
  rooms.value = setIn(rooms.value, r.id, r);
}

function patchRoom(id: string, patch: Partial<Room>): void {
  const r = rooms.value.get(id);
  if (r) upsertRoom({ ...r, ...patch });
  // A counter change queued for the next frame must not undo this one.
  const queued = roomPatches.get(id);
  if (queued) Object.assign(queued, patch);
}

/** A room as it will be after the queued arrivals are applied. */
function roomNow(id: string): Room | undefined {
  const r = rooms.value.get(id);
  const p = roomPatches.get(id);
  return r && p ? { ...r, ...p } : r;
}

function knowUser(u: User, status?: PresenceStatus, text?: string): void {
  const key = u.name.toLowerCase();
  const cur = people.value.get(key);
  if (cur && status === undefined && cur.user) return;
  const next: Person = {
    name: u.name,
    user: u,
    status: status ?? cur?.status ?? "offline",
    text: status === undefined ? cur?.text : text,
  };
  people.value = setIn(people.value, key, next);
}

/** The people with presence changes applied in order (a presence frame is one, a presence_batch several): one new map for the lot. */
export function applyPresence(m: ReadonlyMap<string, Person>, changes: readonly Presence[]): Map<string, Person> {
  const n = new Map(m);
  for (const p of changes) n.set(p.user.name.toLowerCase(), { name: p.user.name, user: p.user, status: p.status, text: p.text });
  return n;
}

function knowName(name: string): void {
  const key = name.toLowerCase();
  if (!people.value.has(key)) people.value = setIn(people.value, key, { name, status: "offline" });
}

export function notify(text: string): void {
  toast.value = text;
  if (toastTimer) clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (toast.value = null), 6000);
}

function describe(e: unknown): string {
  return e instanceof ApiError ? e.message : "Something went wrong. Try again.";
}

// --- session ---

/** Checks the session cookie and connects when signed in. */
export async function boot(): Promise<void> {
  try {
    // Asked without a 401 when signed out: a normal load logs no error.
    const res = await api.session();
    const { user } = res;
    if (!user) return;
    const paused = (res as { notifications_paused_until?: number | null }).notifications_paused_until;
    pausedUntil.value = typeof paused === "number" ? paused : null;
    // An invite link opened while signed in: it is for new accounts.
    if (joinCode(location.pathname)) {
      history.replaceState(null, "", `/${location.hash}`);
      notify(`You are already signed in as ${user.name}; an invite link is for creating a new account.`);
    }
    startSession(user);
  } catch (e) {
    // No network: the rooms as last seen, the socket retrying, and the
    // banner saying so (a cached shell opened offline).
    const last = e instanceof ApiError && e.status === 0 ? loadSnapshot(globalThis.localStorage) : null;
    if (last) {
      rooms.value = new Map(last.rooms.map((r) => [r.id, r]));
      activeId.value = pickStartRoom(last.rooms);
      startSession(last.user);
      if (activeId.value) void openRoom(activeId.value);
    } else if (!(e instanceof ApiError && e.status === 401)) signInNote.value = describe(e);
  } finally {
    ready.value = true;
  }
}

export function startSession(user: User): void {
  signInNote.value = null;
  me.value = user;
  knowUser(user, "online");
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  // Sends not yet acknowledged are kept per account across page loads.
  socket = new ChatSocket({ url: `${proto}//${location.host}/ws`, probeAuth: signedIn, outbox: outboxFor(browserStorage(), user.id) });
  socket.on((ev) => {
    switch (ev.type) {
      case "state":
        onState(ev.state);
        break;
      case "pending":
        pendingNext = ev.pending;
        scheduleFlush();
        break;
      case "unsaved":
        unsaved.value = ev.unsaved;
        break;
      case "frame":
        onFrame(ev.frame);
        break;
      case "gap":
        // A replay that may have left a hole: one the server named is shown
        // as such (see "synced"); otherwise the room is fetched afresh.
        if (logSignal(ev.room).value.skipped) break;
        resetLog(ev.room);
        if (activeId.value === ev.room) void loadLatest(ev.room);
        break;
      case "unauthorized":
        endSession("Your session has ended. Sign in again to continue.");
        break;
    }
  });
  socket.start();
  typingSweep = setInterval(sweepTyping, 1000);
  // A 401 on any call means the session ended elsewhere (signed out
  // everywhere, password changed, expired): back to the sign-in form.
  whenUnauthorized(() => {
    if (me.value) endSession("Your session has ended. Sign in again to continue.");
  });
}

function endSession(note: string | null): void {
  whenUnauthorized(null);
  saveSnapshot(globalThis.localStorage, null);
  socket?.stop();
  socket = null;
  for (const a of aborts.values()) a();
  aborts.clear();
  arrivals.clear();
  roomPatches.clear();
  if (typingSweep) clearInterval(typingSweep);
  typingSweep = null;
  batch(() => {
    me.value = null;
    rooms.value = new Map();
    for (const s of logSignals.values()) s.value = tl.emptyTimeline();
    pending.value = [];
    unsaved.value = false;
    people.value = new Map();
    typing.value = new Map();
    activeId.value = null;
    openedAt.value = new Map();
    replyTo.value = new Map();
    uploads.value = new Map();
    editing.value = null;
    flash.value = null;
    signInNote.value = note;
  });
}

/** Ends every session of the reader, this one included. */
export async function signOutEverywhere(): Promise<void> {
  await api.endAllSessions();
  endSession("You are signed out on every device.");
}

export async function signOut(): Promise<void> {
  // Signing out on purpose drops what this account had queued here.
  if (me.value) outboxFor(browserStorage(), me.value.id).save([]);
  try {
    await api.signOut();
  } catch {
    /* the cookie is gone either way for this page */
  }
  endSession(null);
}

function onState(s: ConnState): void {
  const prev = conn.value;
  conn.value = s;
  if (s.phase === "open" && prev.phase !== "open" && prev.everConnected) {
    backOnline.value = true;
    if (backOnlineTimer) clearTimeout(backOnlineTimer);
    backOnlineTimer = setTimeout(() => (backOnline.value = false), 4000);
  } else if (s.phase !== "open") {
    backOnline.value = false;
  }
}

/** Tries to reconnect now. */
export function reconnectNow(): void {
  socket?.retryNow();
}

// --- frames ---

function onFrame(f: ServerFrame): void {
  switch (f.type) {
    case "welcome":
      maxUpload = f.limits.max_upload_bytes ?? 0;
      batch(() => {
        me.value = f.user;
        rooms.value = new Map(f.rooms.map((r) => [r.id, r]));
        const ppl = new Map<string, Person>();
        for (const p of people.value.values()) ppl.set(p.name.toLowerCase(), { ...p, status: "offline", text: undefined });
        for (const p of f.online) ppl.set(p.user.name.toLowerCase(), { name: p.user.name, user: p.user, status: p.status, text: p.text });
        if (!ppl.has(f.user.name.toLowerCase())) ppl.set(f.user.name.toLowerCase(), { name: f.user.name, user: f.user, status: "online" });
        people.value = ppl;
        learnUsers([f.user, ...f.online.map((p) => p.user)]);
        for (const r of f.rooms) if (isPair(r)) knowName(r.name);
        typing.value = new Map();
        if (!activeId.value || !rooms.value.has(activeId.value)) activeId.value = pickStartRoom(f.rooms);
      });
      saveSnapshot(globalThis.localStorage, { user: f.user, rooms: f.rooms.filter((r) => r.member) });
      void migrateMutes();
      {
        // A notification's link (#/<room>?m=<id>) opens its room at the message.
        const target = parseHash(location.hash).message;
        if (activeId.value && target) void jumpTo(activeId.value, { id: target });
        else if (activeId.value) void openRoom(activeId.value);
      }
      break;
    case "message":
    case "ack":
      onMessage(f.message, f.type === "ack");
      break;
    case "update":
      flushRoom(f.room); // the message may be among this frame's arrivals
      updateLog(f.room, (l) => tl.applyUpdate(l, f.message));
      if (f.message.deleted && editing.value?.room === f.room && editing.value.seq === f.message.seq) editing.value = null;
      break;
    case "synced": {
      // A capped resume names the range it skipped (protocol 1.1).
      const skipped = (f as { skipped?: { from: number; to: number } }).skipped;
      if (skipped) {
        flushRoom(f.room);
        updateLog(f.room, (l) => tl.skip(l, skipped.from, skipped.to));
      }
      break;
    }
    case "typing":
      onTyping(f.room, f.user, f.active);
      break;
    case "presence":
      people.value = applyPresence(people.value, [f]);
      break;
    case "presence_batch":
      people.value = applyPresence(people.value, f.users);
      break;
    case "room":
      onRoom(f.room, f.event);
      break;
    case "error":
      // Refused sends show on the message; refused edits, deletes and reactions here.
      if (!f.ref || f.ref.startsWith("op-")) notify(refusal(f.code, 0, f.message, "other", f.retry_after_ms));
      break;
    case "history":
      break;
    case "user":
      onUser(f.user);
      break;
  }
}

/** A user's profile changed (a `user` frame, or the answer to our own edit). */
export function onUser(u: User): void {
  batch(() => {
    learnUsers([u]);
    if (me.value?.id === u.id) me.value = u;
    const key = u.name.toLowerCase();
    const p = people.value.get(key);
    if (p) people.value = setIn(people.value, key, { ...p, user: u });
  });
}

function pickStartRoom(list: readonly Room[]): string | null {
  const fromHash = parseHash(location.hash).room;
  const byHash = fromHash && list.find((r) => r.id === fromHash || (r.kind !== "dm" && r.name === fromHash));
  if (byHash) return byHash.id;
  const general = list.find((r) => r.name === "general" && r.member);
  return (general ?? list.find((r) => r.member) ?? list[0])?.id ?? null;
}

/** Applies the queued arrivals of one room now. */
function flushRoom(room: string): void {
  const ms = arrivals.get(room);
  if (!ms) return;
  arrivals.delete(room);
  updateLog(room, (l) => tl.addLive(l, ms, isFollowing(room)));
}

function onMessage(m: Message, isAck: boolean): void {
  const mine = m.sender?.id === me.value?.id;
  const queued = arrivals.get(m.room);
  const fresh = !tl.hasSeq(logSignal(m.room).value, m.seq) && !queued?.some((x) => x.seq === m.seq);
  if (queued) queued.push(m);
  else arrivals.set(m.room, [m]);
  remember(m);
  scheduleFlush();
  if (m.sender) {
    knowUser(m.sender);
    const t = typing.value.get(m.room);
    if (t?.has(m.sender.id)) typing.value = setIn(typing.value, m.room, without(t, m.sender.id));
  }
  if (m.kind === "system") scheduleRoomRefresh();
  const r = roomNow(m.room);
  // Live news only: a replayed message is older than the room's last_seq.
  if (fresh && !mine && !isAck && (!r || m.seq > r.last_seq)) maybeNotify(m, r);
  if (!r) {
    // A room this client has not heard of (a new direct message): ask.
    scheduleRoomRefresh();
    return;
  }
  const { patch, read } = afterMessage(r, m, { mine, fresh: fresh && !isAck, reading: isReading(m.room) });
  if (read) socket?.read(m.room, m.seq);
  if (patch.unread === 0) patch.mentions = 0;
  else if (patch.unread !== undefined && mentionsMe(m, me.value)) patch.mentions = (r.mentions ?? 0) + 1;
  roomPatches.set(m.room, { ...roomPatches.get(m.room), ...patch });
}

function maybeNotify(m: Message, r: Room | undefined): void {
  if (typeof Notification === "undefined" || !m.sender) return;
  const mentioned = mentionsMe(m, me.value);
  const direct = !r || r.kind === "dm";
  // The room's level decides (DMs default to everything), and a pause silences all.
  if (!levelNotifies(r ? roomLevel(r) : "all", mentioned) || isPaused(pausedUntil.value, Date.now())) return;
  const hidden = document.visibilityState !== "visible";
  if (!shouldNotify({ hidden, permission: Notification.permission, muted: false, mine: false, mentioned: true, direct })) return;
  try {
    const title = direct ? m.sender.name : `${m.sender.name} in #${r!.name}`;
    const n = new Notification(title, { body: snippet(m.text) || "Shared a file", tag: m.id, icon: "/favicon.svg" });
    n.onclick = () => {
      window.focus();
      n.close();
      void jumpTo(m.room, { seq: m.seq });
    };
  } catch {
    /* some browsers only allow notifications from a service worker */
  }
}

/** The user is looking at the bottom of room now. */
function isReading(room: string): boolean {
  return activeId.value === room && atBottom.value && document.visibilityState === "visible";
}

function onTyping(room: string, user: User, active: boolean): void {
  if (user.id === me.value?.id) return;
  const cur = typing.value.get(room) ?? new Map<string, TypingEntry>();
  const next = active ? setIn(cur, user.id, { name: shownName(latest(user)), until: Date.now() + typingTTL }) : without(cur, user.id);
  typing.value = setIn(typing.value, room, next);
}

function sweepTyping(): void {
  const now = Date.now();
  let changed = false;
  const next = new Map<string, ReadonlyMap<string, TypingEntry>>();
  for (const [room, t] of typing.value) {
    const kept = new Map([...t].filter(([, e]) => e.until > now));
    if (kept.size !== t.size) changed = true;
    if (kept.size) next.set(room, kept);
  }
  if (changed) typing.value = next;
}

function onRoom(r: Room, event: string): void {
  if (event === "left") {
    if (r.kind === "public") upsertRoom({ ...r, member: false, unread: 0 });
    else rooms.value = without(rooms.value, r.id);
    if (activeId.value === r.id && r.kind !== "public") {
      activeId.value = pickStartRoom([...rooms.value.values()]);
    }
    return;
  }
  const cur = rooms.value.get(r.id);
  upsertRoom(cur ? { ...cur, ...r } : r);
  if (isPair(r)) knowName(r.name);
}

let refreshTimer: ReturnType<typeof setTimeout> | null = null;

/**
 * Re-reads the room list soon: system messages (joins, leaves) change member
 * counts, and a message may come from a room the client has not seen yet.
 * Local unread counts win over the server's for rooms already known.
 */
function scheduleRoomRefresh(): void {
  if (refreshTimer) return;
  refreshTimer = setTimeout(async () => {
    refreshTimer = null;
    if (!me.value) return;
    try {
      const { rooms: list } = await api.rooms();
      const next = new Map(rooms.value);
      for (const r of list) {
        const cur = next.get(r.id);
        // Topic, name and archive change with system messages too.
        if (cur) next.set(r.id, { ...cur, members: r.members, member: r.member, name: r.name, topic: r.topic, archived: r.archived, created_by: r.created_by });
        else {
          next.set(r.id, r);
          if (r.member) socket?.addRoom(r);
          if (isPair(r)) knowName(r.name);
        }
      }
      rooms.value = next;
    } catch {
      /* next time */
    }
  }, 300);
}

// --- reading ---

/** Makes id the active room, with its "new messages" line fixed at the read marker. */
function activate(id: string): Room | undefined {
  const r = rooms.value.get(id);
  if (!r) return undefined;
  if (activeId.value !== id || !openedAt.value.has(id)) {
    openedAt.value = setIn(openedAt.value, id, r.unread > 0 ? r.read_seq ?? 0 : Number.MAX_SAFE_INTEGER);
  }
  if (editing.value && editing.value.room !== id) editing.value = null;
  if (activeId.value !== id) atBottom.value = true;
  activeId.value = id;
  const hash = `#/${r.kind === "dm" ? r.id : r.name}`;
  if (location.hash !== hash) history.replaceState(null, "", hash);
  return r;
}

/**
 * Shows a room. A reader with more unread than a page opens at their read
 * marker (the page around it); others at the newest messages. The list
 * marks the room read once its newest message is on screen.
 */
export async function openRoom(id: string): Promise<void> {
  const r = activate(id);
  if (!r || logSignal(id).value.loaded) return;
  if (r.unread > tl.PageSize - 10 && r.read_seq) await loadAround(id, { around: r.read_seq });
  else await loadLatest(id);
}

/** May the reader fetch this room's history? */
function readable(id: string): boolean {
  const room = rooms.value.get(id);
  return !!room && (room.member || room.kind === "public");
}

/** Per room: the last messages that arrived live, whatever the window shows. */
const recent = new Map<string, Message[]>();
const recentMax = 200;

function remember(m: Message): void {
  let l = recent.get(m.room);
  if (!l) recent.set(m.room, (l = []));
  const last = l[l.length - 1];
  if (last && last.seq >= m.seq) return; // acks of messages seen, replays
  l.push(m);
  if (l.length > recentMax) l.splice(0, l.length - recentMax);
}

/**
 * A page that reaches the present, completed with messages that arrived
 * live after the server read it (a window away from the present did not
 * keep them).
 */
function withRecent(room: string, page: Page): Page {
  if (page.has_newer) return page;
  const last = page.messages[page.messages.length - 1]?.seq ?? 0;
  const extra = (recent.get(room) ?? []).filter((m) => m.seq > last);
  return extra.length ? { ...page, messages: [...page.messages, ...extra] } : page;
}

function knowSenders(ms: readonly Message[]): void {
  for (const m of ms) if (m.sender) knowUser(m.sender);
}

/** Makes the room's window its newest page. */
async function loadLatest(id: string): Promise<void> {
  if (!readable(id)) return;
  updateLog(id, (l) => ({ ...l, loading: "jump" }));
  try {
    const page = withRecent(id, await api.page(id, {}, tl.PageSize));
    flushRoom(id);
    updateLog(id, (l) => tl.showLatest(l, page));
    knowSenders(page.messages);
  } catch (e) {
    updateLog(id, (l) => ({ ...l, loading: null, error: describe(e) }));
  }
}

/** Makes the room's window the page around a seq or a message id. */
async function loadAround(id: string, place: { around?: number; around_id?: string }): Promise<boolean> {
  if (!readable(id)) return false;
  updateLog(id, (l) => ({ ...l, loading: "jump" }));
  try {
    const page = withRecent(id, await api.page(id, place, tl.PageSize));
    flushRoom(id);
    updateLog(id, (l) => (page.has_newer ? tl.showAround(page) : tl.showLatest(l, page)));
    knowSenders(page.messages);
    return true;
  } catch (e) {
    updateLog(id, (l) => ({ ...l, loading: null, error: e instanceof ApiError && e.status === 404 ? undefined : describe(e) }));
    return false;
  }
}

const inFlight = new Map<string, Promise<void>>();

/** Fetches the page before the window (one fetch per room at a time). */
export function loadOlder(id: string): Promise<void> {
  return once(`${id} older`, () => fetchPage(id, "older"));
}

/** Fetches the page after the window, when it is away from the present. */
export function loadNewer(id: string): Promise<void> {
  return once(`${id} newer`, () => fetchPage(id, "newer"));
}

function once(key: string, fn: () => Promise<void>): Promise<void> {
  const cur = inFlight.get(key);
  if (cur) return cur;
  const p = fn().finally(() => inFlight.delete(key));
  inFlight.set(key, p);
  return p;
}

async function fetchPage(id: string, way: "older" | "newer"): Promise<void> {
  const log = logSignal(id).value;
  if (!log.loaded || log.loading || (way === "older" ? !log.hasOlder : !log.hasNewer)) return;
  const edge = way === "older" ? log.messages[0]?.seq ?? (log.skipped ? log.skipped.to + 1 : undefined) : log.messages.at(-1)?.seq;
  if (edge === undefined) return;
  updateLog(id, (l) => ({ ...l, loading: way }));
  try {
    if (way === "older") {
      const page = await api.page(id, { before: edge }, tl.PageSize);
      updateLog(id, (l) => tl.addOlder(l, page));
      knowSenders(page.messages);
    } else {
      const page = withRecent(id, await api.page(id, { after: edge }, tl.PageSize));
      flushRoom(id);
      updateLog(id, (l) => tl.addNewer(l, page));
      knowSenders(page.messages);
    }
  } catch (e) {
    updateLog(id, (l) => ({ ...l, loading: null, error: describe(e) }));
  }
}

/** Brings the room's window back to its newest messages. */
export async function jumpToPresent(id: string): Promise<void> {
  atBottom.value = true;
  await loadLatest(id);
}

/**
 * Opens room at a message (by seq, or by id for replies): from the window
 * when it holds it, else by loading the page around it; then highlights it.
 */
export async function jumpTo(room: string, target: { seq?: number; id?: string }): Promise<boolean> {
  if (!activate(room)) return false;
  const find = () => {
    const t = logSignal(room).value;
    if (target.id) return tl.findById(t, target.id);
    const i = tl.indexOfSeq(t.messages, target.seq ?? -1);
    return i >= 0 ? t.messages[i] : undefined;
  };
  let found = find();
  if (!found) {
    atBottom.value = false;
    await loadAround(room, target.id ? { around_id: target.id } : { around: target.seq });
    found = find();
  }
  if (!found || activeId.value !== room) {
    if (activeId.value === room) notify("That message is not in this room’s history any more.");
    if (!logSignal(room).value.loaded) void loadLatest(room);
    return false;
  }
  flash.value = { room, seq: found.seq, n: (flash.value?.n ?? 0) + 1 };
  return true;
}

/**
 * Marks the active room read up to the newest message of its window, when
 * the user can see it. A window away from the present moves the marker
 * without clearing the counts (more unread follow).
 */
export function markRead(id: string): void {
  const r = rooms.value.get(id);
  if (!r || !r.member || document.visibilityState !== "visible") return;
  const log = logSignal(id).value;
  if (!log.loaded) return; // nothing is on screen yet
  const newest = log.messages.at(-1)?.seq ?? r.last_seq;
  if (log.hasNewer) {
    if ((r.read_seq ?? 0) < newest) {
      socket?.read(id, newest);
      patchRoom(id, { read_seq: newest });
    }
    return;
  }
  if (r.unread > 0 || (r.mentions ?? 0) > 0 || (r.read_seq ?? 0) < newest) {
    socket?.read(id, newest);
    patchRoom(id, { unread: 0, mentions: 0, read_seq: Math.max(newest, r.read_seq ?? 0) });
  }
}

// --- writing ---

/**
 * Sends text with the room's uploaded files and reply, and clears both.
 * Returns false (sending nothing) while files are still uploading or when
 * there is nothing to send.
 */
export function sendMessage(room: string, text: string, kind?: "me"): boolean {
  const { attachments, waiting } = sendable(uploads.value.get(room) ?? []);
  if (waiting || (!text && attachments.length === 0) || !socket) return false;
  if (attachments.length === 0 && onlyInvisible(text)) {
    notify("This message has only invisible characters; write something a reader can see.");
    return false;
  }
  const reply = replyTo.value.get(room);
  socket.send(room, text, { attachments, replyTo: reply?.id, kind });
  if (reply) replyTo.value = without(replyTo.value, room);
  if (uploads.value.has(room)) {
    // The message shows the server's copies from now on.
    releasePreviews(uploads.value.get(room));
    uploads.value = without(uploads.value, room);
  }
  return true;
}

let uploadKeys = 0;
/** The server's upload limit from welcome (0: not told). */
let maxUpload = 0;
const aborts = new Map<string, () => void>();

function setUploads(room: string, fn: (l: readonly Upload[]) => Upload[]): void {
  const next = fn(uploads.value.get(room) ?? []);
  uploads.value = next.length ? setIn(uploads.value, room, next) : without(uploads.value, room);
}

/** Starts uploading files for the room's composer. */
export function addFiles(room: string, files: readonly File[]): void {
  const room0 = uploads.value.get(room)?.length ?? 0;
  const room1 = Math.max(0, MaxAttachments - room0);
  if (files.length > room1) notify(`A message takes at most ${MaxAttachments} files.`);
  for (const file of files.slice(0, room1)) {
    const key = `u${++uploadKeys}`;
    setUploads(room, (l) => added(l, key, file, previewOf(file)));
    if (maxUpload && file.size > maxUpload) {
      // The server would answer 413 after the whole upload: say it now.
      setUploads(room, (l) => failed(l, key, `“${file.name}” is too large to upload (files may be at most ${fileSize(maxUpload)}).`));
      continue;
    }
    const u = upload(file, (n) => setUploads(room, (l) => progressed(l, key, n)));
    aborts.set(key, u.abort);
    u.done.then(
      (a) => setUploads(room, (l) => finished(l, key, a)),
      (e: unknown) => setUploads(room, (l) => failed(l, key, e instanceof Error ? e.message : String(e))),
    ).finally(() => aborts.delete(key));
  }
}

/** Removes a file from the composer, cancelling its upload. */
export function removeUpload(room: string, key: string): void {
  releasePreviews(uploads.value.get(room)?.filter((u) => u.key === key));
  setUploads(room, (l) => removed(l, key));
  aborts.get(key)?.();
}

export function startReply(m: Message): void {
  replyTo.value = setIn(replyTo.value, m.room, m);
}

export function cancelReply(room: string): void {
  if (replyTo.value.has(room)) replyTo.value = without(replyTo.value, room);
}

/** Whether the reader may edit or delete m: their own, or anyone's for admins. */
export function canChange(m: Message): boolean {
  const u = me.value;
  return !!u && (m.kind === "chat" || m.kind === "me") && !m.deleted && (m.sender?.id === u.id || u.role === "admin");
}

/** The reader's newest message in room that can still be edited. */
export function lastOwnMessage(room: string): Message | undefined {
  const id = me.value?.id;
  const list = logSignal(room).value.messages;
  for (let i = list.length - 1; i >= 0; i--) {
    const m = list[i]!;
    if (m.sender?.id === id && m.kind === "chat" && !m.deleted) return m;
  }
  return undefined;
}

function change(f: Parameters<ChatSocket["change"]>[0]): boolean {
  if (socket?.change(f)) return true;
  notify("You are offline: try again when the connection is back.");
  return false;
}

/** Replaces m's text; returns whether the change went out. */
export function editMessage(m: Message, text: string): boolean {
  if (text === m.text) return true;
  return change({ type: "edit", room: m.room, id: m.id, text });
}

export function deleteMessage(m: Message): void {
  change({ type: "delete", room: m.room, id: m.id });
}

/** Adds the reader's emoji to m, or takes it back if they had chosen it. */
export function toggleReaction(m: Message, emoji: string): void {
  const mine = m.reactions?.find((r) => r.emoji === emoji)?.users.includes(me.value?.name ?? "");
  change({ type: "react", room: m.room, id: m.id, emoji, on: !mine });
}

/** Names to offer after "@" in room: the other person of a DM, else people seen. */
export function memberNames(room: Room): string[] {
  const mine = me.value?.name.toLowerCase();
  if (room.kind === "dm") return room.name.split(", ");
  const names = new Set<string>();
  for (const m of logSignal(room.id).value.messages) if (m.sender) names.add(m.sender.name);
  for (const p of people.value.values()) names.add(p.name);
  return [...names].filter((n) => n.toLowerCase() !== mine);
}

/** Full-text search over the rooms the reader may read (or one room). */
export async function searchMessages(q: string, room?: string): Promise<Message[]> {
  try {
    return (await api.search(q, room)).messages;
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) throw new ApiError(404, e.code, "Search is not available on this server.");
    throw e;
  }
}

function forgetMute(room: string): void {
  if (!muted.value.has(room)) return;
  const next = new Set(muted.value);
  next.delete(room);
  muted.value = next;
  saveMuted(globalThis.localStorage, next);
}

/** Sets a room's notification level on the server (shown at once; undone if refused). */
export async function setRoomLevel(id: string, level: Level): Promise<void> {
  const before = rooms.value.get(id) as LeveledRoom | undefined;
  if (!before) return;
  patchRoom(id, { notify: level });
  try {
    const { room } = await call<{ room: Room }>("PUT", `/api/rooms/${encodeURIComponent(id)}/notifications`, { level });
    patchRoom(id, { notify: room.notify ?? level });
    forgetMute(id);
  } catch (e) {
    patchRoom(id, { notify: before.notify });
    notify(describe(e));
  }
}

let migrating = false;

/** Moves rooms muted in this browser to the server as "none", once. */
async function migrateMutes(): Promise<void> {
  if (migrating || muted.value.size === 0) return;
  migrating = true;
  try {
    for (const id of [...muted.value]) {
      const r = rooms.value.get(id) as LeveledRoom | undefined;
      if (!r) {
        if (rooms.value.size) forgetMute(id); // a room left meanwhile
        continue;
      }
      if (r.notify) {
        forgetMute(id); // the server's level wins
        continue;
      }
      try {
        await call<unknown>("PUT", `/api/rooms/${encodeURIComponent(id)}/notifications`, { level: "none" });
        patchRoom(id, { notify: "none" });
        forgetMute(id);
      } catch {
        return; // later (offline, or a server without levels)
      }
    }
  } finally {
    migrating = false;
  }
}

/** Pauses all notifications until a time (unix ms), or resumes them (null). */
export async function setPause(until: number | null): Promise<void> {
  const before = pausedUntil.value;
  pausedUntil.value = until;
  try {
    const res = await call<{ notifications_paused_until: number | null }>("PUT", "/api/me/notifications", { paused_until: until });
    pausedUntil.value = res.notifications_paused_until ?? null;
  } catch (e) {
    pausedUntil.value = before;
    notify(describe(e));
  }
}

/** Opens the place a hash names (a notification's link): its room, at its message. */
export function openHash(hash: string): void {
  const place = parseHash(hash);
  const r = [...rooms.value.values()].find((x) => x.id === place.room || (x.kind !== "dm" && x.name === place.room));
  if (!r) return;
  if (place.message) void jumpTo(r.id, { id: place.message });
  else void openRoom(r.id);
}

/** Asks for permission to notify; call from a user action. */
export async function enableNotifications(): Promise<void> {
  if (typeof Notification === "undefined") return;
  notifyPermission.value = await Notification.requestPermission();
  if (notifyPermission.value === "denied") notify("Notifications are blocked; the browser’s site settings can allow them.");
  // Push too, so notifications also come while minichat is closed (settings
  // show it, and say why when it cannot be).
  if (notifyPermission.value === "granted" && pushSupported()) void enablePush(deviceName(navigator.userAgent)).catch(() => undefined);
}

export function retrySend(clientId: string): void {
  socket?.retry(clientId);
}

export function discardSend(clientId: string): void {
  socket?.discard(clientId);
}

export function sendTyping(room: string, active: boolean): void {
  socket?.typing(room, active);
}

export function setStatus(status: ClientStatus["status"], text: string): void {
  socket?.setStatus(status, text);
  const u = me.value;
  if (u) knowUser(u, status, text || undefined);
}

// --- rooms ---

export async function createRoom(name: string, isPrivate: boolean): Promise<void> {
  const { room } = await api.createRoom(name, isPrivate);
  upsertRoom(room);
  socket?.addRoom(room);
  await openRoom(room.id);
}

/** Joins a room and opens it; a refusal is a toast, or thrown when report is false. */
export async function joinRoom(id: string, report = true): Promise<void> {
  try {
    const { room } = await api.join(id);
    upsertRoom(room);
    socket?.addRoom(room);
    resetLog(id);
    await openRoom(id);
  } catch (e) {
    if (!report) throw e;
    notify(describe(e));
  }
}

export async function leaveRoom(id: string): Promise<void> {
  try {
    await api.leave(id);
    const r = rooms.value.get(id);
    if (r) onRoom(r, "left");
    if (activeId.value === id) {
      const next = pickStartRoom([...rooms.value.values()].filter((x) => x.id !== id && x.member));
      if (next) await openRoom(next);
    }
  } catch (e) {
    notify(describe(e));
  }
}

export async function invite(id: string, username: string): Promise<void> {
  await api.invite(id, username);
}

export async function startDM(username: string): Promise<void> {
  const { room } = await api.dm(username);
  upsertRoom(room);
  socket?.addRoom(room);
  knowName(room.name);
  await openRoom(room.id);
}

/** Opens (creating it the first time) the conversation of the reader and these 2–7 people. */
export async function startGroupDM(usernames: string[]): Promise<void> {
  const { room } = await api.groupDM(usernames);
  upsertRoom(room);
  socket?.addRoom(room);
  await openRoom(room.id);
}

/** Applies a room as an action's answer returned it (topic, name, archive). */
export function roomChanged(r: Room): void {
  patchRoom(r.id, { name: r.name, topic: r.topic, archived: r.archived, created_by: r.created_by, members: r.members });
}

/** A direct-message room of two people: its name is the other person's. */
export function isPair(r: Room): boolean {
  return r.kind === "dm" && r.members <= 2;
}
