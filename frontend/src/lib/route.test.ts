import { describe, expect, it } from "vitest";
import { hashOf, parseHash, placeHash } from "./route";

describe("parseHash", () => {
  it("reads a room, and a message after ?m=", () => {
    expect(parseHash("#/general")).toEqual({ room: "general" });
    expect(parseHash("#/general?m=m_42")).toEqual({ room: "general", message: "m_42" });
    expect(parseHash("#/r_dm1?m=abc&x=1")).toEqual({ room: "r_dm1", message: "abc" });
  });
  it("decodes the room and tolerates empty or broken hashes", () => {
    expect(parseHash("#/caf%C3%A9")).toEqual({ room: "café" });
    expect(parseHash("")).toEqual({ room: "" });
    expect(parseHash("#/")).toEqual({ room: "" });
    expect(parseHash("#/bad%E0")).toEqual({ room: "bad%E0" });
    expect(parseHash("#/general?m=")).toEqual({ room: "general" });
  });
  it("round-trips with placeHash", () => {
    const p = { room: "a b", message: "m/1" };
    expect(parseHash(placeHash(p))).toEqual(p);
  });
});

describe("hashOf", () => {
  it("takes the hash of a same-origin URL only", () => {
    expect(hashOf("/#/general?m=m_1", "http://127.0.0.1:1")).toBe("#/general?m=m_1");
    expect(hashOf("http://127.0.0.1:1/#/x", "http://127.0.0.1:1")).toBe("#/x");
    expect(hashOf("https://evil.example/#/x", "http://127.0.0.1:1")).toBeNull();
    expect(hashOf("/", "http://127.0.0.1:1")).toBeNull();
  });
});
