//! Why a request was refused, in the page's language.
//!
//! The server's reasons are English sentences written where the refusal is
//! (an error enum's `#[error("...")]`, a handler's notice); the JSON API's
//! `error` keeps them as they are, stable for scripts. For a person they
//! are translated here: `locales/zh.toml` has a `[reasons]` table (Chinese
//! only: English needs none) whose keys are the English sentences and whose
//! values are their translations.
//!
//! In a key every format argument is written `{}`, whatever it was in the
//! source (`{0:?}`, `{MAX_NAMES}`, `{}`): it matches any text of one or
//! more characters (a number, a quoted name, a size such as `5 MB`), and
//! the value's `{}` are filled with what they matched, in order. A sentence
//! with no entry stays English. The tests below read the sources of every
//! error that can reach a person and fail when one has no entry.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

/// One language's translations of the server's reasons.
#[derive(Default)]
pub struct Reasons {
    /// Sentences without arguments, looked up whole.
    exact: HashMap<String, String>,
    /// Sentences with arguments, the most literal text first, so a longer
    /// pattern wins over a shorter one that also matches.
    patterns: Vec<Pattern>,
}

struct Pattern {
    /// The key's text between its `{}`s (one more than the arguments).
    pieces: Vec<String>,
    /// The translation, with one `{}` per argument.
    translation: String,
}

impl Reasons {
    pub fn new(table: BTreeMap<String, String>) -> Reasons {
        let mut reasons = Reasons::default();
        for (english, translation) in table {
            if english.contains("{}") {
                let pieces = english.split("{}").map(str::to_owned).collect();
                reasons.patterns.push(Pattern { pieces, translation });
            } else {
                reasons.exact.insert(english, translation);
            }
        }
        let literal = |p: &Pattern| p.pieces.iter().map(String::len).sum::<usize>();
        reasons.patterns.sort_by_key(|p| std::cmp::Reverse(literal(p)));
        reasons
    }

    /// `english` translated, or `english` itself when there is no entry.
    pub fn translate<'a>(&self, english: &'a str) -> Cow<'a, str> {
        if let Some(translation) = self.exact.get(english) {
            return Cow::Owned(translation.clone());
        }
        for pattern in &self.patterns {
            if let Some(arguments) = pattern.matches(english) {
                return Cow::Owned(fill(&pattern.translation, &arguments));
            }
        }
        Cow::Borrowed(english)
    }
}

impl Pattern {
    /// The arguments `text` gives this pattern's `{}`s, if it is one of its
    /// sentences: the first piece starts it, the last ends it, the ones
    /// between come in order (each as early as it can), and no argument is
    /// empty.
    fn matches<'a>(&self, text: &'a str) -> Option<Vec<&'a str>> {
        let (first, rest) = self.pieces.split_first()?;
        let (last, middle) = rest.split_last()?;
        let body = text.strip_prefix(first.as_str())?.strip_suffix(last.as_str())?;
        let mut arguments = Vec::with_capacity(rest.len());
        let mut remaining = body;
        for piece in middle {
            // Each argument takes at least one character.
            let next = remaining.char_indices().nth(1).map_or(remaining.len(), |(i, _)| i);
            let at = remaining.get(next..)?.find(piece.as_str())? + next;
            arguments.push(&remaining[..at]);
            remaining = &remaining[at + piece.len()..];
        }
        if remaining.is_empty() {
            return None;
        }
        arguments.push(remaining);
        Some(arguments)
    }
}

