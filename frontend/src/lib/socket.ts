// The connection to /ws: connect, heartbeat, dead-link detection, reconnect
// with backoff, resume with hello, de-duplication, and the send queue.
//
// A plain module: it knows the protocol and nothing of the UI. Components
// subscribe with on() and render what it reports. Time, randomness, the
// WebSocket and the page's lifecycle events are injected, so the tests drive
// it with fake timers and a fake socket.

import {
  CloseUnauthenticated,
  CodeRateLimited,
  CodeUnavailable,
  StatusOnline,
  type Attachment,
  type ClientDelete,
  type ClientEdit,
  type ClientFrame,
  type ClientReact,
  type ClientStatus,
  type ErrorFrame,
  type Message,
  type Room,
  type SeqRange,
  type ServerFrame,
  type WelcomeFrame,
} from "../protocol.gen";

/** The part of the browser's WebSocket this module uses. */
export interface SocketLike {
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

/** Page events that make a waiting client try again at once. */
export interface Lifecycle {
  /** Calls fn when the browser comes back online; returns an unsubscribe. */
  onOnline(fn: () => void): () => void;
  /** Calls fn when the tab becomes visible; returns an unsubscribe. */
  onVisible(fn: () => void): () => void;
  /**
   * Calls fn when the browser goes offline; returns an unsubscribe.
   * Optional: without it the client notices a lost link by itself.
   */
  onOffline?(fn: () => void): () => void;
  /** Whether the browser says it is offline now (navigator.onLine false). */
  isOffline?(): boolean;
}

/**
 * Keeps the unacknowledged sends across page loads (lib/outbox.ts): load
 * once when the client is made, save after every change.
 */
export interface OutboxStore {
  load(): Pending[];
  save(pending: readonly Pending[]): void;
}

export interface SocketOptions {
  /** ws:// or wss:// URL of /ws. The session cookie goes with the upgrade. */
  url: string;
  /** Opens a socket; default `new WebSocket(url)`. */
  create?: (url: string) => SocketLike;
  /** Uniform in [0, 1); default Math.random. Drives the jitter. */
  random?: () => number;
  /** Epoch milliseconds; default Date.now. */
  now?: () => number;
  /** Default: window's online event and document's visibilitychange. */
  lifecycle?: Lifecycle;
  /** First backoff ceiling; default 500 ms. */
  backoffBaseMs?: number;
  /** Largest backoff ceiling; default 30 s. */
  backoffMaxMs?: number;
  /** A connection that stays up this long resets the backoff; default 10 s. */
  stableMs?: number;
  /** Heartbeat assumed until welcome tells the real one; default 25 s. */
  heartbeatMs?: number;
  /**
   * Asked after a connection failed before its welcome (a refused upgrade
   * looks like any network error to a browser). Resolving false means the
   * session is gone: the client stops as on 4401.
   */
  probeAuth?: () => Promise<boolean>;
  /** New client_id values; default crypto.randomUUID. */
  newId?: () => string;
  /** Where unacknowledged sends are kept across page loads; default: memory only. */
  outbox?: OutboxStore;
}

/**
 * - idle: not started
 * - connecting: a socket is opening, or open and waiting for welcome
 * - open: welcome received; frames flow
 * - waiting: disconnected, the next try is at retryAt
 * - unauthorized: the session ended (4401); sign in again
 * - stopped: stop() was called
 */
export type Phase = "idle" | "connecting" | "open" | "waiting" | "unauthorized" | "stopped";

export interface ConnState {
  phase: Phase;
  /** Failed tries since the last stable connection. */
  attempt: number;
  /** When waiting: epoch ms of the next try. */
  retryAt: number | null;
  /** A welcome has been received at least once. */
  everConnected: boolean;
  /**
   * The browser says it is offline: no try is made until it is back
   * (phase is then "waiting" with retryAt null).
   */
  offline?: boolean;
}

/** A message sent but not yet acknowledged. */
export interface Pending {
  clientId: string;
  room: string;
  text: string;
  /** Files already uploaded that go with the message. */
  attachments?: Attachment[];
  /** The id of the message this one answers. */
  replyTo?: string;
  /** "me" for an action (/me); absent for a chat message. */
  kind?: "me";
  /** Epoch ms of the first send. */
  createdAt: number;
  /** sending: will be (re)sent until acknowledged; failed: refused, see error. */
  status: "sending" | "failed";
  error?: string;
}

export type SocketEvent =
  | { type: "state"; state: ConnState }
  /** A server frame, after de-duplication; pings are answered, not reported. */
  | { type: "frame"; frame: ServerFrame }
  | { type: "pending"; pending: readonly Pending[] }
  /**
   * The server answered a send with unavailable (it cannot store anything
   * now: its database is away) and the message is being retried
   * (unsaved: true), or a send has since been stored (unsaved: false).
   */
  | { type: "unsaved"; unsaved: boolean }
  /** A capped replay left out the range skipped: the client's copy of it is stale. */
  | { type: "gap"; room: string; skipped: SeqRange }
  | { type: "unauthorized" };

export type Listener = (ev: SocketEvent) => void;

/** The largest backoff ceiling for a try: base·2^attempt, capped. */
export function backoffCeiling(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
}

/** Full jitter: uniform between 0 and the ceiling. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  return Math.floor(random() * backoffCeiling(attempt, baseMs, maxMs));
}

/** Close code the client uses when it gives up on a silent link. */
export const CloseDeadLink = 4000;

const browserLifecycle: Lifecycle = {
  onOnline(fn) {
    window.addEventListener("online", fn);
    return () => window.removeEventListener("online", fn);
  },
  onOffline(fn) {
    window.addEventListener("offline", fn);
    return () => window.removeEventListener("offline", fn);
  },
  isOffline() {
    return typeof navigator !== "undefined" && navigator.onLine === false;
  },
  onVisible(fn) {
    const h = () => {
      if (document.visibilityState === "visible") fn();
    };
    document.addEventListener("visibilitychange", h);
    return () => document.removeEventListener("visibilitychange", h);
  },
};

function randomId(): string {
  if (typeof crypto !== "undefined" && "randomUUID" in crypto) return crypto.randomUUID();
  return Math.random().toString(36).slice(2) + Date.now().toString(36);
}

type Timer = ReturnType<typeof setTimeout>;

/** The ref of hello frames, so that a refusal of one is recognised. */
const HelloRef = "hello";

/**
 * ChatSocket keeps one connection to the server alive and reports what
 * arrives. It is single-threaded like the page: every method and handler runs
 * to completion, so its state needs no locking.
 */
export class ChatSocket {
  private readonly opts: Required<Omit<SocketOptions, "probeAuth" | "outbox">> & Pick<SocketOptions, "probeAuth" | "outbox">;
  private readonly listeners = new Set<Listener>();
  private ws: SocketLike | null = null;
  /** Bumped for every socket, so events of an abandoned one are ignored. */
  private gen = 0;
  private welcomed = false;
  private heartbeatMs: number;
  private deadTimer: Timer | null = null;
  private stableTimer: Timer | null = null;
  private retryTimer: Timer | null = null;
  private unsubscribe: Array<() => void> = [];
  private me: string | null = null;
  private ops = 0;

