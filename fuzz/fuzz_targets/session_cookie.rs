//! Any Cookie header, through the real cookie decryption and session guard:
//! the answer is always 200 and a guest, never an error, never a member.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rocket::http::{Header, Status};
use rocket::local::blocking::Client;

thread_local! {
    // One app per fuzzing thread (the blocking client is not `Sync`).
    static CLIENT: Client = {
        let dir = std::env::temp_dir().join("chat-fuzz-session-cookie");
        let figment = chat::figment().merge(("data_dir", dir)).merge(("log_level", "off"));
        Client::untracked(chat::build(figment).expect("config")).expect("app")
    };
}

fuzz_target!(
    // The app starts here, before libFuzzer times any input: an unoptimised
    // start (migrations, the login timing dummy hash) may take longer than
    // a single input is allowed.
    init: CLIENT.with(|_| ()),
    |cookie_header: &str| {
        if cookie_header.contains(['\r', '\n', '\0']) {
            return; // not a header value a client can send
        }
        CLIENT.with(|client| {
            let response = client.get("/api/me").header(Header::new("Cookie", cookie_header.to_owned())).dispatch();
            assert_eq!(response.status(), Status::Ok);
            let me: rocket::serde::json::Value = response.into_json().expect("JSON");
            assert_eq!(me["guest"], true);
        });
    }
);
