//! The snippet of a hit: a short window of the message's text around its
//! first match, every match of every word wrapped in `<mark>`, everything
//! else HTML-escaped, so the page may show it as HTML and nothing a user
//! wrote can become markup.
//!
//! It is computed here, the same way for both engines, from the text as
//! stored. Matching folds case one character to one character (the same
//! rule as [`fold`]), so the positions found in the folded text are the
//! positions in the original. Work is linear in the text (at most 2000
//! characters) for each word, so it runs on the request's task.

use super::Words;

/// Characters of text a snippet shows at most (ellipses aside).
pub const SNIPPET_CHARS: usize = 160;
/// Characters of context kept before the first match when the text must be
/// cut.
const LEAD_CHARS: usize = 40;

/// `c` in lower case when that is a single character, else `c` itself: a
/// case fold that keeps every character in its place.
pub fn fold(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(folded), None) => folded,
        _ => c,
    }
}

/// `text` with every character folded by [`fold`].
pub fn fold_str(text: &str) -> String {
    text.chars().map(fold).collect()
}

/// The snippet of `text` for a query of `words`.
pub fn snippet(text: &str, words: &Words) -> String {
    let chars: Vec<char> = text.chars().collect();
    let matches = matches(&chars, words);
    let len = chars.len();
    let start = match matches.first() {
        Some(&(first, _)) if len > SNIPPET_CHARS => first.saturating_sub(LEAD_CHARS).min(len - SNIPPET_CHARS),
        _ => 0,
    };
    let end = (start + SNIPPET_CHARS).min(len);
    let mut out = String::with_capacity((end - start) * 2 + 32);
    if start > 0 {
        out.push('…');
    }
    let mut open: Option<usize> = None;
    let mut next = matches.iter().filter(|(_, to)| *to > start).peekable();
    for (i, &c) in chars.iter().enumerate().take(end).skip(start) {
        if open.is_none()
            && let Some(&&(from, to)) = next.peek()
            && from <= i
        {
            out.push_str("<mark>");
            open = Some(to);
            next.next();
        }
        escape_into(&mut out, c);
        if open == Some(i + 1) {
            out.push_str("</mark>");
            open = None;
        }
    }
    if open.is_some() {
        out.push_str("</mark>");
    }
    if end < len {
        out.push('…');
    }
    out
}

/// Every match of every word in `chars` as `[from, to)` character ranges,
/// in order, overlapping and touching ones merged (so marks never nest).
fn matches(chars: &[char], words: &Words) -> Vec<(usize, usize)> {
    let mut folded = String::with_capacity(chars.len());
    // The byte offset in `folded` of each character, for mapping back.
    let mut offsets = Vec::with_capacity(chars.len());
    for &c in chars {
        offsets.push(folded.len());
        folded.push(fold(c));
    }
    let mut found: Vec<(usize, usize)> = Vec::new();
    for word in words.iter() {
        let word = fold_str(word);
        let width = word.chars().count();
        for (byte, _) in folded.match_indices(word.as_str()) {
            // Folding keeps one character per character, so a match starts
            // on a character boundary found in `offsets`.
            if let Ok(from) = offsets.binary_search(&byte) {
                found.push((from, from + width));
            }
        }
    }
    found.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(found.len());
    for (from, to) in found {
        match merged.last_mut() {
            Some(last) if from <= last.1 => last.1 = last.1.max(to),
            _ => merged.push((from, to)),
        }
    }
    merged
}

/// `c` into `out` as HTML text: the five characters that could end text or
/// an attribute escaped (also what the error pages use).
pub fn escape_into(out: &mut String, c: char) {
    match c {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        '"' => out.push_str("&quot;"),
        '\'' => out.push_str("&#39;"),
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snip(text: &str, q: &str) -> String {
        snippet(text, &Words::parse(q).unwrap())
    }

    #[test]
    fn every_match_of_every_word_is_marked_ignoring_case() {
        assert_eq!(
            snip("Rust is fun, rust is fast", "RUST fast"),
            "<mark>Rust</mark> is fun, <mark>rust</mark> is <mark>fast</mark>"
        );
        assert_eq!(snip("大家你好！", "你好"), "大家<mark>你好</mark>！");
        assert_eq!(snip("ÉCOLE et école", "école"), "<mark>ÉCOLE</mark> et <mark>école</mark>");
    }

    #[test]
    fn overlapping_and_touching_matches_become_one_mark() {
        assert_eq!(snip("abcdef", "abc cde"), "<mark>abcde</mark>f");
        assert_eq!(snip("abcdef", "abc def"), "<mark>abcdef</mark>");
    }

    #[test]
    fn everything_but_the_marks_is_escaped() {
        assert_eq!(
            snip("<script>alert('x')</script> & \"q\"", "script"),
            "&lt;<mark>script</mark>&gt;alert(&#39;x&#39;)&lt;/<mark>script</mark>&gt; &amp; &quot;q&quot;"
        );
        // A word made of characters that escape is marked around the escapes.
        assert_eq!(snip("a<b>c", "<b>"), "a<mark>&lt;b&gt;</mark>c");
    }

    #[test]
    fn a_long_text_is_cut_around_its_first_match() {
        let text = format!("{}needle{}", "a".repeat(500), "b".repeat(500));
        let snippet = snip(&text, "needle");
        assert_eq!(snippet, format!("…{}<mark>needle</mark>{}…", "a".repeat(40), "b".repeat(114)));
        // Near the end, the window ends with the text.
        let text = format!("{}needle", "a".repeat(500));
        assert_eq!(snip(&text, "needle"), format!("…{}<mark>needle</mark>", "a".repeat(154)));
        // Near the start, it starts with it.
        let text = format!("needle{}", "b".repeat(500));
        assert_eq!(snip(&text, "needle"), format!("<mark>needle</mark>{}…", "b".repeat(154)));
    }

    #[test]
    fn a_mark_cut_by_the_window_is_closed() {
        let text = format!("{}{}", "a".repeat(300), "x".repeat(300));
        let snippet = snip(&text, "x".repeat(200).as_str());
        assert!(snippet.starts_with(&format!("…{}<mark>", "a".repeat(40))), "{snippet}");
        assert!(snippet.ends_with("</mark>…"), "{snippet}");
    }

    #[test]
    fn without_a_match_the_snippet_is_the_start_of_the_text() {
        assert_eq!(snip("nothing here", "absent"), "nothing here");
        let long = "z".repeat(300);
        assert_eq!(snip(&long, "absent"), format!("{}…", "z".repeat(160)));
    }

    #[test]
    fn folding_keeps_every_character_in_its_place() {
        assert_eq!(fold('A'), 'a');
        assert_eq!(fold('Σ'), 'σ');
        // "İ" lowers to two characters: it stays as it is.
        assert_eq!(fold('İ'), 'İ');
        assert_eq!(fold('你'), '你');
        // One character never matches two: "ß" is not "SS".
        assert_eq!(snip("Straße STRASSE", "straße"), "<mark>Straße</mark> STRASSE");
    }
}
