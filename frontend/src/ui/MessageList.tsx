import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import { mentionsMe } from "../lib/attention";
import { buildRows, stampLabel, timeLabel, type Row } from "../lib/format";
import type { Room } from "../protocol.gen";
import { atBottom, discardSend, flash, loadOlder, logs, markRead, me, openedAt, pending, retrySend } from "../state";
import { Avatar } from "./Avatar";
import { Down } from "./icons";
import { Attachments, Body, ReplyQuote } from "./Message";
import { Rich } from "./Rich";

/** Distance from the bottom, in pixels, that still counts as "at the bottom". */
const bottomSlack = 48;
/** Start loading older messages this close to the top. */
const topSlack = 240;

/** Set by the composer so the list follows the user's own new message. */
export const followNext = { value: false };

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

/**
 * A chat message. Its action bar exists only while the message is hovered
 * or holds focus, so the log is one stop in the tab order: arrow keys move
 * between messages, Tab goes into the focused message's actions.
 */
function ChatRow(props: { row: Extract<Row, { kind: "chat" }>; lit: boolean }) {
  const r = props.row;
  const m = r.message;
  const [hover, setHover] = useState(false);
  const [focus, setFocus] = useState(false);
  const name = m.sender?.name ?? "unknown";
  const cls = `msg${r.head ? " head" : ""}${m.sender?.id === me.value?.id ? " mine" : ""}${mentionsMe(m, me.value) ? " mentions-me" : ""}${props.lit ? " lit" : ""}`;
  return (
    <article
      class={cls}
      data-seq={m.seq}
      tabIndex={-1}
      onMouseEnter={() => setHover(true)}
      onMouseLeave={() => setHover(false)}
      onFocusIn={() => setFocus(true)}
      onFocusOut={(e) => {
        if (!e.currentTarget.contains(e.relatedTarget as Node | null)) setFocus(false);
      }}
    >
      <div class="gutter">{r.head ? <Avatar name={name} /> : <Time at={r.at} class="side-time" />}</div>
      <div class="content">
        <Sender head={r.head} name={name} at={r.at} />
        <Body m={m} actions={hover || focus} />
      </div>
    </article>
  );
}

function RowView(props: { row: Row; lit: number | null }) {
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
    case "chat":
      return <ChatRow row={r} lit={props.lit === r.message.seq} />;
    case "pending": {
      const p = r.pending;
      const name = r.sender?.name ?? "you";
      return (
        <article class={`msg pending${r.head ? " head" : ""}${p.status === "failed" ? " failed" : ""}`}>
          <div class="gutter">{r.head ? <Avatar name={name} /> : null}</div>
          <div class="content">
            <Sender head={r.head} name={name} at={r.at} />
            {p.replyTo && <ReplyQuote room={p.room} id={p.replyTo} />}
            {p.text && (
              <div class="text">
                <Rich text={p.text} />
              </div>
            )}
            {p.attachments && <Attachments files={p.attachments} />}
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
    // The newest message is on screen: the room is read (markRead checks that the tab is visible).
    if (stick && log?.loaded) markRead(room.id);
    // A short history that does not fill the view cannot be scrolled: fetch more.
    if (log?.loaded && log.hasMore && !log.loadingOlder && el.scrollHeight <= el.clientHeight + topSlack) {
      void loadOlder(room.id);
    }
  }, [rows, room.id, log?.loaded, log?.hasMore, log?.loadingOlder]);

  // A jump (search result, reply quote, notification) scrolls to its message,
  // focuses it and highlights it for a moment.
  const [lit, setLit] = useState<number | null>(null);
  const litTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const target = flash.value;
  useLayoutEffect(() => {
    if (!target || target.room !== room.id) return;
    const el = ref.current?.querySelector<HTMLElement>(`[data-seq="${target.seq}"]`);
    if (!el) return;
    flash.value = null;
    el.scrollIntoView({ block: "center" });
    el.focus({ preventScroll: true });
    const list = ref.current!;
    const stick = list.scrollHeight - list.scrollTop - list.clientHeight <= bottomSlack;
    last.current = { ...last.current, height: list.scrollHeight, top: list.scrollTop, stick };
    atBottom.value = stick;
    setLit(target.seq);
    clearTimeout(litTimer.current);
    litTimer.current = setTimeout(() => setLit(null), 2500);
  }, [target, rows]);
  useEffect(() => () => clearTimeout(litTimer.current), []);

  useEffect(() => {
    // Images load after their rows are laid out: keep the bottom in view.
    const el = ref.current;
    const onLoad = () => {
      if (el && last.current.stick) el.scrollTop = el.scrollHeight;
    };
    el?.addEventListener("load", onLoad, true);
    return () => el?.removeEventListener("load", onLoad, true);
  }, []);

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

  // Up and down arrows move between messages; Tab reaches a message's actions.
  function onKeyDown(e: KeyboardEvent) {
    const t = e.target as HTMLElement;
    if ((e.key !== "ArrowUp" && e.key !== "ArrowDown") || (t !== ref.current && !t.matches("article.msg"))) return;
    const all = [...(ref.current?.querySelectorAll<HTMLElement>("article.msg") ?? [])];
    if (!all.length) return;
    const i = all.indexOf(t);
    const next = i < 0 ? all[all.length - 1] : all[i + (e.key === "ArrowUp" ? -1 : 1)];
    if (next) {
      e.preventDefault();
      next.focus();
    }
  }

  const label = room.kind === "dm" ? `Conversation with ${room.name}` : `Messages in #${room.name}`;
  return (
    <div class="list-wrap">
      <div class="list" ref={ref} onScroll={onScroll} onKeyDown={onKeyDown} role="log" aria-label={label} aria-live="polite" tabIndex={0}>
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
          <RowView key={r.key} row={r} lit={lit} />
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
