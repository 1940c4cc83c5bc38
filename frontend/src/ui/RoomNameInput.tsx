import { useId } from "preact/hooks";
import { RoomNameHint, roomNameProblem, toRoomName } from "../lib/roomname";
import { MaxNameLen } from "../protocol.gen";
import "./roomname.css";

/**
 * The room-name field: spaces turn into dashes as they are typed, the
 * allowed characters are said under it, and a name the server would refuse
 * is said in a sentence (no pattern attribute, so no browser bubble).
 */
export function RoomNameInput(props: { value: string; onValue: (v: string) => void }) {
  const hint = useId();
  const problemId = useId();
  const problem = props.value ? roomNameProblem(props.value) : null;
  return (
    <div class="room-name-field">
      <label class="field">
        <span>Room name</span>
        <input
          value={props.value}
          autoFocus
          aria-required="true"
          maxLength={MaxNameLen}
          placeholder="e.g. design-review"
          autocomplete="off"
          spellcheck={false}
          aria-invalid={problem ? true : undefined}
          aria-describedby={problem ? `${problemId} ${hint}` : hint}
          onInput={(e) => {
            const el = e.currentTarget;
            const next = toRoomName(el.value);
            if (next !== el.value) {
              // Keep the caret where it was: the dash takes the space's place.
              const at = el.selectionStart;
              el.value = next;
              if (at !== null) el.setSelectionRange(at, at);
            }
            props.onValue(next);
          }}
        />
      </label>
      <small class="muted small" id={hint}>
        {RoomNameHint}
      </small>
      {problem && (
        <small class="form-error" id={problemId} role="alert">
          {problem}
        </small>
      )}
    </div>
  );
}
