// The page's side of working offline (the service worker itself is sw.js,
// served at /sw.js): it registers the worker, says when the page is
// offline (a banner under the header, and app.js shows "offline" in #state),
// and keeps a snapshot of each room's last rendered messages so that a room
// opened with no network shows what was last on screen, not only what the
// cached page held when it was fetched.
//
// The snapshot is data, never HTML: the message objects app.js renders (as
// the server and the stream sent them), re-rendered through the same code,
// so escaping stays as it is. It lives in localStorage (read synchronously,
// before the stream is opened, so the stream resumes from it), one key per
// (signed-in name, room), at most MAX_MESSAGES messages per room (the
// newest) and MAX_ROOMS rooms (the least recently saved dropped first),
// with its position: how far into the room's sequence the stream had
// delivered, changes applied. A page opened from the cache whose snapshot
// is further along shows the snapshot instead and resumes the stream from
// its position: no gap, and nothing shown twice (replayed entries are
// keyed by id). The stream's entries set state (a message, its edit, its
// reactions, its deletion), so a replay of what the snapshot holds is
// harmless.
//
// Nothing of one account is left for the next: when the signed-in name
// differs from the one the snapshots belong to, every snapshot and every
// cached page is dropped; leaving (log out, log out everywhere, deleting
// the account) drops them before the form is sent, besides the server's
// Clear-Site-Data.
"use strict";

