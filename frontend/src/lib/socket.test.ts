import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ClientFrame, Message, Room, ServerFrame, User, WelcomeFrame } from "../protocol.gen";
import {
  ChatSocket,
  CloseDeadLink,
  backoffCeiling,
  backoffDelay,
  type Lifecycle,
  type SocketEvent,
  type SocketLike,
  type SocketOptions,
} from "./socket";

/** A WebSocket stand-in the test drives by hand. */
class FakeSocket implements SocketLike {
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  sent: ClientFrame[] = [];
  closedWith: number | null = null;

  constructor(readonly url: string) {}

  send(data: string): void {
    if (this.closedWith !== null) throw new Error("send on a closed socket");
    this.sent.push(JSON.parse(data) as ClientFrame);
  }

  close(code = 1000): void {
    this.closedWith ??= code;
  }

  /** The server sends one message holding these frames. */
  receive(...frames: ServerFrame[]): void {
    this.onmessage?.({ data: frames.map((f) => JSON.stringify(f)).join("\n") });
  }

  /** The connection ends with code. */
  drop(code = 1006): void {
    this.closedWith ??= code;
    this.onclose?.({ code, reason: "" });
  }

  framesOf<T extends ClientFrame["type"]>(type: T): Extract<ClientFrame, { type: T }>[] {
    return this.sent.filter((f): f is Extract<ClientFrame, { type: T }> => f.type === type);
  }
}

/** Page lifecycle events fired by the test. */
class FakeLifecycle implements Lifecycle {
  online = new Set<() => void>();
  visible = new Set<() => void>();
  onOnline(fn: () => void) {
    this.online.add(fn);
    return () => this.online.delete(fn);
  }
  onVisible(fn: () => void) {
    this.visible.add(fn);
    return () => this.visible.delete(fn);
  }
  fireOnline() {
    for (const fn of this.online) fn();
  }
  fireVisible() {
    for (const fn of this.visible) fn();
  }
}

const alice: User = { id: "u_alice", name: "alice", role: "member" };
const bob: User = { id: "u_bob", name: "bob", role: "member" };

function room(id: string, last_seq: number, member = true): Room {
  return { id, name: id, kind: "public", last_seq, members: 2, unread: 0, member };
}

function welcome(rooms: Room[], heartbeat_ms = 1000): WelcomeFrame {
  return {
    type: "welcome",
    session: "s_1",
    user: alice,
    rooms,
    online: [],
    heartbeat_ms,
    limits: { max_frame_bytes: 65536, max_text_chars: 4000, messages_per_second: 5, burst: 20 },
    server: { version: "test" },
  };
}

function msg(roomId: string, seq: number, sender: User = bob, extra: Partial<Message> = {}): Message {
  return {
    id: `m_${roomId}_${seq}`,
    room: roomId,
    seq,
    kind: "chat",
    sender,
    text: `message ${seq}`,
    ts: "2026-01-01T00:00:00.000Z",
    ...extra,
  };
}

interface Harness {
  client: ChatSocket;
  sockets: FakeSocket[];
  events: SocketEvent[];
  life: FakeLifecycle;
  /** The newest socket. */
  last(): FakeSocket;
  frames(): ServerFrame[];
}

function setup(opts: Partial<SocketOptions> = {}): Harness {
  const sockets: FakeSocket[] = [];
  const events: SocketEvent[] = [];
  const life = new FakeLifecycle();
  let n = 0;
  const client = new ChatSocket({
    url: "ws://test/ws",
    create: (url) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      return s;
    },
    random: () => 0.5,
    lifecycle: life,
    newId: () => `c${++n}`,
    ...opts,
  });
  client.on((ev) => events.push(ev));
  client.start();
  return {
    client,
    sockets,
    events,
    life,
    last: () => sockets[sockets.length - 1]!,
    frames: () => events.flatMap((e) => (e.type === "frame" ? [e.frame] : [])),
  };
}

/** Messages the UI was told about, as room:seq. */
function delivered(h: Harness): string[] {
  return h.frames().flatMap((f) => (f.type === "message" ? [`${f.message.room}:${f.message.seq}`] : []));
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(new Date("2026-01-01T00:00:00Z"));
});

