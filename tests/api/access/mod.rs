//! Who gets in: the registration mode (open, invite, closed; the setting
//! first, the admin's choice after), invites (`POST /admin/invites`,
//! `/join/<code>`), one-time reset links, the admin page and its forms, and
//! the command line's `chat invite create` and `chat user reset-link`
//! (`links.rs`: reset links and the command line).

mod links;

use std::time::Duration;

use chat::Clock;
use serde_json::{Value, json};

use crate::helpers::{LiveApp, spawn_server_with, spawn_server_with_clock};
use crate::http::Browser;

pub(super) const PASSWORD: &str = "correct horse battery";

pub(super) async fn server(registration: &'static str) -> LiveApp {
    spawn_server_with(move |f| f.merge(("registration", registration))).await
}

/// A browser logged in as `name` with `role`, made behind the app's back
/// (so it works whatever the registration mode).
pub(super) async fn with_role(app: &LiveApp, name: &str, role: &str) -> Browser {
    let mut db = crate::helpers::connect_db(app.dir()).await;
    let mode: Option<String> = sqlx::query_scalar("SELECT value FROM site_settings WHERE key = 'registration'")
        .fetch_optional(&mut db)
        .await
        .unwrap();
    sqlx::query("INSERT INTO site_settings (key, value) VALUES ('registration', 'open') ON CONFLICT (key) DO UPDATE SET value = 'open'").execute(&mut db).await.unwrap();
    let browser = app.member(name).await;
    match mode {
        Some(mode) => sqlx::query("UPDATE site_settings SET value = $1 WHERE key = 'registration'").bind(mode),
        None => sqlx::query("DELETE FROM site_settings WHERE key = 'registration'"),
    }
    .execute(&mut db)
    .await
    .unwrap();
    sqlx::query("UPDATE users SET role = $1 WHERE name = $2").bind(role).bind(name).execute(&mut db).await.unwrap();
    browser
}

pub(super) async fn register(browser: &mut Browser, name: &str, invite: Option<&str>) -> (u16, String) {
    let mut form = vec![("username", name), ("password", PASSWORD)];
    if let Some(code) = invite {
        form.push(("invite", code));
    }
    let response = browser.post_form("/register", &form).await;
    (response.status, response.body)
}

/// Creates an invite as `admin` and returns its code.
pub(super) async fn invite(admin: &mut Browser, body: Value) -> String {
    let created = admin.post_json("/admin/invites", &body).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let created = created.json();
    let code = created["code"].as_str().expect("a code").to_owned();
    assert_eq!(created["url"], format!("/join/{code}"));
    code
}

