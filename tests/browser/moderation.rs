//! Moderation in the page: the per-message "⋯" menu offers only what the
//! reader's role allows, a deletion turns the message into a tombstone on
//! every open page at once (and after a reload), and kicks, locks and bans
//! from the page reach the server and its audit log.

use std::time::Instant;

use serde_json::{Value, json};

use crate::webdriver::{ENTER, Session};
use crate::{LIVE, Rig, SLOW, open_room, register, rig, texts};

const PASSWORD: &str = "correct horse battery";
/// The WebDriver key code of the down arrow.
const ARROW_DOWN: &str = "\u{E015}";
const ESCAPE: &str = "\u{E00C}";

/// Gives an account a role straight in the store, as `chat user set-role`
/// does (roles are read on every request, so the next page load shows it).
async fn set_role(rig: &Rig, name: &str, role: &str) {
    let mut db = crate::helpers::connect_db(rig.app.dir()).await;
    let updated = sqlx::query("UPDATE users SET role = $1 WHERE name = $2")
        .bind(role)
        .bind(name)
        .execute(&mut db)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(updated, 1, "no account {name}");
}

/// A browser registered as `name` with `role`, showing `room`.
async fn person(rig: &Rig, name: &str, role: &str, room: &str) -> Session {
    let browser = rig.desktop().await;
    register(rig, &browser, name).await;
    if role != "member" {
        set_role(rig, name, role).await;
    }
    open_room(rig, &browser, room).await;
    assert_eq!(browser.js("return document.getElementById('chat').dataset.role", json!([])).await, role);
    browser
}

/// An API client logged in as an admin (to read the audit log).
async fn admin_api(rig: &Rig) -> crate::http::Browser {
    let mut admin = rig.api();
    let registered = admin.post_form("/register", &[("username", "root"), ("password", PASSWORD)]).await;
    assert_eq!(registered.status, 303);
    set_role(rig, "root", "admin").await;
    admin
}

/// Types `text` into the page's send box and sends it; returns its id once
/// the page shows it.
async fn say(browser: &Session, text: &str) -> i64 {
    let box_ = browser.find("#send textarea").await;
    browser.type_into(&box_, text).await;
    browser.type_into(&box_, ENTER).await;
    wait_shown(browser, text).await
}

/// Waits until the page shows a message with `text`, and returns its id.
async fn wait_shown(browser: &Session, text: &str) -> i64 {
    let id = browser
        .wait_for(
            &format!("{text:?} on the page"),
            SLOW,
            &format!(
                "return [...document.querySelectorAll('#messages li.msg')]
                   .find(li => li.querySelector('.text')?.textContent === {})?.dataset.id",
                json!(text)
            ),
        )
        .await;
    id.as_str().unwrap().parse().unwrap()
}

/// The `data-action`s of the open menu, in order.
async fn menu_actions(browser: &Session) -> Value {
    browser
        .wait_for(
            "the open menu",
            SLOW,
            "const menu = document.querySelector('#messages .msg-menu');
             return menu && [...menu.querySelectorAll('[role=menuitem]')].map(b => b.dataset.action)",
        )
        .await
}

