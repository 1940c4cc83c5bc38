import { Component } from "preact";
import { effect, useSignal, type ReadonlySignal } from "@preact/signals";
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import { mentionsMe } from "../lib/attention";
import { buildRows, reuseRows, stampLabel, timeLabel, type Row } from "../lib/format";
import { snippet } from "../lib/markup";
import { skippedCount } from "../lib/timeline";
import { shownName } from "../lib/people";
import type { Room, User } from "../protocol.gen";
import { latest } from "../profiles";
import { atBottom, discardSend, flash, jumpToPresent, loadNewer, loadOlder, markRead, me, openedAt, pending, retrySend, roomLog } from "../state";
import { Avatar } from "./Avatar";
import { UserAvatar, UserName } from "./Profile";
import { Down } from "./icons";
import { Attachments, Body, ReplyQuote } from "./Message";
import { MeRow, shownName as messageName } from "./MeRow";
import { Rich } from "./Rich";
import { BotBadge } from "./Integrations";
import "./MessageList.css";

/** How far beyond the visible list a page starts loading, in pixels. */
const pageMargin = 600;
/** Distance from the bottom, in pixels, that still counts as "at the bottom". */
const bottomSlack = 48;

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
function Sender(props: { head: boolean; name: string; at: Date; user?: User | null; tag?: string }) {
  const u = props.user;
  return props.head ? (
    <div class="meta">
      <span class="sender">{u ? <UserName user={u} /> : props.name}</span>
      {u?.bot && <BotBadge />}
      {props.tag && <span class="sender-tag">{props.tag}</span>}
      <Time at={props.at} />
    </div>
  ) : (
    <span class="sr-only">{u ? shownName(latest(u)) : props.name}: </span>
  );
}

/**
 * A chat message. Its action bar exists only while the message is hovered
 * or holds focus (the list tracks both with one listener each), so the log
 * is one stop in the tab order: arrow keys move between messages, Tab goes
 * into the focused message's actions.
 */
function ChatRow(props: { row: Extract<Row, { kind: "chat" }>; lit: boolean; actions: boolean }) {
  const r = props.row;
  const m = r.message;
  const name = messageName(m);
  if (m.kind === "me") return <MeRow row={r} lit={props.lit} actions={props.actions} />;
  const cls = `msg${r.head ? " head" : ""}${m.sender?.id === me.value?.id ? " mine" : ""}${mentionsMe(m, me.value) ? " mentions-me" : ""}${props.lit ? " lit" : ""}`;
  return (
    <article class={cls} data-seq={m.seq} data-key={r.key} tabIndex={-1}>
      <div class="gutter">{r.head ? m.sender ? <UserAvatar user={m.sender} /> : <Avatar name={name} /> : <Time at={r.at} class="side-time" />}</div>
      <div class="content">
        <Sender head={r.head} name={name} at={r.at} user={m.via ? null : m.sender} tag={m.via ? "webhook" : undefined} />
        <Body m={m} actions={props.actions} />
      </div>
    </article>
  );
}

interface RowProps {
  row: Row;
  lit: boolean;
  /** The seq of the message under the pointer, and of the one holding focus. */
  hovered: ReadonlySignal<number | null>;
  focused: ReadonlySignal<number | null>;
}

/**
 * One row, memoized: it renders again only when its row object, its
 * highlight or whether it shows its actions change. It watches the hovered
 * and focused seqs itself, so a pointer moving over the list renders the two
 * rows it leaves and enters, not the list.
 */
class RowView extends Component<RowProps, { actions: boolean }> {
  private stop: (() => void) | undefined;

  override componentDidMount() {
    const r = this.props.row;
    if (r.kind !== "chat") return;
    const seq = r.message.seq;
    const { hovered, focused } = this.props;
    this.stop = effect(() => {
      const on = hovered.value === seq || focused.value === seq;
      if (on !== !!this.state.actions) this.setState({ actions: on });
    });
  }

  override componentWillUnmount() {
    this.stop?.();
  }

