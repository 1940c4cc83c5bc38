// Application state as signals, fed by the socket client and the HTTP API.
// Components read these signals and call the actions below; they never talk
// to the socket directly.

import { batch, computed, signal } from "@preact/signals";
import { api, ApiError, signedIn } from "./lib/api";
import { ChatSocket, type ConnState, type Pending } from "./lib/socket";
import type { Message, PresenceStatus, Room, ServerFrame, User } from "./protocol.gen";

export interface RoomLog {
  /** Messages by ascending seq, no two with the same seq. */
  messages: Message[];
  /** Older messages exist on the server. */
  hasMore: boolean;
  /** The newest page has been fetched. */
  loaded: boolean;
  loadingOlder: boolean;
  error?: string;
}

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
export const logs = signal<ReadonlyMap<string, RoomLog>>(new Map());
export const pending = signal<readonly Pending[]>([]);
export const conn = signal<ConnState>({ phase: "idle", attempt: 0, retryAt: null, everConnected: false });
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

export const activeRoom = computed(() => (activeId.value ? rooms.value.get(activeId.value) ?? null : null));

export const sortedRooms = computed(() => {
  const list = [...rooms.value.values()].filter((r) => r.kind !== "dm");
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
  return u ? people.value.get(u.name.toLowerCase()) ?? { name: u.name, user: u, status: "online" } : null;
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

function emptyLog(): RoomLog {
  return { messages: [], hasMore: true, loaded: false, loadingOlder: false };
}

/** Merges messages into a room's log by seq; a later state of a seq wins. */
export function mergeMessages(existing: readonly Message[], incoming: readonly Message[]): Message[] {
  if (incoming.length === 0) return existing as Message[];
  const bySeq = new Map<number, Message>();
  for (const m of existing) bySeq.set(m.seq, m);
  for (const m of incoming) bySeq.set(m.seq, m);
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}

function updateLog(room: string, fn: (l: RoomLog) => RoomLog): void {
  const cur = logs.value.get(room) ?? emptyLog();
  logs.value = setIn(logs.value, room, fn(cur));
}

function upsertRoom(r: Room): void {
  rooms.value = setIn(rooms.value, r.id, r);
}

function patchRoom(id: string, patch: Partial<Room>): void {
  const r = rooms.value.get(id);
  if (r) upsertRoom({ ...r, ...patch });
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
    const { user } = await api.me();
    startSession(user);
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) signInNote.value = describe(e);
  } finally {
    ready.value = true;
  }
}

export function startSession(user: User): void {
  signInNote.value = null;
  me.value = user;
  knowUser(user, "online");
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  socket = new ChatSocket({ url: `${proto}//${location.host}/ws`, probeAuth: signedIn });
  socket.on((ev) => {
    switch (ev.type) {
      case "state":
        onState(ev.state);
        break;
      case "pending":
        pending.value = ev.pending;
        break;
      case "frame":
        onFrame(ev.frame);
        break;
      case "gap":
        logs.value = setIn(logs.value, ev.room, emptyLog());
        if (activeId.value === ev.room) void loadLatest(ev.room);
        break;
      case "unauthorized":
        endSession("Your session has ended. Sign in again to continue.");
        break;
    }
  });
  socket.start();
  typingSweep = setInterval(sweepTyping, 1000);
}

function endSession(note: string | null): void {
  socket?.stop();
  socket = null;
  if (typingSweep) clearInterval(typingSweep);
  typingSweep = null;
  batch(() => {
    me.value = null;
    rooms.value = new Map();
    logs.value = new Map();
    pending.value = [];
    people.value = new Map();
    typing.value = new Map();
    activeId.value = null;
    openedAt.value = new Map();
    signInNote.value = note;
  });
}

export async function signOut(): Promise<void> {
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
      batch(() => {
        me.value = f.user;
        rooms.value = new Map(f.rooms.map((r) => [r.id, r]));
        const ppl = new Map<string, Person>();
        for (const p of people.value.values()) ppl.set(p.name.toLowerCase(), { ...p, status: "offline", text: undefined });
        for (const p of f.online) ppl.set(p.user.name.toLowerCase(), { name: p.user.name, user: p.user, status: p.status, text: p.text });
        if (!ppl.has(f.user.name.toLowerCase())) ppl.set(f.user.name.toLowerCase(), { name: f.user.name, user: f.user, status: "online" });
        people.value = ppl;
        for (const r of f.rooms) if (r.kind === "dm") knowName(r.name);
        typing.value = new Map();
        if (!activeId.value || !rooms.value.has(activeId.value)) activeId.value = pickStartRoom(f.rooms);
      });
      if (activeId.value) void openRoom(activeId.value);
      break;
    case "message":
    case "ack":
      onMessage(f.message, f.type === "ack");
      break;
    case "update":
      updateLog(f.room, (l) => ({ ...l, messages: l.messages.some((m) => m.seq === f.message.seq) ? mergeMessages(l.messages, [f.message]) : l.messages }));
      break;
    case "synced":
      break;
    case "typing":
      onTyping(f.room, f.user, f.active);
      break;
    case "presence":
      knowUser(f.user, f.status, f.text);
      break;
    case "room":
      onRoom(f.room, f.event);
      break;
    case "error":
      if (!f.ref) notify(f.message);
      break;
    case "history":
      break;
  }
}

