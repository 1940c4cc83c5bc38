// Notifications: the level menu of a room, the sidebar's pause note, the
// settings section (push on this browser, the account's subscriptions, a
// test push, pausing) and the "Reload to update" offer of a new version.

import { useEffect, useId, useRef, useState } from "preact/hooks";
import { ago, deviceName } from "../lib/access";
import { ApiError } from "../lib/api";
import { isPaused, levelOf, levels, levelText, pauseLabel, pauseUntil, type Level } from "../lib/levels";
import { enablePush, PushError, pushApi, pushSupported, removePush, thisBrowserId, type PushSub } from "../lib/push";
import { applyUpdate, updateReady } from "../lib/pwa";
import type { Room } from "../protocol.gen";
import { muted, notifyPermission, pausedUntil, roomLevel, setPause, setRoomLevel } from "../state";
import { Bell, BellOff } from "./icons";
import "./notifications.css";

const iso = (ms: number) => new Date(ms).toISOString();

function say(e: unknown): string {
  return e instanceof ApiError || e instanceof PushError ? e.message : "Something went wrong. Try again.";
}

/** Re-renders when a pause ends. */
function usePause(): number | null {
  const until = pausedUntil.value;
  const [, tick] = useState(0);
  useEffect(() => {
    if (!isPaused(until, Date.now())) return;
    const t = setTimeout(() => tick((n) => n + 1), Math.min(until! - Date.now() + 50, 2 ** 31 - 1));
    return () => clearTimeout(t);
  }, [until]);
  return isPaused(until, Date.now()) ? until : null;
}

// --- room header: the level menu ---

export function NotifyMenu(props: { room: Room }) {
  const r = props.room;
  const level = roomLevel(r);
  const where = r.kind === "dm" ? r.name : `#${r.name}`;
  const [open, setOpen] = useState(false);
  const menu = useRef<HTMLDivElement>(null);
  const trigger = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (!open) return;
    menu.current?.querySelector<HTMLElement>('[aria-checked="true"]')?.focus();
    const away = (e: PointerEvent) => {
      if (!menu.current?.contains(e.target as Node) && !trigger.current?.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener("pointerdown", away);
    return () => document.removeEventListener("pointerdown", away);
  }, [open]);
  const close = (refocus: boolean) => {
    setOpen(false);
    if (refocus) trigger.current?.focus();
  };
  const choose = (l: Level) => {
    close(true);
    if (l !== level || muted.value.has(r.id)) void setRoomLevel(r.id, l);
  };
  const onKey = (e: KeyboardEvent) => {
    const items = [...(menu.current?.querySelectorAll<HTMLElement>('[role="menuitemradio"]') ?? [])];
    const i = items.indexOf(document.activeElement as HTMLElement);
    const step = e.key === "ArrowDown" ? 1 : e.key === "ArrowUp" ? -1 : 0;
    if (step) {
      e.preventDefault();
      items[(i + step + items.length) % items.length]?.focus();
    } else if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      close(true);
    } else if (e.key === "Tab") {
      setOpen(false);
    }
  };
  return (
    <div class="notify-menu">
      <button
        ref={trigger}
        class={`icon-btn${level === "none" ? " on" : ""}`}
        aria-label={`Notifications for ${where}: ${levelText[level]}`}
        title={`Notifications: ${levelText[level]}`}
        aria-haspopup="menu"
        aria-expanded={open}
        onClick={() => setOpen(!open)}
      >
        {level === "none" ? <BellOff /> : <Bell />}
      </button>
      {open && (
        <div class="level-menu" role="menu" aria-label={`Notify me in ${where} about`} ref={menu} onKeyDown={onKey}>
          {levels.map((l) => (
            <button key={l} role="menuitemradio" aria-checked={l === level} tabIndex={-1} onClick={() => choose(l)}>
              <span class="check" aria-hidden="true">
                {l === level ? "✓" : ""}
              </span>
              <span>
                {levelText[l]}
                <span class="muted small">{levelHint(l, r)}</span>
              </span>
            </button>
          ))}
        </div>
      )}
    </div>
  );
}

function levelHint(l: Level, r: Room): string {
  const def = levelOf({ ...r, notify: undefined } as Room) === l ? " (default)" : "";
  switch (l) {
    case "all":
      return `Every message, with its unread count${def}`;
    case "mentions":
      return `Messages that mention you${def}`;
    case "none":
      return `No notifications and no counts${def}`;
  }
}

// --- sidebar ---

/** The mark of a room whose notifications are off. */
export function LevelMark(props: { room: Room }) {
  return roomLevel(props.room) === "none" ? (
    <span class="level-mark" aria-hidden="true" title="Notifications off">
      <BellOff />
    </span>
  ) : null;
}

