import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import { buildRows, linkify, stampLabel, timeLabel, type Row } from "../lib/format";
import type { Message, Room } from "../protocol.gen";
import { atBottom, discardSend, loadOlder, logs, markRead, me, openedAt, pending, retrySend } from "../state";
import { Avatar } from "./Avatar";
import { Down } from "./icons";

/** Distance from the bottom, in pixels, that still counts as "at the bottom". */
const bottomSlack = 48;
/** Start loading older messages this close to the top. */
const topSlack = 240;

/** Set by the composer so the list follows the user's own new message. */
export const followNext = { value: false };

function Text(props: { text: string }) {
  return (
    <>
      {linkify(props.text).map((s, i) =>
        s.href ? (
          <a key={i} href={s.href} target="_blank" rel="noopener noreferrer nofollow">
            {s.text}
          </a>
        ) : (
          s.text
        ),
      )}
    </>
  );
}

function Time(props: { at: Date; class?: string }) {
  return (
    <time class={props.class ?? "time"} dateTime={props.at.toISOString()} title={stampLabel(props.at)}>
      {timeLabel(props.at)}
    </time>
  );
}

// Sender is the name and time over the first message of a group; later
// messages of the group carry the name for screen readers only.
function Sender(props: { head: boolean; name: string; at: Date }) {
  return props.head ? (
    <div class="meta">
      <span class="sender">{props.name}</span>
      <Time at={props.at} />
    </div>
  ) : (
    <span class="sr-only">{props.name}: </span>
  );
}

