//! Display names: chosen at registration or in settings, while the login
//! handle stays; each message keeps the name it was posted under; presence
//! and typing carry the current one. Avatars: an uploaded image made a
//! small square, or a picture drawn from the handle.

use std::time::Duration;

use image::GenericImageView;
use rocket::http::{ContentType, Header, Status};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, spawn_server};
use crate::http::EventStream;
use crate::uploads::{FilePart, fetch, header, multipart, multipart_type, png};

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
    assert_eq!(
        settings,
        json!({ "notify": "mentions", "display": "Alice Liddell", "language": "auto", "theme": "system", "clock": "auto", "send_key": "enter" })
    );
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
async fn a_reply_quotes_the_display_name_the_original_was_posted_under() {
    let app = spawn_app().await;
    register_as(&app, "alice", "Alice").await;
    let original = app.say("lobby", "question").await;
    change_settings(&app, json!({ "display": "Alice L." })).await;
    let body = json!({ "text": "answer", "reply_to": original["id"] }).to_string();
    let reply: Value = app.post_json("lobby", &body).await.into_json().await.unwrap();
    assert_eq!(reply["reply_to"]["display"], "Alice");
    assert_eq!(reply["display"], "Alice L.");
    let (_, history) = app.history("lobby", "").await;
    assert_eq!(
        history[1]["reply_to"],
        json!({ "id": original["id"], "user": "alice", "display": "Alice", "text": "question" })
    );
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
    assert_eq!((&got["notify"], &got["display"]), (&json!("mentions"), &json!("Alice")), "neither setting changed");
    // Each setting is optional.
    assert_eq!(
        change_settings(&app, json!({ "notify": "all" })).await.1["display"],
        json!("Alice"),
        "the display name is left as it was"
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

// ---- avatars ----------------------------------------------------------

/// `POST /account/avatar` with `file` (and the browser's token unless
/// `token` is false), as (status, JSON).
async fn upload_avatar(app: &TestApp, file: Option<FilePart<'_>>, token: bool) -> (Status, Value) {
    let mut request = app
        .client
        .post("/account/avatar")
        .header(ContentType::parse_flexible(&multipart_type()).unwrap())
        .body(multipart(&[], file));
    if token {
        request = request.header(Header::new("X-CSRF-Token", app.csrf().await));
    }
    let response = request.dispatch().await;
    let status = response.status();
    (status, response.into_json().await.unwrap_or(Value::Null))
}

#[rocket::async_test]
async fn an_uploaded_image_becomes_its_centre_square_made_small_and_is_served_with_a_validator() {
    let app = spawn_app().await;
    register_as(&app, "alice", "Alice").await;
    let (status, answer) = upload_avatar(&app, Some(("me.png", "image/png", &png(1200, 600))), true).await;
    assert_eq!(status, Status::Ok, "{answer}");
    let version = answer["version"].as_i64().unwrap();
    assert_eq!(answer["avatar"], format!("/avatars/alice?v={version}"));
    let (status, headers, body) = fetch(&app, "/avatars/Alice").await;
    assert_eq!((status, header(&headers, "Content-Type")), (Status::Ok, Some("image/png")));
    assert_eq!(header(&headers, "X-Content-Type-Options"), Some("nosniff"));
    assert_eq!(header(&headers, "Content-Security-Policy"), Some("sandbox"));
    let made = image::load_from_memory(&body).unwrap();
    assert_eq!(made.dimensions(), (128, 128), "squared and made small");
    // The test image's red channel is its x coordinate: the left edge of
    // the square is the middle of the original (x = 300 of 1200), mod 256.
    assert!((i32::from(made.get_pixel(0, 64)[0]) - 300 % 256).abs() < 12, "{:?}", made.get_pixel(0, 64));
    let etag = header(&headers, "ETag").unwrap().to_owned();
    assert_eq!(etag, format!("\"u{version}\""));
    let again = app.client.get("/avatars/alice").header(Header::new("If-None-Match", etag)).dispatch().await;
    assert_eq!(again.status(), Status::NotModified);
    // A new picture, a new version.
    let (_, second) = upload_avatar(&app, Some(("me.png", "image/png", &png(64, 64))), true).await;
    assert_ne!(second["version"], version);
}

#[rocket::async_test]
async fn anything_but_an_image_is_refused_with_the_reason_and_guests_and_forgeries_are_too() {
    let app = spawn_app().await;
    let guest = upload_avatar(&app, Some(("me.png", "image/png", &png(10, 10))), true).await;
    assert_eq!(guest.0, Status::Forbidden, "guests have no avatars");
    register_as(&app, "alice", "Alice").await;
    let (status, body) = upload_avatar(&app, Some(("me.png", "image/png", b"<svg onload=alert(1)>")), true).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (Status::UnsupportedMediaType, Some("an avatar must be a PNG, JPEG, GIF or WebP image"))
    );
    let bomb = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/bomb-100000x100000.png")).unwrap();
    let (status, body) = upload_avatar(&app, Some(("bomb.png", "image/png", &bomb)), true).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (Status::UnprocessableEntity, Some("the image is larger than 40 megapixels"))
    );
    assert_eq!(upload_avatar(&app, None, true).await.0, Status::UnprocessableEntity, "no file");
    assert_eq!(upload_avatar(&app, Some(("me.png", "image/png", &png(10, 10))), false).await.0, Status::Forbidden);
    let not_multipart = app
        .client
        .post("/account/avatar")
        .header(ContentType::JSON)
        .header(Header::new("X-CSRF-Token", app.csrf().await))
        .body("{}")
        .dispatch()
        .await;
    assert_eq!(not_multipart.status(), Status::UnsupportedMediaType);
    let (_, headers, _) = fetch(&app, "/avatars/alice").await;
    assert_eq!(header(&headers, "Content-Type"), Some("image/svg+xml"), "nothing was kept");
}

