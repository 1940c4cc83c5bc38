import type { ComponentChildren } from "preact";
import { parse, type Node } from "../lib/markup";

/**
 * Elements for parsed message text. Strings become text nodes (Preact
 * escapes them), links are http(s) only; nothing is ever set as HTML.
 * me is the reader's lower-cased name, so their mentions stand out.
 */
export function richNodes(nodes: readonly Node[], me?: string): ComponentChildren[] {
  return nodes.map((n, i) => {
    if (typeof n === "string") return n;
    switch (n.t) {
      case "a":
        return (
          <a key={i} href={n.href} target="_blank" rel="noopener noreferrer nofollow">
            {n.text}
          </a>
        );
      case "code":
        return <code key={i}>{n.text}</code>;
      case "pre":
        return (
          <pre key={i}>
            <code>{n.text}</code>
          </pre>
        );
      case "em":
        return <em key={i}>{richNodes(n.c, me)}</em>;
      case "strong":
        return <strong key={i}>{richNodes(n.c, me)}</strong>;
      case "at":
        return (
          <span key={i} class={n.name.toLowerCase() === me ? "mention self" : "mention"}>
            @{n.name}
          </span>
        );
    }
  });
}

/** Message text with its formatting. */
export function Rich(props: { text: string; me?: string }) {
  return <>{richNodes(parse(props.text), props.me)}</>;
}
