// What the app shell needs to open with no network: the signed-in user and
// their rooms as last seen, kept in localStorage and cleared at sign-out.
// Offline, the page opens on them and says it cannot reach the server,
// instead of a sign-in form that cannot work either.

import type { Room, User } from "../protocol.gen";

const key = "minichat.shell";

export interface Snapshot {
  user: User;
  rooms: Room[];
}

export function loadSnapshot(storage: Pick<Storage, "getItem"> | undefined): Snapshot | null {
  try {
    const v = JSON.parse(storage?.getItem(key) ?? "null") as Partial<Snapshot> | null;
    if (!v || typeof v.user?.id !== "string" || typeof v.user.name !== "string" || !Array.isArray(v.rooms)) return null;
    return { user: v.user, rooms: v.rooms };
  } catch {
    return null;
  }
}

export function saveSnapshot(storage: Pick<Storage, "setItem" | "removeItem"> | undefined, s: Snapshot | null): void {
  try {
    if (s) storage?.setItem(key, JSON.stringify(s));
    else storage?.removeItem(key);
  } catch {
    /* full or private mode: offline start is not possible */
  }
}