  private state: ConnState = { phase: "idle", attempt: 0, retryAt: null, everConnected: false };

  /** Highest seq per room received in a message or update frame. */
  private readonly seen = new Map<string, number>();
  /** last_seq per room when the client first learnt of the room. */
  private readonly base = new Map<string, number>();
  /** Rooms the user is a member of (hello names only these). */
  private readonly member = new Set<string>();

  /** Unacknowledged sends in the order they were made. */
  private readonly pending = new Map<string, Pending>();
  /** A send was answered unavailable and none has been stored since. */
  private cannotSave = false;
  private readonly resendTimers = new Map<string, Timer>();
  private status: { status: ClientStatus["status"]; text: string } = { status: StatusOnline, text: "" };

  constructor(opts: SocketOptions) {
    this.opts = {
      create: (url) => new WebSocket(url) as unknown as SocketLike,
      random: () => Math.random(),
      now: () => Date.now(),
      lifecycle: browserLifecycle,
      backoffBaseMs: 500,
      backoffMaxMs: 30_000,
      stableMs: 10_000,
      heartbeatMs: 25_000,
      newId: randomId,
      ...opts,
    };
    this.heartbeatMs = this.opts.heartbeatMs;
    // Sends of an earlier page load that were never acknowledged: they go
    // out again, with their client_id, once connected (the server answers a
    // repeated client_id with the original message, so none is doubled).
    for (const p of this.opts.outbox?.load() ?? []) this.pending.set(p.clientId, p);
  }

