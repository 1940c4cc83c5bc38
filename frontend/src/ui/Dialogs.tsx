import { signal } from "@preact/signals";
import type { ComponentChildren } from "preact";
import { useEffect, useId, useRef, useState } from "preact/hooks";
import { ApiError } from "../lib/api";
import { stampLabel } from "../lib/format";
import { highlight, snippet } from "../lib/markup";
import { MaxNameLen, MaxSearchQuery, MaxStatusText, type Message } from "../protocol.gen";
import { Directory, InvitePeople, Settings } from "./Access";
import { PeoplePicker } from "./PeoplePicker";
import { ProfileCard } from "./Profile";
import { startConversation } from "./PeopleField";
import { shownName } from "../lib/people";
import type { User } from "../protocol.gen";
import { Admin } from "./Admin";
import { RoomNameInput } from "./RoomNameInput";
import { say, useAction } from "./useAction";
import { roomNameProblem } from "../lib/roomname";
import { activeRoom, createRoom, invite, jumpTo, me, myPresence, notify, rooms, searchMessages, setStatus, startDM } from "../state";

export type DialogKind = "create" | "invite" | "dm" | "status" | "search" | "people" | "directory" | "settings" | "profile" | "admin" | "bots" | "hooks";
import { BotsDialog } from "./Integrations";
import { Webhooks } from "./Hooks";
import "./Dialogs.css";

/** The open dialog, if any. */
export const dialog = signal<DialogKind | null>(null);

export function openDialog(kind: DialogKind): void {
  dialog.value = kind;
}

function close(): void {
  dialog.value = null;
}

export const closeDialog = close;

/**
 * Set by a dialog whose action opened a room: focus then goes to that room's
 * composer instead of back to the button that opened the dialog. (While the
 * modal is open the page behind it is inert, so the composer cannot take
 * focus by itself.)
 */
let focusComposerOnClose = false;

/** Closing the dialog now focuses the composer of the room it opened. */
export function focusComposerAfter(): void {
  focusComposerOnClose = true;
}

export function Dialogs() {
  switch (dialog.value) {
    case "create":
      return <CreateRoom />;
    case "invite":
      return <Invite />;
    case "dm":
      return <StartDM />;
    case "status":
      return <Status />;
    case "search":
      return <Search />;
    case "people":
      return <InvitePeople />;
    case "directory":
      return <Directory />;
    case "settings":
      return <Settings />;
    case "profile":
      return <ProfileCard />;
    case "admin":
      return <Admin />;
    case "bots":
      return <BotsDialog />;
    case "hooks":
      return <Webhooks />;
    default:
      return null;
  }
}

