// The people field of the new-conversation dialog: one username for a
// direct message, or several (separated by commas or spaces) for a group
// conversation of up to eight people. A stand-in until the people picker
// (ui/PeoplePicker.tsx) replaces it.

import { ApiError } from "../lib/api";
import { startDM, startGroupDM } from "../state";

/** Names typed in the field, each once, in order. */
export function namesOf(text: string): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const n of text.split(/[\s,;]+/)) {
    const k = n.replace(/^@/, "").trim();
    if (k && !seen.has(k.toLowerCase())) {
      seen.add(k.toLowerCase());
      out.push(k);
    }
  }
  return out;
}

/** Opens the conversation with the people named: a direct message for one, a group for 2–7. */
export async function startConversation(text: string): Promise<void> {
  const names = namesOf(text);
  if (names.length === 0) throw new ApiError(400, "bad_request", "Type a username.");
  if (names.length === 1) return startDM(names[0]!);
  if (names.length > 7) throw new ApiError(400, "bad_request", "A group conversation has at most 8 people, you included.");
  return startGroupDM(names);
}

export function PeopleField({ value, onInput }: { value: string; onInput: (v: string) => void }) {
  return (
    <label class="field">
      <span>Usernames</span>
      <input
        value={value}
        autoFocus
        required
        autocapitalize="none"
        autocomplete="off"
        placeholder="e.g. bob, or bob, carol for a group"
        aria-describedby="people-field-hint"
        onInput={(e) => onInput(e.currentTarget.value)}
      />
      <small id="people-field-hint" class="muted">
        One person for a direct message; up to seven, separated by commas, for a group conversation.
      </small>
    </label>
  );
}
