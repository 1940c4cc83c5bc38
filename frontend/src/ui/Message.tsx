// The parts of one message: text with formatting, reply quote, files,
// reactions, the action bar (react, reply, edit, delete) and in-place editing.

import { signal } from "@preact/signals";
import { useEffect, useRef, useState } from "preact/hooks";
import { fileSize, snippet } from "../lib/markup";
import { findById } from "../lib/timeline";
import { MaxTextChars, type Attachment, type Message } from "../protocol.gen";
import {
  canChange,
  deleteMessage,
  editMessage,
  editing,
  jumpTo,
  me,
  roomLog,
  startReply,
  toggleReaction,
} from "../state";
import { FileIcon, Pencil, Reply, Smile, Trash } from "./icons";
import { Rich } from "./Rich";
import { PreviewCard, shownName } from "./Preview";
import "./Message.css";

/** The default reactions, with names for screen readers. */
export const reactions: ReadonlyArray<readonly [string, string]> = [
  ["👍", "thumbs up"],
  ["❤️", "heart"],
  ["😂", "laughing"],
  ["🎉", "party"],
  ["😮", "surprised"],
  ["😢", "sad"],
  ["👀", "eyes"],
  ["✅", "done"],
];

/** The message whose reaction picker is open. */
const picker = signal<string | null>(null);
/** The message whose deletion waits for a confirmation. */
const confirming = signal<string | null>(null);

/** Raster images are shown inline; anything else (SVG too) is a file card. */
const inlineImage = /^image\/(png|jpeg|gif|webp)$/;

function focusComposer() {
  document.getElementById("composer-input")?.focus();
}

function FileCard(props: { a: Attachment }) {
  const a = props.a;
  return (
    <div class="att-file">
      <FileIcon />
      <span class="att-meta">
        <span class="att-name">{a.name}</span>
        <span class="muted small">{fileSize(a.size)}</span>
      </span>
      <a class="btn small" href={a.url} download={a.name} aria-label={`Download ${a.name}`}>
        Download
      </a>
    </div>
  );
}

/** A picture, or its file card when it cannot be shown (e.g. readable by members only). */
function Picture(props: { a: Attachment }) {
  const a = props.a;
  const [broken, setBroken] = useState(false);
  if (broken) return <FileCard a={a} />;
  return (
    <a class="att-img" href={a.url} target="_blank" rel="noopener noreferrer" aria-label={`Open ${a.name} full size`} title={a.name}>
      <img src={a.url} alt={a.name} loading="lazy" decoding="async" onError={() => setBroken(true)} />
    </a>
  );
}

export function Attachments(props: { files: readonly Attachment[] }) {
  return (
    <div class="atts">
      {props.files.map((a) => (inlineImage.test(a.type) ? <Picture key={a.id} a={a} /> : <FileCard key={a.id} a={a} />))}
    </div>
  );
}

/** The quoted message a reply answers; a button that jumps to it. */
export function ReplyQuote(props: { room: string; id: string }) {
  const orig = findById(roomLog(props.room).value, props.id);
  const name = orig?.sender ? shownName(orig) : undefined;
  const text = !orig ? "an earlier message" : orig.deleted ? "Message deleted" : snippet(orig.text, 90) || "a file";
  return (
    <button
      class="quote"
      onClick={() => void jumpTo(props.room, { id: props.id })}
      aria-label={`In reply to ${name ? `${name}: ` : ""}${text}. Show that message`}
    >
      <Reply />
      {name && <span class="quote-name">{name}</span>}
      <span class="quote-text">{text}</span>
    </button>
  );
}

function Reactions(props: { m: Message }) {
  const m = props.m;
  const mine = me.value?.name;
  if (!m.reactions?.length) return null;
  return (
    <div class="reactions" role="group" aria-label="Reactions">
      {m.reactions.map((r) => {
        const on = !!mine && r.users.includes(mine);
        return (
          <button
            key={r.emoji}
            class={`chip${on ? " mine" : ""}`}
            aria-pressed={on}
            title={r.users.join(", ")}
            aria-label={`${r.emoji} ${r.users.length}: ${r.users.join(", ")}`}
            onClick={() => toggleReaction(m, r.emoji)}
          >
            <span aria-hidden="true">{r.emoji}</span>
            <span aria-hidden="true">{r.users.length}</span>
          </button>
        );
      })}
    </div>
  );
}

/** The reaction picker: arrow keys move, Enter picks, Escape closes. */
function Picker(props: { m: Message; onDone: () => void }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    ref.current?.querySelector("button")?.focus();
    const outside = (e: MouseEvent) => {
      if (!ref.current?.contains(e.target as Node)) picker.value = null;
    };
    document.addEventListener("mousedown", outside);
    return () => document.removeEventListener("mousedown", outside);
  }, []);
  const onKey = (e: KeyboardEvent) => {
    const items = [...(ref.current?.querySelectorAll("button") ?? [])];
    const i = items.indexOf(document.activeElement as HTMLButtonElement);
    const step = e.key === "ArrowRight" || e.key === "ArrowDown" ? 1 : e.key === "ArrowLeft" || e.key === "ArrowUp" ? -1 : 0;
    if (step) {
      e.preventDefault();
      items[(i + step + items.length) % items.length]?.focus();
    } else if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      props.onDone();
    } else if (e.key === "Tab") {
      picker.value = null; // focus moves on; the menu does not stay behind
    }
  };
  return (
    <div class="picker" role="menu" aria-label="Add a reaction" ref={ref} onKeyDown={onKey}>
      {reactions.map(([emoji, name]) => (
        <button
          key={emoji}
          role="menuitem"
          tabIndex={-1}
          aria-label={`${emoji} ${name}`}
          title={name}
          onClick={() => {
            const had = props.m.reactions?.find((r) => r.emoji === emoji)?.users.includes(me.value?.name ?? "");
            if (!had) toggleReaction(props.m, emoji);
            props.onDone();
          }}
        >
          {emoji}
        </button>
      ))}
    </div>
  );
}

