import { describe, expect, it } from "vitest";
import { completions, parseSlash } from "./slash";

describe("parseSlash", () => {
  it("leaves ordinary text alone", () => {
    expect(parseSlash("  hello /me ")).toEqual({ kind: "text", text: "hello /me" });
  });
  it("sends a literal slash after //", () => {
    expect(parseSlash("//shrug")).toEqual({ kind: "text", text: "/shrug" });
    expect(parseSlash("// spaced")).toEqual({ kind: "text", text: "/ spaced" });
  });
  it("reads /me and /topic with their text", () => {
    expect(parseSlash("/me waves at everyone")).toEqual({ kind: "me", text: "waves at everyone" });
    expect(parseSlash("/ME  shrugs")).toEqual({ kind: "me", text: "shrugs" });
    expect(parseSlash("/topic Release on Friday\nbring snacks")).toEqual({ kind: "topic", text: "Release on Friday\nbring snacks" });
  });
  it("reads a name for /invite and /dm, with or without @", () => {
    expect(parseSlash("/invite @bob")).toEqual({ kind: "invite", name: "bob" });
    expect(parseSlash("/dm carol.s")).toEqual({ kind: "dm", name: "carol.s" });
  });
  it("reads /leave", () => {
    expect(parseSlash("/leave")).toEqual({ kind: "leave" });
  });
  it("explains what is missing or unknown", () => {
    for (const [input, hint] of [
      ["/me", "Usage: /me <action>"],
      ["/topic   ", "Usage: /topic <text>"],
      ["/invite", "Usage: /invite @name"],
      ["/dm bob carol", "name one person"],
      ["/leave now", "takes nothing"],
      ["/shrug", "Unknown command /shrug"],
      ["/", "Type a command"],
    ] as const) {
      const s = parseSlash(input);
      expect(s.kind, input).toBe("error");
      expect(s.kind === "error" && s.hint, input).toContain(hint);
    }
  });
});

describe("completions", () => {
  it("lists every command for a bare slash", () => {
    expect(completions("/").map((c) => c.name)).toEqual(["me", "topic", "invite", "leave", "dm"]);
  });
  it("narrows by prefix", () => {
    expect(completions("/d").map((c) => c.name)).toEqual(["dm"]);
    expect(completions("/TO").map((c) => c.name)).toEqual(["topic"]);
  });
  it("closes once arguments begin, for text, and away from the end", () => {
    expect(completions("/me ")).toEqual([]);
    expect(completions("hi /")).toEqual([]);
    expect(completions("//")).toEqual([]);
    expect(completions("/me", 1)).toEqual([]);
    expect(completions("/zz")).toEqual([]);
  });
});
