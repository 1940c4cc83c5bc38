// Slash commands of the composer: "/me waves", "/topic …", "/invite @bob",
// "/leave", "/dm @bob". parseSlash turns the composer's text into what to
// do; the composer does it. "//text" sends "/text" as it is.

export interface SlashCommand {
  name: string;
  /** What follows the name, as shown in the menu ("" for nothing). */
  args: string;
  help: string;
}

export const commands: readonly SlashCommand[] = [
  { name: "me", args: "<action>", help: "Show an action: /me waves → * you waves" },
  { name: "topic", args: "<text>", help: "Set the room's topic" },
  { name: "invite", args: "@name", help: "Invite someone to this room" },
  { name: "leave", args: "", help: "Leave this room" },
  { name: "dm", args: "@name", help: "Open a direct message with someone" },
];

export type Slash =
  /** Not a command: send the text as it is (after "//" lost a slash). */
  | { kind: "text"; text: string }
  | { kind: "me"; text: string }
  | { kind: "topic"; text: string }
  | { kind: "invite"; name: string }
  | { kind: "leave" }
  | { kind: "dm"; name: string }
  /** A command that cannot run as typed; hint says why, for the user. */
  | { kind: "error"; hint: string };

const namePattern = /^@?([A-Za-z0-9_.-]+)$/;

/** What the composer's (trimmed) text asks for. */
export function parseSlash(input: string): Slash {
  const text = input.trim();
  if (!text.startsWith("/")) return { kind: "text", text };
  if (text.startsWith("//")) return { kind: "text", text: text.slice(1) };
  const m = /^\/(\S*)\s*([\s\S]*)$/.exec(text)!;
  const name = m[1]!.toLowerCase();
  const rest = m[2]!.trim();
  const usage = (c: string) => {
    const cmd = commands.find((x) => x.name === c)!;
    return `Usage: /${cmd.name} ${cmd.args}`.trim();
  };
  switch (name) {
    case "me":
      return rest ? { kind: "me", text: rest } : { kind: "error", hint: `${usage("me")} — say what you do.` };
    case "topic":
      return rest ? { kind: "topic", text: rest } : { kind: "error", hint: `${usage("topic")} — give the new topic.` };
    case "invite":
    case "dm": {
      const who = namePattern.exec(rest);
      if (!who) return { kind: "error", hint: `${usage(name)} — name one person.` };
      return name === "invite" ? { kind: "invite", name: who[1]! } : { kind: "dm", name: who[1]! };
    }
    case "leave":
      return rest ? { kind: "error", hint: "/leave takes nothing after it." } : { kind: "leave" };
  }
  if (!name) return { kind: "error", hint: "Type a command after the slash, or start with // to send a slash." };
  return { kind: "error", hint: `Unknown command /${name}. Type / to see the commands, or start with // to send a slash.` };
}

/**
 * The commands offered while the user types a command's name: the text is
 * "/" and letters, caret at its end. Empty when the menu should be closed.
 */
export function completions(input: string, caret: number = input.length): SlashCommand[] {
  if (caret !== input.length) return [];
  const m = /^\/([a-z]*)$/i.exec(input);
  if (!m) return [];
  const q = m[1]!.toLowerCase();
  return commands.filter((c) => c.name.startsWith(q));
}
