// Access: inviting people (admins), the room directory, and the account's
// settings (sessions, password). Each is a dialog opened from the sidebar.

import { signal } from "@preact/signals";
import { ProfileSettings } from "./Profile";
import { useEffect, useId, useRef, useState } from "preact/hooks";
import { ago, deviceName, orderSessions } from "../lib/access";
import { api, ApiError } from "../lib/api";
import { MaxNameLen, MinPasswordLen, type Invite, type Room, type SessionInfo } from "../protocol.gen";
import { joinRoom, me, openRoom, rooms, signOutEverywhere } from "../state";
import { closeDialog, focusComposerAfter, Modal } from "./Dialogs";
import { CloseActions, FormError, Status } from "./FormBits";
import { say } from "./useAction";
import { drawerOpen } from "./Sidebar";
import { NotificationSettings } from "./Notifications";
import { ApiTokens } from "./Integrations";
import "./access.css";

/** Set when the admin account was just created: the invite dialog says so. */
export const firstRun = signal(false);


/** Copies text; true when it reached the clipboard. */
async function copyText(text: string, input: HTMLInputElement | null): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // No clipboard API (plain http on another host): select it for ⌘C / Ctrl+C.
    input?.focus();
    input?.select();
    try {
      return document.execCommand("copy");
    } catch {
      return false;
    }
  }
}

/**
 * An inline "are you sure?": its confirm button takes focus when it shows
 * (the button that opened it is gone), and the caller's ask button takes it
 * back when it is cancelled.
 */
function Confirm(props: { label: string; text: string; cancel: string; confirm: string; busy: boolean; onConfirm: () => void; onCancel: () => void }) {
  const ok = useRef<HTMLButtonElement>(null);
  useEffect(() => ok.current?.focus(), []);
  return (
    <div class="confirm" role="group" aria-label={props.label}>
      <p>{props.text}</p>
      <div class="modal-actions">
        <button type="button" class="btn" onClick={props.onCancel}>
          {props.cancel}
        </button>
        <button type="button" class="btn danger" ref={ok} disabled={props.busy} onClick={props.onConfirm}>
          {props.confirm}
        </button>
      </div>
    </div>
  );
}

/**
 * Focuses the returned ref's element when flag turns from true to false, or
 * the element other() names, when it names one.
 */
function useFocusAfter(flag: boolean, other?: () => HTMLElement | null) {
  const ref = useRef<HTMLButtonElement>(null);
  const was = useRef(flag);
  useEffect(() => {
    if (was.current && !flag) (other?.() ?? ref.current)?.focus();
    was.current = flag;
  }, [flag]);
  return ref;
}

// --- Invite people ---

