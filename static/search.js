// Search: the sidebar's form asks GET /api/search and lists the hits, newest
// first, each a link that opens its room at the message
// (/rooms/<room>?at=<id>), with the room, the author, the time and the
// snippet; "More results" fetches the next page. Everything is built as
// DOM nodes with textContent, except the snippet, which the server sends
// HTML-escaped with only <mark> around the matched words. Escape in the box
// clears the results.
"use strict";

(function () {
  const form = document.getElementById("search");
  const results = document.getElementById("search-results");
  if (!form || !results) return;
  const box = form.elements.q;
  const status = results.querySelector(".search-status");
  const hits = results.querySelector(".search-hits");
  const more = results.querySelector(".search-more");
  let query = null; // what the shown hits answer
  let next = null; // the next page's `before`

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const q = box.value.trim();
    if (!q) return;
    query = q;
    hits.replaceChildren();
    load(null);
  });

  more.addEventListener("click", () => next !== null && load(next));

  box.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !results.hidden && !chatI18n.composing(event)) {
      event.preventDefault();
      clear();
    }
  });

  function clear() {
    query = null;
    next = null;
    hits.replaceChildren();
    results.hidden = true;
  }

  async function load(before) {
    const asked = query;
    const params = new URLSearchParams({ q: asked });
    if (before !== null) params.set("before", before);
    results.hidden = false;
    more.hidden = true;
    status.textContent = t("searching");
    let response;
    try {
      response = await fetch("/api/search?" + params, { headers: { Accept: "application/json" } });
    } catch {
      status.textContent = t("search_unreachable");
      return;
    }
    if (asked !== query) return; // a newer search took over
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      status.textContent = (body && (body.message || body.error)) || t("search_failed", { status: response.status });
      return;
    }
    hits.append(...body.results.map(hit));
    next = body.next_before;
    more.hidden = next === null;
    const shown = hits.childElementCount;
    const count = chatI18n.number(shown) + (next === null ? "" : "+");
    status.textContent =
      shown === 0
        ? t("search_none")
        : chatI18n.plural(shown) === "one" && next === null
          ? t("search_count_one", { count })
          : t("search_count_other", { count });
  }

  function hit(message) {
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.href = "/rooms/" + encodeURIComponent(message.room) + "?at=" + encodeURIComponent(message.id);
    const head = document.createElement("span");
    head.className = "search-head";
    const room = document.createElement("span");
    room.className = "search-room";
    room.textContent = roomLabel(message.room);
    const user = document.createElement("span");
    user.className = message.guest ? "user guest" : "user";
    user.textContent = message.user;
    const time = document.createElement("time");
    time.dateTime = message.at;
    time.textContent = chatI18n.shortDateTime(new Date(message.at));
    time.title = chatI18n.dateTime(new Date(message.at));
    head.append(room, user, time);
    const snippet = document.createElement("span");
    snippet.className = "snippet";
    // Escaped by the server, <mark> its only markup (src/search/snippet.rs).
    snippet.innerHTML = message.snippet;
    a.append(head, snippet);
    li.append(a);
    return li;
  }

  // What the sidebar calls the room (conversations by their people).
  function roomLabel(name) {
    const link = document.querySelector('#room-list a[href="/rooms/' + CSS.escape(name) + '"] .room-name');
    if (link) return link.textContent;
    return name.startsWith("dm-") ? t("direct_message") : "#" + name;
  }
})();
