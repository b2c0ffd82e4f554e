// The room list: the rooms and conversations the reader may see (from
// GET /api/rooms, refreshed every 30 s and when the tab comes back), each
// with its last activity and message count, unread counts (red when the
// reader is mentioned, and for direct messages), conversations named after
// their other members. Names only ever go in with textContent.
"use strict";

window.ChatSidebar = (function () {
  // page: { room, me }. Returns { refresh(), noteActivity(message), readElsewhere(room) }.
  function setup({ room, me }) {
    const roomList = document.getElementById("room-list");
    let rooms = new Map(); // name -> {name, messages, last_at}

    async function refresh() {
      const listed = await fetchJson("/api/rooms?limit=30");
      if (!listed) return;
      rooms = new Map(listed.map((r) => [r.name, r]));
      for (const name of [room, "lobby"]) if (!rooms.has(name)) rooms.set(name, { name, messages: 0, last_at: null });
      render();
    }

    // Another device read a room: its badge goes at once.
    function readElsewhere(name) {
      const entry = rooms.get(name);
      if (!entry || !entry.unread) return;
      entry.unread = 0;
      entry.mentions = 0;
      render();
    }

    function noteActivity(message) {
      const entry = rooms.get(room);
      if (!entry) return;
      entry.messages = Math.max(entry.messages, message.id); // ids count a room's messages
      entry.last_at = message.at;
      render();
    }

    function render() {
      // By what they are called, as the server renders it: entries never
      // jump around.
      const label = (r) => (r.dm ? "@" + r.users.join(",") : "#" + r.name);
      const sorted = [...rooms.values()].sort((a, b) => (label(a) < label(b) ? -1 : label(a) > label(b) ? 1 : 0));
      const items = sorted.map((r) => {
        const li = document.createElement("li");
        if (r.name === room) li.className = "current";
        const a = document.createElement("a");
        a.href = "/rooms/" + r.name;
        const name = document.createElement("span");
        name.className = "room-name";
        name.textContent = r.dm ? "@" + r.users.filter((u) => u.toLowerCase() !== me.toLowerCase()).join(", @") : "#" + r.name;
        const meta = document.createElement("span");
        meta.className = "room-meta";
        meta.textContent = r.last_at ? ago(r.last_at) + " · " + chatI18n.number(r.messages) : t("room_new");
        if (r.last_at) {
          const time = chatI18n.dateTime(new Date(r.last_at));
          a.title = t("room_title", { count: chatI18n.number(r.messages), time });
        }
        a.append(name, meta);
        if (r.unread && r.name !== room) {
          const badge = document.createElement("span");
          badge.className = r.mentions || r.dm ? "unread mentioned" : "unread";
          badge.textContent = r.unread > 998 ? "999+" : String(r.unread);
          badge.title = r.mentions
            ? t("unread_mentions", { count: r.unread, mentions: r.mentions })
            : t("unread", { count: r.unread });
          a.append(badge);
        }
        li.append(a);
        return li;
      });
      roomList.replaceChildren(...items);
      // On a phone the list is a sideways strip: keep this room in view.
      const current = roomList.querySelector(".current");
      if (current) roomList.scrollLeft = current.offsetLeft - roomList.offsetLeft - 8;
    }

    refresh();
    setInterval(() => document.hidden || refresh(), 30000);
    return { refresh, noteActivity, readElsewhere };
  }

  // "now", "5m", "3h", "2d", or a date (刚刚, 5分钟...).
  function ago(at) {
    const minutes = Math.floor((Date.now() - new Date(at)) / 60000);
    if (minutes < 1) return t("ago_now");
    if (minutes < 60) return t("ago_minutes", { count: minutes });
    if (minutes < 24 * 60) return t("ago_hours", { count: Math.floor(minutes / 60) });
    if (minutes < 7 * 24 * 60) return t("ago_days", { count: Math.floor(minutes / 1440) });
    return chatI18n.shortDate(new Date(at));
  }

  return { setup };
})();