pub(super) fn error(body: &str) -> String {
    serde_json::from_str::<Value>(body).ok().and_then(|v| v["error"].as_str().map(str::to_owned)).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registration_setting_gives_the_mode_and_refusals_are_403_with_the_reason() {
    let open = server("open").await;
    assert_eq!(register(&mut open.browser(), "alice", None).await.0, 303, "open by default");

    let invite_only = server("invite").await;
    let page = invite_only.browser().get("/register").await;
    assert!(page.body.contains("registration needs an invite"), "the form says so first");
    let (status, page) = register(&mut invite_only.browser(), "alice", None).await;
    assert_eq!(status, 403);
    assert!(page.contains("registration needs an invite"), "{page}");
    let (status, page) = register(&mut invite_only.browser(), "alice", Some("not-a-code")).await;
    assert_eq!(status, 403);
    assert!(page.contains("this invite code is not valid"), "{page}");

    let closed = server("closed").await;
    let (status, page) = register(&mut closed.browser(), "alice", None).await;
    assert_eq!(status, 403);
    assert!(page.contains("registration is closed"), "{page}");
    let mut db = crate::helpers::connect_db(closed.dir()).await;
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&mut db).await.unwrap();
    assert_eq!(users, 0, "nothing was created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invite_link_shows_the_form_and_registering_through_it_logs_in_and_joins_its_rooms() {
    let app = server("invite").await;
    let mut admin = with_role(&app, "boss", "admin").await;
    let made = admin.post_json("/rooms/staff/members-only", &json!({ "enabled": true })).await;
    assert_eq!(made.status, 200, "{}", made.body);
    let code = invite(&mut admin, json!({ "uses": 2, "expires_hours": 24, "rooms": ["staff"] })).await;

    let mut newcomer = app.browser();
    let page = newcomer.get(&format!("/join/{code}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(&format!(r#"name="invite" value="{code}""#)), "{}", page.body);
    assert_eq!(newcomer.get("/rooms/staff/messages").await.status, 404, "not yet a member");
    let (status, page) = register(&mut newcomer, "BOSS", Some(&code)).await;
    assert_eq!(status, 409, "a taken name is refused and takes no use");
    assert!(page.contains(&format!(r#"name="invite" value="{code}""#)), "the form keeps the invite: {page}");
    let (status, page) = register(&mut newcomer, "carol", None).await;
    assert_eq!((status, page.contains("registration needs an invite")), (403, true), "{page}");
    let (status, _) = register(&mut newcomer, "carol", Some(&code)).await;
    assert_eq!(status, 303, "registered and logged in");
    let me = newcomer.get("/api/me").await.json();
    assert_eq!((me["user"].as_str(), me["guest"].as_bool()), (Some("carol"), Some(false)));
    assert_eq!(newcomer.get("/rooms/staff/messages").await.status, 200, "joined the members-only room");
    newcomer.say("staff", "hello staff").await;

    let outsider = with_role(&app, "dave", "member").await;
    let mut outsider = outsider;
    assert_eq!(outsider.get("/rooms/staff/messages").await.status, 404, "others still see nothing");

    let listed = admin.get("/admin/invites").await.json();
    assert_eq!((listed[0]["used"].as_i64(), listed[0]["uses"].as_i64()), (Some(1), Some(2)), "only carol took one");
    assert_eq!(listed[0]["rooms"], json!(["staff"]));
    assert!(!listed.to_string().contains(&code), "the code is never shown again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn used_up_expired_and_revoked_invites_are_403_with_the_reason() {
    let clock = Clock::manual();
    let app = spawn_server_with_clock(clock.clone(), |f| f.merge(("registration", "invite"))).await;
    let mut admin = with_role(&app, "boss", "admin").await;
    let once = invite(&mut admin, json!({ "uses": 1, "expires_hours": 1 })).await;
    let later = invite(&mut admin, json!({ "uses": 5, "expires_hours": 1 })).await;
    let revoked = invite(&mut admin, json!({ "uses": 5, "expires_hours": 48 })).await;

    assert_eq!(register(&mut app.browser(), "first", Some(&once)).await.0, 303);
    let used_up = app.browser().get(&format!("/join/{once}")).await;
    assert_eq!((used_up.status, error(&used_up.body).contains("used up")), (403, true), "{}", used_up.body);
    let (status, page) = register(&mut app.browser(), "second", Some(&once)).await;
    assert_eq!(status, 403);
    assert!(page.contains("this invite has been used up"), "{page}");

    let id = admin.get("/admin/invites").await.json()[0]["id"].as_i64().unwrap();
    assert_eq!(admin.post_json(&format!("/admin/invites/{id}/revoke"), &json!({})).await.status, 200);
    let (status, page) = register(&mut app.browser(), "third", Some(&revoked)).await;
    assert_eq!(status, 403);
    assert!(page.contains("this invite was revoked"), "{page}");
    assert_eq!(admin.post_json(&format!("/admin/invites/{id}/revoke"), &json!({})).await.status, 404);

    clock.advance(Duration::from_secs(3600));
    let expired = app.browser().get(&format!("/join/{later}")).await;
    assert_eq!((expired.status, error(&expired.body).contains("expired")), (403, true), "{}", expired.body);
    let (status, page) = register(&mut app.browser(), "fourth", Some(&later)).await;
    assert_eq!(status, 403);
    assert!(page.contains("this invite has expired"), "{page}");

    let mut db = crate::helpers::connect_db(app.dir()).await;
    let names: Vec<String> =
        sqlx::query_scalar("SELECT name FROM users ORDER BY name").fetch_all(&mut db).await.unwrap();
    assert_eq!(names, ["boss", "first"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_registrations_racing_for_an_invites_last_use_exactly_one_wins() {
    let app = server("invite").await;
    let mut admin = with_role(&app, "boss", "admin").await;
    for round in 0..5 {
        let code = invite(&mut admin, json!({ "uses": 1, "expires_hours": 1 })).await;
        let (mut a, mut b) = (app.browser(), app.browser());
        // Both browsers hold their CSRF token before they race.
        a.csrf_token().await;
        b.csrf_token().await;
        let (name_a, name_b) = (format!("racer{round}a"), format!("racer{round}b"));
        let ((status_a, page_a), (status_b, page_b)) =
            tokio::join!(register(&mut a, &name_a, Some(&code)), register(&mut b, &name_b, Some(&code)));
        let mut statuses = [status_a, status_b];
        statuses.sort();
        assert_eq!(statuses, [303, 403], "round {round}: {page_a} / {page_b}");
        let loser = if status_a == 403 { page_a } else { page_b };
        assert!(loser.contains("used up"), "{loser}");
    }
    let mut db = crate::helpers::connect_db(app.dir()).await;
    let racers: i64 =
        sqlx::query_scalar("SELECT count(*) FROM users WHERE name LIKE 'racer%'").fetch_one(&mut db).await.unwrap();
    let over: i64 =
        sqlx::query_scalar("SELECT count(*) FROM invites WHERE used > uses").fetch_one(&mut db).await.unwrap();
    assert_eq!((racers, over), (5, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_create_invites_and_moderators_only_when_moderators_invite_is_on() {
    let body = json!({ "uses": 1, "expires_hours": 1 });
    let app = server("open").await;
    let mut member = with_role(&app, "alice", "member").await;
    let mut moderator = with_role(&app, "mod", "moderator").await;
    for browser in [&mut member, &mut moderator, &mut app.browser()] {
        let refused = browser.post_json("/admin/invites", &body).await;
        assert_eq!(refused.status, 403);
        assert!(error(&refused.body).contains("may create invites"), "{}", refused.body);
    }

    let app = spawn_server_with(|f| f.merge(("moderators_invite", true))).await;
    let mut moderator = with_role(&app, "mod", "moderator").await;
    let code = invite(&mut moderator, body.clone()).await;
    assert_eq!(register(&mut app.browser(), "friend", Some(&code)).await.0, 303);
    let mut member = with_role(&app, "alice", "member").await;
    assert_eq!(member.post_json("/admin/invites", &body).await.status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invites_are_bounded_with_a_reason() {
    let app = server("open").await;
    let mut admin = with_role(&app, "boss", "admin").await;
    let cases = [
        (json!({ "uses": 0, "expires_hours": 1 }), "uses must be between 1 and 1000"),
        (json!({ "uses": 1001, "expires_hours": 1 }), "uses must be between 1 and 1000"),
        (json!({ "uses": 1, "expires_hours": 0 }), "expires_hours must be between 1 and 8760"),
        (json!({ "uses": 1, "expires_hours": 1, "rooms": ["No Such Name"] }), "room names"),
        (
            json!({ "uses": 1, "expires_hours": 1, "rooms": (0..21).map(|i| format!("r{i}")).collect::<Vec<_>>() }),
            "at most 20 rooms",
        ),
    ];
    for (body, reason) in cases {
        let refused = admin.post_json("/admin/invites", &body).await;
        assert_eq!(refused.status, 422, "{body}");
        assert!(error(&refused.body).contains(reason), "{body}: {}", refused.body);
    }
    assert_eq!(admin.get("/admin/invites").await.json(), json!([]), "nothing was created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_switches_the_mode_at_run_time_and_the_stored_choice_wins_over_the_setting() {
    let app = server("open").await;
    let mut admin = with_role(&app, "boss", "admin").await;
    let switched = admin.post_form("/admin/registration", &[("mode", "closed")]).await;
    assert_eq!(switched.status, 303, "{}", switched.body);
    let (status, page) = register(&mut app.browser(), "alice", None).await;
    assert_eq!((status, page.contains("registration is closed")), (403, true), "{page}");

    let switched = admin.post_json("/admin/registration", &json!({ "mode": "invite" })).await;
    assert_eq!(switched.json(), json!({ "registration": "invite" }));
    assert_eq!(register(&mut app.browser(), "alice", None).await.0, 403);
    let refused = admin.post_json("/admin/registration", &json!({ "mode": "everyone" })).await;
    assert_eq!((refused.status, error(&refused.body)), (422, "registration is open, invite or closed".to_owned()));

    // A restart on the same database keeps the admin's choice.
    let restarted = crate::helpers::client_on(app.dir(), |f| f.merge(("registration", "open"))).await;
    let body = crate::helpers::encode_form(&[("username", "bob"), ("password", PASSWORD), ("csrf", "x")]);
    restarted.get("/register").dispatch().await;
    let token = restarted.cookies().get_private("csrf").unwrap().value().to_owned();
    let body = body.replace("csrf=x", &format!("csrf={token}"));
    let response = restarted.post("/register").header(rocket::http::ContentType::Form).body(body).dispatch().await;
    assert_eq!(response.status().code, 403, "the stored mode wins over the setting");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_registration_closed_an_admin_creates_accounts_on_the_admin_page() {
    let app = server("closed").await;
    let mut admin = with_role(&app, "boss", "admin").await;
    let created = admin.post_form("/admin/users", &[("username", "newbie"), ("password", PASSWORD)]).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert!(created.body.contains("Account newbie created"));
    let mut newbie = app.browser();
    assert_eq!(newbie.post_form("/login", &[("username", "newbie"), ("password", PASSWORD)]).await.status, 303);
    let taken = admin.post_form("/admin/users", &[("username", "NEWBIE"), ("password", PASSWORD)]).await;
    assert_eq!(taken.status, 409);
    let mut member = with_role(&app, "alice", "member").await;
    let refused = member.post_form("/admin/users", &[("username", "sneaky"), ("password", PASSWORD)]).await;
    assert_eq!(refused.status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_page_and_every_admin_route_are_403_for_everyone_but_admins() {
    let app = server("open").await;
    let mut admin = with_role(&app, "boss", "admin").await;
    let page = admin.get("/admin").await;
    assert_eq!(page.status, 200);
    for section in ["id=\"users\"", "id=\"invites\"", "id=\"rooms\"", "id=\"registration\"", "id=\"audit\""] {
        assert!(page.body.contains(section), "{section}");
    }
    assert!(page.body.contains("boss"), "the users are listed");

    let moderator = with_role(&app, "mod", "moderator").await;
    let member = with_role(&app, "alice", "member").await;
    let found = admin.get("/admin?find=ALI").await.body;
    assert!(found.contains("<td>alice</td>") && !found.contains("<td>boss</td>"), "find narrows the users");
    for mut browser in [moderator, member, app.browser()] {
        assert_eq!(browser.get("/admin").await.status, 403);
        assert_eq!(browser.get("/admin/invites").await.status, 403);
        assert_eq!(browser.post_json("/admin/registration", &json!({ "mode": "closed" })).await.status, 403);
        assert_eq!(browser.post_form("/admin/registration", &[("mode", "closed")]).await.status, 403);
        assert_eq!(browser.post_json("/admin/reset-link", &json!({ "user": "boss" })).await.status, 403);
        assert_eq!(browser.post_form("/admin/reset-link", &[("user", "boss")]).await.status, 403);
        assert_eq!(
            browser.post_form("/admin/users", &[("username", "x-y-z"), ("password", PASSWORD)]).await.status,
            403
        );
        assert_eq!(browser.post_form("/admin/invites", &[("uses", "1"), ("expires_hours", "1")]).await.status, 403);
    }
    assert_eq!(register(&mut app.browser(), "stillopen", None).await.0, 303, "nothing changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_forms_without_the_csrf_token_are_403_and_change_nothing() {
    let app = server("open").await;
    let mut admin = with_role(&app, "boss", "admin").await;
    for (path, form) in [
        ("/admin/registration", "mode=closed"),
        ("/admin/invites", "uses=1&expires_hours=1"),
        ("/admin/ban", "user=boss2&banned=true"),
        ("/admin/users", "username=sneaky&password=correct+horse+battery"),
    ] {
        let response =
            admin.send("POST", path, &[], Some(("application/x-www-form-urlencoded", form.to_owned()))).await;
        assert_eq!(response.status, 403, "{path}");
    }
    assert_eq!(register(&mut app.browser(), "alice", None).await.0, 303, "still open");
    assert_eq!(admin.get("/admin/invites").await.json(), json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_admin_action_is_audited() {
    let app = server("open").await;
    let mut admin = with_role(&app, "boss", "admin").await;
    with_role(&app, "alice", "member").await;
    assert_eq!(
        admin
            .post_form("/admin/invites", &[("uses", "3"), ("expires_hours", "2"), ("rooms", "staff, ops")])
            .await
            .status,
        201
    );
    let id = admin.get("/admin/invites").await.json()[0]["id"].as_i64().unwrap();
    assert_eq!(admin.post_form(&format!("/admin/invites/{id}/revoke"), &[]).await.status, 303);
    assert_eq!(admin.post_form("/admin/registration", &[("mode", "invite")]).await.status, 303);
    assert_eq!(admin.post_form("/admin/reset-link", &[("user", "alice")]).await.status, 201);
    assert_eq!(admin.post_form("/admin/users", &[("username", "made"), ("password", PASSWORD)]).await.status, 201);
    assert_eq!(admin.post_form("/admin/ban", &[("user", "alice"), ("banned", "true")]).await.status, 303);
    assert_eq!(admin.post_form("/admin/role", &[("user", "made"), ("role", "moderator")]).await.status, 303);
    assert_eq!(admin.post_form("/rooms/ops/lock", &[("locked", "true")]).await.status, 303);
    let rules = [("room", "staff"), ("members_only", "true"), ("add", "made, alice")];
    assert_eq!(admin.post_form("/admin/rooms", &rules).await.status, 303);

    let log = admin.get("/admin/audit").await.json();
    let actions: Vec<&str> = log.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "members-only",
            "lock",
            "set-role",
            "ban",
            "create-account",
            "reset-link",
            "registration",
            "invite-revoke",
            "invite-create"
        ]
    );
    assert!(log.as_array().unwrap().iter().all(|e| e["actor"] == "boss"));
    let page = admin.get("/admin").await.body;
    assert!(page.contains("#staff") && page.contains("made") && page.contains("locked"), "rooms are listed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_through_invites_count_against_the_addresss_registrations() {
    let app = spawn_server_with(|f| f.merge(("rate_limits", true)).merge(("registrations_per_ip", 3))).await;
    let mut admin = with_role(&app, "boss", "admin").await;
    let code = invite(&mut admin, json!({ "uses": 10, "expires_hours": 1 })).await;
    assert_eq!(register(&mut app.browser(), "first", Some(&code)).await.0, 303);
    assert_eq!(register(&mut app.browser(), "second", Some(&code)).await.0, 303);
    let (status, page) = register(&mut app.browser(), "third", Some(&code)).await;
    assert_eq!(status, 429, "the admin's own registration was the address's first: {page}");
    assert_eq!(admin.get("/admin/invites").await.json()[0]["used"], 2, "a refused attempt takes no use");
}
