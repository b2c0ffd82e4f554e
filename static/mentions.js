// Mention autocomplete in the message box: typing "@" and the start of a
// name lists the people this page knows (authors of the messages shown and
// who is online), found by handle or by display name ("@张" finds 张伟,
// handle zhangwei); Up and Down move, Enter or Tab picks, Escape closes, a
// click picks. Picking writes "@handle " (mentions are by handle); a
// handle typed in full shows no list, so Enter sends as always. Names only
// ever go in with textContent.
"use strict";

window.ChatMentions = (function () {
  const MAX_SHOWN = 8;

  // page: { box (the textarea), list (the messages), online (the online list) }.
  function setup({ box, list, online }) {
    const menu = document.createElement("ul");
    menu.className = "mentions";
    menu.id = "mention-list";
    menu.setAttribute("role", "listbox");
    menu.setAttribute("aria-label", t("mention_list"));
    menu.hidden = true;
    box.before(menu);
    box.setAttribute("aria-controls", menu.id);
    let matches = []; // [{ user, display }]
    let active = 0;
    let start = -1; // where the "@" is in the box

    // handle (lowercase) -> { user, display }, newest name last.
    function people() {
      const known = new Map();
      const note = (user, display) => user && known.set(user.toLowerCase(), { user, display: display || user });
      for (const li of list.querySelectorAll("li.msg[data-user]")) {
        note(li.dataset.user, li.querySelector(".user")?.textContent);
      }
      for (const li of online.querySelectorAll("li[data-user]")) {
        note(li.dataset.user, li.querySelector(".user")?.textContent);
      }
      return [...known.values()];
    }

    function update() {
      const before = box.value.slice(0, box.selectionStart);
      const typed = /(^|[^\w@.-])@([^\s@]{0,32})$/u.exec(before);
      if (!typed || box.selectionStart !== box.selectionEnd) return close();
      const query = typed[2].toLowerCase();
      start = before.length - typed[2].length - 1;
      const rank = (p) => {
        const user = p.user.toLowerCase();
        const display = p.display.toLowerCase();
        if (user.startsWith(query) || display.startsWith(query)) return 0;
        if (user.includes(query) || display.includes(query)) return 1;
        return 2;
      };
      matches = people()
        .map((p) => [rank(p), p])
        .filter(([r]) => r < 2)
        .sort(([a, p], [b, q]) => a - b || p.display.localeCompare(q.display))
        .slice(0, MAX_SHOWN)
        .map(([, p]) => p);
      // A handle typed in full needs no completing: Enter then sends.
      if (!matches.length || matches.some((p) => p.user.toLowerCase() === query)) return close();
      active = 0;
      render();
    }

    function render() {
      const items = matches.map((p, i) => {
        const li = document.createElement("li");
        li.setAttribute("role", "option");
        li.id = "mention-" + i;
        li.dataset.user = p.user;
        li.setAttribute("aria-selected", i === active ? "true" : "false");
        const name = document.createElement("span");
        name.className = "mention-display";
        name.textContent = p.display;
        const handle = document.createElement("span");
        handle.className = "mention-handle";
        handle.textContent = "@" + p.user;
        li.append(name, " ", handle);
        li.addEventListener("mousedown", (event) => {
          event.preventDefault(); // keep the box focused
          pick(i);
        });
        return li;
      });
      menu.replaceChildren(...items);
      menu.hidden = false;
      box.setAttribute("aria-activedescendant", "mention-" + active);
    }

    function close() {
      matches = [];
      menu.hidden = true;
      menu.replaceChildren();
      box.removeAttribute("aria-activedescendant");
    }

    function pick(i) {
      const person = matches[i];
      if (!person) return close();
      const end = box.selectionStart;
      const inserted = "@" + person.user + " ";
      box.value = box.value.slice(0, start) + inserted + box.value.slice(end);
      const caret = start + inserted.length;
      box.setSelectionRange(caret, caret);
      close();
      box.dispatchEvent(new Event("input", { bubbles: true }));
    }

    box.addEventListener("input", update);
    box.addEventListener("click", update);
    box.addEventListener("blur", close);
    // Capture, so that while the list is open Enter picks instead of
    // sending and Up moves instead of editing the last message.
    box.addEventListener(
      "keydown",
      (event) => {
        // While an input method composes, its keys are its own.
        if (menu.hidden || chatI18n.composing(event)) return;
        const keys = {
          ArrowDown: () => ((active = (active + 1) % matches.length), render()),
          ArrowUp: () => ((active = (active + matches.length - 1) % matches.length), render()),
          Enter: () => pick(active),
          Tab: () => pick(active),
          Escape: close,
        };
        const act = keys[event.key];
        if (!act || event.shiftKey) return;
        event.preventDefault();
        event.stopImmediatePropagation();
        act();
      },
      true,
    );
  }

  return { setup };
})();
