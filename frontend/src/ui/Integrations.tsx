// Integrations: the "API tokens" section of the settings, the admins' "Bots"
// dialog, and the BOT badge shown by a bot's name.

import { useEffect, useId, useRef, useState } from "preact/hooks";
import { ago } from "../lib/access";
import { ApiError } from "../lib/api";
import { deliveryText, expired, expiresIn, expiryChoices, integrations } from "../lib/integrations";
import { MaxNameLen, type APIToken, type Bot, type Delivery } from "../protocol.gen";
import { Modal } from "./Dialogs";
import { CloseActions, FormError, Status } from "./FormBits";
import { say, useAction } from "./useAction";
import "./integrations.css";


/** A small "BOT" badge; screen readers hear "(bot)". */
export function BotBadge() {
  return (
    <span class="bot-badge" title="Bot account">
      <span aria-hidden="true">BOT</span>
      <span class="sr-only"> (bot)</span>
    </span>
  );
}

/** A secret shown once: read-only, selected on focus, with a copy button. */
function ShownOnce(props: { label: string; value: string; note: string }) {
  const input = useRef<HTMLInputElement>(null);
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(props.value);
      setCopied(true);
    } catch {
      input.current?.focus();
      input.current?.select();
    }
  };
  return (
    <div class="shown-once" role="group" aria-label={props.label}>
      <p class="small">{props.note}</p>
      <div class="shown-once-row">
        <input ref={input} class="mono" readOnly value={props.value} aria-label={props.label} onFocus={(e) => e.currentTarget.select()} />
        <button type="button" class="btn small" onClick={() => void copy()}>
          {copied ? "Copied" : "Copy"}
        </button>
      </div>
    </div>
  );
}

function tokenLine(t: APIToken): string {
  const parts = [`${t.scope === "write" ? "read and write" : "read only"}`, `created ${ago(t.created)}`];
  parts.push(t.last_used ? `last used ${ago(t.last_used)}` : "never used");
  if (t.expires) parts.push(expired(t) ? "expired" : `expires ${new Date(t.expires).toLocaleDateString()}`);
  return parts.join(" · ");
}

/** A list of tokens with a revoke button each. */
function TokenList(props: { tokens: APIToken[]; busy: boolean; onRevoke: (t: APIToken) => void; label: string }) {
  if (props.tokens.length === 0) return <p class="muted small">No tokens yet.</p>;
  return (
    <ul class="tokens" aria-label={props.label}>
      {props.tokens.map((t) => (
        <li key={t.id} class="token-row">
          <span class="token-text">
            <strong>{t.name}</strong>
            <span class="muted small">{tokenLine(t)}</span>
          </span>
          <button type="button" class="btn small danger" disabled={props.busy} aria-label={`Revoke token ${t.name}`} onClick={() => props.onRevoke(t)}>
            Revoke
          </button>
        </li>
      ))}
    </ul>
  );
}

/** Settings → API tokens: create (name, scope, expiry), see once, list, revoke. */
export function ApiTokens() {
  const [list, setList] = useState<APIToken[] | null>(null);
  const [name, setName] = useState("");
  const [scope, setScope] = useState<"read" | "write">("write");
  const [days, setDays] = useState(90);
  const [fresh, setFresh] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState("");
  const [busy, setBusy] = useState(false);
  const head = useId();

  const load = async () => {
    try {
      setList((await integrations.tokens()).tokens);
    } catch (e) {
      setError(say(e));
    }
  };
  useEffect(() => void load(), []);

  const create = async (e: Event) => {
    e.preventDefault();
    if (!name.trim()) {
      setError("Name the token after what will use it.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const made = await integrations.createToken(name.trim(), scope, expiresIn(days));
      setFresh(made.token);
      setName("");
      setStatus(`Token "${made.record.name}" created.`);
      await load();
    } catch (err) {
      setError(say(err));
    } finally {
      setBusy(false);
    }
  };
  const revoke = async (t: APIToken) => {
    setBusy(true);
    setError(null);
    try {
      await integrations.revokeToken(t.id);
      setStatus(`Token "${t.name}" revoked.`);
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404)) setError(say(err));
    }
    await load();
    setBusy(false);
  };

  return (
    <section class="settings-section" aria-labelledby={head}>
      <h3 id={head}>API tokens</h3>
      <p class="muted small">
        A token lets a script act as you over the API: <code>Authorization: Bearer …</code>. Read-only tokens can read, not send.
      </p>
      <form class="token-form" onSubmit={(e) => void create(e)} noValidate>
        <label class="field">
          <span>Token name</span>
          <input value={name} maxLength={64} placeholder="deploy script" onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <label class="field">
          <span>Access</span>
          <select value={scope} onChange={(e) => setScope(e.currentTarget.value as "read" | "write")}>
            <option value="write">Read and write</option>
            <option value="read">Read only</option>
          </select>
        </label>
        <label class="field">
          <span>Expires</span>
          <select value={String(days)} onChange={(e) => setDays(Number(e.currentTarget.value))}>
            {expiryChoices.map((c) => (
              <option key={c.days} value={String(c.days)}>
                {c.label}
              </option>
            ))}
          </select>
        </label>
        <div class="modal-actions">
          <button type="submit" class="btn primary" disabled={busy}>
            Create token
          </button>
        </div>
      </form>
      <FormError error={error} />
      <Status text={status} />
      {fresh && <ShownOnce label="New API token" value={fresh} note="Copy it now: it is shown only this once." />}
      {list ? <TokenList tokens={list} busy={busy} onRevoke={(t) => void revoke(t)} label="Your API tokens" /> : <p class="muted small">Loading tokens…</p>}
    </section>
  );
}

