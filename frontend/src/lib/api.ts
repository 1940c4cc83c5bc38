// The HTTP API (PROTOCOL.md §1). The browser relies on the HttpOnly session
// cookie the server sets; the token in the answer is not kept.

import type { Directory, ErrorBody, Instance, Invite, Message, SessionInfo, User, Room } from "../protocol.gen";
import { doingOf, refusal, retryAfter } from "./access";

/** An error answer of the API, or a network failure (status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** From Retry-After, when the server sent one. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/**
 * Called when an authenticated call answers 401: the session ended
 * elsewhere (signed out everywhere, password changed, expired).
 */
let onUnauthorized: (() => void) | null = null;

export function whenUnauthorized(fn: (() => void) | null): void {
  onUnauthorized = fn;
}

/** Calls that answer 401 for a wrong password, not an ended session. */
const credentialCalls = new Set(["POST /api/session", "POST /api/users", "PUT /api/me/password"]);

export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      credentials: "same-origin",
      cache: "no-store",
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "network", refusal("network", 0, "", doingOf(method, path)));
  }
  if (res.status === 204) return undefined as T;
  let data: unknown = null;
  try {
    data = await res.json();
  } catch {
    /* not JSON */
  }
  if (!res.ok) {
    const err = (data as ErrorBody | null)?.error;
    if (res.status === 401 && !credentialCalls.has(`${method} ${path}`)) onUnauthorized?.();
    // The message is the sentence the user reads (access.ts says each refusal).
    const wait = retryAfter(res.headers.get("Retry-After"));
    const code = err?.code ?? "internal";
    throw new ApiError(res.status, code, refusal(code, res.status, err?.message ?? "", doingOf(method, path), wait), wait);
  }
  return data as T;
}

export interface Page {
  messages: Message[];
  has_more: boolean;
  /** Newer messages than the page's exist (absent: none). */
  has_newer?: boolean;
}

export const api = {
  register: (username: string, password: string, invite?: string) =>
    call<{ user: User }>("POST", "/api/users", invite ? { username, password, invite } : { username, password }),
  signIn: (username: string, password: string) =>
    call<{ user: User }>("POST", "/api/session", { username, password }),
  signOut: () => call<void>("DELETE", "/api/session"),
  me: () => call<{ user: User }>("GET", "/api/me"),
  rooms: () => call<{ rooms: Room[] }>("GET", "/api/rooms"),
  createRoom: (name: string, isPrivate: boolean) =>
    call<{ room: Room }>("POST", "/api/rooms", { name, private: isPrivate }),
  join: (id: string) => call<{ room: Room }>("POST", `/api/rooms/${encodeURIComponent(id)}/join`),
  leave: (id: string) => call<void>("POST", `/api/rooms/${encodeURIComponent(id)}/leave`),
  invite: (id: string, username: string) =>
    call<void>("POST", `/api/rooms/${encodeURIComponent(id)}/invite`, { username }),
  dm: (username: string) => call<{ room: Room }>("POST", "/api/dms", { username }),
  history: (id: string, before?: number, limit = 50) => {
    const q = new URLSearchParams({ limit: String(limit) });
    if (before !== undefined) q.set("before", String(before));
    return call<Page>("GET", `/api/rooms/${encodeURIComponent(id)}/messages?${q}`);
  },
  /** Registration mode and first-run state, before any sign-in. */
  instance: () => call<Instance>("GET", "/api/instance"),
  inviteLink: () => call<Invite>("GET", "/api/invite"),
  resetInvite: () => call<Invite>("POST", "/api/invite/reset"),
  sessions: () => call<{ sessions: SessionInfo[] }>("GET", "/api/sessions"),
  endSession: (id: string) => call<void>("DELETE", `/api/sessions/${encodeURIComponent(id)}`),
  endAllSessions: () => call<void>("DELETE", "/api/sessions"),
  changePassword: (current: string, next: string) => call<void>("PUT", "/api/me/password", { current, new: next }),
  /** Public rooms by name; q is a name prefix. Never cached: a room made a second ago is there. */
  directory: (q: string, cursor?: string | null, limit = 50) => {
    const p = new URLSearchParams({ limit: String(limit) });
    if (q) p.set("q", q);
    if (cursor) p.set("cursor", cursor);
    return call<Directory>("GET", `/api/rooms/directory?${p}`);
    },
  /** A page of history before, after or around a place (at most one), or the newest. */
  page: (id: string, place: { before?: number; after?: number; around?: number; around_id?: string }, limit = 50) => {
    const q = new URLSearchParams({ limit: String(limit) });
    for (const [k, v] of Object.entries(place)) if (v !== undefined) q.set(k, String(v));
    return call<Page>("GET", `/api/rooms/${encodeURIComponent(id)}/messages?${q}`);
  },
  search: (query: string, room?: string) => {
    const q = new URLSearchParams({ q: query });
    if (room) q.set("room", room);
    return call<{ messages: Message[] }>("GET", `/api/search?${q}`);
  },
};

/** Asks whether the session cookie still works: false on 401, throws if unknown. */
export async function signedIn(): Promise<boolean> {
  try {
    await api.me();
    return true;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return false;
    throw e;
  }
}
