import { describe, expect, it } from "vitest";
import type { Message } from "./protocol.gen";
import { mergeMessages } from "./state";

const msg = (seq: number, text = `m${seq}`): Message => ({
  id: `m_${seq}`,
  room: "r",
  seq,
  kind: "chat",
  sender: null,
  text,
  ts: "2026-01-01T00:00:00.000Z",
});

describe("mergeMessages", () => {
  it("keeps one message per seq, in order, the later state winning", () => {
    const merged = mergeMessages([msg(3), msg(5), msg(4)], [msg(1), msg(4, "edited"), msg(6)]);
    expect(merged.map((m) => `${m.seq}:${m.text}`)).toEqual(["1:m1", "3:m3", "4:edited", "5:m5", "6:m6"]);
  });
});
