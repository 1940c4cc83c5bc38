// Runs the slash commands that are not messages (/topic, /invite, /leave,
// /dm); /me and plain text are sent by the composer.

import { ApiError } from "../lib/api";
import { hooksApi } from "../lib/hooks";
import type { Slash } from "../lib/slash";
import type { Room } from "../protocol.gen";
import { invite, leaveRoom, notify, startDM } from "../state";

/** Does cmd in room; resolves to an error to show under the composer, or null. */
export async function runSlash(room: Room, cmd: Exclude<Slash, { kind: "text" | "me" | "error" }>): Promise<string | null> {
  try {
    switch (cmd.kind) {
      case "topic":
        if (room.kind === "dm") return "A direct message has no topic.";
        await hooksApi.setTopic(room.id, cmd.text);
        return null;
      case "invite":
        if (room.kind === "dm") return "You cannot invite people into a direct message.";
        await invite(room.id, cmd.name);
        notify(`Invited ${cmd.name} to #${room.name}.`);
        return null;
      case "leave":
        if (room.kind === "dm") return "A direct message cannot be left.";
        await leaveRoom(room.id);
        return null;
      case "dm":
        await startDM(cmd.name);
        return null;
    }
  } catch (e) {
    return e instanceof ApiError ? e.message : "Something went wrong. Try again.";
  }
}
