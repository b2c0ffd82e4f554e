//! Display names: chosen at registration or in settings, while the login
//! handle stays; each message keeps the name it was posted under; presence
//! and typing carry the current one.

use std::time::Duration;

use rocket::http::{ContentType, Status};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, spawn_server};
use crate::http::EventStream;

const PASSWORD: &str = "correct horse battery";

async fn register_as(app: &TestApp, username: &str, display: &str) -> Status {
    let form = [("username", username), ("password", PASSWORD), ("display", display)];
    app.post_form("/register", &form).await.status()
}

/// `POST /api/settings` as (status, JSON).
async fn change_settings(app: &TestApp, body: Value) -> (Status, Value) {
    let response = app.client.post("/api/settings").header(ContentType::JSON).body(body.to_string()).dispatch().await;
    let status = response.status();
    (status, response.into_json().await.unwrap_or(Value::Null))
}

/// The next event of `kind`, skipping the rest.
async fn next_of(stream: &mut EventStream, kind: &str) -> Value {
    loop {
        let event = stream.next_event_within(Duration::from_secs(10)).await.expect("the stream stays open");
        if event.event.as_deref() == Some(kind) {
            return event.json();
        }
    }
}

#[rocket::async_test]
async fn a_display_name_chosen_at_registration_signs_messages_beside_the_handle() {
    let app = spawn_app().await;
    assert_eq!(register_as(&app, "zhangwei", "张伟").await, Status::SeeOther);
    assert_eq!(app.me().await, json!({ "user": "zhangwei", "display": "张伟", "guest": false }));
    let message = app.say("lobby", "你好").await;
    assert_eq!((&message["user"], &message["display"]), (&json!("zhangwei"), &json!("张伟")));
    let (_, history) = app.history("lobby", "").await;
    assert_eq!(history[0]["display"], "张伟");
    // The handle is what logs in.
    app.logout().await;
    assert_eq!(app.login("zhangwei", PASSWORD).await.status(), Status::SeeOther);
    assert_eq!(app.me().await["display"], "张伟");
}

#[rocket::async_test]
async fn without_a_display_name_the_handle_is_shown() {
    let app = spawn_app().await;
    app.register("alice", PASSWORD).await;
    assert_eq!(app.say("lobby", "hi").await["display"], "alice");
    assert_eq!(register_as(&spawn_app().await, "bob", "   ").await, Status::SeeOther, "a blank field is no name");
}

#[rocket::async_test]
async fn a_display_name_is_normalized_and_loses_bidi_and_invisible_characters() {
    let app = spawn_app().await;
    // "Zoe" + combining diaeresis, a right-to-left override, a zero-width space.
    assert_eq!(register_as(&app, "zoe", "  Zoe\u{0308}\u{202E} \u{200B}Ågren ").await, Status::SeeOther);
    assert_eq!(app.me().await["display"], "Zo\u{00EB} Ågren");
}

#[rocket::async_test]
async fn an_invisible_or_too_long_display_name_is_422_with_the_reason_and_creates_nothing() {
    let app = spawn_app().await;
    let response = app
        .post_form("/register", &[("username", "ghost"), ("password", PASSWORD), ("display", "\u{200B}\u{2800}")])
        .await;
    assert_eq!(response.status(), Status::UnprocessableEntity);
    assert!(response.into_string().await.unwrap().contains("the display name has no visible characters"));
    assert_eq!(app.login("ghost", PASSWORD).await.status(), Status::Unauthorized, "no account was made");
    assert_eq!(register_as(&app, "ghost", &"长".repeat(65)).await, Status::UnprocessableEntity);
    assert_eq!(register_as(&app, "ghost", &"长".repeat(64)).await, Status::SeeOther);
}

#[rocket::async_test]
async fn a_new_display_name_signs_new_messages_while_old_ones_keep_theirs_even_when_edited() {
    let app = spawn_app().await;
    register_as(&app, "alice", "Alice").await;
    let before = app.say("lobby", "before").await;
    let (status, settings) = change_settings(&app, json!({ "display": "Alice Liddell" })).await;
    assert_eq!(status, Status::Ok, "{settings}");
    assert_eq!(settings, json!({ "notify": "mentions", "display": "Alice Liddell" }));
    let after = app.say("lobby", "after").await;
    assert_eq!(after["display"], "Alice Liddell", "at once, on this instance");
    let edit = json!({ "text": "before, edited" }).to_string();
    let path = format!("/rooms/lobby/messages/{}/edit", before["id"]);
    let edited = app.client.post(path).header(ContentType::JSON).body(edit).dispatch().await;
    assert_eq!(edited.status(), Status::Ok);
    let (_, history) = app.history("lobby", "").await;
    let shown: Vec<(&str, &str)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["text"].as_str().unwrap(), m["display"].as_str().unwrap()))
        .collect();
    assert_eq!(shown, [("before, edited", "Alice"), ("after", "Alice Liddell")]);
    assert_eq!(app.me().await["display"], "Alice Liddell");
    let got = app.client.get("/api/settings").dispatch().await.into_json::<Value>().await.unwrap();
    assert_eq!(got["display"], "Alice Liddell");
}

