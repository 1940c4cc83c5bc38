// The client's place in the URL hash: #/<room> opens a room (its name, or a
// direct-message room's id); #/<room>?m=<message_id> opens it at a message
// (the links of push notifications).

export interface Place {
  /** A room name or a room id; "" when the hash names none. */
  room: string;
  /** A message to show and highlight. */
  message?: string;
}

/** Reads a location.hash ("#/general?m=m_1"). */
export function parseHash(hash: string): Place {
  const body = hash.replace(/^#\/?/, "");
  const q = body.indexOf("?");
  const path = q < 0 ? body : body.slice(0, q);
  let room = "";
  try {
    room = decodeURIComponent(path);
  } catch {
    room = path;
  }
  const message = q < 0 ? null : new URLSearchParams(body.slice(q + 1)).get("m");
  return message ? { room, message } : { room };
}

/** The hash of a place. */
export function placeHash(p: Place): string {
  return `#/${encodeURIComponent(p.room)}${p.message ? `?m=${encodeURIComponent(p.message)}` : ""}`;
}

/** The hash of a same-origin URL ("/#/general?m=m_1"), or null for another origin or no hash. */
export function hashOf(url: string, origin: string): string | null {
  try {
    const u = new URL(url, origin);
    return u.origin === origin && u.hash ? u.hash : null;
  } catch {
    return null;
  }
}
