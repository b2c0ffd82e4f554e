//! Direct messages and notifications in the page: `/dm/<name>` opens the
//! conversation, a message there (or a mention) notifies a reader whose
//! tab is in the background and counts on the tab's icon, never from
//! someone blocked, and the sidebar names the conversation with its unread
//! badge.

use serde_json::json;

use crate::webdriver::{ENTER, Session};
use crate::{LIVE, SLOW, register, rig, wait_connected};

/// A background tab whose notifications are recorded in
/// `window.notifications` (as `[title, body]`).
const BACKGROUND_TAB: &str = "window.notifications = [];
    window.Notification = class {
      static get permission() { return 'granted'; }
      static requestPermission() { return Promise.resolve('granted'); }
      constructor(title, options) { window.notifications.push([title, options.body]); }
      addEventListener() {}
      close() {}
    };
    document.hasFocus = () => false;";

async fn say(browser: &Session, text: &str) {
    let box_ = browser.find("#send textarea").await;
    browser.type_into(&box_, text).await;
    browser.type_into(&box_, ENTER).await;
}

async fn notifications(browser: &Session) -> serde_json::Value {
    browser.js("return window.notifications", json!([])).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_direct_message_and_a_mention_notify_a_background_tab_but_a_blocked_person_never_does() {
    let Some(rig) = rig().await else { return };
    let mut carol = rig.api();
    assert_eq!(
        carol.post_form("/register", &[("username", "carol"), ("password", "correct horse battery")]).await.status,
        303
    );
    let alice = rig.desktop().await;
    register(&rig, &alice, "alice").await;
    let bob = rig.desktop().await;
    bob.devtools("Page.addScriptToEvaluateOnNewDocument", json!({ "source": BACKGROUND_TAB })).await;
    register(&rig, &bob, "bob").await;
    let blocked = bob
        .js(
            "return fetch('/api/blocks', { method: 'POST', headers: { 'Content-Type': 'application/json' },
               body: JSON.stringify({ user: 'carol', blocked: true }) }).then(r => r.status)",
            json!([]),
        )
        .await;
    assert_eq!(blocked, 200);

    // Bob opens the conversation with alice by its address.
    bob.goto(&rig.url("/dm/alice")).await;
    wait_connected(&bob).await;
    assert_eq!(bob.js("return document.title", json!([])).await, "@alice · Chat");
    alice.goto(&rig.url("/dm/bob")).await;
    wait_connected(&alice).await;
    assert_eq!(
        alice.js("return location.pathname", json!([])).await,
        bob.js("return location.pathname", json!([])).await
    );
    say(&alice, "psst, bob").await;
    bob.wait_for("the notification", LIVE, "return window.notifications.length === 1").await;
    assert_eq!(notifications(&bob).await, json!([["alice", "psst, bob"]]));
    let icon = bob.js("return document.querySelector('link[rel=icon]').getAttribute('href')", json!([])).await;
    assert_eq!(icon, "/favicon.svg?unread=1", "the tab's icon counts it");

    // In a room: a mention from alice notifies, one from carol (blocked)
    // and a plain message do not.
    bob.goto(&rig.url("/rooms/lobby")).await;
    wait_connected(&bob).await;
    alice.goto(&rig.url("/rooms/lobby")).await;
    wait_connected(&alice).await;
    carol.say("lobby", "@bob are you there?").await;
    say(&alice, "nothing for bob").await;
    say(&alice, "@bob look at this").await;
    bob.wait_for("the mention", SLOW, "return window.notifications.length === 1").await;
    assert_eq!(notifications(&bob).await, json!([["alice in #lobby", "@bob look at this"]]));

    // The sidebar names the conversation, with what bob has not read.
    say(&alice, "one more thing").await;
    alice.goto(&rig.url("/dm/bob")).await;
    wait_connected(&alice).await;
    say(&alice, "unread by bob").await;
    bob.refresh().await;
    wait_connected(&bob).await;
    let badge = bob
        .wait_for(
            "the conversation's unread badge",
            SLOW,
            "const a = [...document.querySelectorAll('#room-list a')].find(a => a.textContent.startsWith('@alice'));
             return a?.querySelector('.unread')?.textContent",
        )
        .await;
    assert_eq!(badge, "2", "both of alice's messages there are unread");
    alice.quit().await;
    bob.quit().await;
}

/// Two instances on one PostgreSQL and one Redis (the scale-out services
/// `.ci/run` provides), or `None` when they are not configured here.
async fn two_instances() -> Option<(crate::helpers::LiveApp, crate::helpers::LiveApp)> {
    let (Ok(postgres), Ok(redis)) = (std::env::var("CHAT_TEST_POSTGRES_URL"), std::env::var("CHAT_TEST_REDIS_URL"))
    else {
        eprintln!("skipping the two-instance page test: set CHAT_TEST_POSTGRES_URL and CHAT_TEST_REDIS_URL");
        return None;
    };
    let tag = format!("{:016x}", rand::random::<u64>());
    let database_url = crate::helpers::postgres_schema(&postgres, &format!("chat_s_{tag}"));
    let key = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, rand::random::<[u8; 32]>());
    let configure = |f: rocket::figment::Figment| {
        f.merge(("database_url", database_url.clone()))
            .merge(("redis_url", redis.clone()))
            .merge(("redis_channel", format!("chat:browser:{tag}")))
            .merge(("secret_key", key.clone()))
            .merge(("presence_grace_ms", 1000))
            .merge(("heartbeat_secs", 1))
    };
    Some((crate::helpers::spawn_server_with(configure).await, crate::helpers::spawn_server_with(configure).await))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_on_two_instances_show_everyone_online_and_each_others_typing() {
    let Some(rig) = rig().await else { return };
    let Some((a, b)) = two_instances().await else { return };
    let alice = rig.desktop().await;
    alice.goto(&format!("http://{}/rooms/both", a.addr)).await;
    wait_connected(&alice).await;
    let bob = rig.desktop().await;
    bob.goto(&format!("http://{}/rooms/both", b.addr)).await;
    wait_connected(&bob).await;
    for page in [&alice, &bob] {
        page.wait_for(
            "both guests online on either instance",
            SLOW,
            "return document.querySelectorAll('#online li').length === 2",
        )
        .await;
    }
    let box_ = bob.find("#send textarea").await;
    bob.type_into(&box_, "typing on b").await;
    let bob_name = bob.js("return document.getElementById('chat').dataset.me", json!([])).await;
    let typing = format!(
        "return document.getElementById('typing').textContent === {}",
        json!(format!("{} is typing…", bob_name.as_str().unwrap()))
    );
    alice.wait_for("bob typing, heard across instances", LIVE, &typing).await;
    bob.type_into(&box_, ENTER).await;
    alice
        .wait_for(
            "bob's message",
            LIVE,
            "return [...document.querySelectorAll('#messages .text')].some(e => e.textContent === 'typing on b')",
        )
        .await;
    alice.quit().await;
    bob.quit().await;
}
