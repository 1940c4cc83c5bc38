// Profiles in the UI: a user's avatar and name as the latest profile has
// them, the profile card a click on a name opens, and the profile section
// of the settings.

import { useId, useRef, useState } from "preact/hooks";
import { ApiError } from "../lib/api";
import { hueIndex } from "../lib/format";
import { avatarURL, peopleApi, profileInitials, shownName } from "../lib/people";
import { MaxDisplayName, MaxProfileStatus, type PresenceStatus, type User } from "../protocol.gen";
import { latest, profileCard } from "../profiles";
import { me, onUser, people, startDM } from "../state";
import { closeDialog, focusComposerAfter, Modal, openDialog } from "./Dialogs";
import { FormError, Status } from "./FormBits";
import "./profiles.css";

/** Opens the profile card of a user. */
export function showProfile(u: User): void {
  profileCard.value = latest(u);
  openDialog("profile");
}

/**
 * A user's picture (64 or 256 pixels by size), or their initials on a
 * colour of their username; decorative (the name is always beside it).
 */
export function UserAvatar(props: { user: User; size?: "xs" | "sm" | "md" | "lg"; status?: PresenceStatus }) {
  const u = latest(props.user);
  const size = props.size ?? "md";
  const src = avatarURL(u, size === "lg" ? 256 : 64);
  return (
    <span class={`avatar av-${hueIndex(u.name)} ${size}${src ? " has-picture" : ""}`} aria-hidden="true">
      {src ? <img src={src} alt="" loading="lazy" decoding="async" draggable={false} /> : profileInitials(u)}
      {props.status && <span class={`dot ${props.status}`} />}
    </span>
  );
}

/**
 * A user's shown name (display name, else username) as a button that opens
 * their profile card; the username is its tooltip.
 */
export function UserName(props: { user: User; class?: string }) {
  const u = latest(props.user);
  const name = shownName(u);
  return (
    <button
      type="button"
      class={`user-name ${props.class ?? ""}`}
      title={`@${u.name}`}
      aria-label={u.display_name ? `${name} (@${u.name}): profile` : `${name}: profile`}
      onClick={() => showProfile(u)}
    >
      {name}
    </button>
  );
}

/** The profile card: who someone is, and a way to write to them. */
export function ProfileCard() {
  const card = profileCard.value;
  const [error, setError] = useState<string | null>(null);
  if (!card) return null;
  const u = latest(card);
  const mine = me.value?.id === u.id;
  const presence = people.value.get(u.name.toLowerCase());
  const status = presence?.status ?? "offline";
  const message = async () => {
    try {
      await startDM(u.name);
      focusComposerAfter();
      closeDialog();
    } catch (e) {
      setError(e instanceof ApiError ? e.message : "Could not open the conversation.");
    }
  };
  return (
    <Modal title={shownName(u)}>
      <div class="profile-card">
        <UserAvatar user={u} size="lg" />
        <dl class="profile-facts">
          <dt class="sr-only">Username</dt>
          <dd class="profile-username">@{u.name}</dd>
          <dt class="sr-only">Role</dt>
          <dd>
            <span class={`role-badge ${u.role}`}>{u.role === "admin" ? "Admin" : "Member"}</span>
            <span class="profile-presence">
              <span class={`dot-inline ${status}`} aria-hidden="true" /> {status === "online" ? "Active" : status === "away" ? "Away" : "Offline"}
            </span>
          </dd>
          {u.status_text && (
            <>
              <dt class="sr-only">Status</dt>
              <dd class="profile-status">{u.status_text}</dd>
            </>
          )}
        </dl>
      </div>
      <FormError error={error} />
      <div class="modal-actions">
        <button type="button" class="btn" onClick={closeDialog}>
          Close
        </button>
        {mine ? (
          <button type="button" class="btn primary" onClick={() => openDialog("settings")}>
            Edit profile
          </button>
        ) : (
          <button type="button" class="btn primary" onClick={() => void message()}>
            Message
          </button>
        )}
      </div>
    </Modal>
  );
}

/** Settings: display name, status text and picture. */
export function ProfileSettings() {
  const user = me.value;
  const [name, setName] = useState(user?.display_name ?? "");
  const [status, setStatus] = useState(user?.status_text ?? "");
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState("");
  const [busy, setBusy] = useState(false);
  const file = useRef<HTMLInputElement>(null);
  const head = useId();
  const errId = useId();
  if (!user) return null;
  const u = latest(user);

  const run = async (what: () => Promise<{ user: User }>, ok: string) => {
    setBusy(true);
    setError(null);
    setDone("");
    try {
      const { user: next } = await what();
      onUser(next);
      setDone(ok);
      return next;
    } catch (e) {
      setError(e instanceof ApiError ? e.message : "Something went wrong. Try again.");
      return null;
    } finally {
      setBusy(false);
    }
  };
  const save = async (e: Event) => {
    e.preventDefault();
    const next = await run(() => peopleApi.updateProfile({ display_name: name, status_text: status }), "Your profile is saved.");
    if (next) {
      setName(next.display_name ?? "");
      setStatus(next.status_text ?? "");
    }
  };
  const onFile = (e: Event) => {
    const f = (e.currentTarget as HTMLInputElement).files?.[0];
    (e.currentTarget as HTMLInputElement).value = "";
    if (f) void run(() => peopleApi.putAvatar(f), "Your picture is changed.");
  };

  return (
    <section class="settings-section" aria-labelledby={head}>
      <h3 id={head}>Profile</h3>
      <div class="profile-edit-picture">
        <UserAvatar user={u} size="lg" />
        <div class="profile-picture-actions">
          <input ref={file} type="file" accept="image/png,image/jpeg,image/gif" class="sr-only" id={`${head}-file`} onChange={onFile} aria-label="Upload a picture" tabIndex={-1} />
          <button type="button" class="btn" disabled={busy} onClick={() => file.current?.click()}>
            Upload picture
          </button>
          {u.avatar && (
            <button type="button" class="btn" disabled={busy} onClick={() => void run(() => peopleApi.removeAvatar(), "Your picture is removed.")}>
              Remove picture
            </button>
          )}
          <p class="muted small">PNG, JPEG or GIF; the centre square is kept.</p>
        </div>
      </div>
      <form onSubmit={(e) => void save(e)}>
        <label class="field">
          <span>Display name</span>
          <input
            value={name}
            maxLength={MaxDisplayName * 2}
            placeholder={u.name}
            aria-describedby={errId}
            onInput={(e) => setName(e.currentTarget.value)}
          />
        </label>
        <p class="muted small">Shown instead of your username (@{u.name}), which stays the same. Leave empty to show the username.</p>
        <label class="field">
          <span>Status text</span>
          <input
            value={status}
            maxLength={MaxProfileStatus * 2}
            placeholder="e.g. Working from Lisbon this week"
            aria-describedby={errId}
            onInput={(e) => setStatus(e.currentTarget.value)}
          />
        </label>
        <FormError id={errId} error={error} />
        <Status class="ok-note" text={done} />
        <div class="modal-actions">
          <button type="submit" class="btn primary" disabled={busy}>
            Save profile
          </button>
        </div>
      </form>
    </section>
  );
}