window.ChatOffline = (function () {
  const PREFIX = "chat-offline:";
  const INDEX = PREFIX + "index"; // [[key, savedAt], ...], oldest first
  const OWNER = PREFIX + "owner"; // the name the snapshots belong to
  // The service worker's page cache (sw.js PAGES_CACHE).
  const PAGES_CACHE = "chat-pages";
  const MAX_MESSAGES = 100;
  const MAX_ROOMS = 20;
  const SAVE_AFTER_MS = 300;
  // The forms whose answer ends this browser's session.
  const LEAVING = ["/logout", "/account/logout-everywhere", "/account/delete"];

  const meta = document.querySelector('meta[name="chat-me"]');
  const me = meta ? meta.content : null;

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js").catch(() => {});
  }
  if (me !== null) {
    const owner = read(OWNER);
    if (owner !== null && owner !== me) forget();
    write(OWNER, me);
  }
  document.addEventListener("submit", leaving, true);

  // --- offline or not ---------------------------------------------------
  let offline = false;
  const listeners = [];
  let banner = null;

  // state: "connected" (the stream is up), "offline" (it failed, or the
  // network is gone); anything else changes nothing.
  function report(state) {
    const now = state === "connected" ? false : state === "offline" ? true : offline;
    if (now === offline) return;
    offline = now;
    showBanner();
    for (const listener of listeners) listener(offline);
  }
  window.addEventListener("offline", () => report("offline"));
  // A device that knows it has no network says so before anything fails.
  if (navigator.onLine === false) report("offline");

  function showBanner() {
    if (!banner) {
      if (!offline) return;
      banner = document.createElement("p");
      banner.id = "offline-banner";
      banner.className = "offline-banner";
      banner.setAttribute("role", "status");
      banner.textContent = t("offline_notice");
      const header = document.querySelector("header.top");
      if (header) header.after(banner);
      else document.body.prepend(banner);
    }
    banner.hidden = !offline;
  }

  // --- snapshots --------------------------------------------------------
  // One room's snapshot for app.js. `position`: the page's position in the
  // room's sequence as rendered. A permalink page (?at=) shows old history:
  // it neither reads nor writes the room's snapshot.
  function snapshot({ room, position, permalink }) {
    const key = PREFIX + me + ":" + room;
    const messages = new Map(); // id -> message
    let at = position;
    let timer = 0;
    const inert = permalink || me === null;

    function save() {
      clearTimeout(timer);
      timer = 0;
      if (inert) return;
      const newest = [...messages.values()].sort((a, b) => a.id - b.id).slice(-MAX_MESSAGES);
      if (newest.length < messages.size) {
        messages.clear();
        for (const m of newest) messages.set(m.id, m);
      }
      try {
        store(key, JSON.stringify({ position: at, messages: newest }));
      } catch (e) {
        // storage refused (private mode, disabled): no offline copy
      }
    }
    const later = () => {
      if (!timer) timer = setTimeout(save, SAVE_AFTER_MS);
    };
    window.addEventListener("pagehide", () => timer && save());

    return {
      // The saved snapshot if it is further along than the page (the page
      // came from the cache), as { position, messages } in id order; else
      // null. Either way the snapshot follows the page from here on.
      restore() {
        if (inert) return null;
        let saved = null;
        try {
          saved = JSON.parse(localStorage.getItem(key));
        } catch (e) {
          saved = null;
        }
        if (!saved || !(saved.position > position) || !Array.isArray(saved.messages)) return null;
        at = saved.position;
        for (const m of saved.messages) messages.set(m.id, m);
        return { position: at, messages: [...messages.values()] };
      },
      // The messages the page was rendered with (fresh from the server).
      seed(rendered) {
        for (const m of rendered) if (!messages.has(m.id)) messages.set(m.id, m);
        later();
      },
      // A message shown (from the stream, a post, history).
      put(message) {
        messages.set(message.id, message);
        later();
      },
      // An entry of the room's sequence from the stream, applied to the
      // page: the snapshot is now as far along as its number.
      event(kind, data) {
        if (kind === "reset") {
          messages.clear();
          at = 0;
        } else if (kind === "message" || kind === "edit") {
          const { seq, ...message } = data;
          messages.set(message.id, message);
        } else if (kind === "reaction" && messages.has(data.id)) {
          messages.set(data.id, { ...messages.get(data.id), reactions: data.reactions });
        } else if (kind === "delete" && messages.has(data.id)) {
          messages.set(data.id, tombstone(messages.get(data.id)));
        } else if (kind !== "reaction" && kind !== "delete") {
          return;
        }
        const number = kind === "message" ? data.id : data.seq;
        if (number) at = Math.max(at, number);
        later();
      },
      // A message deleted from this page (its author or a moderator).
      deleted(id) {
        if (!messages.has(id)) return;
        messages.set(id, tombstone(messages.get(id)));
        later();
      },
    };
  }

  // A deleted message as history answers it: no text, no files.
  function tombstone(message) {
    const { attachments, reactions, ...rest } = message;
    return { ...rest, text: "", html: "", deleted: rest.deleted || { by: "", at: "" } };
  }

  // Writes one room's snapshot, keeping at most MAX_ROOMS; when storage is
  // full, drops the least recently saved rooms until it fits.
  function store(key, value) {
    let index = readIndex().filter(([k]) => k !== key);
    index.push([key, Date.now()]);
    while (index.length > MAX_ROOMS) localStorage.removeItem(index.shift()[0]);
    for (;;) {
      try {
        localStorage.setItem(key, value);
        break;
      } catch (e) {
        if (index.length <= 1) return; // too big even alone: keep none
        localStorage.removeItem(index.shift()[0]);
      }
    }
    write(INDEX, JSON.stringify(index));
  }

  function readIndex() {
    try {
      const index = JSON.parse(read(INDEX));
      return Array.isArray(index) ? index : [];
    } catch (e) {
      return [];
    }
  }

  // Drops every snapshot and every cached page.
  function forget() {
    try {
      for (const [key] of readIndex()) localStorage.removeItem(key);
      localStorage.removeItem(INDEX);
      localStorage.removeItem(OWNER);
    } catch (e) {
      // storage refused: there is nothing in it
    }
    return "caches" in window ? caches.delete(PAGES_CACHE).catch(() => false) : Promise.resolve(false);
  }

  // A form that ends the session: forget first (at most a second), then
  // send it.
  function leaving(event) {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !LEAVING.includes(new URL(form.action).pathname)) return;
    if (form.dataset.forgotten) return;
    event.preventDefault();
    form.dataset.forgotten = "true";
    const wait = new Promise((resolve) => setTimeout(resolve, 1000));
    Promise.race([forget(), wait]).then(() => form.submit());
  }

  function read(key) {
    try {
      return localStorage.getItem(key);
    } catch (e) {
      return null;
    }
  }
  function write(key, value) {
    try {
      localStorage.setItem(key, value);
    } catch (e) {
      // storage full or refused: offline copies are a convenience
    }
  }

  return {
    report,
    isOffline: () => offline,
    onChange: (listener) => listeners.push(listener),
    snapshot,
  };
})();
