import { useEffect, useRef, useState } from "preact/hooks";
import { mentionAt, snippet, suggest } from "../lib/markup";
import { percent, sendable } from "../lib/uploads";
import { completions, parseSlash, type SlashCommand } from "../lib/slash";
import { runSlash } from "./slash";
import { shownName } from "./Preview";
import { MaxTextChars, type Room } from "../protocol.gen";
import {
  addFiles,
  cancelReply,
  editing,
  lastOwnMessage,
  memberNames,
  removeUpload,
  replyTo,
  sendMessage,
  sendTyping,
  uploads,
} from "../state";
import { Clip, Close, Send } from "./icons";
import "./attachments.css";
import { followNext } from "./MessageList";
import "./Composer.css";

/** Typing is told to others at most this often while the user types. */
export const typingEveryMs = 2000;

/** Unsent text per room, kept while switching rooms. */
const drafts = new Map<string, string>();

interface Suggestions {
  start: number;
  end: number;
  names: string[];
  index: number;
}

export function Composer(props: { room: Room }) {
  const room = props.room;
  const [text, setText] = useState(drafts.get(room.id) ?? "");
  const [error, setError] = useState<string | null>(null);
  const [sugg, setSugg] = useState<Suggestions | null>(null);
  const [cmds, setCmds] = useState<{ items: SlashCommand[]; index: number } | null>(null);
  const ref = useRef<HTMLTextAreaElement>(null);
  const fileRef = useRef<HTMLInputElement>(null);
  const lastTyping = useRef(0);
  const reply = replyTo.value.get(room.id);
  const files = uploads.value.get(room.id) ?? [];
  const { attachments, waiting } = sendable(files);

  useEffect(() => {
    setText(drafts.get(room.id) ?? "");
    setError(null);
    setSugg(null);
    setCmds(null);
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

  /** Offers names while an @word is typed at the caret. */
  function lookup(value: string, caret: number) {
    const items = completions(value, caret);
    setCmds(items.length ? { items, index: 0 } : null);
    const at = mentionAt(value, caret);
    const names = at ? suggest(memberNames(room), at.query) : [];
    setSugg(at && names.length ? { start: at.start, end: caret, names, index: 0 } : null);
  }

  function setValue(value: string) {
    setText(value);
    drafts.set(room.id, value);
  }

  function onInput(el: HTMLTextAreaElement) {
    const value = el.value;
    setValue(value);
    lookup(value, el.selectionStart);
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

  function choose(name: string) {
    if (!sugg) return;
    const next = `${text.slice(0, sugg.start)}@${name} ${text.slice(sugg.end)}`;
    const caret = sugg.start + name.length + 2;
    // The textarea gets the text and the caret now, not after the render: a
    // key typed in between would otherwise land before the caret moves back.
    const el = ref.current;
    if (el) {
      el.value = next;
      el.setSelectionRange(caret, caret);
    }
    setValue(next);
    setSugg(null);
  }

  function chooseCommand(c: SlashCommand) {
    const next = c.args ? `/${c.name} ` : `/${c.name}`;
    const el = ref.current;
    if (el) {
      el.value = next;
      el.setSelectionRange(next.length, next.length);
    }
    setValue(next);
    setCmds(null);
  }

  function submit() {
    let t = text.trim();
    let kind: "me" | undefined;
    if (t.startsWith("/")) {
      const cmd = parseSlash(t);
      if (cmd.kind === "error") {
        setError(cmd.hint);
        return;
      }
      if (cmd.kind === "text" || cmd.kind === "me") {
        t = cmd.text;
        if (cmd.kind === "me") kind = "me";
      } else {
        stopTyping();
        setValue("");
        drafts.delete(room.id);
        setCmds(null);
        void runSlash(room, cmd).then((err) => err && setError(err));
        return;
      }
    }
    if (waiting) {
      setError("Wait for the files to finish uploading.");
      return;
    }
    if (!t && attachments.length === 0) return;
    const n = [...t].length;
    if (n > MaxTextChars) {
      setError(`Messages can be at most ${MaxTextChars} characters (this one has ${n}).`);
      return;
    }
    followNext.value = true;
    if (!sendMessage(room.id, t, kind)) return;
    // The server ends the typing state when the message arrives.
    lastTyping.current = 0;
    setValue("");
    drafts.delete(room.id);
    setSugg(null);
    setCmds(null);
  }

  function onKeyDown(e: KeyboardEvent) {
    if (cmds) {
      const step = e.key === "ArrowDown" ? 1 : e.key === "ArrowUp" ? -1 : 0;
      if (step) {
        e.preventDefault();
        setCmds({ ...cmds, index: (cmds.index + step + cmds.items.length) % cmds.items.length });
        return;
      }
      const c = cmds.items[cmds.index]!;
      // Enter on a complete command without arguments runs it.
      if (e.key === "Tab" || (e.key === "Enter" && (c.args || text.trim() !== `/${c.name}`))) {
        e.preventDefault();
        chooseCommand(c);
        return;
      }
      if (e.key === "Escape") {
        e.preventDefault();
        setCmds(null);
        return;
      }
    }
    if (sugg) {
      const step = e.key === "ArrowDown" ? 1 : e.key === "ArrowUp" ? -1 : 0;
      if (step) {
        e.preventDefault();
        setSugg({ ...sugg, index: (sugg.index + step + sugg.names.length) % sugg.names.length });
        return;
      }
      if (e.key === "Enter" || e.key === "Tab") {
        e.preventDefault();
        choose(sugg.names[sugg.index]!);
        return;
      }
      if (e.key === "Escape") {
        e.preventDefault();
        setSugg(null);
        return;
      }
    }
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    } else if (e.key === "ArrowUp" && !text) {
      // Like other chats: up in an empty box edits your last message.
      const m = lastOwnMessage(room.id);
      if (m) {
        e.preventDefault();
        editing.value = { room: room.id, seq: m.seq };
      }
    } else if (e.key === "Escape" && reply) {
      e.preventDefault();
      cancelReply(room.id);
    }
  }

  const label = room.kind === "dm" ? `Message ${room.name}` : `Message #${room.name}`;
  const count = [...text].length;
  const listId = "mention-list";
  const cmdListId = "command-list";
  return (
    <form
      class="composer"
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
    >
      {reply && (
        <div class="reply-bar">
          <span class="reply-what">
            Replying to <strong>{reply.sender ? shownName(reply) : "a message"}</strong>
            <span class="muted"> {snippet(reply.text, 80)}</span>
          </span>
          <button type="button" class="icon-btn" aria-label="Cancel reply" title="Cancel reply (Esc)" onClick={() => {
            cancelReply(room.id);
            ref.current?.focus();
          }}>
            <Close />
          </button>
        </div>
      )}
      {files.length > 0 && (
        <ul class="uploads" aria-label="Files to send">
          {files.map((u) => (
            <li key={u.key} class={`upload ${u.status}${u.preview ? " with-thumb" : ""}`}>
              {u.preview && <img class="upload-thumb" src={u.preview} alt="" width={40} height={40} />}
              <span class="upload-name">{u.name}</span>
              {u.status === "uploading" && (
                <progress max={100} value={percent(u)} aria-label={`Uploading ${u.name}`} />
              )}
              {u.status === "done" && <span class="muted small">Ready</span>}
              {u.status === "failed" && (
                <span class="upload-error" role="alert">
                  {u.error}
                </span>
              )}
              <button type="button" class="icon-btn" aria-label={`Remove ${u.name}`} title="Remove" onClick={() => removeUpload(room.id, u.key)}>
                <Close />
              </button>
            </li>
          ))}
        </ul>
      )}
      {cmds && (
        <ul class="suggest commands" id={cmdListId} role="listbox" aria-label="Commands">
          {cmds.items.map((c, i) => (
            <li
              key={c.name}
              id={`${cmdListId}-${i}`}
              role="option"
              aria-selected={i === cmds.index}
              onMouseDown={(e) => {
                e.preventDefault();
                chooseCommand(c);
              }}
            >
              <strong>/{c.name}</strong>
              {c.args && <span class="cmd-args"> {c.args}</span>}
              <span class="muted small cmd-help"> — {c.help}</span>
            </li>
          ))}
        </ul>
      )}
      {sugg && (
        <ul class="suggest" id={listId} role="listbox" aria-label="People">
          {sugg.names.map((n, i) => (
            <li
              key={n}
              id={`${listId}-${i}`}
              role="option"
              aria-selected={i === sugg.index}
              // mousedown, not click: the text box keeps focus
              onMouseDown={(e) => {
                e.preventDefault();
                choose(n);
              }}
            >
              @{n}
            </li>
          ))}
        </ul>
      )}
      <label for="composer-input" class="sr-only">
        {label}
      </label>
      <div class="composer-box">
        <button type="button" class="icon-btn attach" aria-label="Attach files" title="Attach files" onClick={() => fileRef.current?.click()}>
          <Clip />
        </button>
        <input
          ref={fileRef}
          type="file"
          multiple
          hidden
          onChange={(e) => {
            const list = e.currentTarget.files;
            if (list?.length) addFiles(room.id, [...list]);
            e.currentTarget.value = "";
            ref.current?.focus();
          }}
        />
        <textarea
          id="composer-input"
          ref={ref}
          rows={1}
          placeholder={label}
          value={text}
          aria-describedby="composer-hint composer-error"
          aria-autocomplete="list"
          aria-controls={cmds ? cmdListId : sugg ? listId : undefined}
          aria-activedescendant={cmds ? `${cmdListId}-${cmds.index}` : sugg ? `${listId}-${sugg.index}` : undefined}
          onInput={(e) => onInput(e.currentTarget)}
          onClick={(e) => lookup(e.currentTarget.value, e.currentTarget.selectionStart)}
          onBlur={() => {
            stopTyping();
            setSugg(null);
            setCmds(null);
          }}
          onKeyDown={onKeyDown}
          onPaste={(e) => {
            const pasted = e.clipboardData?.files;
            if (pasted?.length) {
              e.preventDefault();
              addFiles(room.id, [...pasted]);
            }
          }}
        />
        <button
          type="submit"
          class="send-btn"
          aria-label="Send message"
          title="Send (Enter)"
          disabled={waiting || (!text.trim() && attachments.length === 0)}
        >
          <Send />
        </button>
      </div>
      <div class="composer-foot">
        <span id="composer-hint" class="muted small">
          <kbd>Enter</kbd> to send, <kbd>Shift</kbd>+<kbd>Enter</kbd> for a new line, <kbd>↑</kbd> edits your last message, <kbd>/</kbd> for commands
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
