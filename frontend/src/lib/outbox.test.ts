import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ClientFrame, Message, Room, ServerFrame, User, WelcomeFrame } from "../protocol.gen";
import { MaxKept, outboxFor, outboxKey, type KeyValue } from "./outbox";
import { ChatSocket, type Lifecycle, type Pending, type SocketLike } from "./socket";

/** A Map behind the localStorage interface. */
class MemoryStorage implements KeyValue {
  readonly data = new Map<string, string>();
  getItem(k: string) {
    return this.data.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.data.set(k, v);
  }
  removeItem(k: string) {
    this.data.delete(k);
  }
}

class FakeSocket implements SocketLike {
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  sent: ClientFrame[] = [];
  closed = false;
  send(data: string) {
    if (this.closed) throw new Error("send on a closed socket");
    this.sent.push(JSON.parse(data) as ClientFrame);
  }
  close() {
    this.closed = true;
  }
  receive(...frames: ServerFrame[]) {
    this.onmessage?.({ data: frames.map((f) => JSON.stringify(f)).join("\n") });
  }
  sends() {
    return this.sent.filter((f): f is Extract<ClientFrame, { type: "send" }> => f.type === "send");
  }
}

/** The browser's online and offline events, fired by the test. */
class FakeNetwork implements Lifecycle {
  offline = false;
  private readonly on = new Set<() => void>();
  private readonly off = new Set<() => void>();
  onOnline(fn: () => void) {
    this.on.add(fn);
    return () => this.on.delete(fn);
  }
  onVisible() {
    return () => {};
  }
  onOffline(fn: () => void) {
    this.off.add(fn);
    return () => this.off.delete(fn);
  }
  isOffline() {
    return this.offline;
  }
  goOffline() {
    this.offline = true;
    for (const fn of this.off) fn();
  }
  goOnline() {
    this.offline = false;
    for (const fn of this.on) fn();
  }
}

const alice: User = { id: "u_alice", name: "alice", role: "member" };
const general: Room = { id: "r_g", name: "general", kind: "public", last_seq: 0, members: 2, unread: 0, member: true };

function welcome(): WelcomeFrame {
  return {
    type: "welcome",
    session: "s_1",
    user: alice,
    rooms: [general],
    online: [],
    heartbeat_ms: 60_000,
    limits: { max_frame_bytes: 65536, max_text_chars: 4000, messages_per_second: 5, burst: 20 },
    server: { version: "test" },
  };
}

function stored(id: string, seq: number, clientId: string, text: string): Message {
  return { id, room: "r_g", seq, kind: "chat", sender: alice, text, ts: "2026-01-01T00:00:00.000Z", client_id: clientId };
}