afterEach(() => {
  vi.useRealTimers();
});

describe("backoff", () => {
  it("doubles the ceiling from 0.5 s and caps it at 30 s", () => {
    const ceilings = Array.from({ length: 10 }, (_, i) => backoffCeiling(i, 500, 30_000));
    expect(ceilings).toEqual([500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000, 30_000]);
    expect(backoffCeiling(1000, 500, 30_000)).toBe(30_000);
  });

  it("jitters uniformly between zero and the ceiling (full jitter)", () => {
    expect(backoffDelay(3, 500, 30_000, () => 0)).toBe(0);
    expect(backoffDelay(3, 500, 30_000, () => 0.5)).toBe(2000);
    expect(backoffDelay(3, 500, 30_000, () => 0.999999)).toBe(3999);
    const samples = Array.from({ length: 500 }, () => backoffDelay(20, 500, 30_000, Math.random));
    for (const d of samples) {
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThan(30_000);
    }
    expect(new Set(samples).size).toBeGreaterThan(100);
    expect(Math.min(...samples)).toBeLessThan(10_000);
    expect(Math.max(...samples)).toBeGreaterThan(20_000);
  });

  it("waits a jittered, growing delay between failed tries", () => {
    const h = setup({ random: () => 0.999 });
    const waits: number[] = [];
    for (let i = 0; i < 9; i++) {
      const before = Date.now();
      h.last().drop(1006);
      const st = h.client.connState;
      expect(st.phase).toBe("waiting");
      expect(st.retryAt).not.toBeNull();
      waits.push(st.retryAt! - before);
      const count = h.sockets.length;
      vi.advanceTimersByTime(st.retryAt! - before - 1);
      expect(h.sockets.length).toBe(count); // not a moment early
      vi.advanceTimersByTime(1);
      expect(h.sockets.length).toBe(count + 1);
    }
    expect(waits).toEqual([499, 999, 1998, 3996, 7992, 15_984, 29_970, 29_970, 29_970]);
    expect(h.client.connState.attempt).toBe(9);
  });

  it("resets after a connection has stayed up, not after a short one", () => {
    const h = setup({ random: () => 0.999, stableMs: 10_000 });
    for (let i = 0; i < 4; i++) {
      h.last().drop();
      vi.advanceTimersByTime(30_000);
    }
    expect(h.client.connState.attempt).toBe(4);

    // Up for a moment only: the backoff keeps growing.
    h.last().receive(welcome([room("r_a", 0)], 60_000));
    vi.advanceTimersByTime(5_000);
    h.last().drop();
    expect(h.client.connState.attempt).toBe(5);
    vi.advanceTimersByTime(30_000);

    // Up long enough: the next failure starts again from 0.5 s.
    h.last().receive(welcome([room("r_a", 0)], 60_000));
    vi.advanceTimersByTime(10_000);
    expect(h.client.connState.attempt).toBe(0);
    const before = Date.now();
    h.last().drop(1001);
    expect(h.client.connState.retryAt! - before).toBe(499);
  });

  it("tries at once when the browser comes back online or the tab becomes visible", () => {
    const h = setup({ random: () => 0.999 });
    for (let i = 0; i < 6; i++) {
      h.last().drop();
      vi.advanceTimersByTime(30_000);
    }
    h.last().drop();
    expect(h.client.connState.phase).toBe("waiting");
    const count = h.sockets.length;
    h.life.fireOnline();
    expect(h.sockets.length).toBe(count + 1);
    expect(h.client.connState.phase).toBe("connecting");

    h.last().drop();
    h.life.fireVisible();
    expect(h.sockets.length).toBe(count + 2);

    // While connected these events change nothing.
    h.last().receive(welcome([], 120_000));
    h.life.fireOnline();
    h.life.fireVisible();
    expect(h.sockets.length).toBe(count + 2);
    // The timer of the skipped wait does not open a second socket.
    vi.advanceTimersByTime(60_000);
    expect(h.sockets.length).toBe(count + 2);
  });
});

