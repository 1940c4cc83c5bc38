import { describe, expect, it } from "vitest";
import { ago, deviceName, doingOf, joinCode, onlyInvisible, signInCopy, orderSessions, refusal, retryAfter, waitText } from "./access";

describe("joinCode", () => {
  it("reads the code of a sign-up link", () => {
    expect(joinCode("/join/abc123")).toBe("abc123");
    expect(joinCode("/join/abc123/")).toBe("abc123");
    expect(joinCode("/join/a%2Db")).toBe("a-b");
  });
  it("is null for any other path", () => {
    expect(joinCode("/")).toBeNull();
    expect(joinCode("/join")).toBeNull();
    expect(joinCode("/join/")).toBeNull();
    expect(joinCode("/join/a/b")).toBeNull();
    expect(joinCode("/rooms/join/abc")).toBeNull();
    expect(joinCode("/join/%E0%A4%A")).toBeNull();
  });
});

describe("refusal", () => {
  it("says each 1.1 refusal as a sentence of its own", () => {
    expect(refusal("invite_required", 403, "invite required", "register")).toMatch(/invite-only.*invite link/);
    expect(refusal("quota_exceeded", 413, "quota exceeded", "upload")).toMatch(/used all the file storage/);
    expect(refusal("insufficient_storage", 507, "", "upload")).toMatch(/out of disk space/);
    expect(refusal("", 507, "", "upload")).toMatch(/out of disk space/);
  });
  it("says how long to wait when rate limited", () => {
    expect(refusal("rate_limited", 429, "slow down", "create", 12_000)).toBe("You have created many rooms in a short time. Wait 12 seconds and try again.");
    expect(refusal("rate_limited", 429, "", "join")).toBe("You have joined many rooms in a short time. Wait a moment and try again.");
    expect(refusal("", 429, "", "signin", 120_000)).toBe("Too many sign-in attempts. Wait 2 minutes and try again.");
    expect(refusal("rate_limited", 429, "", "password", 30_000)).toBe("Too many wrong passwords. Wait 30 seconds and try again.");
  });
  it("tells a closed server from a wrong password from an ended session", () => {
    expect(refusal("forbidden", 403, "registration is closed", "register")).toMatch(/Sign-up is closed/);
    expect(refusal("unauthorized", 401, "", "signin")).toBe("Wrong username or password.");
    expect(refusal("unauthorized", 401, "", "password")).toBe("Your current password is not right.");
    expect(refusal("unauthorized", 401, "", "directory")).toMatch(/session has ended.*Sign in again/);
  });
  it("treats a private room like a missing one", () => {
    expect(refusal("not_found", 404, "room not found", "join")).toBe("That room does not exist, or it is private.");
  });
  it("falls back to the server's words as a sentence", () => {
    expect(refusal("conflict", 409, "name taken", "create")).toBe("Name taken.");
    expect(refusal("internal", 500, "", "other")).toBe("The server had a problem. Try again.");
    expect(refusal("weird", 400, "", "other")).toBe("Something went wrong. Try again.");
  });
});

describe("waitText and retryAfter", () => {
  it("rounds up to whole units", () => {
    expect(waitText(undefined)).toBe("a moment");
    expect(waitText(300)).toBe("a second");
    expect(waitText(1500)).toBe("2 seconds");
    expect(waitText(89_000)).toBe("89 seconds");
    expect(waitText(91_000)).toBe("2 minutes");
    expect(waitText(3 * 3600_000)).toBe("3 hours");
  });
  it("reads seconds and dates", () => {
    expect(retryAfter(null)).toBeUndefined();
    expect(retryAfter("7")).toBe(7000);
    expect(retryAfter("Thu, 01 Jan 1970 00:00:10 GMT", 4000)).toBe(6000);
    expect(retryAfter("soon")).toBeUndefined();
  });
});

