// The persisted send queue: messages written but not yet acknowledged by
// the server survive a page reload (a tab closed or reloaded while
// offline). They are kept in localStorage under the account's id, so
// another account signing in on the same browser never sends them. The
// socket client (socket.ts) loads them once and saves after every change;
// a message leaves storage when its ack arrives. Re-sending is safe: the
// server answers a repeated client_id with the original message.

import type { OutboxStore, Pending } from "./socket";

/** The storage this module needs (localStorage in the browser). */
export interface KeyValue {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** At most this many sends are kept; the oldest go first beyond it. */
export const MaxKept = 200;

/** The storage key of an account's queue. */
export function outboxKey(userId: string): string {
  return `minichat.outbox.${userId}`;
}

function isPending(v: unknown): v is Pending {
  if (typeof v !== "object" || v === null) return false;
  const p = v as Record<string, unknown>;
  return (
    typeof p.clientId === "string" &&
    p.clientId !== "" &&
    typeof p.room === "string" &&
    typeof p.text === "string" &&
    typeof p.createdAt === "number" &&
    (p.status === "sending" || p.status === "failed")
  );
}

/**
 * The outbox of one account in kv; a kv that throws (storage full, private
 * mode, disabled) leaves the queue in memory only.
 */
export function outboxFor(kv: KeyValue | undefined, userId: string): OutboxStore {
  const key = outboxKey(userId);
  return {
    load(): Pending[] {
      try {
        const raw = kv?.getItem(key);
        if (!raw) return [];
        const list: unknown = JSON.parse(raw);
        if (!Array.isArray(list)) return [];
        const seen = new Set<string>();
        const out: Pending[] = [];
        for (const p of list) {
          if (!isPending(p) || seen.has(p.clientId)) continue;
          seen.add(p.clientId);
          out.push(p);
        }
        return out.slice(-MaxKept);
      } catch {
        return [];
      }
    },
    save(pending: readonly Pending[]): void {
      try {
        if (pending.length === 0) kv?.removeItem(key);
        else kv?.setItem(key, JSON.stringify(pending.slice(-MaxKept)));
      } catch {
        /* full or unavailable: memory only */
      }
    },
  };
}

/** localStorage, when the page may use it. */
export function browserStorage(): KeyValue | undefined {
  try {
    return globalThis.localStorage ?? undefined;
  } catch {
    return undefined;
  }
}
