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
  const shortDateTime = new Intl.DateTimeFormat(lang, { month: "short", day: "numeric", hour: "numeric", minute: "2-digit", hour12 });
  const fullShortDateTime = new Intl.DateTimeFormat(lang, { dateStyle: "short", timeStyle: "short", hour12 });
  const shortDate = new Intl.DateTimeFormat(lang, { month: "short", day: "numeric" });
  const numbers = new Intl.NumberFormat(lang);
  const plurals = new Intl.PluralRules(lang);

  // "2:05 PM" today, "Nov 25, 2:05 PM" another day (in the reader's zone).
  function stamp(date) {
    return date.toDateString() === new Date().toDateString() ? time.format(date) : shortDateTime.format(date);
  }

  // A size as people read it: "512 bytes", "1.5 KiB", "2 MiB".
  function fileSize(bytes) {
    const units = [["GiB", 1 << 30], ["MiB", 1 << 20], ["KiB", 1 << 10]];
    for (const [name, unit] of units) {
      if (bytes >= unit) return (bytes / unit).toFixed(1).replace(/\.0$/, "") + " " + name;
    }
    return t("size_bytes", { count: bytes });
  }

  // --- input methods ------------------------------------------------------
  // Typing Chinese (or Japanese, Korean...) goes through an input method:
  // Enter confirms the chosen characters and must not send, Up and Escape
  // belong to the candidate list. Chromium and Firefox mark those key events
  // with isComposing; Safari sends the confirming keydown after
  // compositionend with keyCode 229; so each field also remembers a
  // composition until the turn after it ended.
  const COMPOSING = Symbol("composing");
  document.addEventListener(
    "compositionstart",
    (event) => {
      if (event.target) event.target[COMPOSING] = true;
    },
    true,
  );
  document.addEventListener(
    "compositionend",
    (event) => {
      const target = event.target;
      if (target) setTimeout(() => (target[COMPOSING] = false), 0);
    },
    true,
  );
  /** Whether a key event belongs to an input method's composition. */
  function composing(event) {
    return event.isComposing || event.keyCode === 229 || !!(event.target && event.target[COMPOSING]);
  }

  self.t = t;
  self.chatI18n = {
    lang,
    t,
    /** "2:05 PM" or "14:05", as the settings ask. */
    time: (date) => time.format(date),
    /** The date and the time, for titles and older messages. */
    dateTime: (date) => dateTime.format(date),
    /** The time alone today, else the day and the time: a message's stamp. */
    stamp,
    /** The date (with the year) and the time, short: search hits. */
    shortDateTime: (date) => fullShortDateTime.format(date),
    /** "Nov 25" */
    shortDate: (date) => shortDate.format(date),
    number: (n) => numbers.format(n),
    /** The plural category of `n` in the page's language ("one", "other"...). */
    plural: (n) => plurals.select(n),
    fileSize,
    composing,
    /** "enter" or "ctrl-enter": which key sends a message. */
    sendKey: root.dataset.send === "ctrl-enter" ? "ctrl-enter" : "enter",
    notify: root.dataset.notify || "mentions",
  };
})();
