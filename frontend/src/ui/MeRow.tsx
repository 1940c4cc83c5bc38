// An action (/me): one line, "* alice waves", with the message's parts
// (reactions, actions, editing) under it.

import type { Row } from "../lib/format";
import { timeLabel, stampLabel } from "../lib/format";
import { Body } from "./Message";
export { PreviewCard, shownName } from "./Preview";

export function MeRow(props: { row: Extract<Row, { kind: "chat" }>; lit: boolean; actions: boolean }) {
  const r = props.row;
  const m = r.message;
  return (
    <article class={`msg me${props.lit ? " lit" : ""}`} data-seq={m.seq} data-key={r.key} tabIndex={-1}>
      <div class="gutter">
        <time class="side-time" dateTime={r.at.toISOString()} title={stampLabel(r.at)}>
          {timeLabel(r.at)}
        </time>
      </div>
      <div class="content">
        <Body m={m} actions={props.actions} />
      </div>
    </article>
  );
}
