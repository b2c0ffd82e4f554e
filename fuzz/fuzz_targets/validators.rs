//! Every validator takes any input without panicking, and what it accepts
//! keeps its documented shape.
#![no_main]

use chat::auth::{GuestName, Password, UserName};
use chat::messages::HistoryQuery;
use chat::rooms::{MAX_TEXT_CHARS, MessageText, RoomName};
use chat::search::snippet::snippet;
use chat::search::{MAX_WORDS, SearchQuery, Words};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    if let Ok(room) = RoomName::parse(input) {
        assert!((1..=64).contains(&room.as_str().len()));
        assert!(room.as_str().bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'));
    }
    if let Ok(text) = MessageText::parse(input) {
        assert_eq!(text.as_str(), text.as_str().trim());
        assert!(!text.as_str().is_empty() && text.as_str().chars().count() <= MAX_TEXT_CHARS);
    }
    if let Ok(name) = UserName::parse(input) {
        assert!(!name.as_str().to_ascii_lowercase().starts_with("guest-"));
    }
    if Password::parse(input).is_ok() {
        assert!((8..=128).contains(&input.chars().count()));
    }
    if let Some(guest) = GuestName::parse(input) {
        assert!(guest.as_str().starts_with("guest-"));
    }
    let _ = HistoryQuery::parse(Some(input), Some(input), Some(input), Some(input));
    let _ = SearchQuery::parse(Some(input), Some(input), Some(input), Some(input));
    if let Ok(words) = Words::parse(input) {
        assert!((1..=MAX_WORDS).contains(&words.iter().count()));
        assert!(words.iter().all(|w| !w.is_empty() && !w.contains(char::is_whitespace)));
        // Any text's snippet for any query is escaped: its only tags are marks.
        let snippet = snippet(input, &words);
        let rest = snippet.replace("<mark>", "").replace("</mark>", "");
        assert!(!rest.contains('<') && !rest.contains('>'), "{snippet}");
    }
    let _ = chat::web::start_from(Some(input), None);
    if let Some(next) = chat::web::safe_next(input) {
        assert!(next.starts_with('/') && !next.starts_with("//"));
    }
});
