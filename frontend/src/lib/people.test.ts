import { describe, expect, it } from "vitest";
import { avatarURL, profileInitials, shownName } from "./people";

describe("people", () => {
  it("shows the display name, else the username", () => {
    expect(shownName({ name: "alice" })).toBe("alice");
    expect(shownName({ name: "alice", display_name: "Alice Liddell" })).toBe("Alice Liddell");
    expect(shownName({ name: "alice", display_name: "" })).toBe("alice");
  });

  it("makes initials in any script, never half a character", () => {
    expect(profileInitials({ name: "alice", display_name: "Alice Liddell" })).toBe("AL");
    expect(profileInitials({ name: "bob" })).toBe("B");
    expect(profileInitials({ name: "mary.jane" })).toBe("MJ");
    expect(profileInitials({ name: "x", display_name: "Алиса Петрова" })).toBe("АП");
    expect(profileInitials({ name: "x", display_name: "𝒜lice 😀" })).toBe("𝒜😀");
    expect(profileInitials({ name: "x", display_name: "علی" })).toBe("ع");
  });

  it("asks for the small picture by size, and for none without one", () => {
    expect(avatarURL({ avatar: "/api/avatars/a_1" }, 256)).toBe("/api/avatars/a_1");
    expect(avatarURL({ avatar: "/api/avatars/a_1" }, 64)).toBe("/api/avatars/a_1?size=64");
    expect(avatarURL({}, 64)).toBeNull();
  });
});
