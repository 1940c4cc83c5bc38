import { describe, expect, it } from "vitest";
import { namesOf } from "./PeopleField";

describe("namesOf", () => {
  it("splits on commas and spaces, drops @ and repeats", () => {
    expect(namesOf(" bob, carol  @dave,,Bob ")).toEqual(["bob", "carol", "dave"]);
  });
  it("finds nothing in blank text", () => {
    expect(namesOf(" , ")).toEqual([]);
  });
});
