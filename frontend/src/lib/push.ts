// Web Push in the page: the server's VAPID key, this browser's subscription,
// and the account's subscriptions (docs/protocol.md, "Push").

import type { PushDevice } from "../protocol.gen";
import { ApiError, call } from "./api";

/** One of the account's subscribed browsers, as the server lists it. */
export type PushSub = PushDevice;

export const pushApi = {
  key: () => call<{ public_key: string }>("GET", "/api/push/key"),
  add: (body: { endpoint: string; keys: { p256dh: string; auth: string }; label?: string }) =>
    call<{ subscription: PushSub }>("POST", "/api/push/subscriptions", body),
  list: () => call<{ subscriptions: PushSub[] }>("GET", "/api/push/subscriptions"),
  remove: (id: string) => call<void>("DELETE", `/api/push/subscriptions/${encodeURIComponent(id)}`),
  test: () => call<void>("POST", "/api/push/test"),
};

/** Decodes base64url (a VAPID key) to bytes. */
export function fromBase64Url(s: string): Uint8Array<ArrayBuffer> {
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(s.length / 4) * 4, "=");
  const bin = atob(b64);
  const out = new Uint8Array(new ArrayBuffer(bin.length));
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** The body the server takes for a subscription (its JSON form). */
export function subscriptionBody(sub: { toJSON(): PushSubscriptionJSON }, label?: string) {
  const j = sub.toJSON();
  if (!j.endpoint || !j.keys?.p256dh || !j.keys.auth) throw new Error("The browser gave an incomplete push subscription.");
  return { endpoint: j.endpoint, keys: { p256dh: j.keys.p256dh, auth: j.keys.auth }, ...(label ? { label } : {}) };
}

/** Whether this browser can take push at all. */
export function pushSupported(): boolean {
  return typeof navigator !== "undefined" && "serviceWorker" in navigator && typeof PushManager !== "undefined" && typeof Notification !== "undefined";
}

const idKey = "minichat.push.id";

/** The id of this browser's subscription on the server, as last stored. */
export function thisBrowserId(): string | null {
  try {
    return localStorage.getItem(idKey);
  } catch {
    return null;
  }
}

function rememberId(id: string | null): void {
  try {
    if (id) localStorage.setItem(idKey, id);
    else localStorage.removeItem(idKey);
  } catch {
    /* private mode: "this browser" is not marked */
  }
}

/** Why push cannot be turned on, in the reader's words. */
export class PushError extends Error {}

/**
 * Asks for permission, subscribes this browser with the server's key and
 * registers the subscription; returns it. Call from a user action.
 */
export async function enablePush(label: string): Promise<PushSub> {
  if (!pushSupported()) throw new PushError("This browser cannot receive push notifications.");
  const permission = await Notification.requestPermission();
  if (permission !== "granted") throw new PushError("Notifications are blocked; the browser’s site settings can allow them.");
  let key: string;
  try {
    key = (await pushApi.key()).public_key;
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) throw new PushError("Push notifications are turned off on this server.");
    throw e;
  }
  const reg = await navigator.serviceWorker.ready;
  const appKey = fromBase64Url(key);
  let sub = await reg.pushManager.getSubscription();
  // A subscription made with another key (the server's key changed) is replaced.
  const old = sub?.options.applicationServerKey;
  if (sub && old && !sameBytes(new Uint8Array(old), appKey)) {
    await sub.unsubscribe();
    sub = null;
  }
  if (!sub) {
    try {
      sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: appKey });
    } catch (e) {
      throw new PushError(`The browser’s push service refused: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  const { subscription } = await pushApi.add(subscriptionBody(sub, label));
  rememberId(subscription.id);
  return subscription;
}

/** Removes a subscription; this browser's also unsubscribes here. */
export async function removePush(id: string): Promise<void> {
  await pushApi.remove(id);
  if (id === thisBrowserId()) {
    rememberId(null);
    if (pushSupported()) {
      const reg = await navigator.serviceWorker.getRegistration();
      await (await reg?.pushManager.getSubscription())?.unsubscribe();
    }
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
