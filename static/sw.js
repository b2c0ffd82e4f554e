// The service worker: lets the installed app (or a bookmarked tab) open
// with no network. Served at /sw.js (so its scope is the whole site) by
// src/web/install.rs, which puts three constants above this file:
//   VERSION: a tag of every built-in static file and of the catalogs; a new
//            binary with others is a new service worker, whose shell cache
//            replaces the old
//   SHELL:   the paths of the page's shell (scripts, CSS, icons, manifest,
//            each language's words for the scripts, /i18n/<lang>.js)
//   WORDS:   {lang: {key: text}}, the catalogs' texts this file shows
//
// What it keeps, in Cache Storage:
//   - the shell, fetched when this version installs;
//   - the last 200 answer of each room page navigated to ("/", "/rooms/<name>"
//     without ?at=), at most MAX_PAGES, the oldest dropped first.
// Both are answered network first: online, the page behaves as without a
// service worker (the static files still revalidate with their ETags); only
// when the network fails, or takes longer than NETWORK_TIMEOUT_MS, does the
// cached copy answer. A room page never stored falls back to the cached "/".
//
// What it never touches (no respondWith: the browser fetches as if there
// were no service worker): anything but GET; other origins; the API (/api/),
// the streams (/events, /rooms/<r>/events, /rooms/<r>/ws, long polls and
// history under /rooms/<r>/messages), uploaded files and thumbnails
// (/files/, /thumbs/), avatars (/avatars/), and every other page (account,
// admin, login, security: nothing of those is kept on the device).
//
// Room pages are sent `Cache-Control: no-store` to keep them out of the
// HTTP cache, shared caches and the back-forward cache; that is about those
// caches, and this one is the point of the feature, so a room page is kept
// all the same. It is this browser's own copy: offline.js drops the pages
// and the message snapshots when the signed-in name changes or on logout,
// and the logout answer's Clear-Site-Data "storage" drops them too.
// Anything that is not a 200 of this origin, or says `Vary: *`, is never kept.
"use strict";

const SHELL_CACHE = "chat-shell-" + VERSION;
// offline.js deletes this cache by name (a change of account, a logout).
const PAGES_CACHE = "chat-pages";
const MAX_PAGES = 30;
const NETWORK_TIMEOUT_MS = 4000;

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(SHELL_CACHE);
      await cache.addAll(SHELL);
      // The lobby as the fallback page; not fatal to the install if it fails.
      try {
        await storePage(self.location.origin + "/", await fetch("/", { credentials: "same-origin" }));
      } catch (e) {
        // offline or refused: the first visit to "/" stores it
      }
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith("chat-shell-") && name !== SHELL_CACHE) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    if (!isRoomPage(url)) return;
    // A permalink (?at=) shows old history: never the room's offline copy.
    const key = url.origin + url.pathname;
    const keep = url.searchParams.has("at") ? () => {} : (response) => storePage(key, response);
    event.respondWith(networkFirst(event, keep, () => cachedPage(key)));
    return;
  }
  // Exactly the shell's addresses: "/favicon.svg?unread=3" is not the shell.
  if (url.search !== "" || !SHELL.includes(url.pathname)) return;
  const keep = async (response) => keepable(response) && (await caches.open(SHELL_CACHE)).put(url.pathname, response);
  event.respondWith(networkFirst(event, keep, async () => (await caches.open(SHELL_CACHE)).match(url.pathname)));
});

// "/" and "/rooms/<name>": the pages that show a room.
function isRoomPage(url) {
  return url.pathname === "/" || /^\/rooms\/[a-z0-9_-]{1,64}$/.test(url.pathname);
}

// The network's answer (handed to `keep` too, even when it comes too late
// to be the answer); the cached copy when the network fails or takes longer
// than NETWORK_TIMEOUT_MS, and if there is none, the network's answer or
// failure after all.
function networkFirst(event, keep, cached) {
  const network = fetch(event.request);
  // Attached first, so the copy is taken before the page reads the body.
  event.waitUntil(network.then((response) => keep(response.clone())).catch(() => {}));
  return (async () => {
    try {
      return await withTimeout(network);
    } catch (e) {
      return (await cached()) || network;
    }
  })();
}

// This page's copy, else the lobby's, else a plain answer saying so.
async function cachedPage(key) {
  const pages = await caches.open(PAGES_CACHE);
  return (
    (await pages.match(key)) ||
    (await pages.match(self.location.origin + "/")) ||
    new Response(t("offline_never_opened"), {
      status: 503,
      headers: { "Content-Type": "text/plain; charset=utf-8" },
    })
  );
}

// Stores a room page, the newest last, dropping the oldest past MAX_PAGES.
async function storePage(key, response) {
  if (!keepable(response) || !(response.headers.get("Content-Type") || "").startsWith("text/html")) return;
  const pages = await caches.open(PAGES_CACHE);
  await pages.delete(key);
  await pages.put(key, response);
  const keys = await pages.keys();
  for (const old of keys.slice(0, Math.max(0, keys.length - MAX_PAGES))) await pages.delete(old);
}

function keepable(response) {
  return response.status === 200 && response.type === "basic" && !response.redirected && response.headers.get("Vary") !== "*";
}

// The network's answer, or a failure after NETWORK_TIMEOUT_MS.
function withTimeout(promise) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the network is too slow")), NETWORK_TIMEOUT_MS);
    promise.then(
      (response) => {
        clearTimeout(timer);
        resolve(response);
      },
      (error) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

// The text of `key` in the browser's language, if the catalogs have it,
// else in English. (A worker has no page, so no /i18n/<lang>.js and no
// <html lang>: the browser's own languages are what it can know.)
function t(key) {
  const languages = self.navigator.languages || [self.navigator.language || "en"];
  const lang = languages.map((l) => l.toLowerCase().split("-")[0]).find((l) => WORDS[l]) || "en";
  return WORDS[lang][key] || WORDS.en[key] || key;
}
