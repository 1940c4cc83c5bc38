import { useEffect, useState } from "preact/hooks";
import { backOnline, conn, pending, reconnectNow } from "../state";
import "./Banner.css";
import "./offline.css";

/**
 * The connection's state, above the messages (never over them): pending
 * messages stay visible in the list while it shows.
 */
export function Banner() {
  const c = conn.value;
  const [now, setNow] = useState(Date.now());
  const waiting = c.phase === "waiting" && c.retryAt !== null && !c.offline;
  useEffect(() => {
    if (!waiting) return;
    setNow(Date.now());
    const t = setInterval(() => setNow(Date.now()), 250);
    return () => clearInterval(t);
  }, [waiting, c.retryAt]);

  const queued = pending.value.filter((p) => p.status === "sending").length;
  const queuedText = queued ? ` ${queued} ${queued === 1 ? "message" : "messages"} will be sent when the connection is back.` : "";
  let kind = "";
  let body = null;
  if (c.offline) {
    // The browser said so: shown at once, nothing is tried until it is back.
    kind = "warn offline";
    body = (
      <span>
        <strong>You’re offline</strong> — messages will be sent when you’re back.
        {queued ? ` ${queued} waiting.` : ""}
      </span>
    );
  } else if (waiting && c.retryAt !== null) {
    const secs = Math.max(1, Math.ceil((c.retryAt - now) / 1000));
    kind = "warn";
    body = (
      <>
        <span>
          <strong>{c.everConnected ? "Reconnecting…" : "Can’t reach the server."}</strong> retry in {secs} s.{queuedText}
        </span>
        <button class="btn small" onClick={reconnectNow}>
          Retry now
        </button>
      </>
    );
  } else if (c.phase === "connecting" && c.everConnected) {
    kind = "warn";
    body = (
      <span>
        <strong>Reconnecting…</strong>
        {queuedText}
      </span>
    );
  } else if (c.phase === "open" && backOnline.value) {
    kind = "ok";
    body = (
      <span>
        <strong>Back online</strong>
      </span>
    );
  }
  return (
    <div class={`banner ${kind}`} role="status" aria-live="polite">
      {body}
    </div>
  );
}
