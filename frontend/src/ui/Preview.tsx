// How a message's sender is shown (a webhook's name for its messages), and
// the link preview card under a message.
//
// The preview's image is loaded through the server
// (/api/rooms/{room}/messages/{id}/preview-image), never from the linked site: the
// page's Content-Security-Policy allows images of this origin only, a
// reader's browser tells the linked site nothing (no address, no
// referrer, no cookies), and an http image cannot break an https page.

import { ApiError } from "../lib/api";
import { hooksApi } from "../lib/hooks";
import { shownName as personName } from "../lib/people";
import { latest } from "../profiles";
import type { Message } from "../protocol.gen";
import { canChange, notify } from "../state";
import { Close } from "./icons";
import "./Preview.css";

/** The name a message is shown under: a webhook's (and the name its payload asked for), or the sender's. */
export function shownName(m: Message): string {
  if (m.via) return m.via.name ? `${m.via.name} via ${m.via.hook}` : m.via.hook;
  return m.sender ? personName(latest(m.sender)) : "unknown";
}

/** Asks the server to remove m's preview; the change arrives as an update. */
function removePreview(m: Message): void {
  hooksApi.removePreview(m.room, m.id).catch((e: unknown) => notify(e instanceof ApiError ? e.message : "The preview could not be removed."));
}

function host(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

export function PreviewCard(props: { m: Message }) {
  const m = props.m;
  const p = m.preview;
  if (!p) return null;
  const title = p.title || host(p.url);
  return (
    <div class="preview" role="group" aria-label={`Link preview: ${title}`}>
      {p.image && (
        <img class="preview-img" src={`/api/rooms/${encodeURIComponent(m.room)}/messages/${encodeURIComponent(m.id)}/preview-image`} alt="" loading="lazy" decoding="async"
          onError={(e) => (e.currentTarget.hidden = true)} />
      )}
      <div class="preview-body">
        <span class="preview-site muted small">{host(p.url)}</span>
        <a class="preview-title" href={p.url} target="_blank" rel="noopener noreferrer nofollow">
          {title}
        </a>
        {p.description && <p class="preview-desc">{p.description}</p>}
      </div>
      {canChange(m) && m.sender && !m.via && (
        <button class="icon-btn preview-remove" aria-label="Remove the link preview" title="Remove preview" onClick={() => removePreview(m)}>
          <Close />
        </button>
      )}
    </div>
  );
}