  /** Subscribes to events; returns the unsubscribe function. */
  on(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  get connState(): ConnState {
    return this.state;
  }

  /** The server cannot store messages right now; see the "unsaved" event. */
  get unsaved(): boolean {
    return this.cannotSave;
  }

  get pendingMessages(): readonly Pending[] {
    return [...this.pending.values()];
  }

  /** The seq this client would resume a room from. */
  lastSeq(room: string): number {
    return Math.max(this.seen.get(room) ?? 0, this.base.get(room) ?? 0);
  }

  /** Opens the connection; later disconnects reconnect by themselves. */
  start(): void {
    if (this.state.phase !== "idle" && this.state.phase !== "stopped") return;
    const lc = this.opts.lifecycle;
    this.unsubscribe.push(
      lc.onOnline(() => this.backOnline()),
      lc.onVisible(() => this.retryNow()),
    );
    if (lc.onOffline) this.unsubscribe.push(lc.onOffline(() => this.goOffline()));
    if (this.pending.size > 0) this.emitPending();
    if (lc.isOffline?.()) {
      this.setState({ phase: "waiting", retryAt: null, offline: true });
      return;
    }
    this.connect();
  }

  /** Closes the connection for good (sign-out, page teardown). */
  stop(): void {
    this.halt();
    this.setState({ phase: "stopped", retryAt: null });
  }

  /** When waiting for the next try, tries now. */
  retryNow(): void {
    if (this.state.phase !== "waiting" || this.state.offline) return;
    this.clear("retryTimer");
    this.connect();
  }

  /**
   * Queues a message and sends it when connected. It stays pending, and is
   * re-sent with the same client_id after every reconnect, until the server
   * acknowledges it. Returns its client_id.
   */
  send(room: string, text: string, extra: { attachments?: Attachment[]; replyTo?: string; kind?: "me" } = {}): string {
    const p: Pending = {
      clientId: this.opts.newId(),
      room,
      text,
      createdAt: this.opts.now(),
      status: "sending",
    };
    if (extra.attachments?.length) p.attachments = extra.attachments;
    if (extra.replyTo) p.replyTo = extra.replyTo;
    if (extra.kind) p.kind = extra.kind;
    this.pending.set(p.clientId, p);
    this.emitPending();
    this.transmitPending(p);
    return p.clientId;
  }

  /** Sends a failed message again, with its client_id. */
  retry(clientId: string): void {
    const p = this.pending.get(clientId);
    if (!p || p.status !== "failed") return;
    this.pending.set(clientId, { ...p, status: "sending", error: undefined });
    this.emitPending();
    this.transmitPending(this.pending.get(clientId)!);
  }

  /** Forgets a pending message. */
  discard(clientId: string): void {
    this.clearResend(clientId);
    if (this.pending.delete(clientId)) this.emitPending();
    if (![...this.pending.values()].some((p) => p.status === "sending")) this.setUnsaved(false);
  }

  /** Tells others that the user is typing; dropped while disconnected. */
  typing(room: string, active: boolean): void {
    this.sendNow({ type: "typing", room, active });
  }

  /**
   * Sends an edit, delete or react frame now; reports whether it went out
   * (they are not queued: a change made while offline would surprise when
   * it lands later). Its ref starts with "op-", so a refusal can be told
   * from a refused send.
   */
  change(frame: Omit<ClientEdit, "ref"> | Omit<ClientDelete, "ref"> | Omit<ClientReact, "ref">): boolean {
    return this.sendNow({ ...frame, ref: `op-${++this.ops}` });
  }

  /** Moves the user's read marker; dropped while disconnected. */
  read(room: string, seq: number): void {
    this.sendNow({ type: "read", room, seq });
  }

  /** Sets the user's presence; kept and told again after each reconnect. */
  setStatus(status: ClientStatus["status"], text = ""): void {
    this.status = { status, text };
    this.sendNow(text ? { type: "status", status, text } : { type: "status", status });
  }

  /** Tells the client about a room it joined outside the socket (REST). */
  addRoom(room: Room): void {
    this.learnRoom(room);
  }

  // --- connection ---

  /**
   * The browser went offline: the socket is given up at once (it could
   * take a heartbeat to notice), and no try is made until it is online
   * again. Sends wait in the queue meanwhile.
   */
  private goOffline(): void {
    const p = this.state.phase;
    if (p === "idle" || p === "stopped" || p === "unauthorized") return;
    this.detach();
    this.welcomed = false;
    this.clear("retryTimer");
    this.setState({ phase: "waiting", retryAt: null, offline: true });
  }

  /** The browser is online again: try at once. */
  private backOnline(): void {
    if (this.state.offline) this.setState({ offline: false });
    this.retryNow();
  }

  private connect(): void {
    this.detach();
    this.welcomed = false;
    this.setState({ phase: "connecting", retryAt: null });
    const gen = ++this.gen;
    let ws: SocketLike;
    try {
      ws = this.opts.create(this.opts.url);
    } catch {
      this.onClosed(gen, 1006);
      return;
    }
    this.ws = ws;
    ws.onmessage = (ev) => {
      if (gen === this.gen) this.onData(ev.data);
    };
    ws.onclose = (ev) => this.onClosed(gen, ev.code);
    ws.onerror = () => {
      /* a close event follows */
    };
    ws.onopen = null;
    // A handshake that never finishes counts as a dead link too.
    this.armDeadTimer();
  }

  /** Stops timers and lets go of the socket; does not change the phase. */
  private halt(): void {
    this.clear("retryTimer");
    this.detach();
    for (const u of this.unsubscribe) u();
    this.unsubscribe = [];
    for (const id of [...this.resendTimers.keys()]) this.clearResend(id);
  }

  /** Abandons the current socket: its later events are ignored. */
  private detach(): void {
    this.clear("deadTimer");
    this.clear("stableTimer");
    const ws = this.ws;
    this.ws = null;
    this.gen++;
    if (ws) {
      ws.onmessage = null;
      ws.onclose = null;
      ws.onerror = null;
      try {
        ws.close(1000);
      } catch {
        /* already closed */
      }
    }
  }

  private onClosed(gen: number, code: number): void {
    if (gen !== this.gen) return;
    const hadWelcome = this.welcomed;
    this.ws = null;
    this.welcomed = false;
    this.clear("deadTimer");
    this.clear("stableTimer");
    if (code === CloseUnauthenticated) {
      this.unauthorized();
      return;
    }
    this.scheduleRetry();
    if (!hadWelcome && this.opts.probeAuth) {
      const probeGen = this.gen;
      this.opts.probeAuth().then(
        (ok) => {
          if (!ok && this.gen === probeGen && this.state.phase === "waiting") this.unauthorized();
        },
        () => {
          /* unknown: keep trying */
        },
      );
    }
  }

  private unauthorized(): void {
    this.halt();
    this.setState({ phase: "unauthorized", retryAt: null });
    this.emit({ type: "unauthorized" });
  }

  private scheduleRetry(): void {
    if (this.state.offline) {
      // Nothing to try until the browser is back (backOnline).
      this.clear("retryTimer");
      this.setState({ phase: "waiting", retryAt: null });
      return;
    }
    const { backoffBaseMs, backoffMaxMs, random, now } = this.opts;
    const delay = backoffDelay(this.state.attempt, backoffBaseMs, backoffMaxMs, random);
    this.clear("retryTimer");
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delay);
    this.setState({ phase: "waiting", attempt: this.state.attempt + 1, retryAt: now() + delay });
  }