describe("heartbeat", () => {
  it("answers ping with pong and keeps a talking link", () => {
    const h = setup();
    h.last().receive(welcome([], 1000));
    for (let i = 0; i < 10; i++) {
      vi.advanceTimersByTime(1000);
      h.last().receive({ type: "ping" });
    }
    expect(h.last().framesOf("pong")).toHaveLength(10);
    expect(h.sockets).toHaveLength(1);
    expect(h.client.connState.phase).toBe("open");
    expect(h.frames().some((f) => f.type === "ping")).toBe(false);
  });

  it("gives up on a link silent for two heartbeats and reconnects", () => {
    const h = setup({ random: () => 0 });
    const first = h.last();
    first.receive(welcome([room("r_a", 3)], 1000));
    vi.advanceTimersByTime(1999);
    expect(h.client.connState.phase).toBe("open");
    vi.advanceTimersByTime(1);
    expect(first.closedWith).not.toBeNull();
    expect(h.client.connState.phase).not.toBe("open");
    vi.advanceTimersByTime(1);
    expect(h.sockets).toHaveLength(2);
    // The abandoned socket's late events are ignored.
    first.receive({ type: "message", message: msg("r_a", 4) });
    first.drop(1006);
    expect(delivered(h)).toEqual([]);
    expect(h.sockets).toHaveLength(2);
    expect(CloseDeadLink).toBeGreaterThanOrEqual(4000);
  });

  it("treats a handshake that never completes as dead", () => {
    const h = setup({ random: () => 0, heartbeatMs: 5000 });
    vi.advanceTimersByTime(10_000);
    expect(h.sockets[0]!.closedWith).not.toBeNull();
    vi.advanceTimersByTime(1);
    expect(h.sockets).toHaveLength(2);
  });
});

describe("resume and de-duplication", () => {
  it("says hello with the last seq seen per room, and only for member rooms", () => {
    const h = setup({ random: () => 0 });
    h.last().receive(welcome([room("r_a", 5), room("r_b", 3), room("r_pub", 9, false)]));
    expect(h.last().framesOf("hello")).toEqual([{ type: "hello", since: { r_a: 5, r_b: 3 } }]);

    h.last().receive({ type: "message", message: msg("r_a", 6) }, { type: "message", message: msg("r_a", 7) });
    h.last().receive({ type: "update", room: "r_a", seq: 8, message: msg("r_a", 6, bob, { text: "edited" }) });
    h.last().drop(1001);
    vi.advanceTimersByTime(1);

    // The new welcome's last_seq is newer than what this client saw; resume
    // from what it saw, so the messages in between are replayed.
    h.last().receive(welcome([room("r_a", 12), room("r_b", 6), room("r_pub", 9, false)]));
    expect(h.last().framesOf("hello")).toEqual([{ type: "hello", since: { r_a: 8, r_b: 3 } }]);
  });

  it("delivers each room and seq once across live frames, replays and batches", () => {
    const h = setup({ random: () => 0 });
    h.last().receive(welcome([room("r_a", 0), room("r_b", 0)]));
    h.last().receive(
      { type: "message", message: msg("r_a", 1) },
      { type: "message", message: msg("r_a", 2) },
      { type: "message", message: msg("r_b", 1) },
    );
    h.last().receive({ type: "message", message: msg("r_a", 2) }); // doubled
    h.last().drop();
    vi.advanceTimersByTime(1);
    h.last().receive(welcome([room("r_a", 4), room("r_b", 1)]));
    // Replay overlaps what was already seen.
    h.last().receive(
      { type: "message", message: msg("r_a", 2) },
      { type: "message", message: msg("r_a", 3) },
      { type: "update", room: "r_a", seq: 4, message: msg("r_a", 1, bob, { deleted: true, text: "" }) },
      { type: "synced", room: "r_a", last_seq: 4 },
      { type: "synced", room: "r_b", last_seq: 1 },
    );
    h.last().receive({ type: "update", room: "r_a", seq: 4, message: msg("r_a", 1, bob, { deleted: true, text: "" }) });
    h.last().receive({ type: "message", message: msg("r_a", 3) }, { type: "message", message: msg("r_a", 5) });
    expect(delivered(h)).toEqual(["r_a:1", "r_a:2", "r_b:1", "r_a:3", "r_a:5"]);
    expect(h.frames().filter((f) => f.type === "update")).toHaveLength(1);
    expect(h.client.lastSeq("r_a")).toBe(5);
  });

  it("reports a gap when a replay stops at the per-room cap", () => {
    const h = setup({ random: () => 0 });
    h.last().receive(welcome([room("r_a", 0)]));
    const frames: ServerFrame[] = [];
    for (let s = 1; s <= 500; s++) frames.push({ type: "message", message: msg("r_a", s) });
    frames.push({ type: "synced", room: "r_a", last_seq: 500 });
    h.last().receive(...frames);
    expect(h.events.filter((e) => e.type === "gap")).toEqual([{ type: "gap", room: "r_a" }]);
  });

  it("ignores lines that are not JSON", () => {
    const h = setup();
    h.last().receive(welcome([room("r_a", 0)]));
    h.last().onmessage?.({ data: 'not json\n{"type":"message","message":' + JSON.stringify(msg("r_a", 1)) + "}\n" });
    expect(delivered(h)).toEqual(["r_a:1"]);
  });
});

