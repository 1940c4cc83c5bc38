import { signal } from "@preact/signals";
import { useEffect, useRef } from "preact/hooks";
import type { Room } from "../protocol.gen";
import {
  activeId,
  conn,
  dms,
  enableNotifications,
  me,
  mentionCounts,
  myPresence,
  notifyPermission,
  openRoom,
  people,
  roomLevel,
  signOut,
  sortedPeople,
  sortedRooms,
  startDM,
  notify,
} from "../state";
import { instanceName } from "../instance";
import { Avatar } from "./Avatar";
import { UserAvatar } from "./Profile";
import { shownName } from "../lib/people";
import { latest } from "../profiles";
import { badgesFor } from "../lib/levels";
import { LevelMark, PauseNote } from "./Notifications";
import { openDialog } from "./Dialogs";
import { BotBadge } from "./Integrations";
import { Bell, BotIcon, Compass, Gear, Hash, Lock, LogOut, Plus, UserPlus } from "./icons";
import "./Sidebar.css";

/** The sidebar is a drawer on narrow screens. */
export const drawerOpen = signal(false);

function choose(id: string) {
  drawerOpen.value = false;
  void openRoom(id);
}

/** Unread count, and mentions in a badge of their own. */
function Unread(props: { n: number; at?: number }) {
  const at = props.at ?? 0;
  return (
    <>
      {at > 0 && (
        <span class="badge at" aria-hidden="true">
          @{at > 99 ? "99+" : at}
        </span>
      )}
      {props.n > 0 && (
        <span class="badge" aria-hidden="true">
          {props.n > 99 ? "99+" : props.n}
        </span>
      )}
    </>
  );
}

/**
 * The accessible name of a sidebar entry: name, status, unread count (or
 * "new messages" where the level shows no count), mentions.
 */
function entryName(name: string, status?: string, unread = 0, extra?: string, mentions = 0, news = false): string {
  const at = mentions > 0 ? `${mentions} ${mentions === 1 ? "mention" : "mentions"}` : "";
  return [name, status, extra, unread > 0 ? `${unread} unread` : news ? "new messages" : "", at].filter(Boolean).join(", ");
}

/** What a room's entry shows at its notification level (lib/levels.ts). */
function shown(r: Room, unread: number, mentions: number) {
  const level = roomLevel(r);
  const b = badgesFor(level, unread, mentions);
  return { ...b, muted: level === "none", news: b.bold && b.count === 0 && unread > 0 };
}

function flags(active: boolean, s: { bold: boolean; muted: boolean }): string {
  return `${active ? " active" : ""}${s.bold ? " has-unread" : ""}${s.muted ? " is-muted" : ""}`;
}

function RoomItem(props: { room: Room }) {
  const r = props.room;
  const active = activeId.value === r.id;
  const s = shown(r, r.member ? r.unread : 0, mentionCounts.value.get(r.id) ?? 0);
  const extra = [r.archived ? "archived" : "", r.member ? (s.muted ? "muted" : "") : "not joined"].filter(Boolean).join(", ") || undefined;
  return (
    <li>
      <button
        class={`nav-item${flags(active, s)}${r.member ? "" : " not-member"}`}
        aria-current={active ? "page" : undefined}
        aria-label={entryName(r.name, r.kind === "private" ? "private" : undefined, s.count, extra, s.mentions, s.news)}
        onClick={() => choose(r.id)}
      >
        <span class="nav-icon">{r.kind === "private" ? <Lock /> : <Hash />}</span>
        <span class="nav-label">{r.name}</span>
        {!r.member && <span class="nav-hint">join</span>}
        {r.archived && <span class="nav-hint">archived</span>}
        {r.member && <LevelMark room={r} />}
        <Unread n={s.count} at={s.mentions} />
      </button>
    </li>
  );
}

function DMItem(props: { room: Room }) {
  const r = props.room;
  const active = activeId.value === r.id;
  const p = r.members <= 2 ? people.value.get(r.name.toLowerCase()) : undefined;
  const status = r.members <= 2 ? p?.status ?? "offline" : undefined;
  const s = shown(r, r.unread, mentionCounts.value.get(r.id) ?? 0);
  return (
    <li>
      <button
        class={`nav-item${flags(active, s)}`}
        aria-current={active ? "page" : undefined}
        aria-label={entryName(r.name, status, s.count, s.muted ? "muted" : undefined, s.mentions, s.news)}
        onClick={() => choose(r.id)}
      >
        {p?.user ? <UserAvatar user={p.user} size="sm" status={status} /> : <Avatar name={r.name} size="sm" status={status} />}
        <span class="nav-label">{p?.user ? shownName(latest(p.user)) : r.name}</span>
        {p?.user?.bot && <BotBadge />}
        <LevelMark room={r} />
        <Unread n={s.count} at={s.mentions} />
      </button>
    </li>
  );
}

async function talkTo(name: string) {
  drawerOpen.value = false;
  try {
    await startDM(name);
  } catch {
    notify(`Could not open a conversation with ${name}.`);
  }
}

