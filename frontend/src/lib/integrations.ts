// The integrations API: personal API tokens and bot accounts
// (docs/protocol.md, "Integrations"), and the little logic their screens need.

import type { APIToken, Bot, Delivery, NewAPIToken } from "../protocol.gen";
import { call } from "./api";

const botPath = (id: string) => `/api/bots/${encodeURIComponent(id)}`;

export const integrations = {
  tokens: () => call<{ tokens: APIToken[] }>("GET", "/api/tokens"),
  createToken: (name: string, scope: "read" | "write", expires: string | null) =>
    call<NewAPIToken>("POST", "/api/tokens", { name, scope, expires }),
  revokeToken: (id: string) => call<void>("DELETE", `/api/tokens/${encodeURIComponent(id)}`),
  bots: () => call<{ bots: Bot[] }>("GET", "/api/bots"),
  createBot: (name: string, displayName: string, webhookURL: string) =>
    call<{ bot: Bot }>("POST", "/api/bots", { name, display_name: displayName, webhook_url: webhookURL }),
  updateBot: (id: string, change: { display_name?: string; webhook_url?: string }) => call<{ bot: Bot }>("PATCH", botPath(id), change),
  rotateSecret: (id: string) => call<{ bot: Bot }>("POST", `${botPath(id)}/secret`),
  deleteBot: (id: string) => call<void>("DELETE", botPath(id)),
  botTokens: (id: string) => call<{ tokens: APIToken[] }>("GET", `${botPath(id)}/tokens`),
  createBotToken: (id: string, name: string, scope: "read" | "write") =>
    call<NewAPIToken>("POST", `${botPath(id)}/tokens`, { name, scope, expires: null }),
  deliveries: (id: string) => call<{ deliveries: Delivery[] }>("GET", `${botPath(id)}/deliveries`),
};

/** The expiry choices of a new token, in days; 0 is never. */
export const expiryChoices = [
  { days: 7, label: "7 days" },
  { days: 30, label: "30 days" },
  { days: 90, label: "90 days" },
  { days: 365, label: "1 year" },
  { days: 0, label: "Never" },
] as const;

/** The RFC 3339 expiry of a token made now that lasts days; null for never. */
export function expiresIn(days: number, now: number = Date.now()): string | null {
  return days > 0 ? new Date(now + days * 86_400_000).toISOString() : null;
}

/** Whether a token's expiry has passed. */
export function expired(t: APIToken, now: number = Date.now()): boolean {
  return t.expires !== undefined && Date.parse(t.expires) <= now;
}

/** A short line describing a delivery's outcome. */
export function deliveryText(d: Delivery): string {
  const tries = d.attempts === 1 ? "1 attempt" : `${d.attempts} attempts`;
  if (d.ok) return `Delivered (HTTP ${d.status}, ${tries})${d.error ? ` — ${d.error}` : ""}`;
  return `Failed after ${tries}: ${d.error || (d.status ? `HTTP ${d.status}` : "no answer")}`;
}
