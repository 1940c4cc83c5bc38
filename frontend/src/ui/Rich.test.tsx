import { isValidElement, type ComponentChildren, type VNode } from "preact";
import { describe, expect, it } from "vitest";
import { parse } from "../lib/markup";
import { richNodes } from "./Rich";

interface Flat {
  tag: string;
  props: Record<string, unknown>;
}

/** Every element in the tree, depth first. */
function elements(children: ComponentChildren): Flat[] {
  const out: Flat[] = [];
  const walk = (c: ComponentChildren) => {
    if (Array.isArray(c)) c.forEach(walk);
    else if (isValidElement(c)) {
      const v = c as VNode<Record<string, unknown>>;
      out.push({ tag: String(v.type), props: v.props });
      walk(v.props.children as ComponentChildren);
    }
  };
  walk(children);
  return out;
}

describe("richNodes", () => {
  it("builds elements, never HTML, and only http(s) links", () => {
    const text =
      '<script>alert(1)</script> **<img src=x onerror=alert(1)>** javascript:alert(1) ' +
      "[x](javascript:alert(1)) `<b>` https://ok.example/a @alice\n```\n<iframe src=//evil>\n```";
    const els = elements(richNodes(parse(text), "alice"));
    expect(els.map((e) => e.tag).sort()).toEqual(["a", "code", "code", "pre", "span", "strong"]);
    for (const e of els) expect(e.props).not.toHaveProperty("dangerouslySetInnerHTML");
    const a = els.find((e) => e.tag === "a")!;
    expect(a.props.href).toBe("https://ok.example/a");
    expect(a.props.rel).toBe("noopener noreferrer nofollow");
    expect(a.props.target).toBe("_blank");
    // The reader's own mention is marked.
    expect(els.find((e) => e.tag === "span")!.props.class).toBe("mention self");
    // Hostile markup survives as plain strings, character for character.
    const strings = JSON.stringify(richNodes(parse(text)));
    expect(strings).toContain("<script>alert(1)</script>");
    expect(strings).toContain("<iframe src=//evil>");
  });
});
