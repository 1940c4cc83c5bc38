import { conn, pending, unsaved } from "../state";

/**
 * Says, while the server answers sends with unavailable (its database is
 * away), that messages are kept and retried; gone once one is stored. The
 * connection banner speaks instead while the socket itself is down.
 */
export function SaveBanner() {
  const show = unsaved.value && conn.value.phase === "open";
  const queued = pending.value.filter((p) => p.status === "sending").length;
  return (
    <div class={`banner ${show ? "warn" : ""}`} role="status" aria-live="polite">
      {show ? (
        <span>
          <strong>Can’t save messages right now — retrying.</strong>
          {queued ? ` ${queued} ${queued === 1 ? "message is" : "messages are"} kept and will be sent.` : ""}
        </span>
      ) : null}
    </div>
  );
}