#[rocket::async_test]
async fn everyone_else_gets_a_picture_drawn_from_the_handle_with_the_handle_escaped() {
    let app = spawn_app().await;
    let (status, headers, body) = fetch(&app, "/avatars/bob").await;
    assert_eq!((status, header(&headers, "Content-Type")), (Status::Ok, Some("image/svg+xml")));
    let svg = String::from_utf8(body).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains(">B</text>") && svg.contains("<title>bob</title>"), "{svg}");
    let guest = String::from_utf8(fetch(&app, "/avatars/guest-k3x9q2").await.2).unwrap();
    assert!(guest.contains(">K</text>"), "a guest's initial follows its prefix: {guest}");
    let hostile = String::from_utf8(fetch(&app, "/avatars/%3Cscript%3Ealert(1)%3C%2Fscript%3E").await.2).unwrap();
    assert!(hostile.contains("<title>&lt;script&gt;alert(1)&lt;/script&gt;</title>"), "{hostile}");
    assert!(!hostile.contains("<script"), "{hostile}");
    let (status, headers, _) = fetch(&app, "/avatars/bob").await;
    let etag = header(&headers, "ETag").unwrap().to_owned();
    let again = app.client.get("/avatars/bob").header(Header::new("If-None-Match", etag)).dispatch().await;
    assert_eq!((status, again.status()), (Status::Ok, Status::NotModified));
    assert_eq!(fetch(&app, &format!("/avatars/{}", "x".repeat(65))).await.0, Status::NotFound);
}

#[rocket::async_test]
async fn removing_the_avatar_goes_back_to_the_drawing() {
    let app = spawn_app().await;
    register_as(&app, "alice", "Alice").await;
    let content_type = |headers: Vec<(String, String)>| header(&headers, "Content-Type").map(str::to_owned);
    upload_avatar(&app, Some(("me.png", "image/png", &png(50, 50))), true).await;
    assert_eq!(content_type(fetch(&app, "/avatars/alice").await.1).as_deref(), Some("image/png"));
    let removed =
        app.client.delete("/account/avatar").header(Header::new("X-CSRF-Token", app.csrf().await)).dispatch().await;
    assert_eq!(removed.status(), Status::NoContent);
    assert_eq!(content_type(fetch(&app, "/avatars/alice").await.1).as_deref(), Some("image/svg+xml"));
    upload_avatar(&app, Some(("me.png", "image/png", &png(50, 50))), true).await;
    let form = app.post_form("/account/avatar/delete", &[]).await;
    assert_eq!((form.status(), form.headers().get_one("Location")), (Status::SeeOther, Some("/account?done=avatar")));
    assert_eq!(content_type(fetch(&app, "/avatars/alice").await.1).as_deref(), Some("image/svg+xml"));
    let page = app.client.get("/account").dispatch().await.into_string().await.unwrap();
    assert!(page.contains(r#"id="avatar-form""#) && page.contains(r#"src="/avatars/alice""#), "{page}");
}