/// Whether message `id` is shown as a tombstone: "message deleted", no text,
/// no menu. Defines `tombstoned(id)` for scripts.
const TOMBSTONED: &str = "const tombstoned = (id) => {
    const li = document.querySelector(`#messages li.msg[data-id=\"${id}\"]`);
    return !!li && li.classList.contains('deleted') && !li.querySelector('.text, .msg-actions, .msg-menu')
      && li.querySelector('.tombstone')?.textContent === 'message deleted';
  };";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moderator_deletes_from_the_menu_and_every_page_shows_the_tombstone_live() {
    let Some(rig) = rig().await else { return };
    let alice = person(&rig, "alice", "member", "tidy").await;
    let moderator = person(&rig, "mod", "moderator", "tidy").await;
    let watcher = rig.desktop().await;
    open_room(&rig, &watcher, "tidy").await;

    let kept = say(&alice, "a fine message").await;
    let rude = say(&alice, "something rude").await;
    for page in [&alice, &moderator, &watcher] {
        wait_shown(page, "something rude").await;
        // Marks the page, to tell a live change from a reload.
        page.js("window.notReloaded = true", json!([])).await;
    }

    // A moderator's menu on someone else's message: every action (moderators may ban).
    moderator.click(&moderator.find(&format!("#messages li.msg[data-id='{rude}'] .msg-actions")).await).await;
    assert_eq!(menu_actions(&moderator).await, json!(["delete", "mute-10", "mute-60", "kick", "ban"]));
    let expanded =
        format!("return document.querySelector('#messages li.msg[data-id=\"{rude}\"] .msg-actions').ariaExpanded");
    assert_eq!(moderator.js(&expanded, json!([])).await, "true");
    let deleted_at = Instant::now();
    moderator.click(&moderator.find(".msg-menu [data-action=delete]").await).await;

    let script = format!("{TOMBSTONED} return tombstoned({rude}) && window.notReloaded === true");
    for (who, page) in [("the moderator", &moderator), ("alice", &alice), ("another browser", &watcher)] {
        page.wait_for(&format!("the tombstone on {who}'s page"), LIVE, &script).await;
    }
    assert!(deleted_at.elapsed() <= LIVE, "every page within {:?}", deleted_at.elapsed());
    assert_eq!(moderator.js("return document.querySelector('.msg-menu')", json!([])).await, Value::Null);
    assert_eq!(moderator.js("return document.querySelector('#chat p.error')", json!([])).await, Value::Null);
    for page in [&moderator, &alice, &watcher] {
        assert_eq!(texts(page).await, ["a fine message"], "the other message stays");
    }

    // The stored message is a tombstone, and a reload renders it as one.
    let stored = rig.api().get("/rooms/tidy/messages").await.json();
    assert_eq!(stored[1]["text"], "", "{stored}");
    assert_eq!(stored[1]["deleted"]["by"], "mod", "{stored}");
    watcher.refresh().await;
    crate::wait_connected(&watcher).await;
    watcher.wait_for("the tombstone after a reload", SLOW, &format!("{TOMBSTONED} return tombstoned({rude})")).await;
    let body = watcher.js("return document.body.innerText", json!([])).await;
    assert!(!body.as_str().unwrap().contains("something rude"), "the old text is gone: {body}");
    assert_eq!(watcher.js(&format!("{TOMBSTONED} return tombstoned({kept})"), json!([])).await, false, "only that one");

    for page in [alice, moderator, watcher] {
        page.quit().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_may_only_delete_their_own_messages_and_a_guest_nothing() {
    let Some(rig) = rig().await else { return };
    let mut carol = rig.api();
    assert_eq!(carol.post_form("/register", &[("username", "carol"), ("password", PASSWORD)]).await.status, 303);
    let theirs = carol.say("own", "carol was here").await;
    let bob = person(&rig, "bob", "member", "own").await;
    let mine = say(&bob, "bob's own words").await;

    let buttons = "return [...document.querySelectorAll('#messages li.msg')]
                     .map(li => [Number(li.dataset.id), !!li.querySelector('.msg-actions')])";
    assert_eq!(bob.js(buttons, json!([])).await, json!([[theirs, false], [mine, true]]), "a menu on own messages only");
    assert_eq!(bob.js("return document.querySelector('.room-lock')", json!([])).await, Value::Null, "no lock");

    // The menu works from the keyboard: the arrow key opens it on its
    // first item, Escape closes it and gives focus back to the button.
    let button = bob.find(&format!("#messages li.msg[data-id='{mine}'] .msg-actions")).await;
    bob.type_into(&button, ARROW_DOWN).await;
    assert_eq!(menu_actions(&bob).await, json!(["delete"]), "no Mute, Kick or Ban for members");
    assert_eq!(bob.js("return document.activeElement.dataset.action", json!([])).await, "delete");
    bob.type_into(&bob.find(".msg-menu [data-action=delete]").await, ESCAPE).await;
    assert_eq!(bob.js("return document.querySelector('.msg-menu')", json!([])).await, Value::Null);
    assert_eq!(bob.js("return document.activeElement.classList.contains('msg-actions')", json!([])).await, true);

    // Enter opens it again; deleting works on an own message.
    bob.type_into(&button, ENTER).await;
    menu_actions(&bob).await;
    bob.type_into(&bob.find(".msg-menu [data-action=delete]").await, ENTER).await;
    bob.wait_for("bob's tombstone", LIVE, &format!("{TOMBSTONED} return tombstoned({mine})")).await;
    assert_eq!(texts(&bob).await, ["carol was here"]);

    // A guest gets no menu at all.
    let guest = rig.desktop().await;
    open_room(&rig, &guest, "own").await;
    assert_eq!(guest.js("return document.getElementById('chat').dataset.role", json!([])).await, "guest");
    assert_eq!(guest.js("return document.querySelectorAll('.msg-actions, .room-lock').length", json!([])).await, 0);
    bob.quit().await;
    guest.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moderator_kicks_and_locks_from_the_page_and_the_audit_log_records_it() {
    let Some(rig) = rig().await else { return };
    let mut admin = admin_api(&rig).await;
    let alice = person(&rig, "alice", "member", "kick").await;
    let moderator = person(&rig, "mod", "moderator", "kick").await;
    say(&alice, "hello").await;
    let id = wait_shown(&moderator, "hello").await;

    // By keyboard: the arrow key opens the menu, Enter on "Kick from room".
    let button = moderator.find(&format!("#messages li.msg[data-id='{id}'] .msg-actions")).await;
    moderator.type_into(&button, ARROW_DOWN).await;
    menu_actions(&moderator).await;
    moderator.type_into(&moderator.find(".msg-menu [data-action=kick]").await, ENTER).await;
    moderator.wait_for("the menu to close", SLOW, "return !document.querySelector('.msg-menu')").await;
    assert_eq!(moderator.js("return document.querySelector('#chat p.error')", json!([])).await, Value::Null);

    let entry = |audit: &Value, action: &str| {
        audit.as_array().unwrap().iter().find(|e| e["action"] == action).cloned().unwrap_or(Value::Null)
    };
    let audit = admin.get("/admin/audit").await.json();
    let kick = entry(&audit, "kick");
    assert_eq!(
        (&kick["actor"], &kick["target"], &kick["room"]),
        (&json!("mod"), &json!("alice"), &json!("kick")),
        "{audit}"
    );

    // The lock control in the room header.
    let lock = moderator.find(".room-head .room-lock").await;
    assert_eq!(moderator.js("return arguments[0].textContent", json!([lock.reference()])).await, "Lock room");
    moderator.click(&lock).await;
    moderator
        .wait_for("the room locked", SLOW, "return document.querySelector('.room-lock').textContent === 'Unlock room'")
        .await;
    let mut carol = rig.api();
    let refused = carol.post_json("/rooms/kick/messages", &json!({ "text": "hi?" })).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(entry(&admin.get("/admin/audit").await.json(), "lock").is_object());
    moderator.refresh().await;
    crate::wait_connected(&moderator).await;
    assert_eq!(moderator.js("return document.querySelector('.room-lock').textContent", json!([])).await, "Unlock room");

    // A refused action shows the server's reason and keeps the menu open.
    set_role(&rig, "mod", "member").await;
    moderator.click(&moderator.find(&format!("#messages li.msg[data-id='{id}'] .msg-actions")).await).await;
    menu_actions(&moderator).await;
    moderator.click(&moderator.find(".msg-menu [data-action=mute-10]").await).await;
    let reason =
        moderator.wait_for("the reason", SLOW, "return document.querySelector('#chat p.error')?.textContent").await;
    assert_eq!(reason, "only moderators may do this");
    assert_eq!(moderator.js("return !!document.querySelector('.msg-menu')", json!([])).await, true);
    alice.quit().await;
    moderator.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_bans_from_the_menu_only_after_confirming() {
    let Some(rig) = rig().await else { return };
    let admin = person(&rig, "root", "admin", "ban").await;
    let mut eve = rig.api();
    assert_eq!(eve.post_form("/register", &[("username", "eve"), ("password", PASSWORD)]).await.status, 303);
    let id = eve.say("ban", "spam spam spam").await;
    wait_shown(&admin, "spam spam spam").await;

    let menu = format!("#messages li.msg[data-id='{id}'] .msg-actions");
    admin.click(&admin.find(&menu).await).await;
    assert_eq!(menu_actions(&admin).await, json!(["delete", "mute-10", "mute-60", "kick", "ban"]));
    // Saying no to the confirmation does nothing.
    admin.js("window.confirm = (question) => { window.asked = question; return false; }", json!([])).await;
    admin.click(&admin.find(".msg-menu [data-action=ban]").await).await;
    let asked = admin.wait_for("the confirmation", SLOW, "return window.asked").await;
    assert!(asked.as_str().unwrap().contains("eve"), "{asked}");
    assert_eq!(eve.post_json("/rooms/ban/messages", &json!({ "text": "still here" })).await.status, 201);

    admin.js("window.confirm = () => true", json!([])).await;
    admin.click(&admin.find(".msg-menu [data-action=ban]").await).await;
    admin.wait_for("the menu to close", SLOW, "return !document.querySelector('.msg-menu')").await;
    // Banned: logging in fails like a wrong password.
    let login = rig.api().post_form("/login", &[("username", "eve"), ("password", PASSWORD)]).await;
    assert_eq!(login.status, 401, "the ban holds: {}", login.body);
    admin.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn older_history_loaded_by_the_page_shows_deleted_messages_as_tombstones() {
    let Some(rig) = rig().await else { return };
    let mut dave = rig.api();
    assert_eq!(dave.post_form("/register", &[("username", "dave"), ("password", PASSWORD)]).await.status, 303);
    for i in 1..=55 {
        dave.say("old", &format!("old message {i}")).await;
    }
    let deleted = dave.post_json("/rooms/old/messages/2/delete", &json!({})).await;
    assert_eq!(deleted.status, 200, "an author deletes their own: {}", deleted.body);

    let moderator = person(&rig, "mod", "moderator", "old").await;
    moderator.js("document.getElementById('messages').scrollTop = 0", json!([])).await;
    moderator
        .wait_for("the older messages", SLOW, "return document.querySelectorAll('#messages li.msg').length === 55")
        .await;
    moderator.wait_for("a tombstone from the history JSON", SLOW, &format!("{TOMBSTONED} return tombstoned(2)")).await;
    let shown = texts(&moderator).await;
    assert_eq!(shown.len(), 54);
    assert!(!shown.contains(&"old message 2".to_owned()), "{shown:?}");
    let menus = "return document.querySelectorAll('#messages li.msg:not(.deleted) .msg-actions').length";
    assert_eq!(moderator.js(menus, json!([])).await, 54, "a menu on every other message");
    moderator.quit().await;
}
