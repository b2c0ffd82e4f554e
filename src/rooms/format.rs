//! A message's text as safe HTML: the one place formatting is decided.
//!
//! Text is read as CommonMark (`pulldown-cmark`) and kept to a small
//! subset: emphasis, strong, strikethrough, inline code, fenced code blocks,
//! block quotes, lists and links. What lies outside it shows as the user
//! typed it: raw HTML, headings, images and rules become plain text, never
//! markup. Bare URLs, `@name` and `#room` become links in text outside code
//! and outside links. The HTML that comes out is then cleaned by `ammonia`
//! with an allow-list of exactly the subset's tags, `href` on links only for
//! `http`, `https` and `mailto` (and the server's own `/rooms/` and `/dm/`
//! paths), every link marked `rel="noopener noreferrer nofollow ugc"`. The
//! first stage keeps the output to the subset; the sanitizer is what makes
//! it safe, whatever the first stage lets through.
//!
//! It renders once per message, when it is posted or edited (the result is
//! stored and sent beside the text); it owns no I/O and must not be called
//! per subscriber. The work is bounded: the text is at most
//! [`MAX_TEXT_CHARS`](super::MAX_TEXT_CHARS), and block nesting deeper than
//! [`MAX_NESTING`] is flattened.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use linkify::{LinkFinder, LinkKind};
use pulldown_cmark::{CodeBlockKind, CowStr, Event, LinkType, Options, Parser, Tag, TagEnd, TextMergeStream};

use super::RoomName;
use crate::auth::UserName;

/// What every link carries: no access to the page that opened it, no
/// referrer, no search-engine credit, and marked as user content.
pub const LINK_REL: &str = "noopener noreferrer nofollow ugc";

/// Block quotes and lists nested deeper than this lose their markup (their
/// text stays), so no message builds a tree deep enough to cost much.
pub const MAX_NESTING: usize = 8;

/// The tags the subset produces; nothing else survives sanitizing.
const TAGS: [&str; 12] = ["p", "br", "em", "strong", "del", "code", "pre", "blockquote", "ul", "ol", "li", "a"];

/// The schemes a link may have; `javascript:`, `data:`, `vbscript:` and the
/// rest never become links.
const SCHEMES: [&str; 3] = ["http", "https", "mailto"];

/// The server's own pages that mentions and room names link to: the only
/// relative links a message may hold.
const OWN_PATHS: [&str; 2] = ["/rooms/", "/dm/"];

static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut builder = ammonia::Builder::empty();
    builder
        .tags(HashSet::from(TAGS))
        .generic_attributes(HashSet::new())
        .tag_attributes(HashMap::from([("a", HashSet::from(["href"])), ("ol", HashSet::from(["start"]))]))
        .url_schemes(HashSet::from(SCHEMES))
        .url_relative(ammonia::UrlRelative::Custom(Box::new(keep_own_path)))
        .link_rel(Some(LINK_REL))
        .strip_comments(true);
    builder
});

static FINDER: LazyLock<LinkFinder> = LazyLock::new(|| {
    let mut finder = LinkFinder::new();
    finder.kinds(&[LinkKind::Url, LinkKind::Email]);
    finder
});

/// `text` (a message's, already trimmed and bounded) as sanitized HTML; an
/// empty text (a deleted message) is empty HTML, and any other text is not.
/// Plain text comes out as one paragraph, each line break a `<br>`.
pub fn render(text: &str) -> String {
    if text.trim().is_empty() {
        return String::new();
    }
    let html = to_html(restrict(text));
    if html.is_empty() {
        // Only Markdown that shows nothing (a lone link definition): the
        // text as typed, so no message is ever blank.
        let mut typed = Vec::new();
        push_paragraph(&mut typed, text.to_owned());
        return to_html(typed);
    }
    html
}

/// [`render`] for each of `texts`, on the blocking pool: a long message
/// dense with markup takes a millisecond or two (measured in a release
/// build), too long to hold an executor thread.
pub async fn render_apart(texts: Vec<String>) -> Vec<String> {
    let texts = std::sync::Arc::new(texts);
    let apart = texts.clone();
    match tokio::task::spawn_blocking(move || apart.iter().map(|text| render(text)).collect()).await {
        Ok(html) => html,
        // A panic in the renderer is a bug to surface, not to hide.
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        // The runtime is shutting down: finish here rather than fail.
        Err(_) => texts.iter().map(|text| render(text)).collect(),
    }
}