// --- Bots (admins) ---

/** Admin → Bots: create, webhook URL, secret once, tokens, deliveries. */
export function BotsDialog() {
  const [list, setList] = useState<Bot[] | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const [secret, setSecret] = useState<{ bot: string; value: string } | null>(null);
  const [name, setName] = useState("");
  const [display, setDisplay] = useState("");
  const [url, setUrl] = useState("");
  const { error, setError, busy, run } = useAction();
  const head = useId();

  const load = async () => {
    try {
      setList((await integrations.bots()).bots);
    } catch (e) {
      setError(say(e));
    }
  };
  useEffect(() => void load(), []);

  const create = async (e: Event) => {
    e.preventDefault();
    await run(async () => {
      const { bot } = await integrations.createBot(name.trim(), display.trim(), url.trim());
      if (bot.secret) setSecret({ bot: bot.user.id, value: bot.secret });
      setName("");
      setDisplay("");
      setUrl("");
      setOpen(bot.user.id);
      await load();
    });
  };

  return (
    <Modal title="Bots" wide description="Bot accounts post with their API tokens; their webhook hears of mentions and direct messages.">
      <section class="settings-section" aria-labelledby={head}>
        <h3 id={head}>New bot</h3>
        <form class="token-form" onSubmit={(e) => void create(e)} noValidate>
          <label class="field">
            <span>Bot name</span>
            <input value={name} maxLength={MaxNameLen} placeholder="deploybot" autocomplete="off" onInput={(e) => setName(e.currentTarget.value)} />
          </label>
          <label class="field">
            <span>Display name (optional)</span>
            <input value={display} maxLength={64} onInput={(e) => setDisplay(e.currentTarget.value)} />
          </label>
          <label class="field">
            <span>Webhook URL (optional)</span>
            <input type="url" value={url} placeholder="https://bots.example.com/minichat" onInput={(e) => setUrl(e.currentTarget.value)} />
          </label>
          <div class="modal-actions">
            <button type="submit" class="btn primary" disabled={busy}>
              Create bot
            </button>
          </div>
        </form>
        <FormError error={error} />
      </section>
      {list === null ? (
        <p class="muted small">Loading bots…</p>
      ) : list.length === 0 ? (
        <p class="muted small">No bots yet.</p>
      ) : (
        <ul class="bots" aria-label="Bots">
          {list.map((b) => (
            <li key={b.user.id} class="bot-row">
              <button type="button" class="bot-head" aria-expanded={open === b.user.id} onClick={() => setOpen(open === b.user.id ? null : b.user.id)}>
                <strong>{b.display_name || b.user.name}</strong> <BotBadge /> <span class="muted small">@{b.user.name}</span>
              </button>
              {open === b.user.id && (
                <BotDetails
                  bot={b}
                  secret={secret?.bot === b.user.id ? secret.value : null}
                  onSecret={(v) => setSecret({ bot: b.user.id, value: v })}
                  onChanged={() => void load()}
                />
              )}
            </li>
          ))}
        </ul>
      )}
      <CloseActions />
    </Modal>
  );
}

