// The room page: live messages (through the browser's one shared stream, see
// live.js), who is online with join and leave notices, older history on
// scrolling up, unread count in the title, @mentions, sending
// with fetch (Enter or Ctrl+Enter, as the settings ask; never the Enter
// that confirms an input method's characters), times in the reader's zone,
// language and clock, deleted messages as tombstones (the moderation
// menu itself is moderation.js; replies, edits and reactions are
// conversation.js; typing, reading and notifications people.js; the room
// list sidebar.js; attached files uploads.js). Text from users is only ever
// inserted with textContent, never as HTML, except a message's body: HTML the
// server rendered and sanitized (see conversation.js); join and leave lines
// exist only on this page.
"use strict";

(function () {
  const chat = document.getElementById("chat");
  localizeTimes(document);
  if (!chat) return;

  const PAGE = 50; // messages per history page (the server shows the latest 50)
  const room = chat.dataset.room;
  const me = chat.dataset.me;
  const role = chat.dataset.role || "guest";
  const list = document.getElementById("messages");
  const state = document.getElementById("state");
  const form = document.getElementById("send");
  const box = form.querySelector("textarea");
  const mention = mentionPattern(me);
  const baseTitle = document.title;

  // The per-message menu; its actions' refusals show in the error line.
  const moderation = window.ChatModeration.setup({ chat, room, me, role, showError, clearError, onDeleted: deleted });
  const conversation = window.ChatConversation.setup({ list, room, me, form, box, showError, clearError, jumpTo });
  const people = window.ChatPeople.setup({ chat, list, room, me, role, box, mention, jumpTo });
  const sidebar = window.ChatSidebar.setup({ room, me });
  const uploads = window.ChatUploads.setup({ chat, room, form, box, showError, clearError });
  window.ChatMentions.setup({ box, list, online: document.getElementById("online") });

  // Every message id on the page: nothing is ever shown twice.
  const seen = new Set();
  // Ids deleted while this page was open, in case one arrives after that.
  const deletedIds = new Set();
  // How far into the room's sequence (messages and changes) the page is:
  // where its stream resumes.
  let newest = Number(chat.dataset.position) || 0;
  for (const li of list.querySelectorAll("li.msg")) {
    seen.add(Number(li.dataset.id));
    if (li.classList.contains("deleted")) continue;
    if (mention.test(li.querySelector(".text").dataset.text)) li.classList.add("mention");
    conversation.decorate(li);
    moderation.decorate(li);
  }
  let historyDone = seen.size < PAGE;
  if (historyDone && seen.size > 0) markHistoryStart();
  let unread = 0;

  // --- offline (offline.js) ---------------------------------------------
  // A page from the service worker's cache may be older than what this
  // browser last showed: then show that, and resume the stream from it.
  const offline = window.ChatOffline;
  const snapshot = offline.snapshot({ room, position: newest, permalink: Boolean(chat.dataset.at) });
  const saved = snapshot.restore();
  if (saved) {
    seen.clear();
    list.replaceChildren();
    historyDone = false;
    for (const message of saved.messages) show(message, false);
    newest = saved.position;
  } else snapshot.seed(JSON.parse(list.dataset.snapshot || "[]"));
  let streamState = "connecting";
  offline.onChange(() => setState(streamState));

  // --- live -------------------------------------------------------------
  // The stream's state: its name is the class (and what tabs tell each
  // other), its words the page's language.
  const STATES = { connecting: t("connecting"), connected: t("connected"), reconnecting: t("reconnecting"), offline: t("offline") };
  setState("connecting");
  window.ChatLive.connect({
    room,
    me,
    after: () => newest,
    onState: setState,
    onRole: (role) => (chat.dataset.stream = role),
    onEvent(kind, data) {
      if (data.seq) newest = Math.max(newest, data.seq);
      snapshot.event(kind, data);
      if (kind === "message") show(data, true);
      else if (kind === "presence") showPresence(data);
      else if (kind === "edit") conversation.applyEdit(data);
      else if (kind === "typing") people.onTyping(data);
      else if (kind === "read") {
        people.onRead(data);
        sidebar.readElsewhere(data.room);
      }
      else if (kind === "reaction") conversation.applyReactions(data.id, data.reactions);
      else if (kind === "delete") deleted(data.id);
      else if (kind === "reset") {
        seen.clear();
        newest = 0;
        historyDone = false;
        list.replaceChildren();
      }
    },
  });
  // Messages posted between rendering this page and joining the shared
  // stream (which may be further along already).
  // A network failure here is the first sign of an offline start.
  fetch("/rooms/" + room + "/messages?limit=200&after=" + newest, { headers: { Accept: "application/json" } })
    .then(
      (response) => (response.ok ? response.json() : []),
      () => {
        offline.report("offline");
        return [];
      },
    )
    .then((missed) => {
      for (const message of missed) show(message, true);
    }, () => {});

  // The stream's state; while the network is known to be gone, retrying
  // shows as "offline".
  function setState(name) {
    streamState = name;
    offline.report(name);
    const shown = offline.isOffline() && name !== "connected" ? "offline" : name;
    state.textContent = STATES[shown] || shown;
    state.className = "state " + shown;
  }

  function show(message, live) {
    if (seen.has(message.id)) return;
    seen.add(message.id);
    newest = Math.max(newest, message.id);
    const stick = nearBottom();
    const empty = list.querySelector(".empty");
    if (empty) empty.remove();
    const li = messageItem(message);
    // Keep id order even if a message arrives out of turn.
    let after = list.lastElementChild;
    while (after && after.classList.contains("msg") && Number(after.dataset.id) > message.id) {
      after = after.previousElementSibling;
    }
    if (after) after.after(li);
    else list.prepend(li);
    if (stick) list.scrollTop = list.scrollHeight;
    snapshot.put(message);
    people.onMessage(message, live);
    if (live) {
      sidebar.noteActivity(message);
      if (document.hidden && message.user !== me) {
        unread += 1;
        updateTitle();
      }
    }
  }

  function messageItem(message) {
    const li = document.createElement("li");
    li.className = "msg";
    li.dataset.id = String(message.id);
    const time = document.createElement("time");
    time.dateTime = message.at;
    localizeTime(time);
    const user = document.createElement("span");
    user.className = message.guest ? "user guest" : "user";
    user.textContent = message.display || message.user;
    user.title = message.user; // the handle, on hover
    user.prepend(avatarImage(message.user));
    li.append(time, " ", user, " ");
    if (message.deleted || deletedIds.has(message.id)) {
      li.classList.add("deleted");
      li.append(tombstoneText());
      conversation.render(li, message);
      return li;
    }
    li.append(conversation.body(message));
    uploads.render(li, message);
    conversation.render(li, message);
    if (mention.test(message.text)) li.classList.add("mention");
    conversation.decorate(li);
    moderation.decorate(li);
    return li;
  }

  // A message was deleted (here, or announced by the stream): its row
  // becomes a tombstone at once, with no text and no menu.
  function deleted(id) {
    deletedIds.add(id);
    snapshot.deleted(id);
    conversation.applyDelete(id);
    const li = list.querySelector('li.msg[data-id="' + Number(id) + '"]');
    if (!li || li.classList.contains("deleted")) return;
    moderation.strip(li);
    uploads.strip(li);
    li.classList.remove("mention");
    li.classList.add("deleted");
    const text = li.querySelector(".text");
    if (text) text.replaceWith(tombstoneText());
    else li.append(tombstoneText());
  }

  function tombstoneText() {
    const span = document.createElement("span");
    span.className = "tombstone";
    span.textContent = t("message_deleted");
    return span;
  }

  // A join or leave notice: a line on this page only, never a message.
  function systemLine(text) {
    const stick = nearBottom();
    const li = document.createElement("li");
    li.className = "system";
    const time = document.createElement("time");
    time.dateTime = new Date().toISOString();
    localizeTime(time);
    li.append(time, " ", text);
    list.append(li);
    if (stick) list.scrollTop = list.scrollHeight;
  }

  function nearBottom() {
    return list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  }

  // --- who is online ----------------------------------------------------
  const onlineList = document.getElementById("online");
  const onlineCount = document.getElementById("online-count");
  let online = null; // key -> member, after the first list
  let onlineComplete = false; // whether that list named everyone

  function showPresence(presence) {
    const next = new Map(presence.online.map((m) => [(m.guest ? "g:" : "m:") + m.user, m]));
    // A crowded room lists only its first names (and counts everyone); who
    // joined or left is then unknowable, and would be noise anyway.
    const everyone = presence.count === undefined || presence.count <= presence.online.length;
    if (online && onlineComplete && everyone) {
      for (const [key, m] of next) if (!online.has(key) && m.user !== me) systemLine(t("joined", { name: m.display || m.user }));
      for (const [key, m] of online) if (!next.has(key) && m.user !== me) systemLine(t("left", { name: m.display || m.user }));
    }
    online = next;
    onlineComplete = everyone;
    onlineCount.textContent = String(presence.count ?? next.size);
    const items = [...next.values()].map((m) => {
      const li = document.createElement("li");
      li.dataset.user = m.user;
      const name = document.createElement("span");
      name.className = m.guest ? "user guest" : "user";
      name.textContent = m.display || m.user;
      name.title = m.user; // the handle, on hover
      name.prepend(avatarImage(m.user));
      li.append(name);
      if (m.guest) li.append(tag(t("tag_guest")));
      if (m.user === me) li.append(tag(t("tag_you")));
      return li;
    });
    onlineList.replaceChildren(...items);
  }

  function tag(text) {
    const span = document.createElement("span");
    span.className = "tag";
    span.textContent = text;
    return span;
  }

  // --- older history ----------------------------------------------------
  let loadingOlder = false;
  list.addEventListener("scroll", () => list.scrollTop < 150 && loadOlder(), { passive: true });

  // Shows message `id`: on this page if it is here or a page or two
  // older, else by opening its permalink (the history around it).
  async function jumpTo(id) {
    for (let pages = 0; !seen.has(id) && !historyDone && pages < 2; pages++) await loadOlder();
    const li = list.querySelector('li.msg[data-id="' + Number(id) + '"]');
    if (!li) return location.assign("/rooms/" + room + "?at=" + Number(id));
    li.scrollIntoView({ block: "center" });
    li.classList.add("flash");
    setTimeout(() => li.classList.remove("flash"), 2000);
  }

  async function loadOlder() {
    if (loadingOlder || historyDone) return;
    const first = list.querySelector("li.msg");
    if (!first) return;
    loadingOlder = true;
    // Screen readers hold the live list's news while older rows go in.
    list.setAttribute("aria-busy", "true");
    const older = await fetchJson("/rooms/" + room + "/messages?limit=" + PAGE + "&before=" + first.dataset.id);
    loadingOlder = false;
    list.removeAttribute("aria-busy");
    if (!older) return;
    // Keep what the reader looks at in place while rows go in above it.
    const fromBottom = list.scrollHeight - list.scrollTop;
    const rows = older.filter((m) => !seen.has(m.id));
    for (const m of rows) seen.add(m.id);
    first.before(...rows.map(messageItem));
    list.scrollTop = list.scrollHeight - fromBottom;
    if (older.length < PAGE) {
      historyDone = true;
      markHistoryStart();
    } else if (list.scrollHeight <= list.clientHeight) {
      loadOlder();
    }
  }

  function markHistoryStart() {
    const li = document.createElement("li");
    li.className = "system history-start";
    li.textContent = t("history_start", { room: "#" + room });
    list.prepend(li);
  }

  // --- unread count -----------------------------------------------------
  function updateTitle() {
    document.title = unread ? "(" + unread + ") " + baseTitle : baseTitle;
  }
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) return;
    unread = 0;
    updateTitle();
    sidebar.refresh();
  });


  // --- sending ----------------------------------------------------------
  // "Skip to the message box" puts the keyboard there (a fragment link
  // alone would scroll to the box but not every browser focuses it).
  const skip = document.querySelector("a.skip");
  if (skip) {
    skip.addEventListener("click", (event) => {
      event.preventDefault();
      box.focus();
    });
  }
  // Enter sends (Shift+Enter is a new line), or with the ctrl-enter
  // setting Ctrl+Enter (Cmd+Enter on a Mac) sends and Enter is a new line.
  // The Enter that confirms an input method's characters never sends.
  box.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || chatI18n.composing(event)) return;
    const sends = chatI18n.sendKey === "ctrl-enter" ? event.ctrlKey || event.metaKey : !event.shiftKey;
    if (!sends) return;
    event.preventDefault();
    form.requestSubmit();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = box.value;
    const target = conversation.target(text);
    const button = form.querySelector('button[type="submit"]');
    if (uploads.pending() && !target.edit) {
      button.disabled = true;
      const message = await uploads.send(target.body);
      button.disabled = false;
      if (!message) return;
      box.value = "";
      conversation.reset();
      show(message, true);
      list.scrollTop = list.scrollHeight;
      clearError();
      return box.focus();
    }
    if (!text.trim()) return;
    button.disabled = true;
    try {
      const response = await fetch(target.path, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(target.body),
      });
      const body = await response.json().catch(() => ({}));
      if (response.ok) {
        box.value = "";
        conversation.reset();
        if (target.edit) conversation.applyEdit(body);
        else show(body, true);
        if (!target.edit) list.scrollTop = list.scrollHeight;
        clearError();
      } else {
        showError(body.message || body.error || t("send_failed", { status: response.status }));
      }
    } catch (e) {
      showError(t("send_unreachable"));
    } finally {
      button.disabled = false;
      box.focus();
    }
  });

  function showError(reason) {
    let p = chat.querySelector("p.error");
    if (!p) {
      p = document.createElement("p");
      p.className = "error";
      p.setAttribute("role", "alert");
      form.before(p);
    }
    p.textContent = reason;
  }
  function clearError() {
    const p = chat.querySelector("p.error");
    if (p) p.remove();
  }

  // A page restored from the back-forward cache has lost its stream.
  window.addEventListener("pageshow", (event) => event.persisted && location.reload());

  // A permalink (?at=) opens at its message, highlighted; any other page
  // at the newest.
  const target = chat.dataset.at && list.querySelector('li.msg[data-id="' + Number(chat.dataset.at) + '"]');
  if (target) {
    target.classList.add("permalink");
    target.setAttribute("aria-current", "true");
    target.scrollIntoView({ block: "center" });
  } else list.scrollTop = list.scrollHeight;
  if (!historyDone && list.scrollHeight <= list.clientHeight) loadOlder();
})();

