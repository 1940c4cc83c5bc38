import { describe, expect, it } from "vitest";
import type { APIToken, Delivery } from "../protocol.gen";
import { deliveryText, expired, expiresIn } from "./integrations";

const token = (expires?: string): APIToken => ({ id: "t_1", name: "ci", scope: "write", created: "2026-01-01T00:00:00.000Z", user_id: "u_1", expires });

describe("integrations", () => {
  it("expiresIn gives an RFC 3339 time, or null for never", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(expiresIn(30, now)).toBe("2026-01-31T00:00:00.000Z");
    expect(expiresIn(0, now)).toBeNull();
  });
  it("expired compares with now", () => {
    const now = Date.parse("2026-06-01T00:00:00Z");
    expect(expired(token(), now)).toBe(false);
    expect(expired(token("2026-05-01T00:00:00.000Z"), now)).toBe(true);
    expect(expired(token("2026-07-01T00:00:00.000Z"), now)).toBe(false);
  });
  it("deliveryText says what happened", () => {
    const d: Delivery = { id: "d_1", at: "2026-01-01T00:00:00.000Z", message_id: "m_1", room_id: "r_1", ok: true, status: 200, attempts: 1 };
    expect(deliveryText(d)).toBe("Delivered (HTTP 200, 1 attempt)");
    expect(deliveryText({ ...d, ok: false, status: 0, attempts: 3, error: "timeout" })).toBe("Failed after 3 attempts: timeout");
    expect(deliveryText({ ...d, ok: false, status: 503, attempts: 3 })).toBe("Failed after 3 attempts: HTTP 503");
  });
});
