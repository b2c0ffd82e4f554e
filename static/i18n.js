// The page's words and formats for its scripts. The words come from
// /i18n/<lang>.js (self.CHAT_STRINGS, the catalog's [script] table); the
// choices from <html>: lang, data-clock (12h | 24h), data-send (enter |
// ctrl-enter), data-theme, data-notify. Loaded before every other script.
(function () {
  "use strict";
  const strings = self.CHAT_STRINGS || {};
  const root = document.documentElement;
  const lang = root.lang || "en";
  const hour12 = root.dataset.clock === "12h";

  // The text for `key`, with each {name} replaced by args.name. A missing
  // key shows as itself (and is reported): the catalog test keeps that
  // from happening.
  function t(key, args) {
    let text = strings[key];
    if (text === undefined) {
      console.error("no text for", key);
      return key;
    }
    if (args) {
      for (const [name, value] of Object.entries(args)) text = text.split("{" + name + "}").join(String(value));
    }
    return text;
  }

  const time = new Intl.DateTimeFormat(lang, { hour: "numeric", minute: "2-digit", hour12 });
  const dateTime = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short", hour12 });
  const numbers = new Intl.NumberFormat(lang);

  self.t = t;
  self.chatI18n = {
    lang,
    t,
    /** "2:05 PM" or "14:05", as the settings ask. */
    time: (date) => time.format(date),
    /** The date and the time, for titles and older messages. */
    dateTime: (date) => dateTime.format(date),
    number: (n) => numbers.format(n),
    /** "enter" or "ctrl-enter": which key sends a message. */
    sendKey: root.dataset.send === "ctrl-enter" ? "ctrl-enter" : "enter",
    notify: root.dataset.notify || "mentions",
  };
})();
