//! Every validator takes any input without panicking, and what it accepts
//! keeps its documented shape.
#![no_main]

use chat::auth::{GuestName, Password, UserName};
use chat::messages::HistoryQuery;
use chat::rooms::{FileId, FileName, MAX_NAME_BYTES, MAX_TEXT_CHARS, MessageText, RoomName};
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
    let _ = HistoryQuery::parse(Some(input), Some(input), Some(input), Some(input), Some(input));
    let _ = chat::web::start_from(Some(input), None);
    if let Some(next) = chat::web::safe_next(input) {
        assert!(next.starts_with('/') && !next.starts_with("//"));
    }
    // An uploaded file's name is never a path, a header break or a URL step.
    let name = FileName::sanitize(input);
    let name = name.as_str();
    assert!(!name.is_empty() && name.len() <= MAX_NAME_BYTES);
    assert!(!name.contains(['/', '\\']) && !name.chars().any(char::is_control) && !name.chars().all(|c| c == '.'));
    if let Some(id) = FileId::parse(input) {
        assert!(id.as_str().bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    }
    let _ = chat::uploads::sniff(input.as_bytes());
});