describe("send queue", () => {
  function pendingIds(h: Harness): string[] {
    return h.client.pendingMessages.map((p) => `${p.clientId}:${p.status}`);
  }

  it("keeps a message sent while offline pending and sends it once connected", () => {
    const h = setup({ random: () => 0 });
    const id = h.client.send("r_a", "hello there");
    expect(pendingIds(h)).toEqual([`${id}:sending`]);
    expect(h.last().sent).toEqual([]);
    const pendingEvents = h.events.filter((e) => e.type === "pending");
    expect(pendingEvents.at(-1)).toMatchObject({ pending: [{ clientId: id, room: "r_a", text: "hello there" }] });

    h.last().receive(welcome([room("r_a", 0)]));
    expect(h.last().framesOf("send")).toEqual([
      { type: "send", ref: id, room: "r_a", text: "hello there", client_id: id },
    ]);
    h.last().receive({ type: "ack", ref: id, message: msg("r_a", 1, alice, { client_id: id, text: "hello there" }) });
    expect(pendingIds(h)).toEqual([]);
  });

  it("re-sends unacknowledged messages with the same client_id after a reconnect", () => {
    const h = setup({ random: () => 0 });
    h.last().receive(welcome([room("r_a", 0)]));
    const a = h.client.send("r_a", "one");
    const b = h.client.send("r_a", "two");
    expect(h.last().framesOf("send").map((f) => f.client_id)).toEqual([a, b]);
    h.last().receive({ type: "ack", ref: a, message: msg("r_a", 1, alice, { client_id: a }) });
    h.last().drop(1006); // "two" was sent but never acknowledged

    const c = h.client.send("r_a", "three"); // typed while offline
    expect(pendingIds(h)).toEqual([`${b}:sending`, `${c}:sending`]);
    vi.advanceTimersByTime(1);
    const second = h.last();
    second.receive(welcome([room("r_a", 1)]));
    const resent = second.framesOf("send");
    expect(resent.map((f) => [f.client_id, f.text])).toEqual([
      [b, "two"],
      [c, "three"],
    ]);
    // hello goes first, so the replay precedes the acks.
    expect(second.sent[0]!.type).toBe("hello");

    // The server had stored "two" before the link broke: the replay carries
    // it, and the ack of the re-send is the same message. Shown once.
    second.receive({ type: "message", message: msg("r_a", 2, alice, { client_id: b }) });
    expect(pendingIds(h)).toEqual([`${c}:sending`]);
    second.receive({ type: "synced", room: "r_a", last_seq: 2 });
    second.receive({ type: "ack", ref: b, message: msg("r_a", 2, alice, { client_id: b }) });
    second.receive({ type: "ack", ref: c, message: msg("r_a", 3, alice, { client_id: c }) });
    second.receive({ type: "message", message: msg("r_a", 3, alice, { client_id: c }) });
    expect(pendingIds(h)).toEqual([]);
    expect(delivered(h)).toEqual(["r_a:2", "r_a:3"]);
  });

  it("does not settle a pending send with someone else's message of the same client_id", () => {
    const h = setup();
    h.last().receive(welcome([room("r_a", 0)]));
    const id = h.client.send("r_a", "mine");
    h.last().receive({ type: "message", message: msg("r_a", 1, bob, { client_id: id }) });
    expect(pendingIds(h)).toEqual([`${id}:sending`]);
  });

  it("waits and re-sends when rate limited", () => {
    const h = setup();
    h.last().receive(welcome([room("r_a", 0)]));
    const id = h.client.send("r_a", "quick");
    h.last().receive({ type: "error", ref: id, code: "rate_limited", message: "slow down", retry_after_ms: 700 });
    expect(pendingIds(h)).toEqual([`${id}:sending`]);
    vi.advanceTimersByTime(699);
    expect(h.last().framesOf("send")).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(h.last().framesOf("send").map((f) => f.client_id)).toEqual([id, id]);
  });

  it("keeps a send answered unavailable queued, retries it after retry_after_ms, and says so until one is stored", () => {
    const h = setup();
    const events: boolean[] = [];
    h.client.on((ev) => {
      if (ev.type === "unsaved") events.push(ev.unsaved);
    });
    // A long heartbeat: the link stays up through the retries.
    h.last().receive(welcome([room("r_a", 0)], 60_000));
    const id = h.client.send("r_a", "while the database is away");
    h.last().receive({ type: "error", ref: id, code: "unavailable", message: "try later", retry_after_ms: 1200 });
    expect(pendingIds(h)).toEqual([`${id}:sending`]);
    expect(h.client.unsaved).toBe(true);
    vi.advanceTimersByTime(1199);
    expect(h.last().framesOf("send")).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(h.last().framesOf("send").map((f) => f.client_id)).toEqual([id, id]);
    // Refused again: still queued, still unsaved, no second event.
    h.last().receive({ type: "error", ref: id, code: "unavailable", message: "try later", retry_after_ms: 2500 });
    vi.advanceTimersByTime(2500);
    expect(h.last().framesOf("send")).toHaveLength(3);
    h.last().receive({ type: "ack", ref: id, message: msg("r_a", 1, alice, { client_id: id }) });
    expect(h.client.pendingMessages).toEqual([]);
    expect(h.client.unsaved).toBe(false);
    expect(events).toEqual([true, false]);
  });

  it("marks a refused message failed, and can retry or discard it", () => {
    const h = setup();
    h.last().receive(welcome([room("r_a", 0)]));
    const id = h.client.send("r_a", "x".repeat(5000));
    h.last().receive({ type: "error", ref: id, code: "too_large", message: "text is too long" });
    expect(h.client.pendingMessages).toMatchObject([{ clientId: id, status: "failed", error: "text is too long" }]);
    // A failed message is not re-sent by a reconnect.
    h.last().drop();
    vi.advanceTimersByTime(500);
    h.last().receive(welcome([room("r_a", 0)]));
    expect(h.last().framesOf("send")).toEqual([]);
    h.client.retry(id);
    expect(h.last().framesOf("send").map((f) => f.client_id)).toEqual([id]);
    h.client.discard(id);
    expect(h.client.pendingMessages).toEqual([]);
  });
});

