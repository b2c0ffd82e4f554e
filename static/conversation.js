// Replies, edits and reactions on the room page: the parts of a message row
// that show them (the quote it answers, "(edited)", its reactions), the
// tools that make them (Reply, React and, on your own messages, Edit; the Up
// arrow in an empty composer edits your last message; a click on a quote
// jumps to the original), and applying the stream's edit, reaction and
// delete events to rows already shown; and a message's body. Text from users
// only ever goes in with textContent, except a body's `html`: the server
// rendered and sanitized it once (src/rooms/format.rs), so it goes in as is.
//
// app.js renders rows and sends; this file adds to rows and tells app.js
// where a send goes (a new message, a reply, or an edit).
"use strict";

window.ChatConversation = (function () {
  // The picker's choices; any single emoji is accepted by the server.
  const QUICK = ["👍", "❤️", "😂", "🎉", "😮", "😢", "🙏", "👀"];
  const QUOTE_CHARS = 200;

  // page: { list, room, me, form, box, showError, clearError, jumpTo(id) }
  function setup(page) {
    const { list, room, me, form, box } = page;
    const replyField = form.querySelector('input[name="reply_to"]');
    const bar = document.getElementById("composing");
    const barText = bar.querySelector(".composing-what");
    let editing = 0; // the id of the message being edited, else 0
    let picker = null; // the open reaction picker
    let pickerButton = null; // the React button that opened it

    // --- rendering -----------------------------------------------------
    // A message's body: its formatted HTML, its plain text kept beside it
    // for editing and replying.
    function body(message) {
      const div = document.createElement("div");
      div.className = "text";
      fillBody(div, message);
      return div;
    }

    function fillBody(div, message) {
      div.dataset.text = message.text;
      // A message from a server that predates `html` has none: its text.
      if (message.html) div.innerHTML = message.html;
      else div.textContent = message.text;
      openApart(div);
    }

    // Adds the quote, "(edited)" and reactions of `message` to its row.
    function render(li, message) {
      li.dataset.user = message.user;
      if (message.reply_to) li.prepend(quoteNode(message.reply_to));
      const text = li.querySelector(".text");
      if (!text) return;
      if (message.edited_at) text.after(" ", editedNode(message.edited_at));
      li.append(reactionsNode(message.reactions || []));
    }

    function quoteNode(reply) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "quote";
      button.dataset.replyTo = String(reply.id);
      button.title = t("quote_title");
      const user = document.createElement("span");
      user.className = "quote-user";
      user.textContent = reply.display || reply.user;
      user.title = reply.user;
      const text = document.createElement("span");
      text.className = "quote-text";
      text.textContent = reply.text === null ? t("message_deleted") : reply.text;
      button.append(user, " ", text);
      return button;
    }

    function editedNode(at) {
      const span = document.createElement("span");
      span.className = "edited";
      span.dataset.at = at;
      localizeEdited(span);
      span.textContent = t("edited");
      return span;
    }

    function reactionsNode(reactions) {
      const span = document.createElement("span");
      span.className = "reactions";
      for (const r of reactions) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "reaction";
        button.dataset.emoji = r.emoji;
        button.setAttribute("aria-pressed", String(r.users.includes(me)));
        const names = r.users.join(t("list_separator"));
        button.title = r.count > r.users.length ? t("reactions_more", { names, count: r.count - r.users.length }) : names;
        const count = document.createElement("span");
        count.className = "count";
        count.textContent = String(r.count);
        button.append(r.emoji + " ", count);
        span.append(button);
      }
      return span;
    }

    // --- what the stream says ----------------------------------------------
    function row(id) {
      return list.querySelector('li.msg[data-id="' + Number(id) + '"]');
    }

    function applyEdit(message) {
      const li = row(message.id);
      const text = li && li.querySelector(".text");
      if (text) {
        fillBody(text, message);
        const old = li.querySelector(".edited");
        if (old) old.remove();
        if (message.edited_at) text.after(" ", editedNode(message.edited_at));
      }
      for (const quote of list.querySelectorAll('.quote[data-reply-to="' + Number(message.id) + '"] .quote-text')) {
        quote.textContent = message.text.slice(0, QUOTE_CHARS);
      }
    }

    function applyReactions(id, reactions) {
      const li = row(id);
      const old = li && li.querySelector(".reactions");
      if (old) old.replaceWith(reactionsNode(reactions));
    }

    function applyDelete(id) {
      for (const el of list.querySelectorAll('li.msg[data-id="' + Number(id) + '"] .reactions, li.msg[data-id="' + Number(id) + '"] .edited, li.msg[data-id="' + Number(id) + '"] .msg-tools')) el.remove();
      for (const quote of list.querySelectorAll('.quote[data-reply-to="' + Number(id) + '"] .quote-text')) {
        quote.textContent = t("message_deleted");
      }
      if (editing === Number(id)) reset();
    }

    // --- the tools on a row ----------------------------------------------
    function decorate(li) {
      if (li.classList.contains("deleted") || li.querySelector(".msg-tools")) return;
      const tools = document.createElement("span");
      tools.className = "msg-tools";
      const react = tool("react", "☺", t("react"));
      react.setAttribute("aria-expanded", "false");
      tools.append(tool("reply", "↩", t("reply")), react, tool("link", "🔗", t("copy_link")));
      if (li.dataset.user === me) tools.append(tool("edit", "✎", t("edit")));
      li.append(tools);
    }

    function tool(name, symbol, label) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "tool tool-" + name;
      button.textContent = symbol;
      button.title = label;
      button.setAttribute("aria-label", label);
      return button;
    }

    list.addEventListener("click", (event) => {
      const target = event.target.closest("button");
      const li = target && target.closest("li.msg");
      if (!li) return;
      if (target.classList.contains("quote")) page.jumpTo(Number(target.dataset.replyTo));
      else if (target.classList.contains("reaction")) {
        react(li, target.dataset.emoji, target.getAttribute("aria-pressed") !== "true");
      } else if (target.classList.contains("tool-reply")) startReply(li);
      else if (target.classList.contains("tool-edit")) startEdit(li);
      else if (target.classList.contains("tool-react")) openPicker(li, target);
      else if (target.classList.contains("tool-link")) copyLink(li, target);
      else if (target.classList.contains("pick")) {
        closePicker(true);
        react(li, target.textContent, true);
      }
    });

    // The message's permalink, to the clipboard where the browser allows
    // it (secure pages only), else shown for the reader to copy.
    async function copyLink(li, button) {
      const link = location.origin + "/rooms/" + room + "?at=" + Number(li.dataset.id);
      try {
        await navigator.clipboard.writeText(link);
        button.title = t("link_copied");
        button.setAttribute("aria-label", t("link_copied"));
      } catch (_) {
        window.prompt(t("copy_this_link"), link);
      }
    }

    async function react(li, emoji, on) {
      const path = "/rooms/" + room + "/messages/" + li.dataset.id + "/reactions";
      const answer = await post(path, { emoji, on });
      if (answer) applyReactions(answer.id, answer.reactions);
    }

    function openPicker(li, button) {
      closePicker();
      picker = document.createElement("span");
      picker.className = "picker";
      picker.setAttribute("role", "group");
      picker.setAttribute("aria-label", t("pick_reaction"));
      for (const emoji of QUICK) {
        const choice = document.createElement("button");
        choice.type = "button";
        choice.className = "pick";
        choice.textContent = emoji;
        picker.append(choice);
      }
      picker.addEventListener("keydown", pickerKeys);
      button.after(picker);
      button.setAttribute("aria-expanded", "true");
      pickerButton = button;
      picker.querySelector("button").focus();
    }

    // Closes the picker; `refocus` puts the keyboard back on its React
    // button (after a pick or Escape), so the reader's place is kept.
    function closePicker(refocus) {
      if (picker) picker.remove();
      picker = null;
      if (!pickerButton) return;
      pickerButton.setAttribute("aria-expanded", "false");
      if (refocus && pickerButton.isConnected) pickerButton.focus();
      pickerButton = null;
    }
    // Left and Right (and Home, End) move between the choices.
    function pickerKeys(event) {
      const all = [...picker.querySelectorAll(".pick")];
      const at = all.indexOf(document.activeElement);
      const moves = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: all.length - 1 };
      if (!(event.key in moves)) return;
      event.preventDefault();
      all[(moves[event.key] + all.length) % all.length].focus();
    }
    document.addEventListener("keydown", (event) => event.key === "Escape" && !chatI18n.composing(event) && picker && closePicker(true));
    // A click anywhere else closes it.
    document.addEventListener("click", (event) => {
      if (picker && !picker.contains(event.target) && event.target !== pickerButton) closePicker(false);
    });

    // Posts; on refusal shows the server's reason and answers null.
    async function post(path, body) {
      const answer = await postJson(path, body);
      if (answer.ok) {
        page.clearError();
        return answer.body;
      }
      page.showError(
        answer.body.message ||
          answer.body.error ||
          (answer.status ? t("failed_status", { status: answer.status }) : t("unreachable")),
      );
      return null;
    }

    // --- the composer ------------------------------------------------------
    function startReply(li) {
      reset();
      replyField.value = li.dataset.id;
      const text = li.querySelector(".text");
      show(t("replying_to", { name: li.dataset.user, text: text ? text.dataset.text.slice(0, 80) : "" }));
      box.focus();
    }

    function startEdit(li) {
      const text = li.querySelector(".text");
      if (!text) return;
      reset();
      editing = Number(li.dataset.id);
      box.value = text.dataset.text;
      show(t("editing"));
      box.focus();
    }

    function show(what) {
      barText.textContent = what;
      bar.hidden = false;
    }

    function reset() {
      editing = 0;
      replyField.value = "";
      bar.hidden = true;
    }
    bar.querySelector(".composing-cancel").addEventListener("click", () => {
      if (editing) box.value = "";
      reset();
      box.focus();
    });

    // Escape and Up belong to an input method while it composes.
    box.addEventListener("keydown", (event) => {
      if (chatI18n.composing(event)) return;
      if (event.key === "Escape" && !bar.hidden) {
        if (editing) box.value = "";
        reset();
      } else if (event.key === "ArrowUp" && box.value === "" && !editing) {
        const mine = [...list.querySelectorAll("li.msg:not(.deleted)")].filter((li) => li.dataset.user === me);
        if (mine.length === 0) return;
        event.preventDefault();
        startEdit(mine[mine.length - 1]);
      }
    });

    // Where the composer's text goes: an edit, or a new message (maybe a reply).
    function target(text) {
      if (editing) return { path: "/rooms/" + room + "/messages/" + editing + "/edit", body: { text }, edit: true };
      const reply = Number(replyField.value) || null;
      return { path: form.action, body: reply ? { text, reply_to: reply } : { text }, edit: false };
    }

    // Links out of the chat open in a new tab (their rel already keeps the
    // page from reaching back); room and conversation links stay here.
    function openApart(root) {
      for (const a of root.querySelectorAll('a[href^="http"]')) a.target = "_blank";
    }
    for (const text of list.querySelectorAll("li.msg .text")) openApart(text);

    return { body, render, decorate, applyEdit, applyReactions, applyDelete, target, reset };
  }

  return { setup };
})();
