// The room's webhooks dialog: incoming webhooks of the room, a form to add
// one (its secret address is shown once, to copy), and per hook a new
// secret or deletion (by its creator or an admin).

import { useEffect, useRef, useState } from "preact/hooks";
import { hooksApi } from "../lib/hooks";
import type { Hook } from "../protocol.gen";
import { activeRoom, me } from "../state";
import { Modal } from "./Dialogs";
import { CloseActions, FormError, Status } from "./FormBits";
import { say, useAction } from "./useAction";
import "./Hooks.css";


export function Webhooks() {
  const room = activeRoom.value;
  const [list, setList] = useState<Hook[] | null>(null);
  const [name, setName] = useState("");
  const [fresh, setFresh] = useState<Hook | null>(null);
  const { error, setError, busy, run: act } = useAction();
  const [status, setStatus] = useState("");
  const urlRef = useRef<HTMLInputElement>(null);

  const load = async () => {
    if (!room) return;
    try {
      setList((await hooksApi.list(room.id)).hooks);
    } catch (e) {
      setError(say(e));
    }
  };
  useEffect(() => void load(), [room?.id]);
  useEffect(() => urlRef.current?.select(), [fresh?.url]);
  if (!room) return null;
  const where = room.kind === "dm" ? room.name : `#${room.name}`;

  const run = (what: () => Promise<void>) =>
    act(async () => {
      await what();
      await load();
    });
  const create = (e: Event) => {
    e.preventDefault();
    void run(async () => {
      const { hook } = await hooksApi.create(room.id, name.trim());
      setFresh(hook);
      setName("");
      setStatus(`Webhook “${hook.name}” created. Copy its address now: it is not shown again.`);
    });
  };
  const copy = async () => {
    if (!fresh?.url) return;
    try {
      await navigator.clipboard.writeText(fresh.url);
      setStatus("Address copied.");
    } catch {
      urlRef.current?.select();
      setStatus("Select the address and copy it (Ctrl+C or ⌘C).");
    }
  };
  const mayChange = (h: Hook) => me.value?.role === "admin" || me.value?.id === h.creator.id;

  return (
    <Modal
      title={`Webhooks of ${where}`}
      description="An incoming webhook is a secret address that posts messages to this room, for scripts and tools that speak Slack's webhook format. Anyone with the address can post."
      wide
    >
      <form class="hook-form" onSubmit={create}>
        <label class="field">
          <span>Webhook name</span>
          <input value={name} required maxLength={64} placeholder="e.g. Alerts" onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <button type="submit" class="btn primary" disabled={busy || !name.trim()}>
          Add webhook
        </button>
      </form>
      {fresh?.url && (
        <div class="hook-secret">
          <label class="field">
            <span>Address of “{fresh.name}”</span>
            <input ref={urlRef} readOnly value={fresh.url} onFocus={(e) => e.currentTarget.select()} />
          </label>
          <button type="button" class="btn" onClick={() => void copy()}>
            Copy
          </button>
        </div>
      )}
      <Status text={status} />
      <FormError error={error} />
      {list && list.length === 0 && <p class="muted">No webhooks in {where} yet.</p>}
      {list && list.length > 0 && (
        <ul class="hook-list" aria-label="Webhooks">
          {list.map((h) => (
            <li key={h.id} class="hook-row">
              <span class="hook-name">
                <strong>{h.name}</strong>
                <span class="muted small">
                  by {h.creator.name} · {new Date(h.created_at).toLocaleDateString()}
                </span>
              </span>
              {mayChange(h) && (
                <span class="hook-actions">
                  <button
                    type="button"
                    class="btn small"
                    disabled={busy}
                    aria-label={`New address for ${h.name}`}
                    title="Make a new secret address; the old one stops working"
                    onClick={() =>
                      void run(async () => {
                        const { hook } = await hooksApi.regenerate(h.id);
                        setFresh(hook);
                        setStatus(`New address for “${hook.name}”; the old one no longer works. Copy it now.`);
                      })
                    }
                  >
                    New address
                  </button>
                  <button
                    type="button"
                    class="btn small danger"
                    disabled={busy}
                    aria-label={`Delete ${h.name}`}
                    onClick={() =>
                      void run(async () => {
                        await hooksApi.remove(h.id);
                        if (fresh?.id === h.id) setFresh(null);
                        setStatus(`Webhook “${h.name}” deleted.`);
                      })
                    }
                  >
                    Delete
                  </button>
                </span>
              )}
            </li>
          ))}
        </ul>
      )}
      <CloseActions />
    </Modal>
  );
}
