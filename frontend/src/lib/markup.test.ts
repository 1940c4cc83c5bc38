import { describe, expect, it } from "vitest";
import { fileSize, highlight, mentionAt, mentions, mentionsName, parse, snippet, suggest, type Node } from "./markup";

describe("parse", () => {
  it("leaves plain text alone", () => {
    expect(parse("just words, 2*3*4 and snake_case_name")).toEqual(["just words, 2*3*4 and snake_case_name"]);
    expect(parse("")).toEqual([]);
  });

  it("links http and https URLs, leaving trailing punctuation outside", () => {
    expect(parse("see https://example.com/a?b=1. (or http://x.org/p)")).toEqual([
      "see ",
      { t: "a", href: "https://example.com/a?b=1", text: "https://example.com/a?b=1" },
      ". (or ",
      { t: "a", href: "http://x.org/p", text: "http://x.org/p" },
      ")",
    ]);
  });

  it("formats inline code, emphasis and strong, nested", () => {
    expect(parse("use `rm -rf *` **now**, _maybe_ *later*")).toEqual([
      "use ",
      { t: "code", text: "rm -rf *" },
      " ",
      { t: "strong", c: ["now"] },
      ", ",
      { t: "em", c: ["maybe"] },
      " ",
      { t: "em", c: ["later"] },
    ]);
    expect(parse("**bold with _em_ and https://a.io**")).toEqual([
      { t: "strong", c: ["bold with ", { t: "em", c: ["em"] }, " and ", { t: "a", href: "https://a.io/", text: "https://a.io" }] },
    ]);
    // Markers inside code are code.
    expect(parse("`**not bold**`")).toEqual([{ t: "code", text: "**not bold**" }]);
    // Unbalanced and spaced markers stay as typed.
    expect(parse("a * b * c and ** x** and _ y_")).toEqual(["a * b * c and ** x** and _ y_"]);
  });

  it("makes code blocks, with or without a language line", () => {
    expect(parse("look:\n```\nconst a = 1;\n  *b*\n```\nafter")).toEqual([
      "look:",
      { t: "pre", text: "const a = 1;\n  *b*" },
      "after",
    ]);
    expect(parse("```go\nfunc main() {}\n```")).toEqual([{ t: "pre", text: "func main() {}" }]);
    expect(parse("```one-liner```")).toEqual([{ t: "pre", text: "one-liner" }]);
    expect(parse("```word\n```")).toEqual([{ t: "pre", text: "word" }]);
    expect(parse("``` not closed")).toEqual(["``` not closed"]);
  });

  it("finds @mentions but not e-mail addresses", () => {
    expect(parse("hi @bob.k, mail bob@example.com (@carol)")).toEqual([
      "hi ",
      { t: "at", name: "bob.k" },
      ", mail bob@example.com (",
      { t: "at", name: "carol" },
      ")",
    ]);
  });

  it("keeps hostile text as text", () => {
    const hostile = '<script>alert(1)</script><img src=x onerror="alert(2)">';
    expect(parse(hostile)).toEqual([hostile]);
    // Only http(s) becomes a link: no javascript:, data: or vbscript: URLs.
    for (const t of ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,<script>x</script>", "vbscript:msgbox", "[x](javascript:alert(1))"]) {
      expect(links(parse(t))).toEqual([]);
    }
    // A URL ends at a quote or angle bracket, so it cannot break out of an attribute.
    expect(links(parse('https://a.io/"onmouseover="alert(1)'))).toEqual(["https://a.io/"]);
    expect(links(parse("https://a.io/<script>"))).toEqual(["https://a.io/"]);
    // Markup inside formatting is still text.
    expect(parse("**<b>x</b>**")).toEqual([{ t: "strong", c: ["<b>x</b>"] }]);
  });

  it("bounds nesting", () => {
    const deep = "*_".repeat(20) + "x" + "_*".repeat(20);
    let depth = 0;
    let n: Node[] = parse(deep);
    while (n.length && typeof n[0] !== "string" && (n[0]!.t === "em" || n[0]!.t === "strong")) {
      n = n[0]!.c;
      depth++;
    }
    expect(depth).toBeLessThanOrEqual(5);
  });
});

function links(nodes: Node[]): string[] {
  return nodes.flatMap((n) => (typeof n === "string" ? [] : n.t === "a" ? [n.href] : n.t === "em" || n.t === "strong" ? links(n.c) : []));
}

describe("mentions", () => {
  it("lists mentioned names once, lower-cased, ignoring code", () => {
    expect(mentions("@Bob and @bob, @carol_1. `@dave` ```@erin```")).toEqual(["bob", "carol_1"]);
    expect(mentionsName("thanks @Alice!", "alice")).toBe(true);
    expect(mentionsName("thanks @alicea", "alice")).toBe(false);
    expect(mentionsName("alice@example.com", "alice")).toBe(false);
    expect(mentionsName("@alice", undefined)).toBe(false);
  });

  it("finds the @word being typed at the caret", () => {
    expect(mentionAt("hi @bo", 6)).toEqual({ start: 3, query: "bo" });
    expect(mentionAt("@", 1)).toEqual({ start: 0, query: "" });
    expect(mentionAt("hi @bo there", 12)).toBeNull();
    expect(mentionAt("mail a@b", 8)).toBeNull();
    expect(mentionAt("hi @bob there", 7)).toEqual({ start: 3, query: "bob" });
  });

  it("suggests prefix matches first, then other matches, each name once", () => {
    expect(suggest(["carol", "bob", "Bobby", "jimbo", "bob"], "bo")).toEqual(["bob", "Bobby", "jimbo"]);
    expect(suggest(["b", "a", "c"], "")).toEqual(["a", "b", "c"]);
    expect(suggest(["a", "b", "c"], "", 2)).toEqual(["a", "b"]);
  });
});

describe("highlight", () => {
  it("marks whole words of the query, ignoring case, quotes and punctuation", () => {
    expect(highlight("Deploy the deployment today, deploy!", "deploy")).toEqual([
      { text: "Deploy", hit: true },
      { text: " the deployment today, " },
      { text: "deploy", hit: true },
      { text: "!" },
    ]);
    expect(highlight("send an e-mail", '"e-mail"')).toEqual([{ text: "send an " }, { text: "e", hit: true }, { text: "-" }, { text: "mail", hit: true }]);
    expect(highlight("Ünïcode wörds", "WÖRDS")).toEqual([{ text: "Ünïcode " }, { text: "wörds", hit: true }]);
    expect(highlight("text", "")).toEqual([{ text: "text" }]);
    // Regular-expression characters in the query are only separators.
    expect(highlight("a.b (c)", "[.*( c")).toEqual([{ text: "a.b (" }, { text: "c", hit: true }, { text: ")" }]);
  });
});

describe("snippet and fileSize", () => {
  it("flattens, drops formatting marks and shortens", () => {
    expect(snippet("a\n\n b  c")).toBe("a b c");
    expect(snippet("**Meet** at _the_ `desk`, @bob\n```\nx = 1\n```")).toBe("Meet at the desk, @bob x = 1");
    expect(snippet("x".repeat(200), 10)).toBe("xxxxxxxxx…");
  });

  it("says sizes the way people read them", () => {
    expect(fileSize(512)).toBe("512 B");
    expect(fileSize(1536)).toBe("1.5 KB");
    expect(fileSize(200 * 1024)).toBe("200 KB");
    expect(fileSize(5.5 * 1024 * 1024)).toBe("5.5 MB");
  });
});
