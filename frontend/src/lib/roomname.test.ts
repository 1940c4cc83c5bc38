import { describe, expect, it } from "vitest";
import { roomNameProblem, toRoomName } from "./roomname";

describe("room names", () => {
  it("turns spaces into dashes as they are typed", () => {
    expect(toRoomName("design review")).toBe("design-review");
    expect(toRoomName("a\tb  c")).toBe("a-b--c");
  });

  it("says what is wrong in a sentence", () => {
    expect(roomNameProblem("design-review_2.0")).toBeNull();
    expect(roomNameProblem("")).toBe("Give the room a name.");
    expect(roomNameProblem("café!")).toBe("A room name can’t contain “é” “!”: use letters, digits, dots, dashes or underscores.");
    expect(roomNameProblem("x".repeat(33))).toMatch(/at most 32 characters/);
  });
});
