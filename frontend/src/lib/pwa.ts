// The service worker's side in the page: registration, the "Reload to
// update" offer when a new version waits, and the worker's messages (a
// notification click asks the page to open a place).

import { signal } from "@preact/signals";
import { hashOf } from "./route";

/** A new version is installed and waits for the reader's reload. */
export const updateReady = signal(false);

let waiting: ServiceWorker | null = null;
let reloading = false;

function offer(w: ServiceWorker | null): void {
  // With no controller this is the first install: nothing to update.
  if (!w || !navigator.serviceWorker.controller) return;
  waiting = w;
  updateReady.value = true;
}

function track(reg: ServiceWorkerRegistration): void {
  offer(reg.waiting);
  reg.addEventListener("updatefound", () => {
    const w = reg.installing;
    w?.addEventListener("statechange", () => {
      if (w.state === "installed") offer(w);
    });
  });
}

/** Registers /sw.js (built clients only) and listens to it. */
export function registerServiceWorker(openHash: (hash: string) => void): void {
  if (!import.meta.env.PROD || typeof navigator === "undefined" || !("serviceWorker" in navigator)) return;
  const sw = navigator.serviceWorker;
  sw.addEventListener("message", (e: MessageEvent<{ type?: string; url?: string }>) => {
    if (e.data?.type !== "open" || !e.data.url) return;
    const hash = hashOf(e.data.url, location.origin);
    if (hash) openHash(hash);
  });
  sw.addEventListener("controllerchange", () => {
    if (!reloading) return; // the first install claiming the page: no reload
    location.reload();
  });
  void sw
    .register("/sw.js", { scope: "/", updateViaCache: "none" })
    .then((reg) => {
      track(reg);
      // Look for a new version now and then, and when the reader comes back.
      setInterval(() => void reg.update().catch(() => undefined), 60 * 60 * 1000);
      document.addEventListener("visibilitychange", () => {
        if (document.visibilityState === "visible") void reg.update().catch(() => undefined);
      });
    })
    .catch(() => undefined);
}

/** Activates the waiting version; the page reloads once it controls it. */
export function applyUpdate(): void {
  if (!waiting) {
    location.reload();
    return;
  }
  reloading = true;
  waiting.postMessage({ type: "skip-waiting" });
}
