// Pure helpers for accounts and access (PROTOCOL.md §3): invite links,
// refusals said as sentences, and how a session is described.

import type { SessionInfo } from "../protocol.gen";

/** The invite code of a sign-up link path ("/join/<code>"), or null. */
export function joinCode(pathname: string): string | null {
  const m = /^\/join\/([^/?#]+)\/?$/.exec(pathname);
  if (!m) return null;
  let code: string;
  try {
    code = decodeURIComponent(m[1]!).trim();
  } catch {
    return null;
  }
  return code ? code : null;
}

/** What the user was doing when a refusal came: it changes the sentence. */
export type Doing = "register" | "signin" | "upload" | "create" | "join" | "invite" | "dm" | "password" | "sessions" | "directory" | "other";

/**
 * One clear sentence for a refusal of the server, by its code first (the
 * 1.1 codes) and its HTTP status second. serverMessage is the fallback for
 * codes this client does not know.
 */
export function refusal(code: string, status: number, serverMessage: string, doing: Doing = "other", retryAfterMs?: number): string {
  switch (code) {
    case "invite_required":
      return "This server is invite-only: open the invite link an admin gave you to create an account.";
    case "quota_exceeded":
      return "You have used all the file storage your account may have. Delete messages with files you no longer need, or ask an admin.";
    case "insufficient_storage":
      return "The server is almost out of disk space, so it takes no uploads for now. Tell an admin.";
    case "rate_limited":
      return `${tooFast(doing)} Wait ${waitText(retryAfterMs)} and try again.`;
    case "unavailable":
      return "The server cannot save anything right now. Try again in a moment.";
    case "network":
      return "The server cannot be reached. Check your connection and try again.";
    case "archived":
      return "This room is archived, so it is read-only. Someone who may manage it can unarchive it.";
  }
  switch (status) {
    case 401:
      if (doing === "signin") return "Wrong username or password.";
      if (doing === "password") return "Your current password is not right.";
      return "Your session has ended. Sign in again to continue.";
    case 403:
      if (doing === "register") return "Sign-up is closed on this server. Ask an admin for an account.";
      if (doing === "join" || doing === "invite") return "You are not allowed to do that.";
      break;
    case 404:
      if (doing === "join") return "That room does not exist, or it is private.";
      if (doing === "sessions") return "That session has ended already.";
      break;
    case 413:
      if (doing === "upload") return "That file is too large to upload.";
      break;
    case 429:
      return `${tooFast(doing)} Wait ${waitText(retryAfterMs)} and try again.`;
    case 507:
      return "The server is almost out of disk space, so it takes no uploads for now. Tell an admin.";
  }
  if (serverMessage) return sentence(serverMessage);
  return status >= 500 ? "The server had a problem. Try again." : "Something went wrong. Try again.";
}

function tooFast(doing: Doing): string {
  switch (doing) {
    case "signin":
      return "Too many sign-in attempts.";
    case "register":
      return "Too many sign-ups from here.";
    case "password":
      return "Too many wrong passwords.";
    case "create":
      return "You have created many rooms in a short time.";
    case "join":
      return "You have joined many rooms in a short time.";
    case "invite":
      return "You have sent many invitations in a short time.";
    case "dm":
      return "You have opened many conversations in a short time.";
    case "upload":
      return "You have uploaded many files in a short time.";
    default:
      return "That was a lot at once.";
  }
}

/** "a moment", "5 seconds", "2 minutes". */
export function waitText(ms: number | undefined): string {
  if (!ms || ms <= 0 || !Number.isFinite(ms)) return "a moment";
  const s = Math.ceil(ms / 1000);
  if (s <= 1) return "a second";
  if (s < 90) return `${s} seconds`;
  const m = Math.ceil(s / 60);
  if (m < 90) return `${m} minutes`;
  return `${Math.ceil(m / 60)} hours`;
}

/** Retry-After of an HTTP answer (seconds or a date) in milliseconds. */
export function retryAfter(header: string | null, now: number = Date.now()): number | undefined {
  if (!header) return undefined;
  const secs = Number(header);
  if (Number.isFinite(secs) && secs >= 0) return secs * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** A server message as a sentence: capitalised, with a full stop. */
function sentence(s: string): string {
  const t = s.trim();
  if (!t) return t;
  const first = t[0]!.toUpperCase() + t.slice(1);
  return /[.!?…]$/.test(first) ? first : `${first}.`;
}

/** "Firefox on Linux", "Chrome on Android", "curl", or "Unknown device". */
export function deviceName(userAgent: string): string {
  const ua = userAgent.trim();
  if (!ua) return "Unknown device";
  const browser =
    /Edg\//.test(ua) ? "Edge"
    : /OPR\/|Opera/.test(ua) ? "Opera"
    : /Firefox\//.test(ua) ? "Firefox"
    : /Chrome\/|Chromium\/|CriOS\//.test(ua) ? "Chrome"
    : /Safari\//.test(ua) && /Version\//.test(ua) ? "Safari"
    : null;
  const os =
    /Android/.test(ua) ? "Android"
    : /iPhone|iPad|iPod/.test(ua) ? "iOS"
    : /Windows/.test(ua) ? "Windows"
    : /Mac OS X|Macintosh/.test(ua) ? "macOS"
    : /CrOS/.test(ua) ? "ChromeOS"
    : /Linux/.test(ua) ? "Linux"
    : null;
  if (browser && os) return `${browser} on ${os}`;
  if (browser) return browser;
  // A script or bot: its product token ("curl/8.5.0" → "curl").
  const product = /^([A-Za-z][\w.-]*)\//.exec(ua)?.[1];
  if (product && product !== "Mozilla") return product;
  return os ?? "Unknown device";
}

/** "just now", "5 minutes ago", "3 hours ago", "2 days ago", or a date. */
export function ago(iso: string, now: number = Date.now()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "at an unknown time";
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return "just now";
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} ${m === 1 ? "minute" : "minutes"} ago`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h} ${h === 1 ? "hour" : "hours"} ago`;
  const d = Math.floor(h / 24);
  if (d < 30) return `${d} ${d === 1 ? "day" : "days"} ago`;
  return `on ${new Date(t).toLocaleDateString(undefined, { year: "numeric", month: "long", day: "numeric" })}`;
}


/** The current session first, then the others, most recently used first. */
export function orderSessions(list: readonly SessionInfo[]): SessionInfo[] {
  return [...list].sort((a, b) => Number(b.current) - Number(a.current) || Date.parse(b.last_seen) - Date.parse(a.last_seen) || a.id.localeCompare(b.id));
}

/** What an API call does, from its method and path, for refusal(). */
export function doingOf(method: string, path: string): Doing {
  const p = path.split("?")[0]!;
  if (method === "POST" && p === "/api/users") return "register";
  if (p === "/api/session") return "signin";
  if (p === "/api/me/password") return "password";
  if (p.startsWith("/api/sessions")) return "sessions";
  if (p === "/api/uploads") return "upload";
  if (p === "/api/rooms/directory") return "directory";
  if (method === "POST" && p === "/api/rooms") return "create";
  if (method === "POST" && p === "/api/dms") return "dm";
  if (method === "POST" && /^\/api\/rooms\/[^/]+\/join$/.test(p)) return "join";
  if (method === "POST" && /^\/api\/rooms\/[^/]+\/invite$/.test(p)) return "invite";
  return "other";
}

/**
 * Whether text has nothing a reader can see: only white space and invisible
 * format characters (zero-width spaces and joiners, bidi marks). The server
 * refuses such text (PROTOCOL.md §3); the client says so before sending.
 */
export function onlyInvisible(text: string): boolean {
  return /^[\s\p{Cf}]*$/u.test(text);
}

/** What the sign-in page says and offers. */
export interface SignInCopy {
  heading: string;
  lead: string;
  hint: string;
  /** Create account is the primary action (first run, invite link). */
  registerFirst: boolean;
  /** Create account is offered at all. */
  canRegister: boolean;
  /** Sign in is offered (not while the server has no account). */
  canSignIn: boolean;
}

/**
 * The sign-in page's words for the server's registration mode and setup
 * state (GET /api/instance; null while unknown) and an invite code from
 * the address.
 */
export function signInCopy(instance: { registration: string; setup: boolean } | null, code: string | null): SignInCopy {
  if (instance?.setup) {
    return {
      heading: "Set up minichat",
      lead: "Nobody has an account here yet. Create the first one: it becomes the admin, who invites everyone else.",
      hint: "",
      registerFirst: true,
      canRegister: true,
      canSignIn: false,
    };
  }
  if (code) {
    return {
      heading: "You’re invited",
      lead: "Choose a username and a password to create your account. Already have one? Sign in instead.",
      hint: "This invite link comes from an admin of this server.",
      registerFirst: true,
      canRegister: instance?.registration !== "closed",
      canSignIn: true,
    };
  }
  switch (instance?.registration) {
    case "closed":
      return {
        heading: "Welcome",
        lead: "Sign in to join your team’s rooms.",
        hint: "Accounts on this server are made by an admin: ask one for yours.",
        registerFirst: false,
        canRegister: false,
        canSignIn: true,
      };
    case "open":
      return {
        heading: "Welcome",
        lead: "Sign in, or create an account to join your team’s rooms.",
        hint: "",
        registerFirst: false,
        canRegister: true,
        canSignIn: true,
      };
    case "invite":
      return {
        heading: "Welcome",
        lead: "Sign in to join your team’s rooms.",
        hint: "New here? Open the invite link an admin sent you to create your account.",
        registerFirst: false,
        canRegister: true,
        canSignIn: true,
      };
    default:
      return {
        heading: "Welcome",
        lead: "Sign in, or create an account to join your team’s rooms.",
        hint: "New here? Ask an admin for an invite link. On a brand-new server, the first account created is its admin.",
        registerFirst: false,
        canRegister: true,
        canSignIn: true,
      };
  }
}