/** Hover or focus shows the bar; every action is a named button. */
function Actions(props: { m: Message }) {
  const m = props.m;
  const open = picker.value === m.id;
  const trigger = useRef<HTMLButtonElement>(null);
  const may = canChange(m);
  return (
    // aria-live off: the bar comes and goes with hover and focus inside the
    // log's live region, and is not news.
    <div class={`actions${open ? " open" : ""}`} role="group" aria-label="Message actions" aria-live="off">
      <button ref={trigger} class="icon-btn" aria-label="Add reaction" title="Add reaction" aria-haspopup="menu" aria-expanded={open}
        onClick={() => (picker.value = open ? null : m.id)}>
        <Smile />
      </button>
      <button class="icon-btn" aria-label="Reply" title="Reply" onClick={() => {
        startReply(m);
        focusComposer();
      }}>
        <Reply />
      </button>
      {may && (
        <button class="icon-btn" aria-label="Edit message" title="Edit" onClick={() => (editing.value = { room: m.room, seq: m.seq })}>
          <Pencil />
        </button>
      )}
      {may && (
        <button class="icon-btn" aria-label="Delete message" title="Delete" onClick={() => (confirming.value = m.id)}>
          <Trash />
        </button>
      )}
      {open && (
        <Picker m={m} onDone={() => {
          picker.value = null;
          trigger.current?.focus();
        }} />
      )}
    </div>
  );
}

function ConfirmDelete(props: { m: Message }) {
  const ref = useRef<HTMLButtonElement>(null);
  useEffect(() => ref.current?.focus(), []);
  const done = () => {
    confirming.value = null;
    focusComposer();
  };
  return (
    <div class="confirm" role="group" aria-label="Delete this message?" onKeyDown={(e) => e.key === "Escape" && done()}>
      <span>Delete this message? Everyone will see that it was deleted.</span>
      <button ref={ref} class="btn small danger" onClick={() => {
        deleteMessage(props.m);
        done();
      }}>
        Delete
      </button>
      <button class="btn small" onClick={done}>
        Cancel
      </button>
    </div>
  );
}

/** In-place editing: Enter saves, Shift+Enter adds a line, Escape cancels. */
function EditBox(props: { m: Message }) {
  const m = props.m;
  const [text, setText] = useState(m.text);
  const [error, setError] = useState<string | null>(null);
  const ref = useRef<HTMLTextAreaElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.focus();
    el.setSelectionRange(el.value.length, el.value.length);
  }, []);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.style.height = "auto";
    el.style.height = `${Math.min(el.scrollHeight, 240)}px`;
  }, [text]);
  const stop = () => {
    editing.value = null;
    focusComposer();
  };
  const save = () => {
    const t = text.trim();
    if (!t) return setError("A message needs text; delete it instead.");
    if ([...t].length > MaxTextChars) return setError(`Messages can be at most ${MaxTextChars} characters.`);
    if (editMessage(m, t)) stop();
  };
  return (
    <div class="edit" aria-live="off">
      <textarea
        ref={ref}
        aria-label="Edit message"
        aria-describedby="edit-hint"
        value={text}
        onInput={(e) => {
          setText(e.currentTarget.value);
          setError(null);
        }}
        onKeyDown={(e) => {
          if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
            e.preventDefault();
            save();
          } else if (e.key === "Escape") {
            e.preventDefault();
            stop();
          }
        }}
      />
      <div class="edit-foot">
        <span id="edit-hint" class="muted small">
          <kbd>Enter</kbd> to save, <kbd>Esc</kbd> to cancel
        </span>
        <button class="btn small" onClick={stop}>
          Cancel
        </button>
        <button class="btn small primary" onClick={save}>
          Save
        </button>
      </div>
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

/** Everything under a message's sender line. */
export function Body(props: { m: Message; actions: boolean }) {
  const m = props.m;
  const ed = editing.value;
  if (m.deleted) return <div class="text deleted">Message deleted</div>;
  const isEditing = ed?.room === m.room && ed.seq === m.seq;
  return (
    <>
      {m.reply_to && <ReplyQuote room={m.room} id={m.reply_to} />}
      {isEditing ? (
        <EditBox m={m} />
      ) : (
        m.text && (
          <div class="text">
            {m.kind === "me" && <span class="me-name">* {shownName(m)} </span>}
            <Rich text={m.text} me={me.value?.name.toLowerCase()} />
            {m.edited_at && <span class="edited"> (edited)</span>}
          </div>
        )
      )}
      {m.attachments && m.attachments.length > 0 && <Attachments files={m.attachments} />}
      {m.preview && <PreviewCard m={m} />}
      <Reactions m={m} />
      {confirming.value === m.id && <ConfirmDelete m={m} />}
      {!isEditing && (props.actions || picker.value === m.id) && <Actions m={m} />}
    </>
  );
}
