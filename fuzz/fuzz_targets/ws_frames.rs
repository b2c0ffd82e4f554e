//! Any WebSocket text frame a client sends is read without panicking, and
//! only a `send` with a text or a `resume` with a non-negative id is
//! accepted; anything else is refused with a reason for the error frame.
#![no_main]

use chat::web::ClientFrame;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    match ClientFrame::parse(input) {
        Ok(ClientFrame::Send { text, reply_to }) => {
            assert!(input.contains("send"), "{text}");
            assert!(reply_to.is_none_or(|id| id > 0));
        }
        Ok(ClientFrame::Resume(after)) => assert!(after >= 0),
        Ok(ClientFrame::Typing) => assert!(input.contains("typing")),
        Err(reason) => assert!(!reason.is_empty()),
    }
});