function pickStartRoom(list: readonly Room[]): string | null {
  const fromHash = decodeURIComponent(location.hash.replace(/^#\/?/, ""));
  const byHash = fromHash && list.find((r) => r.id === fromHash || (r.kind !== "dm" && r.name === fromHash));
  if (byHash) return byHash.id;
  const general = list.find((r) => r.name === "general" && r.member);
  return (general ?? list.find((r) => r.member) ?? list[0])?.id ?? null;
}

function onMessage(m: Message, isAck: boolean): void {
  const mine = m.sender?.id === me.value?.id;
  const log = logs.value.get(m.room);
  const isNew = !log?.messages.some((x) => x.seq === m.seq);
  updateLog(m.room, (l) => ({ ...l, messages: mergeMessages(l.messages, [m]) }));
  if (m.sender) {
    knowUser(m.sender);
    const t = typing.value.get(m.room);
    if (t?.has(m.sender.id)) typing.value = setIn(typing.value, m.room, without(t, m.sender.id));
  }
  if (m.kind === "system") scheduleRoomRefresh();
  const r = rooms.value.get(m.room);
  if (!r) {
    // A room this client has not heard of (a new direct message): ask.
    scheduleRoomRefresh();
    return;
  }
  const patch: Partial<Room> = { last_seq: Math.max(r.last_seq, m.seq) };
  if (isNew && !mine && !isAck) {
    if (isReading(m.room)) {
      socket?.read(m.room, m.seq);
      patch.read_seq = m.seq;
      patch.unread = 0;
    } else {
      patch.unread = (r.unread ?? 0) + 1;
    }
  }
  if (mine) {
    patch.read_seq = Math.max(r.read_seq ?? 0, m.seq);
    patch.unread = 0;
  }
  patchRoom(m.room, patch);
}

/** The user is looking at the bottom of room now. */
function isReading(room: string): boolean {
  return activeId.value === room && atBottom.value && document.visibilityState === "visible";
}

function onTyping(room: string, user: User, active: boolean): void {
  if (user.id === me.value?.id) return;
  const cur = typing.value.get(room) ?? new Map<string, TypingEntry>();
  const next = active ? setIn(cur, user.id, { name: user.name, until: Date.now() + typingTTL }) : without(cur, user.id);
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
  if (r.kind === "dm") knowName(r.name);
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
        if (cur) next.set(r.id, { ...cur, members: r.members, member: r.member, name: r.name });
        else {
          next.set(r.id, r);
          if (r.member) socket?.addRoom(r);
          if (r.kind === "dm") knowName(r.name);
        }
      }
      rooms.value = next;
    } catch {
      /* next time */
    }
  }, 300);
}

// --- reading ---

/** Shows a room: loads its newest page if needed and marks it read. */
export async function openRoom(id: string): Promise<void> {
  const r = rooms.value.get(id);
  if (!r) return;
  if (activeId.value !== id || !openedAt.value.has(id)) {
    openedAt.value = setIn(openedAt.value, id, r.unread > 0 ? r.read_seq ?? 0 : Number.MAX_SAFE_INTEGER);
  }
  activeId.value = id;
  atBottom.value = true;
  const hash = `#/${r.kind === "dm" ? r.id : r.name}`;
  if (location.hash !== hash) history.replaceState(null, "", hash);
  const log = logs.value.get(id);
  if (!log?.loaded) await loadLatest(id);
  markRead(id);
}

async function loadLatest(id: string): Promise<void> {
  const room = rooms.value.get(id);
  if (!room) return;
  if (!room.member && room.kind !== "public") return;
  try {
    const page = await api.history(id);
    updateLog(id, (l) => ({
      ...l,
      messages: mergeMessages(l.messages, page.messages),
      hasMore: page.has_more,
      loaded: true,
      error: undefined,
    }));
    for (const m of page.messages) if (m.sender) knowUser(m.sender);
  } catch (e) {
    updateLog(id, (l) => ({ ...l, error: describe(e) }));
  }
}

/** Fetches the page before the oldest message shown. */
export async function loadOlder(id: string): Promise<void> {
  const log = logs.value.get(id);
  if (!log || !log.loaded || !log.hasMore || log.loadingOlder) return;
  const first = log.messages[0]?.seq;
  if (first === undefined || first <= 1) {
    updateLog(id, (l) => ({ ...l, hasMore: false }));
    return;
  }
  updateLog(id, (l) => ({ ...l, loadingOlder: true }));
  try {
    const page = await api.history(id, first, 50);
    updateLog(id, (l) => ({
      ...l,
      messages: mergeMessages(l.messages, page.messages),
      hasMore: page.has_more,
      loadingOlder: false,
    }));
    for (const m of page.messages) if (m.sender) knowUser(m.sender);
  } catch (e) {
    updateLog(id, (l) => ({ ...l, loadingOlder: false, error: describe(e) }));
  }
}

/** Marks the active room read up to its newest message, when the user can see it. */
export function markRead(id: string): void {
  const r = rooms.value.get(id);
  if (!r || !r.member) return;
  const log = logs.value.get(id);
  const newest = log?.messages.at(-1)?.seq ?? r.last_seq;
  if (r.unread > 0 || (r.read_seq ?? 0) < newest) {
    socket?.read(id, newest);
    patchRoom(id, { unread: 0, read_seq: newest });
  }
}

// --- writing ---

export function sendMessage(room: string, text: string): void {
  socket?.send(room, text);
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

export function setStatus(status: "online" | "away", text: string): void {
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

export async function joinRoom(id: string): Promise<void> {
  try {
    const { room } = await api.join(id);
    upsertRoom(room);
    socket?.addRoom(room);
    updateLog(id, () => emptyLog());
    await openRoom(id);
  } catch (e) {
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
