// The service worker (served at /sw.js, scope /). The build (sw-plugin.ts)
// fills in VERSION and SHELL: a new build is a new worker, which waits until
// the reader chooses "Reload to update" (a "skip-waiting" message).
//
// Caching: the app shell only. Pages (index.html) network-first, falling back
// to the cached shell offline; hashed /assets/* cache-first (they never
// change); the icons and manifest from the shell cache. /api, /ws, /files and
// anything else go to the network untouched.
//
// Push: a push shows its payload's notification ({title, body, tag, url});
// a click focuses an open window and sends it to url, or opens one.

/* global self, caches, clients */
const VERSION = "__VERSION__";
const SHELL = __SHELL__;
const CACHE = `minichat-${VERSION}`;
/** How long a page request may take before the cached shell answers. */
const pageTimeout = 4000;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL.map((u) => new Request(u, { cache: "reload" })))));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const key of await caches.keys()) if (key.startsWith("minichat-") && key !== CACHE) await caches.delete(key);
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "skip-waiting") self.skipWaiting();
});

const passThrough = /^\/(api|ws|files|healthz)(\/|$)/;

self.addEventListener("fetch", (event) => {
  const req = event.request;
  if (req.method !== "GET") return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin || passThrough.test(url.pathname)) return;
  if (req.mode === "navigate") event.respondWith(page(req));
  else if (url.pathname.startsWith("/assets/")) event.respondWith(cacheFirst(req));
  else if (SHELL.includes(url.pathname)) event.respondWith(cacheFirst(req));
});

/** Network first; the cached shell when offline or slow. */
async function page(req) {
  const cache = await caches.open(CACHE);
  const network = fetch(req).then(async (res) => {
    if (res.ok && (res.headers.get("Content-Type") || "").startsWith("text/html")) await cache.put("/", res.clone());
    return res;
  });
  const fallback = async () => (await cache.match("/")) || Response.error();
  try {
    return await Promise.race([
      network,
      new Promise((_, reject) => setTimeout(() => reject(new Error("slow")), pageTimeout)),
    ]);
  } catch {
    const cached = await cache.match("/");
    return cached || network.catch(fallback);
  }
}

async function cacheFirst(req) {
  const cache = await caches.open(CACHE);
  const hit = await cache.match(req, { ignoreVary: true });
  if (hit) return hit;
  const res = await fetch(req);
  if (res.ok) await cache.put(req, res.clone());
  return res;
}

self.addEventListener("push", (event) => {
  let p = {};
  try {
    p = event.data ? event.data.json() : {};
  } catch {
    p = { body: event.data ? event.data.text() : "" };
  }
  event.waitUntil(
    self.registration.showNotification(p.title || "minichat", {
      body: p.body || "",
      tag: p.tag || undefined,
      renotify: false,
      icon: "/icons/icon-192.png",
      data: { url: p.url || "/" },
    }),
  );
});

/** A same-origin URL from a payload; anything else opens the app's start. */
function target(raw) {
  try {
    const u = new URL(raw, self.location.origin);
    if (u.origin === self.location.origin) return u.href;
  } catch {
    /* not a URL */
  }
  return new URL("/", self.location.origin).href;
}

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = target(event.notification.data && event.notification.data.url);
  event.waitUntil(
    (async () => {
      const wins = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      const win = wins.find((w) => w.focused) || wins[0];
      if (win) {
        await win.focus();
        win.postMessage({ type: "open", url });
        return;
      }
      await self.clients.openWindow(url);
    })(),
  );
});