  private armDeadTimer(): void {
    this.clear("deadTimer");
    const gen = this.gen;
    this.deadTimer = setTimeout(() => {
      this.deadTimer = null;
      if (gen !== this.gen) return;
      // Nothing for two heartbeats: the link is dead even if the socket
      // does not know yet. Closing cleanly could wait for a peer that is
      // gone, so the socket is abandoned and a new one tried.
      this.detach();
      this.ws = null;
      this.onClosed(this.gen, CloseDeadLink);
    }, 2 * this.heartbeatMs);
  }

  private clear(name: "deadTimer" | "stableTimer" | "retryTimer"): void {
    const t = this[name];
    if (t !== null) clearTimeout(t);
    this[name] = null;
  }

  // --- incoming ---

  private onData(data: unknown): void {
    this.armDeadTimer();
    if (typeof data !== "string") return;
    // One server message holds one or more frames, one per line.
    for (const line of data.split("\n")) {
      if (!line) continue;
      let frame: ServerFrame;
      try {
        frame = JSON.parse(line) as ServerFrame;
      } catch {
        continue;
      }
      if (frame && typeof frame === "object" && typeof frame.type === "string") this.onFrame(frame);
    }
  }

  private onFrame(f: ServerFrame): void {
    switch (f.type) {
      case "ping":
        this.sendNow({ type: "pong" });
        return;
      case "welcome":
        this.onWelcome(f);
        return;
      case "message": {
        const m = f.message;
        if (!this.fresh(m.room, m.seq)) return;
        this.emit({ type: "frame", frame: f });
        this.settle(m);
        return;
      }
      case "update":
        if (!this.fresh(f.room, f.seq)) return;
        this.emit({ type: "frame", frame: f });
        return;
      case "ack":
        this.emit({ type: "frame", frame: f });
        this.settle(f.message, f.ref);
        return;
      case "error":
        this.emit({ type: "frame", frame: f });
        this.onError(f);
        return;
      case "synced": {
        this.seen.set(f.room, Math.max(this.seen.get(f.room) ?? 0, f.last_seq));
        this.emit({ type: "frame", frame: f });
        // A capped replay names the range it left out: the copy of it
        // here is stale (PROTOCOL.md §3), so the room starts again from
        // the newest page. The stream is complete from synced on.
        if (f.skipped) this.emit({ type: "gap", room: f.room, skipped: f.skipped });
        return;
      }
      case "room":
        if (f.event === "left") this.member.delete(f.room.id);
        else this.learnRoom(f.room);
        this.emit({ type: "frame", frame: f });
        return;
      default:
        this.emit({ type: "frame", frame: f });
    }
  }

