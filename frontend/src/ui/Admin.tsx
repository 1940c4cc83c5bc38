// The admin screen: the server's settings (name, who may sign up, the
// invite link) and its people (search, pages, disable/enable, roles,
// password reset, sign out everywhere, new accounts). Everything
// `minichat user …` does, in the browser. The server decides who may
// (admins; the last admin stays one): refusals are shown as it says them.

import { useEffect, useId, useRef, useState } from "preact/hooks";
import { instanceName } from "../instance";
import { api } from "../lib/api";
import { MaxInstanceName, MaxNameLen, MinPasswordLen, type AdminUser, type Invite, type Settings } from "../protocol.gen";
import { me } from "../state";
import { Modal } from "./Dialogs";
import { CloseActions, FormError, Status } from "./FormBits";
import { say } from "./useAction";
import "./admin.css";


export function Admin() {
  return (
    <Modal title="Administration" wide>
      <ServerSettings />
      <InviteLink />
      <People />
      <AddPerson />
      <CloseActions />
    </Modal>
  );
}

// --- Server: name and registration ---

const modes: { value: Settings["registration"]; label: string; hint: string }[] = [
  { value: "invite", label: "Invite only", hint: "People sign up with the invite link." },
  { value: "open", label: "Open", hint: "Anyone who reaches this server can sign up." },
  { value: "closed", label: "Closed", hint: "Nobody signs up; admins add accounts below." },
];

function ServerSettings() {
  const [settings, setSettings] = useState<Settings | null>(null);
  const [name, setName] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState("");
  const [busy, setBusy] = useState(false);
  const head = useId();
  useEffect(() => {
    let live = true;
    api.admin.settings().then(
      (s) => {
        if (!live) return;
        setSettings(s);
        setName(s.name);
      },
      (e: unknown) => live && setError(say(e)),
    );
    return () => {
      live = false;
    };
  }, []);

  const save = async (patch: { name?: string; registration?: string }, what: string) => {
    // The choice shows at once (a radio that waits for the server looks
    // broken) and goes back if the server refuses it.
    const before = settings;
    if (patch.registration && settings) setSettings({ ...settings, registration: patch.registration as Settings["registration"] });
    setBusy(true);
    setError(null);
    setDone("");
    try {
      const s = await api.admin.setSettings(patch);
      setSettings(s);
      setName(s.name);
      instanceName.value = s.name;
      setDone(what);
    } catch (e) {
      if (before) setSettings(before);
      setError(say(e));
    } finally {
      setBusy(false);
    }
  };
  const onName = (e: Event) => {
    e.preventDefault();
    if (!name.trim()) {
      setError("The server's name cannot be empty.");
      return;
    }
    void save({ name }, "The server's name is saved.");
  };

  return (
    <section class="settings-section" aria-labelledby={head}>
      <h3 id={head}>Server</h3>
      <form class="admin-row" onSubmit={onName} noValidate>
        <label class="field grow">
          <span>Server name</span>
          <input value={name} maxLength={MaxInstanceName} disabled={!settings} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <button type="submit" class="btn" disabled={busy || !settings || name.trim() === settings.name}>
          Save name
        </button>
      </form>
      <fieldset class="admin-modes" disabled={!settings || busy}>
        <legend>Who may sign up</legend>
        {modes.map((m) => (
          <label key={m.value} class="admin-mode">
            <input
              type="radio"
              name="registration"
              value={m.value}
              checked={settings?.registration === m.value}
              onChange={() => void save({ registration: m.value }, `Sign-up is now: ${m.label.toLowerCase()}.`)}
            />
            <span>
              <strong>{m.label}</strong> <span class="muted small">{m.hint}</span>
            </span>
          </label>
        ))}
      </fieldset>
      <Status text={done} />
      <FormError error={error} />
    </section>
  );
}

// --- The invite link ---

