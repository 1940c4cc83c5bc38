// The HTTP API (PROTOCOL.md §1). The browser relies on the HttpOnly session
// cookie the server sets; the token in the answer is not kept.

import type { ErrorBody, Message, Room, User } from "../protocol.gen";

/** An error answer of the API, or a network failure (status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      credentials: "same-origin",
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "network", "The server cannot be reached. Check your connection and try again.");
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
    throw new ApiError(res.status, err?.code ?? "internal", err?.message ?? `The server answered ${res.status}.`);
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
  register: (username: string, password: string) =>
    call<{ user: User }>("POST", "/api/users", { username, password }),
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
