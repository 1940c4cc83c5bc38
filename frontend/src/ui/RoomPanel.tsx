// The room's details: its topic in the header, and a panel (a side panel on
// wide screens, a sheet on phones) with the topic, the members and their
// presence, and — for those who may — renaming and archiving.

import { signal } from "@preact/signals";
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, api } from "../lib/api";
import { MaxNameLen, MaxTopicChars, type PresenceStatus, type Room, type User } from "../protocol.gen";
import { isPair, me, notify, people, roomChanged } from "../state";
import { Avatar } from "./Avatar";
import { openDialog } from "./Dialogs";
import { UserPlus } from "./icons";
import "./RoomPanel.css";

/** The room whose details panel is open, if any. */
export const panelRoom = signal<string | null>(null);

const statusRank: Record<PresenceStatus, number> = { online: 0, away: 1, offline: 2 };
const statusLabel: Record<PresenceStatus, string> = { online: "Online", away: "Away", offline: "Offline" };

/** Whether the reader may rename and archive the room (the server decides; this only hides buttons). */
export function mayManage(r: Room): boolean {
  const u = me.value;
  if (!u || r.kind === "dm") return false;
  return u.role === "admin" || (r.member && !!r.created_by && r.created_by === u.id);
}

function statusOf(name: string): PresenceStatus {
  if (name.toLowerCase() === me.value?.name.toLowerCase()) return people.value.get(name.toLowerCase())?.status ?? "online";
  return people.value.get(name.toLowerCase())?.status ?? "offline";
}

/** "N members" in the room header: opens the panel. */
export function MembersButton(props: { room: Room }) {
  const r = props.room;
  const open = panelRoom.value === r.id;
  const n = r.members;
  return (
    <button
      type="button"
      class="members-link"
      aria-expanded={open}
      aria-controls="room-panel"
      onClick={() => (panelRoom.value = open ? null : r.id)}
    >
      {n} {n === 1 ? "member" : "members"}
    </button>
  );
}

/** The topic in the room header, when there is one. */
export function TopicLine(props: { room: Room }) {
  const t = props.room.topic;
  if (!t) return null;
  return (
    <span class="room-topic" title={t}>
      {" · "}
      <span class="sr-only">Topic: </span>
      {t}
    </span>
  );
}

/** The archived mark beside a room's name. */
export function ArchivedTag() {
  return <span class="archived-tag">archived</span>;
}

/** Every member of a room by name, fetched page by page (at most 20 pages). */
async function allMembers(id: string): Promise<User[]> {
  const out: User[] = [];
  let after: string | null = null;
  for (let i = 0; i < 20; i++) {
    const page = await api.members(id, after);
    out.push(...page.members);
    if (!page.next) break;
    after = page.next;
  }
  return out;
}

function errorText(e: unknown): string {
  return e instanceof ApiError ? e.message : "Something went wrong. Try again.";
}

function TopicEditor(props: { room: Room; onDone: () => void }) {
  const r = props.room;
  const [text, setText] = useState(r.topic ?? "");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  return (
    <form
      class="panel-form"
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        setError(null);
        try {
          roomChanged((await api.setTopic(r.id, text)).room);
          props.onDone();
        } catch (err) {
          setError(errorText(err));
        } finally {
          setBusy(false);
        }
      }}
    >
      <label class="field">
        <span>Topic</span>
        <input value={text} autoFocus maxLength={MaxTopicChars} placeholder="What this room is about" onInput={(e) => setText(e.currentTarget.value)} />
      </label>
      <div class="form-error" role="alert">
        {error}
      </div>
      <div class="panel-actions">
        <button type="button" class="btn small" onClick={props.onDone}>
          Cancel
        </button>
        <button type="submit" class="btn small primary" disabled={busy}>
          Save topic
        </button>
      </div>
    </form>
  );
}

function RenameForm(props: { room: Room; onDone: () => void }) {
  const r = props.room;
  const [name, setName] = useState(r.name);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  return (
    <form
      class="panel-form"
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        setError(null);
        try {
          roomChanged((await api.rename(r.id, name.trim())).room);
          props.onDone();
        } catch (err) {
          setError(errorText(err));
        } finally {
          setBusy(false);
        }
      }}
    >
      <label class="field">
        <span>Room name</span>
        <input value={name} autoFocus required maxLength={MaxNameLen} pattern="[A-Za-z0-9_.\-]+" onInput={(e) => setName(e.currentTarget.value)} />
      </label>
      <div class="form-error" role="alert">
        {error}
      </div>
      <div class="panel-actions">
        <button type="button" class="btn small" onClick={props.onDone}>
          Cancel
        </button>
        <button type="submit" class="btn small primary" disabled={busy}>
          Rename
        </button>
      </div>
    </form>
  );
}

/** Archives or unarchives a room; a refusal is a toast. */
export async function setArchived(r: Room, archived: boolean): Promise<void> {
  try {
    roomChanged((await api.archive(r.id, archived)).room);
  } catch (e) {
    notify(errorText(e));
  }
}