function BotDetails(props: { bot: Bot; secret: string | null; onSecret: (v: string) => void; onChanged: () => void }) {
  const b = props.bot;
  const [url, setUrl] = useState(b.webhook_url);
  const [tokens, setTokens] = useState<APIToken[] | null>(null);
  const [deliveries, setDeliveries] = useState<Delivery[] | null>(null);
  const [fresh, setFresh] = useState<string | null>(null);
  const [tokenName, setTokenName] = useState("");
  const { error, setError, busy, run } = useAction();
  const [status, setStatus] = useState("");
  const [confirmDelete, setConfirmDelete] = useState(false);

  const load = async () => {
    try {
      const [t, d] = await Promise.all([integrations.botTokens(b.user.id), integrations.deliveries(b.user.id)]);
      setTokens(t.tokens);
      setDeliveries(d.deliveries);
    } catch (e) {
      setError(say(e));
    }
  };
  useEffect(() => void load(), [b.user.id]);

  const saveURL = (e: Event) => {
    e.preventDefault();
    void run(async () => {
      await integrations.updateBot(b.user.id, { webhook_url: url.trim() });
      setStatus("Webhook URL saved.");
      props.onChanged();
    });
  };
  const rotate = () =>
    void run(async () => {
      const { bot } = await integrations.rotateSecret(b.user.id);
      if (bot.secret) props.onSecret(bot.secret);
      setStatus("New secret made; the old one no longer signs.");
    });
  const newToken = (e: Event) => {
    e.preventDefault();
    void run(async () => {
      const made = await integrations.createBotToken(b.user.id, tokenName.trim() || "bot token", "write");
      setFresh(made.token);
      setTokenName("");
      await load();
    });
  };
  const revoke = (t: APIToken) =>
    void run(async () => {
      await integrations.revokeToken(t.id);
      setStatus(`Token "${t.name}" revoked.`);
      await load();
    });
  const remove = () =>
    void run(async () => {
      await integrations.deleteBot(b.user.id);
      props.onChanged();
    });

  return (
    <div class="bot-details">
      {props.secret && <ShownOnce label={`Webhook secret of ${b.user.name}`} value={props.secret} note="The webhook secret signs each request (X-Minichat-Signature). Copy it now: it is shown only this once." />}
      <form class="inline-form" onSubmit={saveURL}>
        <label class="field grow">
          <span>Webhook URL</span>
          <input type="url" value={url} onInput={(e) => setUrl(e.currentTarget.value)} placeholder="none: the bot only posts" />
        </label>
        <button type="submit" class="btn small" disabled={busy}>
          Save
        </button>
        <button type="button" class="btn small" disabled={busy} onClick={rotate}>
          New secret
        </button>
      </form>
      <FormError error={error} />
      <Status text={status} />
      <h4>Tokens</h4>
      {fresh && <ShownOnce label={`New token of ${b.user.name}`} value={fresh} note="Copy it now: it is shown only this once." />}
      <form class="inline-form" onSubmit={newToken}>
        <label class="field grow">
          <span>Token name</span>
          <input value={tokenName} maxLength={64} onInput={(e) => setTokenName(e.currentTarget.value)} />
        </label>
        <button type="submit" class="btn small" disabled={busy}>
          Create token
        </button>
      </form>
      {tokens && <TokenList tokens={tokens} busy={busy} onRevoke={revoke} label={`Tokens of ${b.user.name}`} />}
      <h4>Recent deliveries</h4>
      {deliveries && deliveries.length === 0 && <p class="muted small">Nothing delivered yet: mention @{b.user.name} in a room it belongs to, or message it directly.</p>}
      {deliveries && deliveries.length > 0 && (
        <ul class="deliveries" aria-label={`Deliveries of ${b.user.name}`}>
          {deliveries.map((d) => (
            <li key={d.id} class={d.ok ? "ok" : "failed"}>
              <span class="muted small">{ago(d.at)}</span> {deliveryText(d)}
            </li>
          ))}
        </ul>
      )}
      <div class="modal-actions wrap">
        <button type="button" class="btn small" disabled={busy} onClick={() => void load()}>
          Refresh
        </button>
        {confirmDelete ? (
          <>
            <span class="small">Delete {b.user.name}? Its tokens stop working; its messages stay.</span>
            <button type="button" class="btn small" onClick={() => setConfirmDelete(false)}>
              Cancel
            </button>
            <button type="button" class="btn small danger" disabled={busy} onClick={remove}>
              Delete bot
            </button>
          </>
        ) : (
          <button type="button" class="btn small danger" disabled={busy} onClick={() => setConfirmDelete(true)}>
            Delete…
          </button>
        )}
      </div>
    </div>
  );
}
