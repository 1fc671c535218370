// ontask's service worker: the installed app's offline copy and its push
// notifications. Served at /sw.js (so its scope is the whole site) with the
// version of the binary's UI (and its list of modules) written in below by the
// server: a new binary with
// a different UI is a different script, which the browser installs in place of
// this one, and its `activate` deletes the caches of every other version.
//
// Offline is read-only: pages and fragments are fetched from the network first
// and the last good copy of each is kept; without a network the kept copy is
// shown and the page script disables the forms. Nothing under /api/ is cached
// or answered from a cache, so no change is ever "made" offline.

const VERSION = '__ONTASK_UI_VERSION__';
const SHELL = `ontask-shell-${VERSION}`;
const PAGES = `ontask-pages-${VERSION}`;
/** The modules the page scripts import (assets/modules/), written in by the server too. */
const MODULES = '__ONTASK_UI_MODULES__'.split(' ');
/** What every page needs, fetched when this version installs. */
const SHELL_FILES = [
  '/assets/app.js', '/assets/chat.js', ...MODULES, '/assets/app.css', '/assets/icon.svg', '/ui/colours.css',
  '/manifest.webmanifest', '/assets/icons/icon-192.png',
];
/** Pages and fragments kept for offline reading, most recently loaded first out. */
const MAX_PAGES = 60;

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(SHELL).then((cache) => cache.addAll(SHELL_FILES)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith('ontask-') && name !== SHELL && name !== PAGES) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

/** Pages a signed-in person reads: the lists, a project, a task, and their fragments. */
function keepsForOffline(url) {
  const p = url.pathname;
  if (p.startsWith('/api/') || p === '/login' || p === '/signup' || p === '/logout' || p === '/sw.js') return false;
  return p === '/' || p === '/upcoming' || p === '/assigned' || p.startsWith('/tasks/') || p.startsWith('/projects/')
    || p.startsWith('/ui/') || p === '/settings';
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith('/assets/') || SHELL_FILES.includes(url.pathname)) {
    event.respondWith(fromShell(request));
  } else if (keepsForOffline(url)) {
    event.respondWith(networkFirst(request));
  }
});

async function fromShell(request) {
  const hit = await caches.match(request, { cacheName: SHELL });
  return hit || fetch(request);
}

async function networkFirst(request) {
  const cache = await caches.open(PAGES);
  let response;
  try {
    response = await fetch(request);
  } catch (offline) {
    const kept = await cache.match(request);
    if (kept) return kept;
    if (request.mode === 'navigate') return offlinePage();
    throw offline;
  }
  // A kept page that now redirects (a navigation sees the redirect itself, a
  // fragment where it led) redirects to the sign-in page: the session ended, so
  // what was kept is no longer for whoever uses this device next.
  if (response.type === 'opaqueredirect' || (response.redirected && new URL(response.url).pathname === '/login')) {
    await caches.delete(PAGES);
  } else if (response.ok && !response.redirected && response.type === 'basic') {
    await cache.put(request, response.clone());
    const keys = await cache.keys();
    for (const old of keys.slice(0, Math.max(0, keys.length - MAX_PAGES))) await cache.delete(old);
  }
  return response;
}

function offlinePage() {
  const html = '<!doctype html><html lang="en"><head><meta charset="utf-8">'
    + '<meta name="viewport" content="width=device-width, initial-scale=1"><title>Offline · ontask</title>'
    + '<link rel="stylesheet" href="/assets/app.css"></head><body data-page="offline"><main id="main" class="auth">'
    + '<h1>You are offline</h1><p>This page was not loaded before, so there is no copy of it on this device. '
    + '<a href="/">Your tasks</a> may be.</p></main></body></html>';
  return new Response(html, { status: 503, headers: { 'Content-Type': 'text/html; charset=utf-8' } });
}

// ---------------------------------------------------------------- push

self.addEventListener('message', (event) => {
  // The page asks on signing out, so the next person on this device reads nothing of theirs.
  if (event.data === 'forget-pages') event.waitUntil(caches.delete(PAGES));
});

// A reminder or a mention, pushed by the server (crates/workers/src/push.rs)
// as JSON: { title, body, url, tag }. Shown whether or not a tab is open; the
// tag makes a message pushed twice replace itself.
self.addEventListener('push', (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch {
    data = { body: event.data?.text() || '' };
  }
  event.waitUntil(self.registration.showNotification(data.title || 'ontask', {
    body: data.body || '',
    tag: data.tag,
    icon: '/assets/icons/icon-192.png',
    data: { url: data.url || '/' },
  }));
});

// The push service renewed (or dropped) this device's subscription: subscribe
// again with the same server key and tell the server which one it replaces,
// so the device keeps its name in the settings and reminders keep coming.
// (The page also registers its subscription again once a day: not every
// browser fires this event.)
self.addEventListener('pushsubscriptionchange', (event) => {
  event.waitUntil((async () => {
    const old = event.oldSubscription;
    let key = old?.options?.applicationServerKey;
    if (!key) {
      const answer = await fetch('/api/v1/push/vapid-public-key', { credentials: 'same-origin' });
      if (!answer.ok) return;
      const { public_key: text } = await answer.json();
      const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
      key = Uint8Array.from(atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4)), (c) => c.charCodeAt(0));
    }
    const renewed = event.newSubscription
      || await self.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
    await fetch('/api/v1/push/subscriptions', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ ...renewed.toJSON(), replaces: old?.endpoint }),
    });
  })());
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const target = new URL(event.notification.data?.url || '/', self.location.origin).href;
  event.waitUntil((async () => {
    for (const client of await self.clients.matchAll({ type: 'window', includeUncontrolled: true })) {
      if (client.url === target && 'focus' in client) return client.focus();
    }
    return self.clients.openWindow(target);
  })());
});