/** A page load: a client over the shared storage and network. */
function page(kv: KeyValue, net: FakeNetwork, ids: string[]) {
  const sockets: FakeSocket[] = [];
  let pending: readonly Pending[] = [];
  const client = new ChatSocket({
    url: "ws://test/ws",
    create: () => {
      const s = new FakeSocket();
      sockets.push(s);
      return s;
    },
    random: () => 0.5,
    lifecycle: net,
    newId: () => ids.shift()!,
    outbox: outboxFor(kv, alice.id),
  });
  client.on((ev) => {
    if (ev.type === "pending") pending = ev.pending;
  });
  client.start();
  return { client, sockets, last: () => sockets[sockets.length - 1]!, pending: () => pending };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("outbox storage", () => {
  it("keeps an account's sends under its own key and forgets them when empty", () => {
    const kv = new MemoryStorage();
    const box = outboxFor(kv, "u_a");
    const p: Pending = { clientId: "c1", room: "r_g", text: "hi", createdAt: 1, status: "sending" };
    box.save([p]);
    expect(outboxFor(kv, "u_a").load()).toEqual([p]);
    expect(outboxFor(kv, "u_b").load()).toEqual([]);
    box.save([]);
    expect(kv.data.has(outboxKey("u_a"))).toBe(false);
  });

  it("ignores broken, foreign and repeated entries, and bounds the queue", () => {
    const kv = new MemoryStorage();
    kv.setItem(outboxKey("u_a"), "{not json");
    expect(outboxFor(kv, "u_a").load()).toEqual([]);
    const ok = { clientId: "c1", room: "r", text: "t", createdAt: 1, status: "sending" };
    kv.setItem(outboxKey("u_a"), JSON.stringify([ok, { clientId: 5 }, ok, null, { ...ok, clientId: "c2", status: "odd" }]));
    expect(outboxFor(kv, "u_a").load()).toEqual([ok]);
    const many = Array.from({ length: MaxKept + 10 }, (_, i) => ({ ...ok, clientId: `c${i}` }));
    outboxFor(kv, "u_a").save(many as Pending[]);
    const back = outboxFor(kv, "u_a").load();
    expect(back).toHaveLength(MaxKept);
    expect(back[0]!.clientId).toBe("c10");
  });

  it("survives a storage that throws", () => {
    const broken: KeyValue = {
      getItem: () => {
        throw new Error("denied");
      },
      setItem: () => {
        throw new Error("full");
      },
      removeItem: () => {},
    };
    const box = outboxFor(broken, "u_a");
    expect(box.load()).toEqual([]);
    expect(() => box.save([{ clientId: "c", room: "r", text: "t", createdAt: 1, status: "sending" }])).not.toThrow();
  });
});

describe("offline sends", () => {
  it("gives the socket up when the browser goes offline and sends the queue once when it is back", () => {
    const kv = new MemoryStorage();
    const net = new FakeNetwork();
    const p = page(kv, net, ["c1", "c2"]);
    p.last().receive(welcome());
    net.goOffline();
    expect(p.last().closed).toBe(true);
    expect(p.client.connState).toMatchObject({ phase: "waiting", offline: true, retryAt: null });
    p.client.send("r_g", "one");
    p.client.send("r_g", "two");
    // No try while offline, however long it lasts.
    vi.advanceTimersByTime(120_000);
    expect(p.sockets).toHaveLength(1);
    expect(JSON.parse(kv.getItem(outboxKey(alice.id))!)).toHaveLength(2);
    net.goOnline();
    expect(p.sockets).toHaveLength(2);
    p.last().receive(welcome());
    expect(p.last().sends().map((f) => [f.client_id, f.text])).toEqual([
      ["c1", "one"],
      ["c2", "two"],
    ]);
    p.last().receive({ type: "ack", ref: "c1", message: stored("m1", 1, "c1", "one") });
    expect(JSON.parse(kv.getItem(outboxKey(alice.id))!).map((x: Pending) => x.clientId)).toEqual(["c2"]);
    p.last().receive({ type: "ack", ref: "c2", message: stored("m2", 2, "c2", "two") });
    expect(kv.getItem(outboxKey(alice.id))).toBeNull();
    expect(p.pending()).toEqual([]);
  });

  it("sends a queue left by a page reloaded while offline once, with its client_id, and drops it on ack", () => {
    const kv = new MemoryStorage();
    const net = new FakeNetwork();
    const first = page(kv, net, ["c1"]);
    first.last().receive(welcome());
    net.goOffline();
    first.client.send("r_g", "written offline");
    first.client.stop(); // the page unloads

    // The reload happens while still offline: nothing is tried, the
    // message shows as pending.
    const second = page(kv, net, ["c9"]);
    expect(second.sockets).toHaveLength(0);
    expect(second.pending().map((x) => x.text)).toEqual(["written offline"]);
    expect(second.client.connState.offline).toBe(true);

    net.goOnline();
    second.last().receive(welcome());
    const sends = second.last().sends();
    expect(sends.map((f) => f.client_id)).toEqual(["c1"]);
    second.last().receive({ type: "ack", ref: "c1", message: stored("m1", 1, "c1", "written offline") });
    expect(kv.getItem(outboxKey(alice.id))).toBeNull();
    // A later reconnect sends nothing again.
    net.goOffline();
    net.goOnline();
    second.last().receive(welcome());
    expect(second.last().sends()).toEqual([]);
  });
});
