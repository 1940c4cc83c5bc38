// Lightweight formatting of message text: links, `code`, ``` blocks ```,
// *emphasis*, _emphasis_, **strong** and @mentions.
//
// parse() returns a small tree of plain data; the view builds elements from
// it (never HTML strings), so hostile text can only ever become text. The
// stored text stays exactly what the sender typed.

export type Node =
  | string
  | { t: "a"; href: string; text: string }
  | { t: "code"; text: string }
  | { t: "pre"; text: string }
  | { t: "em" | "strong"; c: Node[] }
  | { t: "at"; name: string };

/** A code block: ```, an optional language word on its own line, the code, ```. */
const blockPattern = /```(?:([A-Za-z0-9_+.#-]*)\n)?([\s\S]*?)\n?```/g;

// One pass over inline text finds the earliest of: `code`, a URL, **strong**,
// *em*, _em_, @name. Markers count only at word edges, so 2*3*4 and
// snake_case_names stay as typed.
const inlinePattern = new RegExp(
  [
    /`([^`\n]+)`/.source,
    /\bhttps?:\/\/[^\s<>"`]+/u.source,
    /(?<![\p{L}\p{N}*])\*\*(?=\S)([^\n]*?\S)\*\*(?![\p{L}\p{N}*])/u.source,
    /(?<![\p{L}\p{N}*])\*(?=[^\s*])([^*\n]*?[^\s*])\*(?![\p{L}\p{N}*])/u.source,
    /(?<![\p{L}\p{N}_])_(?=[^\s_])([^_\n]*?[^\s_])_(?![\p{L}\p{N}_])/u.source,
    /(?<![\p{L}\p{N}_.@-])@([A-Za-z0-9_.-]*[A-Za-z0-9_])/u.source,
  ].join("|"),
  "gu",
);

/** The href of raw if it is an http(s) URL, else undefined. */
export function safeHref(raw: string): string | undefined {
  try {
    const u = new URL(raw);
    if (u.protocol === "http:" || u.protocol === "https:") return u.href;
  } catch {
    /* not a URL */
  }
  return undefined;
}

/** Parses message text into nodes; see the file comment. */
export function parse(text: string): Node[] {
  const out: Node[] = [];
  let last = 0;
  for (const m of text.matchAll(blockPattern)) {
    // A newline right before or after a block is part of the block's layout.
    pushAll(out, inline(text.slice(last, m.index).replace(/\n$/, ""), 0));
    // "```word\n```" is a one-word block, not an empty one in language "word".
    out.push({ t: "pre", text: m[2] || m[1] || "" });
    last = m.index + m[0].length;
    if (text[last] === "\n") last++;
  }
  pushAll(out, inline(text.slice(last), 0));
  return out;
}

function pushAll(out: Node[], nodes: Node[]): void {
  for (const n of nodes) {
    // Adjacent strings are merged, so a tree compares simply.
    if (typeof n === "string" && typeof out.at(-1) === "string") out[out.length - 1] += n;
    else out.push(n);
  }
}

function inline(s: string, depth: number): Node[] {
  const out: Node[] = [];
  if (!s) return out;
  const re = new RegExp(inlinePattern); // own lastIndex: inline() recurses
  let last = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    const start = m.index;
    let end = start + m[0].length;
    let node: Node | null = null;
    if (m[1] !== undefined) node = { t: "code", text: m[1] };
    else if (m[2] !== undefined || m[3] !== undefined || m[4] !== undefined) {
      const inner = (m[2] ?? m[3] ?? m[4])!;
      // Nesting is bounded so a crafted message cannot recurse deeply.
      node = depth < 4 ? { t: m[2] !== undefined ? "strong" : "em", c: inline(inner, depth + 1) } : null;
    } else if (m[5] !== undefined) node = { t: "at", name: m[5] };
    else {
      // A URL: trailing punctuation belongs to the sentence.
      let raw = m[0];
      const trail = /[.,;:!?)\]'}*_]+$/.exec(raw);
      if (trail) raw = raw.slice(0, raw.length - trail[0].length);
      const href = raw ? safeHref(raw) : undefined;
      if (href) {
        node = { t: "a", href, text: raw };
        end = start + raw.length;
      }
    }
    if (!node) {
      if (end === start) re.lastIndex = start + 1;
      continue;
    }
    if (start > last) pushAll(out, [s.slice(last, start)]);
    pushAll(out, [node]);
    last = end;
    re.lastIndex = end;
  }
  if (last < s.length) pushAll(out, [s.slice(last)]);
  return out;
}

