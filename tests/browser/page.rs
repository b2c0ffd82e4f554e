//! One page over time: reloads, a dropped stream, older history, mentions
//! and the unread count, the room list, phone and desktop layouts, dark
//! mode, and the README's screenshots.

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use crate::proxy::Proxy;
use crate::webdriver::{ENTER, SHIFT_ENTER};
use crate::{LIVE, SLOW, ids, open_room, register, rig, texts, wait_connected};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloading_shows_no_duplicates_and_a_dropped_stream_catches_up_exactly_once() {
    let Some(rig) = rig().await else { return };
    let mut poster = rig.api();
    for i in 1..=5 {
        poster.say("again", &format!("m{i}")).await;
    }
    // The page goes through a proxy whose network the test can cut.
    let proxy = Proxy::start(rig.app.addr).await;
    let browser = rig.desktop().await;
    browser.goto(&format!("http://{}/rooms/again", proxy.addr)).await;
    wait_connected(&browser).await;
    for _ in 0..3 {
        browser.refresh().await;
        wait_connected(&browser).await;
        poster.say("again", "while reloading").await;
    }
    let expected: Vec<i64> = (1..=8).collect();
    browser.wait_for("every message", LIVE, "return document.querySelectorAll('#messages li.msg').length >= 8").await;
    assert_eq!(ids(&browser).await, expected, "each message once, in order");

    // The network goes away: the page says so; messages posted meanwhile
    // show once it is back, each exactly once.
    proxy.cut();
    browser
        .wait_for("the page to notice", SLOW, "return document.getElementById('state').textContent === 'reconnecting'")
        .await;
    for i in 1..=3 {
        poster.say("again", &format!("missed {i}")).await;
    }
    proxy.restore();
    wait_connected(&browser).await;
    browser
        .wait_for("the missed messages", SLOW, "return document.querySelectorAll('#messages li.msg').length >= 11")
        .await;
    poster.say("again", "after").await;
    browser
        .wait_for(
            "a live message after the outage",
            LIVE,
            "return document.querySelectorAll('#messages li.msg').length >= 12",
        )
        .await;
    assert_eq!(ids(&browser).await, (1..=12).collect::<Vec<_>>(), "no gap, no duplicate");
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrolling_to_the_top_loads_older_messages_and_keeps_the_place() {
    let Some(rig) = rig().await else { return };
    let mut poster = rig.api();
    for i in 1..=120 {
        poster.say("long", &format!("message {i}")).await;
    }
    let browser = rig.desktop().await;
    open_room(&rig, &browser, "long").await;
    assert_eq!(ids(&browser).await, (71..=120).collect::<Vec<_>>(), "the latest 50 first");

    // Scroll to the top: the next 50 go in above, and the message that was
    // at the top stays where the reader saw it.
    let top_of = "return document.querySelector('#messages li.msg[data-id=\"71\"]').getBoundingClientRect().top";
    browser.js("document.getElementById('messages').scrollTop = 0", json!([])).await;
    let before = browser.js(top_of, json!([])).await.as_f64().unwrap();
    browser
        .wait_for("older messages", SLOW, "return document.querySelectorAll('#messages li.msg').length === 100")
        .await;
    let after = browser.js(top_of, json!([])).await.as_f64().unwrap();
    assert!((before - after).abs() < 2.0, "the reading place moved from {before} to {after}");
    assert_eq!(ids(&browser).await, (21..=120).collect::<Vec<_>>());

    browser.js("document.getElementById('messages').scrollTop = 0", json!([])).await;
    browser.wait_for("the oldest", SLOW, "return document.querySelectorAll('#messages li.msg').length === 120").await;
    assert_eq!(ids(&browser).await, (1..=120).collect::<Vec<_>>());
    let start = browser
        .wait_for("the start marker", SLOW, "return document.querySelector('#messages li.history-start')?.textContent")
        .await;
    assert_eq!(start, "This is the start of #long.");
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentions_stand_out_hidden_tabs_count_unread_and_the_room_list_has_counts() {
    let Some(rig) = rig().await else { return };
    let mut poster = rig.api();
    poster.say("rust", "first").await;
    poster.say("rust", "second").await;
    let browser = rig.desktop().await;
    register(&rig, &browser, "alice").await;
    open_room(&rig, &browser, "lobby").await;
    let rooms = browser
        .wait_for("the room list", SLOW, "return [...document.querySelectorAll('#room-list li')].map(li => li.textContent).join('|').includes('#rust') && [...document.querySelectorAll('#room-list li')].map(li => li.textContent).join('|')")
        .await;
    assert!(rooms.as_str().unwrap().contains("#rustnow · 2"), "{rooms}");

    poster.say("lobby", "hey @alice, look").await;
    poster.say("lobby", "mail bob@alice.example").await;
    browser.wait_for("messages", LIVE, "return document.querySelectorAll('#messages li.msg').length === 2").await;
    let marked = browser
        .js(
            "return [...document.querySelectorAll('#messages li.msg')].map(li => li.classList.contains('mention'))",
            json!([]),
        )
        .await;
    assert_eq!(marked, json!([true, false]), "a mention, and an address that is not one");

    // A hidden tab counts what arrives in its title, and clears it when seen.
    let lobby_tab = browser.tabs().await[0].clone();
    browser.new_tab().await;
    browser.goto(&rig.url("/login")).await;
    poster.say("lobby", "one").await;
    poster.say("lobby", "two").await;
    let deadline = std::time::Instant::now() + SLOW;
    loop {
        let targets = browser.devtools("Target.getTargets", json!({})).await;
        let titles: Vec<String> = targets["targetInfos"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["title"].as_str().unwrap_or("").to_owned())
            .collect();
        if titles.iter().any(|t| t == "(2) #lobby · Chat") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no unread count in the hidden tab's title: {titles:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    browser.close_tab().await;
    browser.switch_to(&lobby_tab).await;
    browser.wait_for("the count to clear", SLOW, "return !document.hidden && document.title === '#lobby · Chat'").await;
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_room_page_fits_a_phone_and_a_desktop_in_light_and_dark() {
    let Some(rig) = rig().await else { return };
    let mut bob = rig.api();
    let registered = bob.post_form("/register", &[("username", "bob"), ("password", "correct horse battery")]).await;
    assert_eq!(registered.status, 303);
    for (room, text) in
        [("rust", "anyone tried the 2024 edition yet?"), ("random", "coffee?"), ("help", "how do I reset my password?")]
    {
        bob.say(room, text).await;
    }
    for text in ["who's around today?", "the new build is up on staging", "ping me if anything looks off"] {
        bob.say("lobby", text).await;
    }
    let alice = rig.desktop().await;
    register(&rig, &alice, "alice").await;
    open_room(&rig, &alice, "lobby").await;
    let guest = rig.phone().await;
    open_room(&rig, &guest, "lobby").await;
    bob.say("lobby", "morning all! the deploy went fine").await;
    say(&alice, "nice, thanks @bob").await;
    say(&guest, "hi! first time here, is this the place to ask about the API?").await;
    bob.say("lobby", "sure, ask away").await;
    say(&alice, "welcome! the README has the whole HTTP interface\nand the page is plain JS").await;
    bob.say("lobby", "@alice can you look at the release notes later?").await;
    for page in [&alice, &guest] {
        page.wait_for("every message", LIVE, "return document.querySelectorAll('#messages li.msg').length === 9").await;
        page.wait_for("two online", SLOW, "return document.querySelectorAll('#online li').length === 2").await;
    }

    // Nothing sticks out sideways on a 360 px phone; the message box is on screen.
    let fits = guest
        .js("const box = document.querySelector('#send textarea').getBoundingClientRect();
             return { width: innerWidth, scroll: document.documentElement.scrollWidth, boxBottom: box.bottom, height: innerHeight }", json!([]))
        .await;
    assert_eq!(fits["width"], 360, "{fits}");
    assert!(fits["scroll"].as_f64() <= fits["width"].as_f64(), "no sideways scrolling: {fits}");
    assert!(fits["boxBottom"].as_f64() <= fits["height"].as_f64(), "the send box is visible: {fits}");

    let background = "return getComputedStyle(document.body).backgroundColor";
    assert_eq!(alice.js(background, json!([])).await, "rgb(255, 255, 255)");
    crate::settled(&alice).await;
    crate::settled(&guest).await;
    save(&alice.screenshot().await, "room-desktop.png");
    save(&guest.screenshot().await, "room-phone.png");
    let dark = json!({ "features": [{ "name": "prefers-color-scheme", "value": "dark" }] });
    alice.devtools("Emulation.setEmulatedMedia", dark.clone()).await;
    crate::settled(&alice).await;
    assert_eq!(alice.js(background, json!([])).await, "rgb(20, 24, 29)", "dark colours for a dark system");
    save(&alice.screenshot().await, "room-desktop-dark.png");
    guest.devtools("Emulation.setEmulatedMedia", dark).await;
    crate::settled(&guest).await;
    save(&guest.screenshot().await, "room-phone-dark.png");
    alice.quit().await;
    guest.quit().await;
}

/// Types `text` into the page's box (Shift+Enter between lines) and sends it.
pub async fn say(page: &crate::webdriver::Session, text: &str) {
    let box_ = page.find("#send textarea").await;
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            page.type_into(&box_, SHIFT_ENTER).await;
        }
        page.type_into(&box_, line).await;
    }
    let before = texts(page).await.len();
    page.type_into(&box_, ENTER).await;
    page.wait_for(
        "the sent message",
        LIVE,
        &format!("return document.querySelectorAll('#messages li.msg').length > {before}"),
    )
    .await;
}

/// Keeps a screenshot under `target/`, and in `docs/` when asked to.
pub fn save(png: &[u8], name: &str) {
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser-screenshots");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(target.join(name), png).unwrap();
    if std::env::var("CHAT_UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1") {
        std::fs::write(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs").join(name), png).unwrap();
    }
}