/// The subset's events as sanitized HTML.
fn to_html(subset: Vec<Event<'_>>) -> String {
    let linked = link_text(TextMergeStream::new(subset.into_iter()));
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, linked.into_iter());
    let mut clean = SANITIZER.clean(&html).to_string();
    clean.truncate(clean.trim_end().len());
    clean
}

/// The sanitizer's verdict on a relative link: only the server's own pages.
fn keep_own_path(url: &str) -> Option<std::borrow::Cow<'_, str>> {
    own_path(url).then_some(std::borrow::Cow::Borrowed(url))
}

fn own_path(url: &str) -> bool {
    OWN_PATHS.iter().any(|path| url.starts_with(path))
}

/// Whether a link to `dest` may stay a link. The sanitizer decides again;
/// this only keeps a refused link from leaving an empty `<a>` behind.
fn allowed_dest(dest: &str) -> bool {
    let dest = dest.trim_start().to_ascii_lowercase();
    own_path(&dest) || ["http://", "https://", "mailto:"].iter().any(|scheme| dest.starts_with(scheme))
}

/// The parser's events kept to the subset: whatever lies outside it becomes
/// the text the user typed, soft line breaks become hard ones, refused
/// links keep only their text, and nesting past [`MAX_NESTING`] is
/// flattened.
fn restrict(text: &str) -> Vec<Event<'_>> {
    let mut out = Vec::new();
    // Each open block quote and list (`false`) or item (`true`), and
    // whether it kept its markup.
    let mut containers: Vec<(bool, bool)> = Vec::new();
    // Whether each open link kept its markup.
    let mut links: Vec<bool> = Vec::new();
    // Set while skipping the events of something shown as typed instead.
    let mut skip_until: Option<TagEnd> = None;
    // The text of an HTML block or indented code block being collected.
    let mut verbatim: Option<String> = None;
    for (event, range) in Parser::new_ext(text, Options::ENABLE_STRIKETHROUGH).into_offset_iter() {
        if let Some(end) = &skip_until {
            if matches!(&event, Event::End(e) if e == end) {
                skip_until = None;
            }
            continue;
        }
        if let Some(collected) = &mut verbatim {
            match event {
                Event::End(TagEnd::HtmlBlock | TagEnd::CodeBlock) => {
                    let collected = verbatim.take().unwrap_or_default();
                    push_paragraph(&mut out, collected.trim_end_matches('\n').to_owned());
                }
                Event::Html(s) | Event::Text(s) => collected.push_str(&s),
                _ => {}
            }
            continue;
        }
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                skip_until = Some(TagEnd::Heading(level));
                push_paragraph(&mut out, text[range].trim_end().to_owned());
            }
            Event::Start(Tag::Image { .. }) => {
                skip_until = Some(TagEnd::Image);
                out.push(Event::Text(text[range].to_owned().into()));
            }
            Event::Rule => push_paragraph(&mut out, text[range].trim().to_owned()),
            Event::Start(Tag::HtmlBlock | Tag::CodeBlock(CodeBlockKind::Indented)) => verbatim = Some(String::new()),
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(_))) => {
                // The info string is dropped: no class attributes to allow.
                out.push(Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(CowStr::Borrowed("")))));
            }
            Event::Html(s) | Event::InlineHtml(s) => out.push(Event::Text(s)),
            Event::SoftBreak => out.push(Event::HardBreak),
            Event::Start(tag @ (Tag::BlockQuote(_) | Tag::List(_) | Tag::Item)) => {
                let keep = match tag {
                    // An item keeps its markup exactly when its list does.
                    Tag::Item => containers.last().is_some_and(|(item, kept)| !item && *kept),
                    _ => containers.iter().filter(|(item, _)| !item).count() < MAX_NESTING,
                };
                containers.push((matches!(tag, Tag::Item), keep));
                if keep {
                    out.push(Event::Start(tag));
                }
            }
            Event::End(end @ (TagEnd::BlockQuote(_) | TagEnd::List(_) | TagEnd::Item)) => {
                if containers.pop().is_some_and(|(_, kept)| kept) {
                    out.push(Event::End(end));
                }
            }
            Event::Start(Tag::Link { link_type, dest_url, title, id }) => {
                let dest_url = match link_type {
                    LinkType::Email => format!("mailto:{dest_url}").into(),
                    _ => dest_url,
                };
                let keep = allowed_dest(&dest_url);
                links.push(keep);
                if keep {
                    out.push(Event::Start(Tag::Link { link_type: LinkType::Inline, dest_url, title, id }));
                }
            }
            Event::End(TagEnd::Link) => {
                if links.pop().unwrap_or(false) {
                    out.push(Event::End(TagEnd::Link));
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// `text` as a paragraph of plain text, its line breaks kept.
fn push_paragraph(out: &mut Vec<Event<'_>>, text: String) {
    out.push(Event::Start(Tag::Paragraph));
    for (n, line) in text.split('\n').enumerate() {
        if n > 0 {
            out.push(Event::HardBreak);
        }
        out.push(Event::Text(line.to_owned().into()));
    }
    out.push(Event::End(TagEnd::Paragraph));
}

/// Turns bare URLs, e-mail addresses, `@name` and `#room` in text into
/// links, except inside code and inside links.
fn link_text<'a>(events: impl Iterator<Item = Event<'a>>) -> Vec<Event<'a>> {
    let mut out = Vec::new();
    let (mut in_code, mut in_link) = (false, 0usize);
    for event in events {
        match event {
            Event::Text(text) if !in_code && in_link == 0 => push_linked(&mut out, &text),
            other => {
                match &other {
                    Event::Start(Tag::CodeBlock(_)) => in_code = true,
                    Event::End(TagEnd::CodeBlock) => in_code = false,
                    Event::Start(Tag::Link { .. }) => in_link += 1,
                    Event::End(TagEnd::Link) => in_link = in_link.saturating_sub(1),
                    _ => {}
                }
                out.push(other);
            }
        }
    }
    out
}

