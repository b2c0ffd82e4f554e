// The room page: live messages over EventSource, sending with fetch, local
// times. Message text is only ever inserted with textContent, never as HTML.
"use strict";

(function () {
  const chat = document.getElementById("chat");
  localizeTimes(document);
  if (!chat) return;

  const room = chat.dataset.room;
  const list = document.getElementById("messages");
  const state = document.getElementById("state");
  const form = document.getElementById("send");
  const box = form.querySelector("textarea");
  const seen = new Set();
  for (const li of list.querySelectorAll("li.msg")) seen.add(Number(li.dataset.id));

  // --- live stream -------------------------------------------------------
  // The page already shows history up to data-last-id; the stream resumes
  // from there (later reconnects send Last-Event-ID themselves).
  const source = new EventSource(
    "/rooms/" + encodeURIComponent(room) + "/events?last_event_id=" + encodeURIComponent(chat.dataset.lastId)
  );
  source.addEventListener("open", () => setState("connected"));
  source.addEventListener("error", () => setState(source.readyState === EventSource.CLOSED ? "offline" : "reconnecting"));
  source.addEventListener("message", (event) => show(JSON.parse(event.data)));
  source.addEventListener("reset", () => {
    seen.clear();
    list.replaceChildren();
  });

  function setState(name) {
    state.textContent = name;
    state.className = "state " + name;
  }

  function show(message) {
    if (seen.has(message.id)) return;
    seen.add(message.id);
    const stick = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    const empty = list.querySelector(".empty");
    if (empty) empty.remove();
    const li = document.createElement("li");
    li.className = "msg";
    li.dataset.id = String(message.id);
    const time = document.createElement("time");
    time.dateTime = message.at;
    const user = document.createElement("span");
    user.className = message.guest ? "user guest" : "user";
    user.textContent = message.user;
    const text = document.createElement("span");
    text.className = "text";
    text.textContent = message.text;
    li.append(time, " ", user, " ", text);
    localizeTime(time);
    // Keep id order even if a message arrives out of turn.
    let after = list.lastElementChild;
    while (after && Number(after.dataset.id) > message.id) after = after.previousElementSibling;
    if (after) after.after(li); else list.prepend(li);
    if (stick) list.scrollTop = list.scrollHeight;
  }

  // --- sending -----------------------------------------------------------
  box.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = box.value;
    if (!text.trim()) return;
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const response = await fetch(form.action, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ text }),
      });
      const body = await response.json().catch(() => ({}));
      if (response.status === 201) {
        box.value = "";
        show(body);
        clearError();
      } else {
        showError(body.error || "sending failed (" + response.status + ")");
      }
    } catch (e) {
      showError("sending failed: the server cannot be reached");
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

  list.scrollTop = list.scrollHeight;
})();

// Server times are UTC; show them in the reader's own time zone.
function localizeTimes(root) {
  for (const time of root.querySelectorAll("time[datetime]")) localizeTime(time);
}
function localizeTime(time) {
  const at = new Date(time.dateTime);
  if (isNaN(at)) return;
  const sameDay = at.toDateString() === new Date().toDateString();
  time.textContent = sameDay
    ? at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : at.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  time.title = at.toLocaleString();
}