describe("rich sends and changes", () => {
  it("sends attachments and reply_to, and re-sends them after a reconnect", () => {
    const h = setup({ random: () => 0 });
    h.last().receive(welcome([room("r_a", 0)]));
    const file = { id: "f_1", name: "a.png", size: 3, type: "image/png", url: "/files/f_1" };
    const id = h.client.send("r_a", "", { attachments: [file], replyTo: "m_9" });
    expect(h.client.pendingMessages).toMatchObject([{ clientId: id, text: "", attachments: [file], replyTo: "m_9" }]);
    const first = { type: "send", ref: id, room: "r_a", text: "", client_id: id, attachments: ["f_1"], reply_to: "m_9" };
    expect(h.last().framesOf("send")).toEqual([first]);
    h.last().drop(1006);
    vi.advanceTimersByTime(1);
    h.last().receive(welcome([room("r_a", 0)]));
    expect(h.last().framesOf("send")).toEqual([first]);
    // A plain message carries neither field.
    const plain = h.client.send("r_a", "plain");
    expect(h.last().framesOf("send").at(-1)).toEqual({ type: "send", ref: plain, room: "r_a", text: "plain", client_id: plain });
  });

  it("sends edit, delete and react only while connected, each with its own op- ref", () => {
    const h = setup();
    expect(h.client.change({ type: "delete", room: "r_a", id: "m_1" })).toBe(false);
    h.last().receive(welcome([room("r_a", 1)]));
    expect(h.client.change({ type: "edit", room: "r_a", id: "m_1", text: "fixed" })).toBe(true);
    expect(h.client.change({ type: "react", room: "r_a", id: "m_1", emoji: "👍", on: true })).toBe(true);
    const sent = h.last().sent.filter((f) => f.type === "edit" || f.type === "react");
    expect(sent).toMatchObject([
      { type: "edit", room: "r_a", id: "m_1", text: "fixed" },
      { type: "react", room: "r_a", id: "m_1", emoji: "👍", on: true },
    ]);
    expect(sent[0]!.ref).toMatch(/^op-/);
    expect(sent[1]!.ref).toMatch(/^op-/);
    expect(sent[0]!.ref).not.toBe(sent[1]!.ref);
    // The update that follows is delivered like any frame of the room log.
    const m = msg("r_a", 1, alice, { text: "fixed", edited_at: "2026-01-01T00:01:00.000Z" });
    h.last().receive({ type: "update", room: "r_a", seq: 2, message: m }, { type: "update", room: "r_a", seq: 2, message: m });
    expect(h.frames().filter((f) => f.type === "update")).toHaveLength(1);
  });
});

