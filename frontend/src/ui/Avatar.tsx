import { hueIndex, initials } from "../lib/format";
import type { PresenceStatus } from "../protocol.gen";
import "./Avatar.css";

/** Initials on a colour derived from the name; decorative. */
export function Avatar(props: { name: string; size?: "sm" | "md"; status?: PresenceStatus }) {
  return (
    <span class={`avatar av-${hueIndex(props.name)} ${props.size ?? "md"}`} aria-hidden="true">
      {initials(props.name)}
      {props.status && <span class={`dot ${props.status}`} />}
    </span>
  );
}
