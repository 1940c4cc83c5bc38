import { useEffect, useRef, useState } from "preact/hooks";
import { MaxTextChars, type Room } from "../protocol.gen";
import { sendMessage, sendTyping } from "../state";
import { Send } from "./icons";
import { followNext } from "./MessageList";

/** Typing is told to others at most this often while the user types. */
export const typingEveryMs = 2000;

/** Unsent text per room, kept while switching rooms. */
const drafts = new Map<string, string>();

export function Composer(props: { room: Room }) {
  const room = props.room;
  const [text, setText] = useState(drafts.get(room.id) ?? "");
  const [error, setError] = useState<string | null>(null);
  const ref = useRef<HTMLTextAreaElement>(null);
  const lastTyping = useRef(0);

  useEffect(() => {
    setText(drafts.get(room.id) ?? "");
    setError(null);
    lastTyping.current = 0;
    // On touch screens focusing would pop up the keyboard over the messages.
    if (window.matchMedia?.("(pointer: fine)").matches) ref.current?.focus();
  }, [room.id]);

  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    // Grow with the text up to a limit (setting style from script is allowed by the CSP).
    el.style.height = "auto";
    el.style.height = `${Math.min(el.scrollHeight, 200)}px`;
  }, [text]);

  function stopTyping() {
    if (lastTyping.current) sendTyping(room.id, false);
    lastTyping.current = 0;
  }

  function onInput(value: string) {
    setText(value);
    drafts.set(room.id, value);
    if (error) setError(null);
    if (!value.trim()) {
      stopTyping();
      return;
    }
    const now = Date.now();
    if (now - lastTyping.current >= typingEveryMs) {
      lastTyping.current = now;
      sendTyping(room.id, true);
    }
  }

  function submit() {
    const t = text.trim();
    if (!t) return;
    const n = [...t].length;
    if (n > MaxTextChars) {
      setError(`Messages can be at most ${MaxTextChars} characters (this one has ${n}).`);
      return;
    }
    followNext.value = true;
    sendMessage(room.id, t);
    // The server ends the typing state when the message arrives.
    lastTyping.current = 0;
    setText("");
    drafts.delete(room.id);
  }

  const label = room.kind === "dm" ? `Message ${room.name}` : `Message #${room.name}`;
  const count = [...text].length;
  return (
    <form
      class="composer"
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
    >
      <label for="composer-input" class="sr-only">
        {label}
      </label>
      <div class="composer-box">
        <textarea
          id="composer-input"
          ref={ref}
          rows={1}
          placeholder={label}
          value={text}
          aria-describedby="composer-hint composer-error"
          onInput={(e) => onInput(e.currentTarget.value)}
          onBlur={stopTyping}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
              e.preventDefault();
              submit();
            }
          }}
        />
        <button type="submit" class="send-btn" aria-label="Send message" title="Send (Enter)" disabled={!text.trim()}>
          <Send />
        </button>
      </div>
      <div class="composer-foot">
        <span id="composer-hint" class="muted small">
          <kbd>Enter</kbd> to send, <kbd>Shift</kbd>+<kbd>Enter</kbd> for a new line
        </span>
        {count > MaxTextChars - 200 && (
          <span class={`small ${count > MaxTextChars ? "over" : "muted"}`}>
            {count}/{MaxTextChars}
          </span>
        )}
      </div>
      <div id="composer-error" class="form-error" role="alert">
        {error}
      </div>
    </form>
  );
}