describe("session end", () => {
  it("stops on 4401 and reports unauthorized, keeping nothing running", () => {
    const h = setup();
    h.last().receive(welcome([room("r_a", 0)]));
    h.client.send("r_a", "unsent");
    h.last().drop(4401);
    expect(h.client.connState.phase).toBe("unauthorized");
    expect(h.events.some((e) => e.type === "unauthorized")).toBe(true);
    vi.advanceTimersByTime(10 * 60_000);
    h.life.fireOnline();
    h.life.fireVisible();
    expect(h.sockets).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("stops when the upgrade keeps failing and the session is gone", async () => {
    let signedIn = true;
    const h = setup({ random: () => 0.999, probeAuth: async () => signedIn });
    h.last().drop(1006); // refused upgrade, but still signed in
    await vi.advanceTimersByTimeAsync(0);
    expect(h.client.connState.phase).toBe("waiting");
    await vi.advanceTimersByTimeAsync(1000);
    signedIn = false;
    h.last().drop(1006);
    await vi.advanceTimersByTimeAsync(0);
    expect(h.client.connState.phase).toBe("unauthorized");
    await vi.advanceTimersByTimeAsync(60_000);
    expect(h.sockets).toHaveLength(2);
  });

  it("reconnects after other close codes", () => {
    for (const code of [1000, 1001, 1006, 1009, 1011, 4408, 4429]) {
      const h = setup({ random: () => 0 });
      h.last().receive(welcome([]));
      h.last().drop(code);
      vi.advanceTimersByTime(1);
      expect(h.sockets, `close ${code}`).toHaveLength(2);
      h.client.stop();
    }
  });

  it("stop closes the socket and schedules nothing", () => {
    const h = setup();
    h.last().receive(welcome([]));
    h.client.stop();
    expect(h.sockets[0]!.closedWith).toBe(1000);
    expect(h.client.connState.phase).toBe("stopped");
    vi.advanceTimersByTime(60_000);
    expect(h.sockets).toHaveLength(1);
  });
});

describe("presence", () => {
  it("tells the status again after a reconnect", () => {
    const h = setup({ random: () => 0 });
    h.last().receive(welcome([]));
    h.client.setStatus("away", "lunch");
    expect(h.last().framesOf("status")).toEqual([{ type: "status", status: "away", text: "lunch" }]);
    h.last().drop();
    vi.advanceTimersByTime(1);
    h.last().receive(welcome([]));
    expect(h.last().framesOf("status")).toEqual([{ type: "status", status: "away", text: "lunch" }]);
  });
});