  /** Reports whether seq is new for room, and records it. */
  private fresh(room: string, seq: number): boolean {
    if (seq <= (this.seen.get(room) ?? 0)) return false;
    this.seen.set(room, seq);
    return true;
  }

  private learnRoom(room: Room): void {
    if (!this.base.has(room.id)) this.base.set(room.id, room.last_seq);
    if (room.member) this.member.add(room.id);
    else this.member.delete(room.id);
  }

  private onWelcome(f: WelcomeFrame): void {
    this.welcomed = true;
    this.me = f.user.id;
    this.heartbeatMs = f.heartbeat_ms > 0 ? f.heartbeat_ms : this.opts.heartbeatMs;
    this.armDeadTimer();
    for (const r of f.rooms) this.learnRoom(r);
    this.setState({ phase: "open", retryAt: null, everConnected: true });
    this.emit({ type: "frame", frame: f });
    this.sayHello();
    if (this.status.status !== StatusOnline || this.status.text) {
      const { status, text } = this.status;
      this.sendNow(text ? { type: "status", status, text } : { type: "status", status });
    }
    // Re-send with the same client_id: a message stored before the link
    // broke is answered with its original, so nothing is doubled.
    for (const p of this.pending.values()) {
      if (p.status === "sending") this.transmitPending(p);
    }
    const gen = this.gen;
    this.clear("stableTimer");
    this.stableTimer = setTimeout(() => {
      this.stableTimer = null;
      if (gen === this.gen && this.state.phase === "open") this.setState({ attempt: 0 });
    }, this.opts.stableMs);
  }

