// The HTTP calls of incoming webhooks and room topics (/topic).

import type { Hook } from "../protocol.gen";
import { call } from "./api";

const room = (id: string) => `/api/rooms/${encodeURIComponent(id)}`;

export const hooksApi = {
  list: (roomId: string) => call<{ hooks: Hook[] }>("GET", `${room(roomId)}/hooks`),
  /** The answer's hook carries its url, shown this once. */
  create: (roomId: string, name: string) => call<{ hook: Hook }>("POST", `${room(roomId)}/hooks`, { name }),
  /** A new secret: the old url stops working; the answer carries the new one. */
  regenerate: (id: string) => call<{ hook: Hook }>("POST", `/api/hooks/${encodeURIComponent(id)}/secret`),
  remove: (id: string) => call<void>("DELETE", `/api/hooks/${encodeURIComponent(id)}`),
  /** Removes a message's link preview (its sender, or an admin). */
  removePreview: (roomId: string, msgId: string) =>
    call<unknown>("DELETE", `${room(roomId)}/messages/${encodeURIComponent(msgId)}/preview`),
  /** PUT /api/rooms/{id}/topic (the rooms' topics endpoint). */
  setTopic: (roomId: string, topic: string) => call<unknown>("PUT", `${room(roomId)}/topic`, { topic }),
};
