// Typing, read positions and notifications on the room page: "alice is
// typing…" (shown for 5 s after her last signal, cleared when her message
// arrives), telling the room you are typing (at most once each 2 s), the
// "New messages" divider where you left off, telling the server how far you
// have read (guests: this browser only), the unread count on the tab's icon,
// and opt-in browser notifications for mentions and direct messages while
// the tab is hidden or unfocused (never your own, never from people you
// blocked). Text from users only ever goes in with textContent.
"use strict";

window.ChatPeople = (function () {
  const TYPING_SHOWN_MS = 5000;
  const TYPING_EVERY_MS = 2000;

  // page: { chat, list, room, me, role, box, mention (RegExp), jumpTo(id) }
  // Returns { onTyping(data), onRead(data), onMessage(message, live), markRead() }.
  function setup(page) {
    const { chat, list, room, me, box } = page;
    const dm = chat.dataset.dm === "true";
    const guest = page.role === "guest";

    // --- who is typing ---------------------------------------------------
    const typingLine = document.getElementById("typing");
    const typing = new Map(); // user -> { timer, display }

    function onTyping(data) {
      if (data.user === me) return;
      clearTimeout(typing.get(data.user)?.timer);
      const timer = setTimeout(() => stopTyping(data.user), TYPING_SHOWN_MS);
      typing.set(data.user, { timer, display: data.display || data.user });
      renderTyping();
    }

    function stopTyping(user) {
      if (!typing.has(user)) return;
      clearTimeout(typing.get(user).timer);
      typing.delete(user);
      renderTyping();
    }

    function renderTyping() {
      const names = [...typing.values()].map((who) => who.display);
      typingLine.textContent =
        names.length === 0
          ? ""
          : names.length === 1
            ? t("typing_one", { name: names[0] })
            : names.length === 2
              ? t("typing_two", { first: names[0], second: names[1] })
              : t("typing_many");
    }

    let lastTyping = 0;
    box.addEventListener("input", () => {
      if (!box.value.trim() || Date.now() - lastTyping < TYPING_EVERY_MS) return;
      lastTyping = Date.now();
      postJson("/rooms/" + room + "/typing", {});
    });

    // --- how far you have read ---------------------------------------------
    const guestKey = "chat-read:" + room;
    let read = guest ? Number(localStorage.getItem(guestKey)) || 0 : Number(chat.dataset.read) || 0;
    let unread = 0;
    let saving = 0;

    // Where you left off: before the first message since, not your own.
    if (read) {
      const first = [...list.querySelectorAll("li.msg")].find(
        (li) => Number(li.dataset.id) > read && li.dataset.user !== me,
      );
      if (first) {
        const divider = document.createElement("li");
        divider.className = "divider";
        divider.setAttribute("role", "separator");
        divider.textContent = t("new_messages");
        first.before(divider);
      }
    }

    function newestShown() {
      const rows = list.querySelectorAll("li.msg");
      return rows.length ? Number(rows[rows.length - 1].dataset.id) : 0;
    }

    // Read up to what is on screen, once the reader is looking at the end.
    function markRead() {
      if (document.hidden || !document.hasFocus()) return;
      if (list.scrollHeight - list.scrollTop - list.clientHeight > 40) return;
      const id = newestShown();
      if (id <= read) return;
      read = id;
      setUnread(0);
      if (guest) return localStorage.setItem(guestKey, String(id));
      clearTimeout(saving);
      saving = setTimeout(() => postJson("/rooms/" + room + "/read", { id: read }), 300);
    }
    list.addEventListener("scroll", markRead, { passive: true });
    window.addEventListener("focus", markRead);
    document.addEventListener("visibilitychange", markRead);

    // Another device of this account read further.
    function onRead(data) {
      if (data.room !== room || data.id <= read) return;
      read = data.id;
      setUnread(0);
    }

    // The count on the tab's icon (drawn by the server: no data: URLs).
    function setUnread(count) {
      unread = count;
      const icon = document.querySelector('link[rel="icon"]');
      if (icon) icon.href = "/favicon.svg" + (unread ? "?unread=" + unread : "");
    }

    // --- notifications -----------------------------------------------------
    let level = "mentions";
    let blocked = new Set();
    if (!guest) {
      fetchJson("/api/settings").then((settings) => settings && (level = settings.notify));
      fetchJson("/api/blocks").then((list) => list && (blocked = new Set(list.blocked.map((n) => n.toLowerCase()))));
    }
    const enable = document.getElementById("notify");
    if (enable && "Notification" in window && Notification.permission === "default") {
      enable.hidden = false;
      enable.addEventListener("click", async () => {
        await Notification.requestPermission();
        enable.hidden = true;
      });
    }

    function onMessage(message, live) {
      stopTyping(message.user);
      if (!live || message.user === me) return;
      const away = document.hidden || !document.hasFocus();
      if (!away) return markRead();
      if (message.id > read) setUnread(unread + 1);
      if (blocked.has(message.user.toLowerCase())) return;
      const wanted = level === "all" || (level === "mentions" && (dm || page.mention.test(message.text)));
      if (!wanted || !("Notification" in window) || Notification.permission !== "granted") return;
      const author = message.display || message.user;
      const title = dm ? author : t("notify_in_room", { name: author, room: "#" + room });
      const note = new Notification(title, { body: message.text.slice(0, 200), tag: room + ":" + message.id });
      note.addEventListener("click", () => {
        window.focus();
        page.jumpTo(message.id);
        note.close();
      });
    }

    return { onTyping, onRead, onMessage, markRead };
  }

  return { setup };
})();