  /** Asks for the replay of every member room after the last seq seen. */
  private sayHello(): void {
    const since: Record<string, number> = {};
    for (const id of this.member) since[id] = this.lastSeq(id);
    this.sendNow({ type: "hello", ref: HelloRef, since });
  }

  /** Resolves the pending send that m (an ack or our own message) answers. */
  private settle(m: Message, ref?: string): void {
    const id = ref && this.pending.has(ref) ? ref : m.client_id;
    if (!id || !this.pending.has(id)) return;
    if (!ref && m.sender?.id !== this.me) return;
    this.clearResend(id);
    this.pending.delete(id);
    this.emitPending();
    this.setUnsaved(false); // the server stores messages again
  }

  private onError(f: ErrorFrame): void {
    if (f.ref === HelloRef && f.code === CodeRateLimited) {
      // The server is answering too many replays of this account (other
      // tabs resuming too): say hello again when it says.
      const gen = this.gen;
      setTimeout(() => {
        if (gen === this.gen && this.welcomed) this.sayHello();
      }, Math.max(f.retry_after_ms ?? 1000, 50));
      return;
    }
    const p = f.ref ? this.pending.get(f.ref) : undefined;
    if (!p) return;
    // Both say when to try again; the message stays queued meanwhile. With
    // unavailable the server's database is away: nothing was stored, and
    // the same client_id is sent again, as after a reconnect.
    if (f.code === CodeRateLimited || f.code === CodeUnavailable) {
      if (f.code === CodeUnavailable) this.setUnsaved(true);
      this.clearResend(p.clientId);
      const t = setTimeout(() => {
        this.resendTimers.delete(p.clientId);
        const cur = this.pending.get(p.clientId);
        if (cur && cur.status === "sending") this.transmitPending(cur);
      }, Math.max(f.retry_after_ms ?? 1000, 50));
      this.resendTimers.set(p.clientId, t);
      return;
    }
    this.pending.set(p.clientId, { ...p, status: "failed", error: f.message });
    this.emitPending();
  }

  // --- outgoing ---

  private transmitPending(p: Pending): void {
    const f: ClientFrame = { type: "send", ref: p.clientId, room: p.room, text: p.text, client_id: p.clientId };
    if (p.attachments) f.attachments = p.attachments.map((a) => a.id);
    if (p.replyTo) f.reply_to = p.replyTo;
    if (p.kind) f.kind = p.kind;
    this.sendNow(f);
  }

  private clearResend(id: string): void {
    const t = this.resendTimers.get(id);
    if (t !== undefined) clearTimeout(t);
    this.resendTimers.delete(id);
  }

  /** Sends a frame if the connection is open; reports whether it did. */
  private sendNow(frame: ClientFrame): boolean {
    if (!this.ws || !this.welcomed) return false;
    try {
      this.ws.send(JSON.stringify(frame));
      return true;
    } catch {
      return false;
    }
  }

  // --- events ---

  private setState(patch: Partial<ConnState>): void {
    this.state = { ...this.state, ...patch };
    this.emit({ type: "state", state: this.state });
  }

  private setUnsaved(unsaved: boolean): void {
    if (this.cannotSave === unsaved) return;
    this.cannotSave = unsaved;
    this.emit({ type: "unsaved", unsaved });
  }

  private emitPending(): void {
    const pending = this.pendingMessages;
    this.opts.outbox?.save(pending);
    this.emit({ type: "pending", pending });
  }

  private emit(ev: SocketEvent): void {
    for (const fn of [...this.listeners]) fn(ev);
  }
}