/// `template` with its `{}`s replaced by `arguments`, in order.
fn fill(template: &str, arguments: &[&str]) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut arguments = arguments.iter();
    let mut pieces = template.split("{}");
    out.push_str(pieces.next().unwrap_or_default());
    for piece in pieces {
        out.push_str(arguments.next().copied().unwrap_or("{}"));
        out.push_str(piece);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;
    use crate::i18n::{Lang, catalog};

    fn reasons(entries: &[(&str, &str)]) -> Reasons {
        Reasons::new(entries.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect())
    }

    #[test]
    fn a_sentence_is_translated_whole_with_its_arguments_put_back_in_order() {
        let r = reasons(&[
            ("wrong username or password", "用户名或密码错误"),
            ("too many failed attempts: try again in {} minutes", "失败次数过多：请在 {} 分钟后重试"),
            ("no account named {}", "没有名为 {} 的账户"),
            ("moderators act only on members and guests: {} is a {}", "版主只能处理成员和访客：{} 是{}"),
            ("the file is larger than the limit of {} (upload_max_bytes)", "文件超过了 {} 的上限（upload_max_bytes）"),
        ]);
        assert_eq!(r.translate("wrong username or password"), "用户名或密码错误");
        assert_eq!(
            r.translate("too many failed attempts: try again in 15 minutes"),
            "失败次数过多：请在 15 分钟后重试"
        );
        assert_eq!(r.translate("no account named \"bob smith\""), "没有名为 \"bob smith\" 的账户");
        assert_eq!(
            r.translate("moderators act only on members and guests: ann is a moderator"),
            "版主只能处理成员和访客：ann 是moderator"
        );
        assert_eq!(
            r.translate("the file is larger than the limit of 5 MB (upload_max_bytes)"),
            "文件超过了 5 MB 的上限（upload_max_bytes）"
        );
    }

    #[test]
    fn an_unknown_sentence_or_an_empty_argument_stays_english() {
        let r = reasons(&[("no account named {}", "没有名为 {} 的账户"), ("{} is {}", "{}是{}")]);
        assert_eq!(r.translate("something new happened"), "something new happened");
        assert_eq!(r.translate("no account named "), "no account named ");
        assert_eq!(r.translate("x is "), "x is ");
        assert_eq!(r.translate(" is y"), " is y");
        assert_eq!(r.translate("a is b is c"), "a是b is c", "the earliest split");
    }

    #[test]
    fn english_needs_no_table_and_chinese_has_one() {
        assert_eq!(catalog(Lang::En).reason("wrong username or password"), "wrong username or password");
        assert_eq!(catalog(Lang::Zh).reason("wrong username or password"), "用户名或密码错误");
        assert_eq!(catalog(Lang::Zh).reason("too many requests: try again in 7 s"), "请求过于频繁：请在 7 秒后重试",);
    }

    // ---- every reason a person can see has a translation -----------------

    /// Where the reasons are written, and what comes just before each one:
    /// `#[error(` for error enums; in handlers, the calls that take a
    /// reason (`BadJson(`, `Refused(`...) or the notice a page shows. A
    /// marker not followed by a string literal (optionally `format!(`) is
    /// passed over.
    const SOURCES: &[(&str, &[&str])] = &[
        ("src/web/error.rs", &["#[error(", "=>", "&str ="]),
        ("src/i18n/preferences.rs", &["#[error("]),
        ("src/access/mod.rs", &["#[error("]),
        ("src/activity/mod.rs", &["#[error("]),
        ("src/access/invites.rs", &["#[error(", "BadInvite("]),
        ("src/access/mode.rs", &["#[error("]),
        ("src/auth/names.rs", &["#[error("]),
        ("src/auth/accounts.rs", &["#[error("]),
        ("src/auth/login.rs", &["#[error("]),
        ("src/auth/passkeys.rs", &["#[error("]),
        ("src/auth/password.rs", &["#[error("]),
        ("src/auth/second_factor/mod.rs", &["#[error("]),
        ("src/auth/roles.rs", &["#[error("]),
        ("src/live/session.rs", &["#[error("]),
        ("src/live/mod.rs", &["#[error("]),
        ("src/messages/people.rs", &["#[error("]),
        ("src/messages/mod.rs", &["#[error("]),
        ("src/moderation/mod.rs", &["#[error(", "Refused("]),
        ("src/moderation/ranks.rs", &["Refused("]),
        ("src/rooms/mod.rs", &["#[error("]),
        ("src/search/mod.rs", &["#[error("]),
        ("src/store/mod.rs", &["#[error("]),
        ("src/store/changes.rs", &["#[error("]),
        ("src/stream/cursor.rs", &["#[error("]),
        ("src/uploads/mod.rs", &["#[error("]),
        ("src/uploads/images.rs", &["#[error("]),
        ("src/web/account.rs", &["Some(", "reason =", "format!("]),
        ("src/web/profiles.rs", &["Some("]),
        ("src/web/second_factor.rs", &["Some(", "reason =", "format!(", "\"error\":"]),
        ("src/web/passkeys.rs", &["Some("]),
        ("src/web/admin/users.rs", &["BadJson(", "text:"]),
        ("src/web/admin/invites.rs", &["text:"]),
        ("src/web/moderation.rs", &["BadJson("]),
        ("src/web/rooms.rs", &["BadJson("]),
        ("src/web/changes.rs", &["BadJson("]),
        ("src/web/uploads.rs", &["Form("]),
        ("src/web/avatars.rs", &["Form("]),
        ("src/web/bearer.rs", &["RefusalReason::new("]),
        ("src/web/csrf.rs", &["return", "}\n    "]),
        ("src/web/origin.rs", &["Err("]),
    ];

    /// Reasons that stay English, and why.
    const ENGLISH_ONLY: &[(&str, &str)] = &[
        ("{}", "a wrapper: the texts it carries are collected where they are written"),
        ("{}: {}", "an invite's room name and the room's own reason, collected on its own"),
        ("database error: {}", "the store's errors are logged and answered as an opaque 503"),
        ("a batch of messages failed to commit: {}", "logged, answered as an opaque 503"),
        ("migrating the database failed: {}", "a startup error, never an answer"),
        ("the message writer has stopped", "logged, answered as an opaque 503"),
        ("unsupported database_url {}: expected sqlite://<path> or postgres://...", "a startup error, never an answer"),
        ("password hashing failed: {}", "logged, answered as an opaque 503"),
        ("the password hashing task failed", "logged, answered as an opaque 503"),
        ("password hashing has stopped", "logged, answered as an opaque 503"),
        ("writing the thumbnail failed: {}", "an I/O error: logged, answered as an opaque 503"),
        (
            "public_origin must be an http(s) URL with a host name, such as https://chat.example.com",
            "a setting refused at startup, for the operator; it never reaches a request",
        ),
    ];

    /// The string literal at the start of `text` (after optional
    /// whitespace and `format!(`), unescaped, line continuations joined.
    fn literal_at(text: &str) -> Option<String> {
        let text = text.trim_start();
        let text = text.strip_prefix("format!(").map_or(text, str::trim_start);
        let mut chars = text.strip_prefix('"')?.chars();
        let mut out = String::new();
        while let Some(c) = chars.next() {
            match c {
                '"' => return Some(out),
                '\\' => match chars.next()? {
                    'n' => out.push('\n'),
                    '\n' => {
                        let rest = chars.as_str().trim_start();
                        chars = rest.chars();
                    }
                    other => out.push(other),
                },
                c => out.push(c),
            }
        }
        None
    }

    /// A format string as a `[reasons]` key: every argument `{...}` is
    /// `{}`, and `{{`/`}}` are the braces they stand for.
    fn normalised(format: &str) -> String {
        let mut out = String::new();
        let mut chars = format.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, chars.peek()) {
                ('{', Some('{')) | ('}', Some('}')) => {
                    chars.next();
                    out.push(c);
                }
                ('{', _) => {
                    for c in chars.by_ref() {
                        if c == '}' {
                            break;
                        }
                    }
                    out.push_str("{}");
                }
                _ => out.push(c),
            }
        }
        out
    }

    fn written_reasons() -> BTreeSet<String> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut found = BTreeSet::new();
        for (file, markers) in SOURCES {
            let source = std::fs::read_to_string(root.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
            for marker in *markers {
                for (at, _) in source.match_indices(marker) {
                    let after = &source[at + marker.len()..];
                    let Some(text) = literal_at(after) else { continue };
                    // `Some("password") =>` is a match arm's pattern, not a reason.
                    let tail = after.split_once('"').map_or("", |(_, t)| t);
                    if tail.get(text.len() + 1..).is_some_and(|t| t.trim_start().starts_with(") =>")) {
                        continue;
                    }
                    found.insert(normalised(&text));
                }
            }
        }
        found
    }

    #[test]
    fn the_source_reader_finds_literals_and_normalises_arguments() {
        assert_eq!(literal_at(" format!(\"at most {MAX} names\", x)"), Some("at most {MAX} names".into()));
        assert_eq!(literal_at("\"a \\\"b\\\" \\\n     c\""), Some("a \"b\" c".into()));
        assert_eq!(literal_at(" e.to_string()"), None);
        assert_eq!(normalised("no account named {0:?} in {} of {{x}}"), "no account named {} in {} of {x}");
    }

    #[test]
    fn every_reason_a_person_can_see_has_a_chinese_translation_with_the_same_arguments() {
        let table = zh_table();
        let written = written_reasons();
        assert!(written.len() > 100, "the reader found only {} reasons: {written:#?}", written.len());
        assert!(written.contains("wrong username or password") && written.contains("no account named {}"));
        let english_only: BTreeSet<&str> = ENGLISH_ONLY.iter().map(|(text, _)| *text).collect();
        let missing: Vec<_> =
            written.iter().filter(|r| !table.contains_key(*r) && !english_only.contains(r.as_str())).collect();
        assert!(missing.is_empty(), "reasons with no [reasons] entry in locales/zh.toml: {missing:#?}");
        let stale: Vec<_> = english_only.iter().filter(|r| !written.contains(**r)).collect();
        assert!(stale.is_empty(), "ENGLISH_ONLY names reasons no longer written: {stale:?}");
    }

    #[test]
    fn every_translation_has_as_many_arguments_as_its_sentence_and_some_words() {
        for (english, chinese) in zh_table() {
            assert_eq!(english.matches("{}").count(), chinese.matches("{}").count(), "{english:?} → {chinese:?}");
            assert!(english.chars().any(char::is_alphabetic), "{english:?} would match anything");
            assert!(!english.contains("{}{}"), "{english:?}: two arguments side by side cannot be told apart");
            assert!(!chinese.trim().is_empty(), "{english:?}");
        }
    }

    fn zh_table() -> BTreeMap<String, String> {
        let tables: BTreeMap<String, toml::Value> = toml::from_str(include_str!("../../locales/zh.toml")).unwrap();
        tables["reasons"]
            .as_table()
            .expect("[reasons] is a table")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().expect("a text").to_owned()))
            .collect()
    }
}