/** "Notifications paused until …" under the brand, while paused. */
export function PauseNote() {
  const until = usePause();
  if (until === null) return null;
  return (
    <div class="pause-note" role="status">
      <BellOff />
      <span>Notifications paused {pauseLabel(until, new Date())}</span>
      <button class="btn small ghost" onClick={() => void setPause(null)}>
        Resume
      </button>
    </div>
  );
}

// --- settings ---

export function NotificationSettings() {
  const head = useId();
  const until = usePause();
  const [subs, setSubs] = useState<PushSub[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState("");
  const [busy, setBusy] = useState(false);
  const [mine, setMine] = useState<string | null>(thisBrowserId());

  const load = async () => {
    try {
      setSubs((await pushApi.list()).subscriptions);
    } catch (e) {
      // 404: a server without push; the section says so below.
      setSubs([]);
      if (!(e instanceof ApiError && e.status === 404)) setError(say(e));
    }
  };
  useEffect(() => void load(), []);

  const act = async (fn: () => Promise<string>) => {
    setBusy(true);
    setError(null);
    setStatus("");
    try {
      setStatus(await fn());
    } catch (e) {
      setError(say(e));
    } finally {
      setBusy(false);
      if (typeof Notification !== "undefined") notifyPermission.value = Notification.permission;
    }
  };
  const enable = () =>
    act(async () => {
      const sub = await enablePush(deviceName(navigator.userAgent));
      setMine(sub.id);
      await load();
      return "Push notifications are on for this browser.";
    });
  const remove = (s: PushSub) =>
    act(async () => {
      await removePush(s.id);
      if (s.id === mine) setMine(null);
      await load();
      return `Removed ${s.label || s.endpoint_origin}.`;
    });
  const test = () =>
    act(async () => {
      await pushApi.test();
      return "A test notification is on its way to your subscribed browsers.";
    });

  const here = !!mine && !!subs?.some((s) => s.id === mine);
  return (
    <section class="settings-section notification-settings" aria-labelledby={head}>
      <h3 id={head}>Notifications</h3>
      <p class="muted small">
        You are notified of direct messages, of messages that mention you, and of every message in rooms set to “All messages” (each room’s bell
        menu sets its level). While minichat is open, the page notifies you itself when its tab is in the background; push notifications reach
        your subscribed browsers when you do not have minichat open anywhere.
      </p>
      <div class="form-error" role="alert">
        {error}
      </div>
      <p class="ok-note" role="status">
        {status}
      </p>
      {!pushSupported() && <p class="muted small">This browser cannot receive push notifications.</p>}
      {subs && (
        <ul class="sessions" aria-label="Browsers with push notifications">
          {subs.map((s) => (
            <li key={s.id} class="session-row">
              <span class="session-text">
                <strong>{s.label || s.endpoint_origin}</strong>
                {s.id === mine && <span class="tag">This browser</span>}
                <span class="muted small">
                  Added {ago(iso(s.created_at))}
                  {s.last_success_at ? ` · last delivered ${ago(iso(s.last_success_at))}` : ""} · via {s.endpoint_origin}
                </span>
              </span>
              <button type="button" class="btn small" disabled={busy} aria-label={`Remove ${s.id === mine ? "this browser" : s.label || s.endpoint_origin}`} onClick={() => void remove(s)}>
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      {subs && subs.length === 0 && <p class="muted small">No browser gets push notifications yet.</p>}
      <div class="modal-actions wrap">
        {pushSupported() && !here && (
          <button type="button" class="btn primary" disabled={busy} onClick={() => void enable()}>
            Enable push on this browser
          </button>
        )}
        {subs && subs.length > 0 && (
          <button type="button" class="btn" disabled={busy} onClick={() => void test()}>
            Send me a test push
          </button>
        )}
      </div>
      <h4 class="pause-head">Pause notifications</h4>
      {until !== null ? (
        <div class="modal-actions wrap">
          <span class="muted small">Paused {pauseLabel(until, new Date())}.</span>
          <button type="button" class="btn" onClick={() => void setPause(null)}>
            Resume notifications
          </button>
        </div>
      ) : (
        <div class="modal-actions wrap">
          <button type="button" class="btn" onClick={() => void setPause(pauseUntil("hour", new Date()))}>
            For 1 hour
          </button>
          <button type="button" class="btn" onClick={() => void setPause(pauseUntil("morning", new Date()))}>
            Until tomorrow 8:00
          </button>
        </div>
      )}
    </section>
  );
}

// --- a new version ---

export function UpdatePrompt() {
  if (!updateReady.value) return null;
  return (
    <div class="update-prompt" role="status">
      <span>A new version of minichat is ready.</span>
      <button class="btn small primary" onClick={applyUpdate}>
        Reload to update
      </button>
    </div>
  );
}
