// Profiles and the people search over HTTP (docs/protocol.md: PATCH /api/me,
// PUT/DELETE /api/me/avatar, GET /api/users), and how a user is shown:
// display name, initials, avatar URL. No UI imports.

import type { ErrorBody, User, Users } from "../protocol.gen";
import { ApiError, call } from "./api";
import { refusal, retryAfter } from "./access";

export interface ProfileChange {
  display_name?: string;
  status_text?: string;
}

/** The name to show for a user: the display name, else the username. */
export function shownName(u: Pick<User, "name" | "display_name">): string {
  return u.display_name || u.name;
}

/** One or two letters for an avatar without a picture, whatever the script. */
export function profileInitials(u: Pick<User, "name" | "display_name">): string {
  const source = u.display_name || u.name;
  const words = source.split(/[\s._-]+/u).filter(Boolean);
  const first = (w: string | undefined) => (w ? Array.from(w)[0] ?? "" : "");
  const out = words.length >= 2 ? first(words[0]) + first(words[1]) : first(words[0]) || first(source) || "?";
  return out.toLocaleUpperCase();
}

/** The URL of a user's picture at 64 or 256 pixels; null without one. */
export function avatarURL(u: Pick<User, "avatar">, size: 64 | 256): string | null {
  if (!u.avatar) return null;
  return size === 64 ? `${u.avatar}?size=64` : u.avatar;
}

export const peopleApi = {
  /** A page of people whose name or display name starts with q. */
  search: (q: string, cursor?: string | null, limit = 8) => {
    const p = new URLSearchParams({ limit: String(limit) });
    if (q) p.set("q", q);
    if (cursor) p.set("cursor", cursor);
    return call<Users>("GET", `/api/users?${p}`);
  },
  updateProfile: (ch: ProfileChange) => call<{ user: User }>("PATCH", "/api/me", ch),
  removeAvatar: () => call<{ user: User }>("DELETE", "/api/me/avatar"),
  /** Uploads a picture as the body of PUT /api/me/avatar. */
  putAvatar: async (file: Blob): Promise<{ user: User }> => {
    let res: Response;
    try {
      res = await fetch("/api/me/avatar", {
        method: "PUT",
        credentials: "same-origin",
        cache: "no-store",
        headers: { "Content-Type": file.type || "application/octet-stream" },
        body: file,
      });
    } catch {
      throw new ApiError(0, "network", "Could not reach the server. Check the connection and try again.");
    }
    let data: unknown = null;
    try {
      data = await res.json();
    } catch {
      /* not JSON */
    }
    if (!res.ok) {
      const err = (data as ErrorBody | null)?.error;
      const wait = retryAfter(res.headers.get("Retry-After"));
      const code = err?.code ?? "internal";
      const message =
        code === "too_large" || code === "bad_request" ? err?.message ?? "That picture was refused." : refusal(code, res.status, err?.message ?? "", "other", wait);
      throw new ApiError(res.status, code, message, wait);
    }
    return data as { user: User };
  },
};