// POSTs `body` as JSON (the way every action of the page is sent: a page on
// another site cannot) and answers { ok, status, body } (status 0 when the
// server cannot be reached); never throws.
async function postJson(path, body) {
  try {
    const response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
    });
    const answer = await response.json().catch(() => ({}));
    return { ok: response.ok, status: response.status, body: answer };
  } catch (e) {
    return { ok: false, status: 0, body: {} };
  }
}

async function fetchJson(path) {
  try {
    const response = await fetch(path, { headers: { Accept: "application/json" } });
    return response.ok ? await response.json() : null;
  } catch (e) {
    return null;
  }
}

// `@name` as a word, any case; a trailing full stop still counts.
function mentionPattern(name) {
  const escaped = name.replace(/[.*+?^${}()|[\]\\-]/g, "\\$&");
  return new RegExp("(^|[^\\w@.-])@" + escaped + "(?![\\w-]|\\.\\w)", "i");
}

// Server times are UTC; show them in the reader's own time zone, in the
// page's language and clock (12 or 24 hours): every <time> the server
// wrote, and each "(edited)" with its time on hover.
function localizeTimes(root) {
  for (const time of root.querySelectorAll("time[datetime]")) localizeTime(time);
  for (const edited of root.querySelectorAll(".edited[data-at]")) localizeEdited(edited);
}
function localizeTime(time) {
  const at = new Date(time.dateTime);
  if (isNaN(at)) return;
  time.textContent = chatI18n.stamp(at);
  time.title = chatI18n.dateTime(at);
}
function localizeEdited(span) {
  const at = new Date(span.dataset.at);
  if (!isNaN(at)) span.title = t("edited_at", { time: chatI18n.dateTime(at) });
}

// Someone's picture (their upload, or one the server draws from the
// handle): one address per person, so the browser fetches it once.
function avatarImage(handle) {
  const img = document.createElement("img");
  img.className = "avatar";
  img.src = "/avatars/" + encodeURIComponent(handle);
  img.alt = "";
  img.width = 20;
  img.height = 20;
  return img;
}
