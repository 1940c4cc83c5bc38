import { describe, expect, it } from "vitest";
import { fromBase64Url, subscriptionBody } from "./push";

describe("fromBase64Url", () => {
  it("decodes unpadded base64url", () => {
    expect([...fromBase64Url("AQID_-8")]).toEqual([1, 2, 3, 255, 239]);
    expect(fromBase64Url("BP" + "A".repeat(85)).length).toBe(65);
  });
});

describe("subscriptionBody", () => {
  it("is the endpoint and keys, with a label when given", () => {
    const sub = { toJSON: () => ({ endpoint: "https://push.example/x", keys: { p256dh: "p", auth: "a" } }) };
    expect(subscriptionBody(sub, "Chrome on Linux")).toEqual({ endpoint: "https://push.example/x", keys: { p256dh: "p", auth: "a" }, label: "Chrome on Linux" });
    expect(subscriptionBody(sub)).toEqual({ endpoint: "https://push.example/x", keys: { p256dh: "p", auth: "a" } });
    expect(() => subscriptionBody({ toJSON: () => ({ endpoint: "x" }) })).toThrow();
  });
});