function InviteLink() {
  const [link, setLink] = useState<Invite | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState("");
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const head = useId();
  useEffect(() => {
    let live = true;
    api.inviteLink().then(
      (l) => live && setLink(l),
      (e: unknown) => live && setError(say(e)),
    );
    return () => {
      live = false;
    };
  }, []);
  const copy = async () => {
    if (!link) return;
    try {
      await navigator.clipboard.writeText(link.url);
      setStatus("Invite link copied.");
    } catch {
      input.current?.focus();
      input.current?.select();
      setStatus("Select the link and copy it (Ctrl+C or ⌘C).");
    }
  };
  const reset = async () => {
    setBusy(true);
    setError(null);
    try {
      setLink(await api.resetInvite());
      setStatus("A new invite link is ready; the old one no longer works.");
      setConfirming(false);
      input.current?.focus();
    } catch (e) {
      setError(say(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="settings-section" aria-labelledby={head}>
      <h3 id={head}>Invite link</h3>
      <div class="admin-row">
        <label class="field grow">
          <span>Invite link</span>
          <input ref={input} readOnly value={link?.url ?? ""} placeholder={error ? "" : "Loading…"} onFocus={(e) => e.currentTarget.select()} />
        </label>
        <button type="button" class="btn primary" disabled={!link} onClick={() => void copy()}>
          Copy
        </button>
        {!confirming && (
          <button type="button" class="btn" disabled={!link} onClick={() => setConfirming(true)}>
            Reset link
          </button>
        )}
      </div>
      {confirming && (
        <div class="confirm" role="group" aria-label="Reset the invite link">
          <p>The current link stops working for anyone who has it. People with accounts are not affected.</p>
          <div class="modal-actions">
            <button type="button" class="btn" onClick={() => setConfirming(false)}>
              Keep this link
            </button>
            <button type="button" class="btn danger" disabled={busy} onClick={() => void reset()}>
              Reset now
            </button>
          </div>
        </div>
      )}
      <Status text={status} />
      <FormError error={error} />
    </section>
  );
}

// --- People ---

/** People per page of the list. */
const PageSize = 25;

function People() {
  const [q, setQ] = useState("");
  const [list, setList] = useState<AdminUser[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState("");
  const head = useId();
  const asked = useRef(0);

  const load = async (query: string, cursor: string | null) => {
    const n = ++asked.current;
    setLoading(true);
    setError(null);
    try {
      const page = await api.admin.users(query.trim(), cursor, PageSize);
      if (n !== asked.current) return; // a newer search answered first
      setList((l) => (cursor ? [...l, ...page.users] : page.users));
      setNext(page.next);
    } catch (e) {
      if (n === asked.current) setError(say(e));
    } finally {
      if (n === asked.current) setLoading(false);
    }
  };
  useEffect(() => {
    const t = setTimeout(() => void load(q, null), q ? 200 : 0);
    return () => clearTimeout(t);
  }, [q]);
  // A person added below shows up without a reload.
  useEffect(() => {
    const again = () => void load(q, null);
    window.addEventListener("minichat:people-changed", again);
    return () => window.removeEventListener("minichat:people-changed", again);
  }, [q]);

  const replace = (u: AdminUser) => setList((l) => l.map((x) => (x.user.id === u.user.id ? u : x)));

  return (
    <section class="settings-section" aria-labelledby={head}>
      <h3 id={head}>People</h3>
      <label class="field">
        <span>Search people</span>
        <input type="search" value={q} placeholder="Name" maxLength={MaxNameLen} onInput={(e) => setQ(e.currentTarget.value)} />
      </label>
      <ul class="admin-people" aria-labelledby={head} aria-busy={loading}>
        {list.map((u) => (
          <PersonRow key={u.user.id} person={u} onChange={replace} onStatus={setStatus} onError={setError} />
        ))}
        {!loading && list.length === 0 && <li class="muted">{q ? `Nobody’s name contains “${q}”.` : "Nobody yet."}</li>}
      </ul>
      {next && (
        <button type="button" class="btn small" disabled={loading} onClick={() => void load(q, next)}>
          Show more people
        </button>
      )}
      <Status text={status} />
      <FormError error={error} />
    </section>
  );
}

function PersonRow(props: { person: AdminUser; onChange: (u: AdminUser) => void; onStatus: (s: string) => void; onError: (e: string | null) => void }) {
  const { user, disabled } = props.person;
  const [busy, setBusy] = useState(false);
  const [pw, setPw] = useState<string | null>(null);
  const self = user.id === me.value?.id;
  const act = async (fn: () => Promise<string>) => {
    setBusy(true);
    props.onError(null);
    props.onStatus("");
    try {
      props.onStatus(await fn());
    } catch (e) {
      props.onError(say(e));
    } finally {
      setBusy(false);
    }
  };
  const toggleDisabled = () =>
    act(async () => {
      const { user: u } = await api.admin.setDisabled(user.id, !disabled);
      props.onChange(u);
      return u.disabled ? `${user.name} is disabled and signed out everywhere.` : `${user.name} can sign in again.`;
    });
  const toggleRole = () =>
    act(async () => {
      const { user: u } = await api.admin.setRole(user.id, user.role === "admin" ? "member" : "admin");
      props.onChange(u);
      return u.user.role === "admin" ? `${user.name} is now an admin.` : `${user.name} is now a member.`;
    });
  const signOutAll = () =>
    act(async () => {
      const { sessions_ended } = await api.admin.signOut(user.id);
      return `${user.name} is signed out everywhere (${sessions_ended} ${sessions_ended === 1 ? "session" : "sessions"}).`;
    });
  const setPassword = (e: Event) => {
    e.preventDefault();
    if (pw === null) return;
    if (new TextEncoder().encode(pw).length < MinPasswordLen) {
      props.onError(`A password has at least ${MinPasswordLen} characters.`);
      return;
    }
    void act(async () => {
      await api.admin.setPassword(user.id, pw);
      setPw(null);
      return `${user.name}'s password is changed; they are signed out everywhere.`;
    });
  };
  return (
    <li class={`admin-person${disabled ? " disabled" : ""}`} aria-label={user.name}>
      <div class="admin-person-name">
        <strong>{user.name}</strong>
        {self && <span class="muted small"> (you)</span>}
        {user.role === "admin" && <span class="admin-tag">admin</span>}
        {disabled && <span class="admin-tag off">disabled</span>}
      </div>
      <div class="admin-person-actions">
        <button type="button" class="btn small" disabled={busy} onClick={() => void toggleDisabled()}>
          {disabled ? "Enable" : "Disable"}
        </button>
        <button type="button" class="btn small" disabled={busy} onClick={() => void toggleRole()}>
          {user.role === "admin" ? "Make member" : "Make admin"}
        </button>
        <button type="button" class="btn small" disabled={busy} onClick={() => void signOutAll()}>
          Sign out everywhere
        </button>
        {pw === null && (
          <button type="button" class="btn small" disabled={busy} onClick={() => setPw("")}>
            Set password
          </button>
        )}
      </div>
      {pw !== null && (
        <form class="admin-row" onSubmit={setPassword} noValidate>
          <label class="field grow">
            <span>New password for {user.name}</span>
            <input type="password" autocomplete="new-password" value={pw} onInput={(e) => setPw(e.currentTarget.value)} />
          </label>
          <button type="button" class="btn small" onClick={() => setPw(null)}>
            Cancel
          </button>
          <button type="submit" class="btn small primary" disabled={busy}>
            Set password
          </button>
        </form>
      )}
    </li>
  );
}

// --- A new account ---

function AddPerson() {
  const [name, setName] = useState("");
  const [pw, setPw] = useState("");
  const [admin, setAdmin] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState("");
  const [busy, setBusy] = useState(false);
  const head = useId();
  const submit = async (e: Event) => {
    e.preventDefault();
    setDone("");
    if (!/^[A-Za-z0-9_.-]{1,32}$/.test(name)) {
      setError(`A username is 1–${MaxNameLen} letters, digits, dots, dashes or underscores.`);
      return;
    }
    if (new TextEncoder().encode(pw).length < MinPasswordLen) {
      setError(`A password has at least ${MinPasswordLen} characters.`);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const { user } = await api.admin.addUser(name, pw, admin);
      setDone(`${user.name} can now sign in${user.role === "admin" ? " as an admin" : ""}. Give them their password.`);
      setName("");
      setPw("");
      setAdmin(false);
      window.dispatchEvent(new Event("minichat:people-changed"));
    } catch (err) {
      setError(say(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="settings-section" aria-labelledby={head}>
      <h3 id={head}>Add a person</h3>
      <form onSubmit={(e) => void submit(e)} noValidate>
        <div class="admin-row">
          <label class="field grow">
            <span>Username</span>
            <input autocomplete="off" value={name} maxLength={MaxNameLen} onInput={(e) => setName(e.currentTarget.value)} />
          </label>
          <label class="field grow">
            <span>Password</span>
            <input type="password" autocomplete="new-password" value={pw} onInput={(e) => setPw(e.currentTarget.value)} />
          </label>
        </div>
        <label class="admin-check">
          <input type="checkbox" checked={admin} onChange={(e) => setAdmin(e.currentTarget.checked)} /> Make them an admin
        </label>
        <FormError error={error} />
        <Status text={done} />
        <div class="modal-actions">
          <button type="submit" class="btn primary" disabled={busy}>
            Add person
          </button>
        </div>
      </form>
    </section>
  );
}
