//! Any WebSocket text frame a client sends is read without panicking, and
//! only a `send` with a text (and, if any, a positive `reply_to`), a
//! `resume` with a non-negative id or a `typing` is accepted; anything else
//! is refused with a reason for the error frame.
#![no_main]

use chat::web::ClientFrame;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    match ClientFrame::parse(input) {
        Ok(ClientFrame::Send { reply_to, .. }) => assert!(reply_to.is_none_or(|id| id > 0)),
        Ok(ClientFrame::Resume(after)) => assert!(after >= 0),
        Ok(ClientFrame::Typing) => {}
        Err(reason) => assert!(!reason.is_empty()),
    }
});
