// Room names as people type them: the server takes 1–32 characters of
// letters, digits, dots, dashes and underscores (PROTOCOL.md §1). The input
// turns spaces into dashes as they are typed, and says in a sentence what
// else is wrong, instead of the browser's "Please match the requested format".

import { MaxNameLen } from "../protocol.gen";

/** The characters a room name may hold, said for people. */
export const RoomNameHint = `Letters, digits, dots, dashes and underscores; up to ${MaxNameLen} characters. Spaces become dashes.`;

/** What the input keeps of what was typed: white space becomes a dash. */
export function toRoomName(typed: string): string {
  return typed.replace(/\s/g, "-");
}

/** One sentence saying what is wrong with a name, or null when it is fine. */
export function roomNameProblem(name: string): string | null {
  if (name === "") return "Give the room a name.";
  const bad = [...new Set(name.replace(/[A-Za-z0-9_.-]/g, ""))];
  if (bad.length > 0) {
    const shown = bad.slice(0, 5).map((c) => `“${c}”`).join(" ");
    return `A room name can’t contain ${shown}: use letters, digits, dots, dashes or underscores.`;
  }
  if ([...name].length > MaxNameLen) return `A room name has at most ${MaxNameLen} characters.`;
  return null;
}