export function Sidebar() {
  const mine = myPresence.value;
  const user = me.value;
  const ref = useRef<HTMLElement>(null);
  const open = drawerOpen.value;
  useEffect(() => {
    // Opening the drawer moves focus into it; closing it returns focus to the menu button.
    if (open) {
      const nav = ref.current;
      (nav?.querySelector<HTMLElement>('[aria-current="page"]') ?? nav?.querySelector<HTMLElement>("button"))?.focus();
      return () => document.querySelector<HTMLElement>(".menu-btn")?.focus();
    }
  }, [open]);
  return (
    <nav class={`sidebar${open ? " open" : ""}`} aria-label="Rooms and people" id="sidebar" ref={ref}>
      <div class="sidebar-head">
        <div class="brand">
          <span class="brand-mark" aria-hidden="true" />
          {instanceName.value}
        </div>
      </div>
      <PauseNote />

      {notifyPermission.value === "default" && (
        <div class="notify-offer">
          <button class="btn small ghost" onClick={() => void enableNotifications()}>
            <Bell />
            Enable notifications
          </button>
        </div>
      )}

      {user?.role === "admin" && (
        <div class="sidebar-actions">
          <button class="nav-item" onClick={() => openDialog("people")}>
            <span class="nav-icon">
              <UserPlus />
            </span>
            <span class="nav-label">Invite people to minichat</span>
          </button>
          <button class="nav-item" onClick={() => openDialog("admin")}>
            <span class="nav-icon">
              <Gear />
            </span>
            <span class="nav-label">Administration</span>
          </button>
          <button class="nav-item" onClick={() => openDialog("bots")}>
            <span class="nav-icon">
              <BotIcon />
            </span>
            <span class="nav-label">Bots</span>
          </button>
        </div>
      )}

      <div class="sidebar-scroll">
        <section aria-labelledby="h-rooms">
          <div class="section-head">
            <h2 id="h-rooms">Rooms</h2>
            <button class="icon-btn" aria-label="Create room" title="Create room" onClick={() => openDialog("create")}>
              <Plus />
            </button>
          </div>
          <ul class="nav-list">
            {sortedRooms.value.map((r) => (
              <RoomItem key={r.id} room={r} />
            ))}
            <li>
              <button class="nav-item" onClick={() => openDialog("directory")}>
                <span class="nav-icon">
                  <Compass />
                </span>
                <span class="nav-label">Browse rooms</span>
              </button>
            </li>
          </ul>
        </section>

        <section aria-labelledby="h-dms">
          <div class="section-head">
            <h2 id="h-dms">Direct messages</h2>
            <button
              class="icon-btn"
              aria-label="Start a direct message"
              title="Start a direct message"
              onClick={() => openDialog("dm")}
            >
              <Plus />
            </button>
          </div>
          <ul class="nav-list">
            {dms.value.map((r) => (
              <DMItem key={r.id} room={r} />
            ))}
            {dms.value.length === 0 && <li class="nav-empty">No conversations yet</li>}
          </ul>
        </section>

        <section aria-labelledby="h-people">
          <div class="section-head">
            <h2 id="h-people">People</h2>
          </div>
          <ul class="nav-list" aria-label="People">
            {sortedPeople.value.map((p) => (
              <li key={p.name}>
                <button
                  class={`nav-item person ${p.status}`}
                  onClick={() => void talkTo(p.name)}
                  title={`Message ${p.name}`}
                  aria-label={entryName(p.name, p.status, 0, p.status === "away" ? p.text : undefined)}
                >
                  {p.user ? <UserAvatar user={p.user} size="sm" status={p.status} /> : <Avatar name={p.name} size="sm" status={p.status} />}
                  <span class="nav-label">{p.user ? shownName(latest(p.user)) : p.name}</span>
                  {p.user?.bot && <BotBadge />}
                  {p.status === "away" && p.text && <span class="nav-status">{p.text}</span>}
                </button>
              </li>
            ))}
            {sortedPeople.value.length === 0 && <li class="nav-empty">Nobody else is here yet</li>}
          </ul>
        </section>
      </div>

      {user && (
        <div class="me">
          <button class="me-button" onClick={() => openDialog("status")} aria-label={`Set your status (now ${mine?.status === "offline" ? "offline" : mine?.status === "away" ? "away" : "active"})`}>
            <UserAvatar user={user} status={conn.value.phase === "open" && !conn.value.offline ? mine?.status ?? "online" : "offline"} />
            <span class="me-text">
              <span class="me-name">{shownName(user)}</span>
              <span class="me-status">{mine?.status === "offline" ? "Offline" : mine?.status === "away" ? mine.text || "Away" : mine?.text || "Active"}</span>
            </span>
          </button>
          <button class="icon-btn" aria-label="Settings" title="Settings" onClick={() => openDialog("settings")}>
            <Gear />
          </button>
          <button class="icon-btn" aria-label="Sign out" title="Sign out" onClick={() => void signOut()}>
            <LogOut />
          </button>
        </div>
      )}
    </nav>
  );
}