export function RoomPanel(props: { room: Room }) {
  const r = props.room;
  const ref = useRef<HTMLElement>(null);
  const [members, setMembers] = useState<User[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [editing, setEditing] = useState<"topic" | "name" | null>(null);

  // Joins and leaves change the count (the room list is re-read on system
  // messages): the list follows.
  useEffect(() => {
    let live = true;
    allMembers(r.id).then(
      (list) => live && (setMembers(list), setError(null)),
      (e) => live && setError(errorText(e)),
    );
    return () => {
      live = false;
    };
  }, [r.id, r.members]);

  useEffect(() => {
    ref.current?.querySelector<HTMLElement>(".panel-close")?.focus();
    const opener = document.querySelector<HTMLElement>(".members-link");
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape" && !document.querySelector("dialog[open]")) panelRoom.value = null;
    };
    window.addEventListener("keydown", onKey);
    return () => {
      window.removeEventListener("keydown", onKey);
      opener?.focus();
    };
  }, [r.id]);

  const sorted = members
    ? [...members].sort((a, b) => statusRank[statusOf(a.name)] - statusRank[statusOf(b.name)] || a.name.localeCompare(b.name))
    : [];
  const online = sorted.filter((u) => statusOf(u.name) !== "offline").length;
  const where = r.kind === "dm" ? r.name : `#${r.name}`;
  const canTopic = r.member && !r.archived;
  const manage = mayManage(r);

  return (
    <aside class="room-panel" id="room-panel" aria-label={`About ${where}`} ref={ref}>
      <div class="panel-head">
        <h2>About {where}</h2>
        <button type="button" class="icon-btn panel-close" aria-label="Close room details" onClick={() => (panelRoom.value = null)}>
          ×
        </button>
      </div>
      <div class="panel-body">
        {r.archived && (
          <p class="panel-note">
            This room is archived: it is read-only{manage ? "." : ", and hidden from the room directory."}
          </p>
        )}
        <section class="panel-section" aria-label="Topic">
          <h3>Topic</h3>
          {editing === "topic" ? (
            <TopicEditor room={r} onDone={() => setEditing(null)} />
          ) : (
            <>
              <p class={r.topic ? "topic-text" : "muted"}>{r.topic || "No topic yet."}</p>
              {canTopic && (
                <button type="button" class="btn small" onClick={() => setEditing("topic")}>
                  {r.topic ? "Edit topic" : "Set a topic"}
                </button>
              )}
            </>
          )}
        </section>
        {manage && (
          <section class="panel-section" aria-label="Manage room">
            <h3>Manage</h3>
            {editing === "name" ? (
              <RenameForm room={r} onDone={() => setEditing(null)} />
            ) : (
              <div class="panel-actions start">
                <button type="button" class="btn small" onClick={() => setEditing("name")}>
                  Rename room
                </button>
                <button type="button" class="btn small" onClick={() => void setArchived(r, !r.archived)}>
                  {r.archived ? "Unarchive room" : "Archive room"}
                </button>
              </div>
            )}
          </section>
        )}
        <section class="panel-section" aria-label="Members">
          <div class="members-head">
            <h3>
              Members <span class="muted">· {r.members}</span>
              {members && <span class="members-online">{online} online</span>}
            </h3>
            {r.kind !== "dm" && r.member && !r.archived && (
              <button type="button" class="btn small" onClick={() => openDialog("invite")}>
                <UserPlus />
                Invite people
              </button>
            )}
          </div>
          {error && (
            <p class="form-error" role="alert">
              {error}
            </p>
          )}
          {!members && !error && <p class="muted">Loading members…</p>}
          <ul class="member-list" aria-label={`Members of ${where}`}>
            {sorted.map((u) => {
              const st = statusOf(u.name);
              const text = people.value.get(u.name.toLowerCase())?.text;
              const mine = u.id === me.value?.id;
              return (
                <li key={u.id} class={`member ${st}`} aria-label={`${u.name}${mine ? " (you)" : ""}, ${statusLabel[st]}`}>
                  <Avatar name={u.name} size="sm" status={st} />
                  <span class="member-name">
                    {u.name}
                    {mine && <span class="muted"> (you)</span>}
                    {u.id === r.created_by && <span class="member-role">creator</span>}
                    {u.role === "admin" && <span class="member-role">admin</span>}
                  </span>
                  <span class={`member-status ${st}`}>
                    <span class={`dot-inline ${st}`} aria-hidden="true" />
                    {statusLabel[st]}
                    {text && st !== "offline" ? <span class="muted"> · {text}</span> : null}
                  </span>
                </li>
              );
            })}
          </ul>
        </section>
      </div>
    </aside>
  );
}

/** Whether a room is a group conversation (a direct-message room of three or more). */
export function isGroup(r: Room): boolean {
  return r.kind === "dm" && !isPair(r);
}
