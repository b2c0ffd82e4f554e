// Moderation on the room page: a "⋯" button on each message the reader may
// act on, opening a small menu (Delete, Mute, Kick, Ban), and for moderators
// a Lock/Unlock control in the room header. The menus only offer what the
// reader's role allows; the server checks every action again, and its reason
// for a refusal shows in the page's error line. Each action is a JSON POST
// (a page on another site cannot send one). Text only ever goes in with
// textContent.
//
// This file builds menus and posts actions; app.js renders the messages and
// turns deleted ones into tombstones.
"use strict";

window.ChatModeration = (function () {
  // Authors may delete their own messages this long (the server's rule).
  const AUTHOR_WINDOW_MS = 5 * 60 * 1000;
  // How the server signs the messages of a deleted account.
  const DELETED_USER = "deleted user";
  const RANK = { guest: 0, member: 1, moderator: 2, admin: 3 };

  // page: { chat, room, me, role, showError(reason), clearError(), onDeleted(id) }
  // Returns { decorate(li), strip(li) } for app.js to call on message rows.
  function setup(page) {
    const rank = RANK[page.role] || 0;
    const moderates = rank >= RANK.moderator;
    let open = null; // the open menu: { li, button, menu }

    // --- what the reader may do with a message ---------------------------
    function authorOf(li) {
      const user = li.querySelector(".user");
      return {
        user: user ? user.textContent : "",
        guest: !!user && user.classList.contains("guest"),
        at: new Date(li.querySelector("time").dateTime).getTime(),
      };
    }

    function actionsFor(li) {
      const id = li.dataset.id;
      const author = authorOf(li);
      const own = rank >= RANK.member && !author.guest && author.user.toLowerCase() === page.me.toLowerCase();
      const actions = [];
      if (moderates || (own && Date.now() - author.at < AUTHOR_WINDOW_MS)) {
        actions.push({
          name: "delete",
          label: t("delete"),
          path: "/rooms/" + page.room + "/messages/" + id + "/delete",
          body: {},
          done: () => page.onDeleted(Number(id)),
        });
      }
      if (moderates && !own && author.user && author.user !== DELETED_USER) {
        const user = author.user;
        const room = "/rooms/" + page.room;
        actions.push({ name: "mute-10", label: t("mute_10"), path: room + "/mute", body: { user, minutes: 10 } });
        actions.push({ name: "mute-60", label: t("mute_60"), path: room + "/mute", body: { user, minutes: 60 } });
        actions.push({ name: "kick", label: t("kick"), path: room + "/kick", body: { user } });
        // Moderators may ban too (the server's rule); only roles need an admin.
        actions.push({
          name: "ban",
          label: t("ban"),
          danger: true,
          path: "/admin/ban",
          body: { user, banned: true },
          confirm: t("ban_confirm", { name: user }),
        });
      }
      return actions;
    }

    // --- the "⋯" button ------------------------------------------------
    // Adds the button to a message row if the reader may act on it.
    function decorate(li) {
      if (rank < RANK.member || li.classList.contains("deleted") || li.querySelector(".msg-actions")) return;
      if (actionsFor(li).length === 0) return;
      const button = document.createElement("button");
      button.type = "button";
      button.className = "msg-actions";
      button.textContent = "⋯";
      button.title = t("message_actions");
      button.setAttribute("aria-label", t("message_actions_by", { name: authorOf(li).user }));
      button.setAttribute("aria-haspopup", "menu");
      button.setAttribute("aria-expanded", "false");
      button.addEventListener("click", () => (open && open.button === button ? close(true) : openMenu(li, button)));
      button.addEventListener("keydown", (event) => {
        if (event.key === "ArrowDown" || event.key === "ArrowUp") {
          event.preventDefault();
          if (!open || open.button !== button) openMenu(li, button);
          focusItem(event.key === "ArrowDown" ? 0 : -1);
        }
      });
      (li.querySelector(".msg-tools") || li).append(button);
    }

    // Removes the button and its menu (a deleted message has neither).
    function strip(li) {
      if (open && open.li === li) close(false);
      for (const el of li.querySelectorAll(".msg-actions, .msg-menu")) el.remove();
    }

    // --- the menu ---------------------------------------------------------
    function openMenu(li, button) {
      close(false);
      const actions = actionsFor(li);
      if (actions.length === 0) {
        // An own message whose five minutes ran out while the page was open.
        button.remove();
        page.showError(t("delete_window_over"));
        return;
      }
      const menu = document.createElement("ul");
      menu.className = "msg-menu";
      menu.setAttribute("role", "menu");
      menu.setAttribute("aria-label", button.getAttribute("aria-label"));
      for (const action of actions) {
        const item = document.createElement("li");
        item.setAttribute("role", "none");
        const choice = document.createElement("button");
        choice.type = "button";
        choice.setAttribute("role", "menuitem");
        choice.tabIndex = -1;
        choice.textContent = action.label;
        choice.dataset.action = action.name;
        if (action.danger) choice.className = "destructive";
        choice.addEventListener("click", () => run(action, menu));
        item.append(choice);
        menu.append(item);
      }
      menu.addEventListener("keydown", menuKeys);
      li.append(menu);
      // Open upwards when there is no room below inside the message list.
      const list = li.closest(".messages") || li.parentElement;
      if (menu.getBoundingClientRect().bottom > list.getBoundingClientRect().bottom) menu.classList.add("up");
      button.setAttribute("aria-expanded", "true");
      li.classList.add("menu-open");
      open = { li, button, menu };
      focusItem(0);
    }

    function close(refocus) {
      if (!open) return;
      const { li, button, menu } = open;
      open = null;
      menu.remove();
      li.classList.remove("menu-open");
      button.setAttribute("aria-expanded", "false");
      if (refocus && button.isConnected) button.focus();
    }

    function items() {
      return open ? [...open.menu.querySelectorAll("[role=menuitem]")] : [];
    }

    // Focuses item `index` (negative counts from the end), wrapping around.
    function focusItem(index) {
      const all = items();
      if (all.length) all[((index % all.length) + all.length) % all.length].focus();
    }

    function menuKeys(event) {
      const at = items().indexOf(document.activeElement);
      const moves = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: -1 };
      if (event.key in moves) {
        event.preventDefault();
        focusItem(moves[event.key]);
      } else if (event.key === "Escape") {
        event.preventDefault();
        close(true);
      } else if (event.key === "Tab") {
        close(true); // and Tab goes on from the "⋯" button
      }
    }

    // A click anywhere else, or Escape anywhere, closes the menu.
    document.addEventListener("click", (event) => {
      if (open && !open.menu.contains(event.target) && !open.button.contains(event.target)) close(false);
    });
    document.addEventListener("keydown", (event) => event.key === "Escape" && !chatI18n.composing(event) && close(true));

    async function run(action, menu) {
      if (action.confirm && !window.confirm(action.confirm)) return;
      const choices = menu.querySelectorAll("button");
      for (const choice of choices) choice.disabled = true;
      const ok = await post(action.path, action.body);
      for (const choice of choices) choice.disabled = false;
      if (!ok) return;
      if (open && open.menu === menu) close(true);
      if (action.done) action.done();
    }

    // Posts an action; on refusal shows the server's reason and returns false.
    async function post(path, body) {
      const answer = await postJson(path, body);
      if (answer.ok) {
        page.clearError();
        return true;
      }
      page.showError(
        answer.body.message ||
          answer.body.error ||
          (answer.status ? t("action_failed", { status: answer.status }) : t("action_unreachable")),
      );
      return false;
    }

    // --- locking the room (moderators) ----------------------------------
    if (moderates) {
      const head = page.chat.querySelector(".room-head");
      const lock = document.createElement("button");
      lock.type = "button";
      lock.className = "room-lock";
      const render = () => {
        const locked = page.chat.dataset.locked === "true";
        lock.textContent = locked ? t("unlock_room") : t("lock_room");
        lock.title = locked ? t("unlock_room_title") : t("lock_room_title");
        lock.setAttribute("aria-pressed", String(locked));
      };
      lock.addEventListener("click", async () => {
        const locked = page.chat.dataset.locked !== "true";
        lock.disabled = true;
        if (await post("/rooms/" + page.room + "/lock", { locked })) page.chat.dataset.locked = String(locked);
        lock.disabled = false;
        render();
      });
      render();
      if (head) head.append(lock);
    }

    return { decorate, strip };
  }

  return { setup };
})();