/** A modal <dialog>: focus moves in, Escape closes, focus returns after. */
export function Modal(props: { title: string; children: ComponentChildren; description?: string; wide?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  const mounted = useRef(false);
  const titleId = useId();
  useEffect(() => {
    const d = ref.current;
    const opener = document.activeElement as HTMLElement | null;
    mounted.current = true;
    d?.showModal();
    return () => {
      // close() fires its "close" event later, when another dialog may be
      // open already: this one's handler must not close that one.
      mounted.current = false;
      d?.close();
      const composer = focusComposerOnClose ? document.getElementById("composer-input") : null;
      focusComposerOnClose = false;
      (composer ?? opener)?.focus?.();
    };
  }, []);
  const ifMounted = () => {
    if (mounted.current) close();
  };
  return (
    <dialog ref={ref} class={`modal${props.wide ? " wide" : ""}`} aria-labelledby={titleId} onClose={ifMounted} onCancel={ifMounted}>
      <h2 id={titleId}>{props.title}</h2>
      {props.description && <p class="muted">{props.description}</p>}
      {props.children}
    </dialog>
  );
}

/** The submit-with-error pattern every dialog form shares: the dialog closes once action succeeds. */
function useSubmit(action: () => Promise<void>) {
  const { error, busy, run } = useAction();
  const onSubmit = async (e: Event) => {
    e.preventDefault();
    if (await run(action)) close();
  };
  return { error, busy, onSubmit };
}

function Actions(props: { busy: boolean; label: string; error: string | null }) {
  return (
    <>
      <div class="form-error" role="alert">
        {props.error}
      </div>
      <div class="modal-actions">
        <button type="button" class="btn" onClick={close}>
          Cancel
        </button>
        <button type="submit" class="btn primary" disabled={props.busy}>
          {props.label}
        </button>
      </div>
    </>
  );
}

function CreateRoom() {
  const [name, setName] = useState("");
  const [priv, setPriv] = useState(false);
  const s = useSubmit(async () => {
    const problem = roomNameProblem(name);
    if (problem) throw new ApiError(400, "bad_request", problem);
    await createRoom(name, priv);
    focusComposerOnClose = true;
  });
  return (
    <Modal title="Create a room" description="Rooms are where a team talks about one topic.">
      <form onSubmit={s.onSubmit}>
        <RoomNameInput value={name} onValue={setName} />
        <label class="check">
          <input type="checkbox" checked={priv} onChange={(e) => setPriv(e.currentTarget.checked)} />
          <span>
            Private — only people you invite can see it
          </span>
        </label>
        <Actions busy={s.busy} label="Create room" error={s.error} />
      </form>
    </Modal>
  );
}

function Invite() {
  const room = activeRoom.value;
  const [picked, setPicked] = useState<User[]>([]);
  const s = useSubmit(async () => {
    if (!room) return;
    if (picked.length === 0) throw new ApiError(400, "bad_request", "Pick someone to invite first: type a name.");
    for (const u of picked) await invite(room.id, u.name);
    notify(`Invited ${picked.map(shownName).join(", ")} to #${room.name}.`);
  });
  if (!room) return null;
  return (
    <Modal title={`Invite people to #${room.name}`}>
      <form onSubmit={s.onSubmit}>
        <PeoplePicker label="People" value={picked} onChange={setPicked} multiple autoFocus exclude={me.value ? [me.value.id] : []} />
        <Actions busy={s.busy} label="Invite" error={s.error} />
      </form>
    </Modal>
  );
}

function StartDM() {
  const [picked, setPicked] = useState<User[]>([]);
  const s = useSubmit(async () => {
    if (picked.length === 0) throw new ApiError(400, "bad_request", "Pick someone to write to first: type a name.");
    await startConversation(picked.map((u) => u.name).join(" "));
    focusComposerOnClose = true;
  });
  return (
    <Modal title="Start a direct message" description="A private conversation with one person, or a group of up to eight.">
      <form onSubmit={s.onSubmit}>
        <PeoplePicker
          label="People"
          value={picked}
          onChange={setPicked}
          multiple
          max={7}
          autoFocus
          exclude={me.value ? [me.value.id] : []}
          placeholder="One person, or up to seven for a group"
        />
        <Actions busy={s.busy} label="Start conversation" error={s.error} />
      </form>
    </Modal>
  );
}

function Status() {
  const cur = myPresence.value;
  const [away, setAway] = useState(cur?.status === "away");
  const [text, setText] = useState(cur?.text ?? "");
  const s = useSubmit(async () => setStatus(away ? "away" : "online", text.trim()));
  const group = useId();
  return (
    <Modal title="Set your status">
      <form onSubmit={s.onSubmit}>
        <fieldset class="radios" aria-labelledby={group}>
          <legend id={group}>Availability</legend>
          <label class="check">
            <input type="radio" name="availability" checked={!away} onChange={() => setAway(false)} />
            <span class="dot-inline online" aria-hidden="true" /> Active
          </label>
          <label class="check">
            <input type="radio" name="availability" checked={away} onChange={() => setAway(true)} />
            <span class="dot-inline away" aria-hidden="true" /> Away
          </label>
        </fieldset>
        <label class="field">
          <span>Status message</span>
          <input
            value={text}
            maxLength={MaxStatusText}
            placeholder="e.g. In a meeting until 3"
            onInput={(e) => setText(e.currentTarget.value)}
          />
        </label>
        <Actions busy={s.busy} label="Save" error={s.error} />
      </form>
    </Modal>
  );
}

/** Searches as the user types (after a pause); a result opens its message in context. */
function Search() {
  const room = activeRoom.value;
  const [q, setQ] = useState("");
  const [here, setHere] = useState(false);
  const [found, setFound] = useState<{ q: string; messages: Message[] } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const asked = useRef(0);
  const query = q.trim();
  const scope = here && room ? room.id : undefined;

  const run = async () => {
    const n = ++asked.current;
    if (!query) {
      setFound(null);
      setBusy(false);
      return;
    }
    setBusy(true);
    try {
      const messages = await searchMessages(query, scope);
      if (n !== asked.current) return;
      setFound({ q: query, messages });
      setError(null);
    } catch (e) {
      if (n !== asked.current) return;
      setError(say(e, "Search failed. Try again."));
    } finally {
      if (n === asked.current) setBusy(false);
    }
  };
  useEffect(() => {
    const t = setTimeout(() => void run(), 300);
    return () => clearTimeout(t);
  }, [query, scope]);

  // "in #design", or for a direct message "· DM with bob" (a DM's name is
  // the other person's: "bob in alice" read as a room called alice).
  const where = (m: Message) => {
    const r = rooms.value.get(m.room);
    return r ? (r.kind === "dm" ? `· DM with ${r.name}` : `in #${r.name}`) : "in a room";
  };
  return (
    <Modal title="Search messages">
      <form
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          void run();
        }}
      >
        <label class="field">
          <span>Words to find</span>
          <input type="search" value={q} autoFocus maxLength={MaxSearchQuery} onInput={(e) => setQ(e.currentTarget.value)} />
        </label>
        {room && room.kind !== "dm" && (
          <label class="check">
            <input type="checkbox" checked={here} onChange={(e) => setHere(e.currentTarget.checked)} />
            <span>Only in #{room.name}</span>
          </label>
        )}
      </form>
      <div class="form-error" role="alert">
        {error}
      </div>
      <p class="muted small" role="status">
        {busy ? "Searching…" : found ? (found.messages.length ? `${found.messages.length} ${found.messages.length === 1 ? "message" : "messages"}` : "No messages match.") : ""}
      </p>
      {found && found.messages.length > 0 && (
        <ul class="results" aria-label="Search results">
          {found.messages.map((m) => (
            <li key={m.id}>
              <button
                class="result"
                onClick={() => {
                  close();
                  void jumpTo(m.room, { seq: m.seq });
                }}
              >
                <span class="result-head">
                  <strong>{m.sender?.name ?? "system"}</strong> {where(m)} · <time dateTime={m.ts}>{stampLabel(new Date(m.ts))}</time>
                </span>
                <span class="result-text">
                  {highlight(snippet(m.text, 240), found.q).map((p, i) => (p.hit ? <mark key={i}>{p.text}</mark> : p.text))}
                </span>
              </button>
            </li>
          ))}
        </ul>
      )}
      <div class="modal-actions">
        <button type="button" class="btn" onClick={close}>
          Close
        </button>
      </div>
    </Modal>
  );
}