/** The server's sign-up link, to copy, and to reset when it leaked. */
export function InvitePeople() {
  const [link, setLink] = useState<Invite | null>(null);
  const [mode, setMode] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState("");
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  /** Set by a reset: the new link takes focus, not the ask button. */
  const wasReset = useRef(false);
  const ask = useFocusAfter(confirming, () => (wasReset.current ? ((wasReset.current = false), input.current) : null));
  const first = firstRun.value;
  useEffect(() => {
    let live = true;
    api.inviteLink().then(
      (l) => live && setLink(l),
      (e: unknown) => live && setError(say(e)),
    );
    api.instance().then(
      (i) => live && setMode(i.registration),
      () => undefined,
    );
    return () => {
      live = false;
      firstRun.value = false;
    };
  }, []);

  const copy = async () => {
    if (!link) return;
    const ok = await copyText(link.url, input.current);
    setStatus(ok ? "Invite link copied." : "Select the link and copy it (Ctrl+C or ⌘C).");
  };
  const reset = async () => {
    setBusy(true);
    setError(null);
    try {
      setLink(await api.resetInvite());
      setStatus("A new invite link is ready; the old one no longer works.");
      wasReset.current = true;
      setConfirming(false);
    } catch (e) {
      setError(say(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal
      title="Invite people"
      description={
        first
          ? "Your account is the admin of this server. Send this link to the people you want here: it opens sign-up for them. Find it again under “Invite people to minichat” in the sidebar."
          : "Anyone with this link can create an account on this server. Send it to the people you want here."
      }
    >
      <div class="invite-row">
        <label class="field invite-field">
          <span>Invite link</span>
          <input ref={input} readOnly value={link?.url ?? ""} placeholder={error ? "" : "Loading…"} onFocus={(e) => e.currentTarget.select()} />
        </label>
        <button type="button" class="btn primary" disabled={!link} onClick={() => void copy()}>
          Copy
        </button>
      </div>
      <Status text={status} />
      <FormError error={error} />
      {mode === "closed" && (
        <p class="note">Sign-up is closed on this server (--registration closed): the link works only once it is set to invite.</p>
      )}
      {mode === "open" && <p class="muted small">Sign-up is open on this server: people can also create an account without the link.</p>}
      {confirming ? (
        <Confirm
          label="Reset the invite link"
          text="The current link stops working for anyone who has it. People with accounts are not affected."
          cancel="Keep this link"
          confirm="Reset now"
          busy={busy}
          onConfirm={() => void reset()}
          onCancel={() => setConfirming(false)}
        />
      ) : (
        <div class="modal-actions">
          <button type="button" class="btn" ref={ask} disabled={!link} onClick={() => setConfirming(true)}>
            Reset link
          </button>
          <button type="button" class="btn" onClick={closeDialog}>
            Done
          </button>
        </div>
      )}
    </Modal>
  );
}

// --- The room directory ---

/**
 * Public rooms by name, read afresh on every opening and every search, so
 * a room created a second ago is there.
 */
export function Directory() {
  const [q, setQ] = useState("");
  const [list, setList] = useState<Room[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [joining, setJoining] = useState<string | null>(null);
  const asked = useRef(0);
  const query = q.trim();

  const load = async (cursor: string | null) => {
    const n = ++asked.current;
    setBusy(true);
    try {
      const page = await api.directory(query, cursor);
      if (n !== asked.current) return;
      setList((cur) => (cursor && cur ? [...cur, ...page.rooms] : page.rooms));
      setNext(page.next);
      setError(null);
    } catch (e) {
      if (n !== asked.current) return;
      setError(say(e));
    } finally {
      if (n === asked.current) setBusy(false);
    }
  };
  useEffect(() => {
    const t = setTimeout(() => void load(null), query ? 200 : 0);
    return () => clearTimeout(t);
  }, [query]);

  const member = (r: Room) => rooms.value.get(r.id)?.member ?? r.member;
  const open = async (r: Room) => {
    setError(null);
    if (member(r)) {
      await openRoom(r.id);
      focusComposerAfter();
      closeDialog();
      drawerOpen.value = false;
      return;
    }
    setJoining(r.id);
    try {
      await joinRoom(r.id, false);
      focusComposerAfter();
      closeDialog();
      drawerOpen.value = false;
    } catch (e) {
      setError(say(e));
    } finally {
      setJoining(null);
    }
  };

  const count = list?.length ?? 0;
  return (
    <Modal title="Browse rooms" description="Public rooms of this server. Join one to see its messages and take part.">
      <form role="search" onSubmit={(e) => (e.preventDefault(), void load(null))}>
        <label class="field">
          <span>Find a room by name</span>
          <input type="search" value={q} autoFocus maxLength={MaxNameLen} autocapitalize="none" spellcheck={false} onInput={(e) => setQ(e.currentTarget.value)} />
        </label>
      </form>
      <FormError error={error} />
      <p class="muted small" role="status">
        {busy && !list ? "Loading rooms…" : list ? (count ? `${count}${next ? "+" : ""} ${count === 1 ? "room" : "rooms"}` : query ? `No public room starts with “${query}”.` : "No public rooms yet.") : ""}
      </p>
      {list && count > 0 && (
        <ul class="directory" aria-label="Public rooms">
          {list.map((r) => {
            const mine = member(r);
            return (
              <li key={r.id} class="directory-row">
                <span class="directory-name">
                  <strong>#{r.name}</strong>
                  <span class="muted small">
                    {r.members} {r.members === 1 ? "member" : "members"}
                    {mine ? " · joined" : ""}
                  </span>
                </span>
                <button
                  type="button"
                  class={`btn small${mine ? "" : " primary"}`}
                  disabled={joining !== null}
                  aria-label={`${mine ? "Open" : "Join"} #${r.name}`}
                  onClick={() => void open(r)}
                >
                  {joining === r.id ? "Joining…" : mine ? "Open" : "Join"}
                </button>
              </li>
            );
          })}
        </ul>
      )}
      <div class="modal-actions">
        {next && (
          <button type="button" class="btn" disabled={busy} onClick={() => void load(next)}>
            Show more
          </button>
        )}
        <button type="button" class="btn" onClick={closeDialog}>
          Close
        </button>
      </div>
    </Modal>
  );
}

// --- Settings: password and sessions ---

export function Settings() {
  return (
    <Modal title="Settings" wide>
      <ProfileSettings />
      <NotificationSettings />
      <ChangePassword />
      <Sessions />
      <ApiTokens />
      <CloseActions />
    </Modal>
  );
}

function ChangePassword() {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [again, setAgain] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [bad, setBad] = useState<"current" | "new" | "again" | null>(null);
  const [done, setDone] = useState("");
  const [busy, setBusy] = useState(false);
  const head = useId();
  const errId = useId();

  const submit = async (e: Event) => {
    e.preventDefault();
    setDone("");
    if (new TextEncoder().encode(next).length < MinPasswordLen) {
      setError(`A new password has at least ${MinPasswordLen} characters.`);
      setBad("new");
      return;
    }
    if (next !== again) {
      setError("The two new passwords are not the same.");
      setBad("again");
      return;
    }
    setBusy(true);
    setError(null);
    setBad(null);
    try {
      await api.changePassword(current, next);
      setCurrent("");
      setNext("");
      setAgain("");
      setDone("Your password is changed. Every other session of your account is signed out.");
    } catch (err) {
      setError(say(err));
      setBad(err instanceof ApiError && err.status === 401 ? "current" : null);
    } finally {
      setBusy(false);
    }
  };
  const invalid = (f: typeof bad) => (bad === f ? true : undefined);
  return (
    <section class="settings-section" aria-labelledby={head}>
      <h3 id={head}>Change password</h3>
      <form onSubmit={(e) => void submit(e)} noValidate>
        {/* For password managers: which account this is. */}
        <input type="text" name="username" autocomplete="username" value={me.value?.name ?? ""} readOnly hidden />
        <label class="field">
          <span>Current password</span>
          <input type="password" autocomplete="current-password" required value={current} aria-invalid={invalid("current")} aria-describedby={errId} onInput={(e) => setCurrent(e.currentTarget.value)} />
        </label>
        <label class="field">
          <span>New password</span>
          <input type="password" autocomplete="new-password" required minLength={MinPasswordLen} value={next} aria-invalid={invalid("new")} aria-describedby={errId} onInput={(e) => setNext(e.currentTarget.value)} />
        </label>
        <label class="field">
          <span>New password again</span>
          <input type="password" autocomplete="new-password" required value={again} aria-invalid={invalid("again")} aria-describedby={errId} onInput={(e) => setAgain(e.currentTarget.value)} />
        </label>
        <FormError id={errId} error={error} />
        <Status class="ok-note" text={done} />
        <div class="modal-actions">
          <button type="submit" class="btn primary" disabled={busy}>
            Change password
          </button>
        </div>
      </form>
    </section>
  );
}

function describeSession(s: SessionInfo): string {
  return `${deviceName(s.user_agent)}, signed in ${ago(s.created)}, last active ${ago(s.last_seen)}`;
}

function Sessions() {
  const [list, setList] = useState<SessionInfo[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState("");
  const [busy, setBusy] = useState(false);
  const [everywhere, setEverywhere] = useState(false);
  const ask = useFocusAfter(everywhere);
  const head = useId();

  const load = async () => {
    try {
      setList(orderSessions((await api.sessions()).sessions));
      setError(null);
    } catch (e) {
      setError(say(e));
    }
  };
  useEffect(() => void load(), []);

  const end = async (s: SessionInfo) => {
    setBusy(true);
    setError(null);
    try {
      await api.endSession(s.id);
      setStatus(`Signed out ${deviceName(s.user_agent)}.`);
    } catch (e) {
      // 404: it ended meanwhile; the list below is read again either way.
      if (!(e instanceof ApiError && e.status === 404)) setError(say(e));
    } finally {
      await load();
      setBusy(false);
    }
  };
  const endOthers = async () => {
    setBusy(true);
    setError(null);
    const others = (list ?? []).filter((s) => !s.current);
    const results = await Promise.allSettled(others.map((s) => api.endSession(s.id)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected" && !(r.reason instanceof ApiError && r.reason.status === 404));
    if (failed) setError(say(failed.reason));
    else setStatus(others.length === 1 ? "Signed out your other session." : `Signed out your ${others.length} other sessions.`);
    await load();
    setBusy(false);
  };
  const endAll = async () => {
    setBusy(true);
    try {
      await signOutEverywhere();
      closeDialog();
    } catch (e) {
      setError(say(e));
      setBusy(false);
    }
  };

  const others = list?.filter((s) => !s.current) ?? [];
  return (
    <section class="settings-section" aria-labelledby={head}>
      <h3 id={head}>Where you are signed in</h3>
      <FormError error={error} />
      <p class="muted small" role="status">
        {list ? status : "Loading sessions…"}
      </p>
      {list && (
        <ul class="sessions" aria-label="Sessions">
          {list.map((s) => (
            <li key={s.id} class="session-row">
              <span class="session-text">
                <strong>{deviceName(s.user_agent)}</strong>
                {s.current && <span class="tag">This device</span>}
                <span class="muted small">
                  Signed in {ago(s.created)} · last active {s.current ? "now" : ago(s.last_seen)}
                </span>
              </span>
              {!s.current && (
                <button type="button" class="btn small" disabled={busy} aria-label={`Sign out ${describeSession(s)}`} onClick={() => void end(s)}>
                  Sign out
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      {list && others.length === 0 && <p class="muted small">You are signed in on this device only.</p>}
      {everywhere ? (
        <Confirm
          label="Sign out everywhere"
          text="Every device signs out, this one too; you sign in again here."
          cancel="Cancel"
          confirm="Sign out everywhere now"
          busy={busy}
          onConfirm={() => void endAll()}
          onCancel={() => setEverywhere(false)}
        />
      ) : (
        <div class="modal-actions wrap">
          {others.length > 0 && (
            <button type="button" class="btn" disabled={busy} onClick={() => void endOthers()}>
              Sign out all other sessions
            </button>
          )}
          <button type="button" class="btn" ref={ask} disabled={busy} onClick={() => setEverywhere(true)}>
            Sign out everywhere
          </button>
        </div>
      )}
    </section>
  );
}