function Body(props: { m: Message }) {
  const m = props.m;
  if (m.deleted) return <p class="text deleted">This message was deleted.</p>;
  const mine = me.value?.name;
  return (
    <>
      <p class="text">
        <Text text={m.text} />
        {m.edited_at && <span class="edited"> (edited)</span>}
      </p>
      {m.reactions && m.reactions.length > 0 && (
        <ul class="reactions" aria-label="Reactions">
          {m.reactions.map((r) => (
            <li
              key={r.emoji}
              class={mine && r.users.includes(mine) ? "mine" : undefined}
              title={r.users.join(", ")}
              aria-label={`${r.emoji} ${r.users.length}: ${r.users.join(", ")}`}
            >
              <span aria-hidden="true">{r.emoji}</span>
              <span aria-hidden="true">{r.users.length}</span>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

function RowView(props: { row: Row }) {
  const r = props.row;
  switch (r.kind) {
    case "day":
      return (
        <div class="day" role="separator" aria-label={r.label}>
          <span>{r.label}</span>
        </div>
      );
    case "new":
      return (
        <div class="new-marker" role="separator" aria-label="New messages">
          <span>New messages</span>
        </div>
      );
    case "system":
      return (
        <div class="msg system">
          <span class="system-text">{r.message.text}</span>
          <Time at={r.at} />
        </div>
      );
    case "chat": {
      const name = r.message.sender?.name ?? "unknown";
      return (
        <article class={`msg${r.head ? " head" : ""}${r.message.sender?.id === me.value?.id ? " mine" : ""}`} data-seq={r.message.seq}>
          <div class="gutter">{r.head ? <Avatar name={name} /> : <Time at={r.at} class="side-time" />}</div>
          <div class="content">
            <Sender head={r.head} name={name} at={r.at} />
            <Body m={r.message} />
          </div>
        </article>
      );
    }
    case "pending": {
      const p = r.pending;
      const name = r.sender?.name ?? "you";
      return (
        <article class={`msg pending${r.head ? " head" : ""}${p.status === "failed" ? " failed" : ""}`}>
          <div class="gutter">{r.head ? <Avatar name={name} /> : null}</div>
          <div class="content">
            <Sender head={r.head} name={name} at={r.at} />
            <p class="text">
              <Text text={p.text} />
            </p>
            {p.status === "failed" ? (
              <p class="send-state error">
                Not sent{p.error ? `: ${p.error}` : ""}.{" "}
                <button class="link-btn" onClick={() => retrySend(p.clientId)}>
                  Retry
                </button>{" "}
                <button class="link-btn" onClick={() => discardSend(p.clientId)}>
                  Discard
                </button>
              </p>
            ) : (
              <p class="send-state">Sending…</p>
            )}
          </div>
        </article>
      );
    }
  }
}

/**
 * The messages of a room: a live region that follows new messages only
 * while the reader is at the bottom, and loads older pages when scrolled to
 * the top (keeping the reader's place).
 */
export function MessageList(props: { room: Room }) {
  const room = props.room;
  const log = logs.value.get(room.id);
  const messages = log?.messages;
  const allPending = pending.value;
  const mine = useMemo(() => allPending.filter((p) => p.room === room.id), [allPending, room.id]);
  const marker = openedAt.value.get(room.id) ?? null;
  const user = me.value;
  const rows = useMemo(
    () => buildRows(messages ?? [], mine, marker === Number.MAX_SAFE_INTEGER ? null : marker, user),
    [messages, mine, marker, user],
  );

  const ref = useRef<HTMLDivElement>(null);
  const last = useRef({ room: "", height: 0, top: 0, first: "", lastKey: "", stick: true });
  const [unseen, setUnseen] = useState(0);

  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    const prev = last.current;
    const first = rows.find((r) => r.kind === "chat" || r.kind === "system")?.key ?? "";
    const lastKey = rows.at(-1)?.key ?? "";
    // A room is "opening" on its first render, and again when its first
    // messages arrive (the newest page loads after the room is shown).
    const opening = prev.room !== room.id || (prev.first === "" && first !== "" && prev.stick);
    if (opening) {
      // A room just opened: show the "new messages" line if it is far up,
      // else the bottom.
      const line = el.querySelector<HTMLElement>(".new-marker");
      if (line && line.offsetTop < el.scrollHeight - el.clientHeight) el.scrollTop = Math.max(0, line.offsetTop - 24);
      else el.scrollTop = el.scrollHeight;
      setUnseen(0);
    } else if (first !== prev.first && prev.first !== "" && el.scrollHeight !== prev.height && !prev.stick) {
      // Older messages were added above: keep what the reader sees in place.
      el.scrollTop = prev.top + (el.scrollHeight - prev.height);
    } else if (prev.stick || followNext.value) {
      el.scrollTop = el.scrollHeight;
    } else if (lastKey !== prev.lastKey) {
      setUnseen((n) => n + 1);
    }
    followNext.value = false;
    const stick = el.scrollHeight - el.scrollTop - el.clientHeight <= bottomSlack;
    last.current = { room: room.id, height: el.scrollHeight, top: el.scrollTop, first, lastKey, stick };
    atBottom.value = stick;
    // A short history that does not fill the view cannot be scrolled: fetch more.
    if (log?.loaded && log.hasMore && !log.loadingOlder && el.scrollHeight <= el.clientHeight + topSlack) {
      void loadOlder(room.id);
    }
  }, [rows, room.id, log?.loaded, log?.hasMore, log?.loadingOlder]);

  useEffect(() => {
    const onResize = () => {
      const el = ref.current;
      if (el && last.current.stick) el.scrollTop = el.scrollHeight;
    };
    window.addEventListener("resize", onResize);
    return () => window.removeEventListener("resize", onResize);
  }, []);

  function onScroll() {
    const el = ref.current;
    if (!el) return;
    const stick = el.scrollHeight - el.scrollTop - el.clientHeight <= bottomSlack;
    last.current = { ...last.current, height: el.scrollHeight, top: el.scrollTop, stick };
    if (atBottom.value !== stick) atBottom.value = stick;
    if (stick) {
      if (unseen) setUnseen(0);
      markRead(room.id);
    }
    if (el.scrollTop < topSlack) void loadOlder(room.id);
  }

  function jump() {
    const el = ref.current;
    if (!el) return;
    el.scrollTop = el.scrollHeight;
    setUnseen(0);
  }

  const label = room.kind === "dm" ? `Conversation with ${room.name}` : `Messages in #${room.name}`;
  return (
    <div class="list-wrap">
      <div class="list" ref={ref} onScroll={onScroll} role="log" aria-label={label} aria-live="polite" tabIndex={0}>
        <div class="list-top">
          {log?.loadingOlder && <p class="muted small" role="status">Loading earlier messages…</p>}
          {log?.loaded && !log.hasMore && (
            <div class="room-start">
              <h2>{room.kind === "dm" ? room.name : `#${room.name}`}</h2>
              <p class="muted">
                {room.kind === "dm"
                  ? `This is the beginning of your conversation with ${room.name}.`
                  : `This is the very beginning of #${room.name}.`}
              </p>
            </div>
          )}
          {!log?.loaded && !log?.error && <p class="muted small">Loading messages…</p>}
          {log?.error && (
            <p class="form-error" role="alert">
              {log.error}
            </p>
          )}
        </div>
        {rows.map((r) => (
          <RowView key={r.key} row={r} />
        ))}
      </div>
      {unseen > 0 && (
        <button class="jump" onClick={jump}>
          <Down /> New messages
        </button>
      )}
    </div>
  );
}