fn push_link<'a>(out: &mut Vec<Event<'a>>, dest: String, label: &str) {
    let (title, id) = (CowStr::Borrowed(""), CowStr::Borrowed(""));
    out.push(Event::Start(Tag::Link { link_type: LinkType::Inline, dest_url: dest.into(), title, id }));
    out.push(Event::Text(label.to_owned().into()));
    out.push(Event::End(TagEnd::Link));
}

fn push_linked(out: &mut Vec<Event<'_>>, text: &str) {
    for span in FINDER.spans(text) {
        let part = span.as_str();
        match span.kind() {
            Some(LinkKind::Email) => push_link(out, format!("mailto:{part}"), part),
            Some(_) if allowed_dest(part) => push_link(out, part.to_owned(), part),
            _ => push_names(out, part),
        }
    }
}

/// A byte that may not come right before `@name` or `#room` (they would be
/// part of a longer word, address or path): the same rule the page uses to
/// find mentions of its reader.
fn joins_before(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"_@#.-/&".contains(&byte) || !byte.is_ascii()
}

fn name_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b'-')
}

/// Where `@name` or `#room` leads, if `name` is a valid account or room name.
fn name_link(sigil: u8, name: &str) -> Option<String> {
    match sigil {
        b'@' => UserName::parse(name).ok().map(|name| format!("/dm/{}", name.as_str())),
        _ => RoomName::parse(name).ok().map(|room| format!("/rooms/{room}")),
    }
}

/// `text` with each valid `@name` and `#room` a link, the rest as text.
fn push_names(out: &mut Vec<Event<'_>>, text: &str) {
    let bytes = text.as_bytes();
    let (mut plain_from, mut at) = (0, 0);
    while at < bytes.len() {
        let sigil = bytes[at];
        if !matches!(sigil, b'@' | b'#') || (at > 0 && joins_before(bytes[at - 1])) {
            at += 1;
            continue;
        }
        let start = at + 1;
        let run_end = start + bytes[start..].iter().take_while(|b| name_byte(**b)).count();
        // A full stop after a name ends the sentence, not the name.
        let mut end = run_end;
        while end > start && bytes[end - 1] == b'.' {
            end -= 1;
        }
        // A name running on into a letter of another script, an address or
        // a path is not one.
        let continues = bytes.get(run_end).is_some_and(|b| !b.is_ascii() || b"@#/".contains(b));
        match name_link(sigil, &text[start..end]).filter(|_| !continues) {
            Some(dest) => {
                if plain_from < at {
                    out.push(Event::Text(text[plain_from..at].to_owned().into()));
                }
                push_link(out, dest, &text[at..end]);
                plain_from = end;
                at = end;
            }
            None => at = run_end.max(start),
        }
    }
    if plain_from < bytes.len() {
        out.push(Event::Text(text[plain_from..].to_owned().into()));
    }
}

#[cfg(test)]
mod tests;