  override shouldComponentUpdate(next: RowProps, state: { actions: boolean }): boolean {
    const p = this.props;
    return next.row !== p.row || next.lit !== p.lit || !!state.actions !== !!this.state.actions;
  }

  override render() {
    return renderRow(this.props.row, this.props.lit, !!this.state.actions);
  }
}

function renderRow(r: Row, lit: boolean, actions: boolean) {
  switch (r.kind) {
    case "day":
      return (
        <div class="day" role="separator" aria-label={r.label} data-key={r.key}>
          <span>{r.label}</span>
        </div>
      );
    case "new":
      return (
        <div class="new-marker" role="separator" aria-label="New messages" data-key={r.key}>
          <span>New messages</span>
        </div>
      );
    case "system":
      return (
        <div class="msg system" data-key={r.key} data-seq={r.message.seq}>
          <span class="system-text">{r.message.text}</span>
          <Time at={r.at} />
        </div>
      );
    case "chat":
      return <ChatRow row={r} lit={lit} actions={actions} />;
    case "pending": {
      const p = r.pending;
      const name = r.sender?.name ?? "you";
      return (
        <article class={`msg pending${r.head ? " head" : ""}${p.status === "failed" ? " failed" : ""}`} data-key={r.key}>
          <div class="gutter">{r.head ? r.sender ? <UserAvatar user={r.sender} /> : <Avatar name={name} /> : null}</div>
          <div class="content">
            <Sender head={r.head} name={name} at={r.at} user={r.sender} />
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
 * Scrolls the list to its bottom. The list is a column-reverse scroller (see
 * MessageList.css): its scroll position counts from the bottom, 0 there and
 * negative above, so this needs no measure of the content.
 */
function toEnd(el: HTMLElement): void {
  el.scrollTop = 0;
}

/** The seq of the message row an event happened in, or null. */
function seqOf(target: EventTarget | null): number | null {
  const el = (target as Element | null)?.closest?.("article.msg[data-seq]");
  return el ? Number(el.getAttribute("data-seq")) : null;
}

/**
 * The messages of a room: a bounded window of its history (see
 * lib/timeline.ts) that pages both ways as the reader scrolls, follows new
 * messages while the reader is at the bottom, and keeps the reader's place
 * when pages come and go above. Sentinels watched by IntersectionObservers
 * say when to page and whether the reader is at the bottom, so scrolling
 * reads no layout.
 */
export function MessageList(props: { room: Room }) {
  const room = props.room;
  const log = roomLog(room.id).value;
  const messages = log.messages;
  const allPending = pending.value;
  // Pending sends show only at the present.
  const mine = useMemo(() => (log.hasNewer ? [] : allPending.filter((p) => p.room === room.id)), [allPending, room.id, log.hasNewer]);
  const marker = openedAt.value.get(room.id) ?? null;
  const user = me.value;
  const prevRows = useRef<Map<string, Row>>(new Map());
  const rows = useMemo(() => {
    const built = buildRows(messages, mine, marker === Number.MAX_SAFE_INTEGER ? null : marker, user);
    const out = reuseRows(prevRows.current, built);
    prevRows.current = new Map(out.map((r) => [r.key, r]));
    return out;
  }, [messages, mine, marker, user]);

  const ref = useRef<HTMLDivElement>(null);
  const topRef = useRef<HTMLDivElement>(null);
  const bottomRef = useRef<HTMLDivElement>(null);
  const endRef = useRef<HTMLDivElement>(null);
  const seen = useRef<{ room: string; first: string; last: string; loaded: boolean; loading: string | null; ends: string }>({
    room: "",
    first: "",
    last: "",
    loaded: false,
    loading: null,
    ends: "",
  });
  const paging = useRef<IntersectionObserver | null>(null);
  const ending = useRef<IntersectionObserver | null>(null);
  const [unseen, setUnseen] = useState(0);
  const announce = useRef<HTMLParagraphElement>(null);

  const first = rows.find((r) => r.kind === "chat" || r.kind === "system")?.key ?? "";

  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    const prev = seen.current;
    const lastKey = rows.at(-1)?.key ?? "";
    const opening = prev.room !== room.id || (!prev.loaded && log.loaded);
    if (opening) {
      // A room just opened: at the "new messages" line if it is in the
      // window and above the last screenful (a reader far behind opens
      // there), else at the bottom. Opening may read layout; arrivals do not.
      toEnd(el);
      const line = el.querySelector<HTMLElement>(".new-marker");
      if (line && (log.hasNewer || line.getBoundingClientRect().top < el.getBoundingClientRect().top)) {
        line.scrollIntoView({ block: "start" });
        atBottom.value = false; // until the end sentinel says otherwise
      }
      setUnseen(0);
    } else if (flash.value?.room === room.id) {
      // A jump: the flash effect below scrolls to its message.
    } else if (prev.loading === "jump" && !log.loading && !log.hasNewer) {
      // The newest page replaced the window (Jump to present): its end.
      toEnd(el);
      atBottom.value = true;
    } else if (followNext.value) {
      // The reader's own message: to the bottom, wherever they were.
      toEnd(el);
    }
    // Anything else needs no scrolling: the list is a column-reverse
    // scroller, so its bottom is where the scroll position is kept from;
    // a reader at the bottom stays there as rows arrive, and the browser's
    // scroll anchoring keeps a reader further up in place as rows come or
    // go at either end.
    if (!opening && lastKey !== prev.last && prev.last !== "" && !log.hasNewer) {
      // New at the bottom: say it to screen readers, count it if not seen.
      const r = rows.at(-1);
      if (r?.kind === "chat" && r.message.sender?.id !== me.value?.id) {
        // Written straight into the live region: no second render for it.
        if (announce.current) announce.current.textContent = `${messageName(r.message)}${r.message.kind === "me" ? " " : ": "}${snippet(r.message.text, 140) || "shared a file"}`;
        if (!atBottom.value && !followNext.value) setUnseen((n) => n + 1);
      }
    }
    followNext.value = false;
    // What the window holds at its ends: a page came or went, or the window
    // reached an end (an arrival changes none of it).
    const ends = `${log.loaded} ${log.loading} ${log.hasOlder} ${log.hasNewer} ${log.skipped?.from}-${log.skipped?.to}`;
    const moved = opening || ends !== prev.ends;
    seen.current = { room: room.id, first, last: lastKey, loaded: log.loaded, loading: log.loading, ends };
    if (atBottom.value && log.loaded) markRead(room.id);
    // A page that did not carry a sentinel out of sight must be followed
    // by the next: observing the sentinels afresh reports where they are
    // now (an observer reports changes only).
    const io = paging.current;
    if (moved && io && log.loaded && !log.loading) {
      for (const s of [topRef.current, bottomRef.current]) {
        if (!s) continue;
        io.unobserve(s);
        io.observe(s);
      }
    }
    // Whether the reader is at the bottom changes when the window reaches
    // the present too, with the end in sight all along.
    if (moved && ending.current && endRef.current && log.loaded) {
      ending.current.unobserve(endRef.current);
      ending.current.observe(endRef.current);
    }
  }, [rows, room.id, log.loaded, log.hasOlder, log.hasNewer, log.loading, log.skipped]);

  // Sentinels: the top and bottom ones page (some way before they show);
  // the end one says whether the reader is at the bottom.
  useEffect(() => {
    const root = ref.current;
    if (!root || typeof IntersectionObserver === "undefined") return;
    const io = new IntersectionObserver(
      (entries) => {
        for (const e of entries) {
          if (!e.isIntersecting) continue;
          const t = roomLog(room.id).value;
          if (e.target === topRef.current) {
            if (t.loaded && t.hasOlder && !t.skipped) void loadOlder(room.id);
          } else if (t.loaded && t.hasNewer) void loadNewer(room.id);
        }
      },
      { root, rootMargin: `${pageMargin}px 0px ${pageMargin}px 0px` },
    );
    const end = new IntersectionObserver(
      (entries) => {
        const at = entries[entries.length - 1]!.isIntersecting && !roomLog(room.id).value.hasNewer;
        if (atBottom.value !== at) atBottom.value = at;
        if (at) {
          setUnseen(0);
          markRead(room.id);
        }
      },
      { root, rootMargin: `0px 0px ${bottomSlack}px 0px` },
    );
    if (topRef.current) io.observe(topRef.current);
    if (bottomRef.current) io.observe(bottomRef.current);
    if (endRef.current) end.observe(endRef.current);
    paging.current = io;
    ending.current = end;
    return () => {
      paging.current = null;
      ending.current = null;
      io.disconnect();
      end.disconnect();
    };
  }, [room.id]);

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
    setLit(target.seq);
    clearTimeout(litTimer.current);
    litTimer.current = setTimeout(() => setLit(null), 2500);
  }, [target, rows]);
  useEffect(() => () => clearTimeout(litTimer.current), []);

  // One listener each for hover and focus on the whole list: which message
  // shows its actions.
  const hovered = useSignal<number | null>(null);
  const focused = useSignal<number | null>(null);

  function toBottom() {
    const el = ref.current;
    if (!el) return;
    toEnd(el);
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
  const skipped = skippedCount(log);
  return (
    <div class="list-wrap">
      <div
        class="list"
        ref={ref}
        onKeyDown={onKeyDown}
        onMouseOver={(e) => {
          const s = seqOf(e.target);
          if (s !== hovered.peek()) hovered.value = s;
        }}
        onMouseLeave={() => (hovered.value = null)}
        onFocusIn={(e) => (focused.value = seqOf(e.target))}
        onFocusOut={(e) => {
          if (seqOf(e.relatedTarget) === null) focused.value = null;
        }}
        role="log"
        aria-label={label}
        aria-live="off"
        aria-busy={log.loading ? "true" : "false"}
        tabIndex={0}
      >
        <div class="list-body">
          <div class="list-top">
            {log.loading === "older" && <p class="muted small">Loading earlier messages…</p>}
            {log.loaded && !log.hasOlder && (
              <div class="room-start">
                <h2>{room.kind === "dm" ? room.name : `#${room.name}`}</h2>
                <p class="muted">
                  {room.kind === "dm"
                    ? `This is the beginning of your conversation with ${room.name}.`
                    : `This is the very beginning of #${room.name}.`}
                </p>
              </div>
            )}
            {skipped > 0 && log.loading !== "older" && (
              <p class="skipped">
                <button class="link-btn" onClick={() => void loadOlder(room.id)}>
                  {skipped === 1 ? "1 earlier message" : `${skipped} earlier messages`}
                </button>
              </p>
            )}
            {!log.loaded && !log.error && <p class="muted small">Loading messages…</p>}
            {log.error && (
              <p class="form-error" role="alert">
                {log.error}
              </p>
            )}
          </div>
          <div ref={topRef} class="sentinel" aria-hidden="true" />
          {rows.map((r) => {
            const seq = r.kind === "chat" ? r.message.seq : -1;
            return <RowView key={r.key} row={r} lit={lit === seq} hovered={hovered} focused={focused} />;
          })}
          <div ref={bottomRef} class="sentinel" aria-hidden="true" />
          {log.loading === "newer" && <p class="muted small">Loading later messages…</p>}
          <div ref={endRef} class="sentinel" aria-hidden="true" />
        </div>
      </div>
      <p class="sr-only" aria-live="polite" ref={announce} />
      {log.hasNewer ? (
        <button class="jump" onClick={() => void jumpToPresent(room.id)}>
          <Down /> Jump to present
        </button>
      ) : (
        unseen > 0 && (
          <button class="jump" onClick={toBottom}>
            <Down /> New messages
          </button>
        )
      )}
    </div>
  );
}