describe("deviceName", () => {
  it("names common browsers and systems", () => {
    expect(deviceName("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")).toBe("Firefox on Linux");
    expect(deviceName("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36")).toBe("Chrome on Android");
    expect(deviceName("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")).toBe("Safari on iOS");
    expect(deviceName("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36 Edg/126.0")).toBe("Edge on Windows");
    expect(deviceName("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15")).toBe("Safari on macOS");
  });
  it("names scripts by their product and says when it cannot tell", () => {
    expect(deviceName("curl/8.5.0")).toBe("curl");
    expect(deviceName("")).toBe("Unknown device");
    expect(deviceName("Mozilla/5.0 (compatible)")).toBe("Unknown device");
  });
});

describe("ago", () => {
  const now = Date.parse("2026-12-03T12:00:00Z");
  it("counts back in the largest whole unit", () => {
    expect(ago("2026-12-03T11:59:30Z", now)).toBe("just now");
    expect(ago("2026-12-03T11:59:00Z", now)).toBe("1 minute ago");
    expect(ago("2026-12-03T09:00:00Z", now)).toBe("3 hours ago");
    expect(ago("2026-12-01T12:00:00Z", now)).toBe("2 days ago");
    expect(ago("2026-01-01T12:00:00Z", now)).toMatch(/^on /);
    expect(ago("nonsense", now)).toBe("at an unknown time");
  });
});

describe("orderSessions", () => {
  it("puts this device first, then the most recently used", () => {
    const s = (id: string, last: string, current = false) => ({ id, created: last, last_seen: last, user_agent: "", current });
    const out = orderSessions([s("a", "2026-12-01T00:00:00Z"), s("b", "2026-12-02T00:00:00Z"), s("c", "2026-11-01T00:00:00Z", true)]);
    expect(out.map((x) => x.id)).toEqual(["c", "b", "a"]);
  });
});

describe("doingOf", () => {
  it("knows each call that can be refused", () => {
    expect(doingOf("POST", "/api/users")).toBe("register");
    expect(doingOf("POST", "/api/session")).toBe("signin");
    expect(doingOf("PUT", "/api/me/password")).toBe("password");
    expect(doingOf("DELETE", "/api/sessions/s_1")).toBe("sessions");
    expect(doingOf("GET", "/api/rooms/directory?q=a")).toBe("directory");
    expect(doingOf("POST", "/api/rooms")).toBe("create");
    expect(doingOf("POST", "/api/rooms/r_1/join")).toBe("join");
    expect(doingOf("POST", "/api/rooms/r_1/invite")).toBe("invite");
    expect(doingOf("POST", "/api/dms")).toBe("dm");
    expect(doingOf("GET", "/api/rooms/r_1/messages")).toBe("other");
  });
});

describe("onlyInvisible", () => {
  it("finds text a reader cannot see", () => {
    expect(onlyInvisible("\u200B\u200B")).toBe(true);
    expect(onlyInvisible(" \u200D\u2066\u202E\uFEFF \n")).toBe(true);
    expect(onlyInvisible("")).toBe(true);
    expect(onlyInvisible("\u200Bhi")).toBe(false);
    expect(onlyInvisible("👍")).toBe(false);
  });
});

describe("signInCopy", () => {
  it("asks for the admin account on a server without accounts, whatever the mode", () => {
    for (const registration of ["invite", "open", "closed"]) {
      const c = signInCopy({ registration, setup: true }, null);
      expect(c.heading).toBe("Set up minichat");
      expect([c.registerFirst, c.canRegister, c.canSignIn]).toEqual([true, true, false]);
    }
  });
  it("puts sign-up first on an invite link", () => {
    const c = signInCopy({ registration: "invite", setup: false }, "abc");
    expect(c.heading).toBe("You’re invited");
    expect([c.registerFirst, c.canRegister, c.canSignIn]).toEqual([true, true, true]);
  });
  it("offers no sign-up on a closed server, and says who makes accounts", () => {
    const c = signInCopy({ registration: "closed", setup: false }, null);
    expect([c.canRegister, c.canSignIn]).toEqual([false, true]);
    expect(c.hint).toMatch(/made by an admin/);
  });
  it("points to the invite link on an invite-only server", () => {
    expect(signInCopy({ registration: "invite", setup: false }, null).hint).toMatch(/invite link/);
    expect(signInCopy({ registration: "open", setup: false }, null).hint).toBe("");
    expect(signInCopy(null, null).canRegister).toBe(true);
  });
});
