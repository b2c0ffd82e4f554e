//! The multi-room cursor (`Last-Event-ID` of `/events`) takes any input
//! without panicking and in time linear in its length (libFuzzer's
//! `-timeout` catches a quadratic parse), and what it accepts prints back to
//! a cursor that parses to the same value.
#![no_main]

use chat::stream::Cursor;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    if let Ok(cursor) = Cursor::parse(input) {
        let printed = cursor.to_string();
        assert_eq!(Cursor::parse(&printed).as_ref(), Ok(&cursor), "{printed}");
    }
});