#[rocket::async_test]
async fn settings_refuse_a_bad_display_name_with_the_reason_and_change_nothing() {
    let app = spawn_app().await;
    register_as(&app, "alice", "Alice").await;
    for (bad, reason) in [
        ("", "the display name has no visible characters"),
        ("\u{202E}\u{200B}", "the display name has no visible characters"),
        (&*"x".repeat(65), "display names are 1 to 64 characters"),
    ] {
        let (status, body) = change_settings(&app, json!({ "display": bad, "notify": "none" })).await;
        assert_eq!((status, body["error"].as_str()), (Status::UnprocessableEntity, Some(reason)), "{bad:?}");
    }
    let got = app.client.get("/api/settings").dispatch().await.into_json::<Value>().await.unwrap();
    assert_eq!(got, json!({ "notify": "mentions", "display": "Alice" }), "neither setting changed");
    // Each setting is optional.
    assert_eq!(
        change_settings(&app, json!({ "notify": "all" })).await.1,
        json!({ "notify": "all", "display": "Alice" })
    );
}

#[rocket::async_test]
async fn guests_are_shown_by_their_guest_name_and_have_no_settings() {
    let app = spawn_app().await;
    let me = app.me().await;
    let name = me["user"].as_str().unwrap();
    assert_eq!(me["display"], name);
    let message = app.say("lobby", "hello").await;
    assert_eq!((&message["display"], message["guest"].as_bool()), (&json!(name), Some(true)));
    assert_eq!(change_settings(&app, json!({ "display": "Not A Guest" })).await.0, Status::Forbidden);
}

#[rocket::async_test]
async fn the_account_page_form_changes_the_display_name_or_says_why_not() {
    let app = spawn_app().await;
    register_as(&app, "alice", "Alice").await;
    let page = app.client.get("/account").dispatch().await.into_string().await.unwrap();
    assert!(page.contains(r#"action="/account/display""#) && page.contains(r#"value="Alice""#), "{page}");
    let changed = app.post_form("/account/display", &[("display", "<b>Ally</b>")]).await;
    assert_eq!(changed.status(), Status::SeeOther);
    assert_eq!(changed.headers().get_one("Location"), Some("/account?done=display"));
    let page = app.client.get("/account?done=display").dispatch().await.into_string().await.unwrap();
    assert!(page.contains("&lt;b&gt;Ally&lt;&#x2F;b&gt;") && !page.contains("<b>Ally"), "escaped on the page");
    let refused = app.post_form("/account/display", &[("display", "\u{200B}")]).await;
    assert_eq!(refused.status(), Status::UnprocessableEntity);
    assert!(refused.into_string().await.unwrap().contains("no visible characters"));
    // Without the token, a form is refused like every other.
    let forged = app.post_form_raw("/account/display", &[("display", "Mallory")]).await;
    assert_eq!(forged.status(), Status::Forbidden);
    assert_eq!(app.me().await["display"], "<b>Ally</b>");
}

#[rocket::async_test]
async fn a_deleted_accounts_messages_are_signed_deleted_user_in_both_fields() {
    let app = spawn_app().await;
    register_as(&app, "alice", "Alice").await;
    app.say("lobby", "bye").await;
    assert_eq!(app.post_form("/account/delete", &[("password", PASSWORD)]).await.status(), Status::SeeOther);
    let (_, history) = app.history("lobby", "").await;
    assert_eq!((&history[0]["user"], &history[0]["display"]), (&json!("deleted user"), &json!("deleted user")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_and_typing_carry_the_display_name() {
    let app = spawn_server().await;
    let mut alice = app.browser();
    let form = [("username", "alice"), ("password", PASSWORD), ("display", "Алиса")];
    assert_eq!(alice.post_form("/register", &form).await.status, 303);
    let mut bob = app.member("bob").await;
    let mut watching = bob.events("/rooms/r/events", &[]).await;
    let _alices = alice.events("/rooms/r/events", &[]).await;
    let online = loop {
        let presence = next_of(&mut watching, "presence").await;
        if presence["count"] == 2 {
            break presence["online"].clone();
        }
    };
    assert_eq!(
        online,
        json!([{ "user": "alice", "display": "Алиса", "guest": false }, { "user": "bob", "display": "bob", "guest": false }])
    );
    assert_eq!(alice.post_json("/rooms/r/typing", &json!({})).await.status, 204);
    assert_eq!(next_of(&mut watching, "typing").await, json!({ "room": "r", "user": "alice", "display": "Алиса" }));

    // A new name: typing carries it at once, and a stream opened after the
    // change shows it in the online list (still one entry for alice).
    assert_eq!(alice.post_json("/api/settings", &json!({ "display": "Alice" })).await.status, 200);
    let _again = alice.events("/rooms/r/events", &[]).await;
    let online = loop {
        let presence = next_of(&mut watching, "presence").await;
        if presence["online"][0]["display"] == "Alice" {
            break presence;
        }
    };
    assert_eq!(online["count"], 2);
    tokio::time::sleep(Duration::from_millis(2100)).await; // past the typing limit
    assert_eq!(alice.post_json("/rooms/r/typing", &json!({})).await.status, 204);
    assert_eq!(next_of(&mut watching, "typing").await["display"], "Alice");
}