/** The names @mentioned in text (outside code), lower-cased, each once. */
export function mentions(text: string): string[] {
  const names = new Set<string>();
  const walk = (nodes: Node[]) => {
    for (const n of nodes) {
      if (typeof n === "string") continue;
      if (n.t === "at") names.add(n.name.toLowerCase());
      else if (n.t === "em" || n.t === "strong") walk(n.c);
    }
  };
  walk(parse(text));
  return [...names];
}

/** Whether text @mentions name (case-insensitive). */
export function mentionsName(text: string, name: string | undefined): boolean {
  return !!name && text.includes("@") && mentions(text).includes(name.toLowerCase());
}

/**
 * The @-word being typed at the caret, for autocompletion: its start (the
 * "@") and the letters after it, or null.
 */
export function mentionAt(text: string, caret: number): { start: number; query: string } | null {
  const m = /(?:^|[^\p{L}\p{N}_.@-])@([A-Za-z0-9_.-]{0,32})$/u.exec(text.slice(0, caret));
  if (!m) return null;
  return { start: caret - m[1]!.length - 1, query: m[1]! };
}

/** Names to offer for a query: prefix matches first, then other matches. */
export function suggest(names: readonly string[], query: string, max = 6): string[] {
  const q = query.toLowerCase();
  const seen = new Set<string>();
  const starts: string[] = [];
  const has: string[] = [];
  for (const n of names) {
    const l = n.toLowerCase();
    if (seen.has(l)) continue;
    seen.add(l);
    if (l.startsWith(q)) starts.push(n);
    else if (q && l.includes(q)) has.push(n);
  }
  const byName = (a: string, b: string) => a.localeCompare(b);
  return [...starts.sort(byName), ...has.sort(byName)].slice(0, max);
}

export type Mark = { text: string; hit?: boolean };

/**
 * Splits text around the words of a search query, for highlighting. Like
 * the server's search, words are runs of letters and digits, matched whole
 * and without regard to case.
 */
export function highlight(text: string, query: string): Mark[] {
  const words = query
    .split(/[^\p{L}\p{N}\p{M}]+/u)
    .filter(Boolean)
    .sort((a, b) => b.length - a.length);
  if (words.length === 0) return text ? [{ text }] : [];
  const out: Mark[] = [];
  let last = 0;
  for (const m of text.matchAll(new RegExp(`(?<![\\p{L}\\p{N}])(?:${words.join("|")})(?![\\p{L}\\p{N}])`, "giu"))) {
    if (m.index > last) out.push({ text: text.slice(last, m.index) });
    out.push({ text: m[0], hit: true });
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push({ text: text.slice(last) });
  return out;
}

/** The text without formatting marks, as a reader sees it. */
export function plain(text: string): string {
  const walk = (nodes: Node[]): string =>
    nodes
      .map((n) => {
        if (typeof n === "string") return n;
        switch (n.t) {
          case "em":
          case "strong":
            return walk(n.c);
          case "at":
            return `@${n.name}`;
          case "pre":
            return `\n${n.text}\n`;
          default:
            return n.text;
        }
      })
      .join("");
  return walk(parse(text));
}

/** A one-line preview of message text (formatting marks removed), for quotes and notifications. */
export function snippet(text: string, max = 120): string {
  const flat = plain(text).replace(/\s+/g, " ").trim();
  const chars = [...flat];
  return chars.length > max ? `${chars.slice(0, max - 1).join("")}…` : flat;
}

/** "12 KB", "3.4 MB". */
export function fileSize(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}
