//! The installable app: the page links a web app manifest whose icons are
//! served at their stated sizes, a service worker registers and controls
//! the page, and a room opened with the network cut comes from the worker's
//! cache, says it is offline, shows the messages last rendered (live ones
//! included), and on the network's return shows what was missed exactly
//! once. The worker never keeps the API, a stream, a file or a picture, and
//! logging out leaves no room readable offline.

use std::time::Duration;

use serde_json::{Value, json};

use crate::proxy::Proxy;
use crate::webdriver::Session;
use crate::{LIVE, SLOW, ids, rig, texts, wait_connected};

/// How soon a page opened offline must say so.
const PROMPTLY: Duration = Duration::from_secs(5);

/// Every address in Cache Storage, as `cache-name path?query`.
const CACHED: &str = "const all = [];
    for (const name of await caches.keys()) {
      const cache = await caches.open(name);
      for (const request of await cache.keys()) {
        const url = new URL(request.url);
        all.push(name + ' ' + url.pathname + url.search);
      }
    }
    return all;";

async fn cached(browser: &Session) -> Vec<String> {
    let script = format!("return (async () => {{ {CACHED} }})()");
    serde_json::from_value(browser.js(&script, json!([])).await).unwrap()
}

/// Waits until the worker controls the page.
async fn wait_controlled(browser: &Session) {
    browser
        .wait_for("the service worker to control the page", SLOW, "return !!navigator.serviceWorker.controller")
        .await;
}

/// Waits until the worker keeps the page now shown (its path).
async fn wait_page_kept(browser: &Session) {
    let script = "return caches.open('chat-pages').then(c => c.match(location.pathname)).then(r => !!r)";
    browser.wait_for("the room page in the worker's cache", SLOW, script).await;
}

/// Waits until this room's snapshot holds `text`.
async fn wait_snapshot_holds(browser: &Session, text: &str) {
    let script = format!(
        "const chat = document.getElementById('chat');
         const saved = localStorage.getItem('chat-offline:' + chat.dataset.me + ':' + chat.dataset.room) || '';
         return saved.includes({})",
        json!(text)
    );
    browser.wait_for(&format!("the snapshot to hold {text:?}"), SLOW, &script).await;
}

async fn wait_for_text(browser: &Session, text: &str) {
    let script = format!(
        "return [...document.querySelectorAll('#messages li.msg .text')].some(e => e.textContent === {})",
        json!(text)
    );
    browser.wait_for(&format!("{text:?} on the page"), LIVE, &script).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_links_a_manifest_whose_icons_are_served_at_their_stated_sizes() {
    let Some(rig) = rig().await else { return };
    let browser = rig.desktop().await;
    browser.goto(&rig.url("/rooms/lobby")).await;
    wait_connected(&browser).await;
    let found = browser
        .js(
            "return (async () => {
               const link = document.querySelector('link[rel=manifest]');
               const response = await fetch(link.href);
               const type = response.headers.get('content-type');
               const manifest = await response.json();
               const icons = [];
               for (const icon of manifest.icons) {
                 const url = new URL(icon.src, link.href);
                 const answer = await fetch(url);
                 const img = new Image();
                 img.src = url;
                 await img.decode();
                 icons.push({ ...icon, status: answer.status, served: answer.headers.get('content-type'),
                              width: img.naturalWidth, height: img.naturalHeight });
               }
               return { type, manifest, icons,
                        theme: document.querySelector('meta[name=theme-color]')?.content,
                        touch: document.querySelector('link[rel=apple-touch-icon]')?.href };
             })()",
            json!([]),
        )
        .await;
    assert_eq!(found["type"], "application/manifest+json");
    let manifest = &found["manifest"];
    for (field, expected) in [("start_url", "/"), ("scope", "/"), ("display", "standalone")] {
        assert_eq!(manifest[field], expected, "{field}");
    }
    for field in ["name", "short_name", "theme_color", "background_color"] {
        assert!(manifest[field].as_str().is_some_and(|v| !v.is_empty()), "{field}: {manifest}");
    }
    assert_eq!(found["theme"], manifest["theme_color"], "the page's theme-color is the manifest's");
    assert!(found["touch"].as_str().is_some_and(|href| href.ends_with(".png")), "an apple-touch-icon: {found}");

    let icons = found["icons"].as_array().unwrap();
    for icon in icons {
        assert_eq!(icon["status"], 200, "{icon}");
        let served = icon["served"].as_str().unwrap();
        assert!(served.starts_with(icon["type"].as_str().unwrap()), "served as its stated type: {icon}");
        if let Some((w, h)) = icon["sizes"].as_str().unwrap().split_once('x') {
            assert_eq!((icon["width"].to_string(), icon["height"].to_string()), (w.to_owned(), h.to_owned()), "{icon}");
        }
    }
    let has = |sizes: &str, purpose: &str, kind: &str| {
        icons.iter().any(|i| i["sizes"] == sizes && i["purpose"] == purpose && i["type"] == kind)
    };
    assert!(has("any", "any", "image/svg+xml"), "an SVG icon: {icons:?}");
    assert!(has("192x192", "any", "image/png") && has("512x512", "any", "image/png"), "PNGs: {icons:?}");
    assert!(icons.iter().any(|i| i["purpose"] == "maskable"), "a maskable icon: {icons:?}");
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_worker_from_the_sites_root_registers_and_controls_the_page() {
    let Some(rig) = rig().await else { return };
    let browser = rig.desktop().await;
    browser.goto(&rig.url("/rooms/lobby")).await;
    wait_connected(&browser).await;
    let ready = browser
        .js(
            "return navigator.serviceWorker.ready.then(r => ({ scope: r.scope, script: r.active.scriptURL }))",
            json!([]),
        )
        .await;
    assert_eq!(ready, json!({ "scope": rig.url("/"), "script": rig.url("/sw.js") }));
    browser.refresh().await;
    wait_connected(&browser).await;
    let controller = browser.js("return navigator.serviceWorker.controller?.scriptURL", json!([])).await;
    assert_eq!(controller, rig.url("/sw.js"), "a reloaded page is controlled");

    let served = browser
        .js(
            "return Promise.all([fetch('/sw.js'), fetch('/')]).then(async ([sw, page]) => ({
               type: sw.headers.get('content-type'), cache: sw.headers.get('cache-control'),
               starts: (await sw.text()).slice(0, 17), csp: page.headers.get('content-security-policy') }))",
            json!([]),
        )
        .await;
    assert_eq!(served["type"], "text/javascript; charset=utf-8");
    assert_eq!(served["cache"], "no-cache", "a new binary's worker is seen at once");
    assert_eq!(served["starts"], "const VERSION = \"");
    let csp = served["csp"].as_str().unwrap();
    assert!(csp.contains("worker-src 'self'") && csp.contains("manifest-src 'self'"), "{csp}");
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_opened_offline_shows_the_messages_last_rendered_and_catches_up_without_a_gap() {
    let Some(rig) = rig().await else { return };
    let room = "away";
    let mut poster = rig.app.member("poster").await;
    poster.say(room, "one").await;
    poster.say(room, "two").await;
    // The browser reaches the app only through the proxy; the poster
    // straight.
    let proxy = Proxy::start(rig.app.addr).await;
    let page = format!("http://{}/rooms/{room}", proxy.addr);
    let browser = rig.desktop().await;
    browser.goto(&page).await;
    wait_connected(&browser).await;
    wait_controlled(&browser).await;
    // Now through the worker, which keeps the page.
    browser.goto(&page).await;
    wait_connected(&browser).await;
    wait_page_kept(&browser).await;
    poster.say(room, "three, live").await;
    wait_for_text(&browser, "three, live").await;
    wait_snapshot_holds(&browser, "three, live").await;

    proxy.cut();
    browser.goto(&page).await;
    browser
        .wait_for(
            "the page opened from the cache to say it is offline",
            PROMPTLY,
            "return document.getElementById('state').textContent === 'offline'
               && document.getElementById('offline-banner')?.hidden === false",
        )
        .await;
    let notice = browser.js("return document.getElementById('offline-banner').textContent", json!([])).await;
    assert!(notice.as_str().is_some_and(|n| n.starts_with("You are offline.")), "the catalog's words: {notice}");
    assert_eq!(texts(&browser).await, ["one", "two", "three, live"], "the messages last rendered, in order");
    poster.say(room, "four, missed").await;
    poster.say(room, "five, missed").await;

    proxy.restore();
    wait_connected(&browser).await;
    wait_for_text(&browser, "five, missed").await;
    let last = poster.say(room, "six, live again").await;
    wait_for_text(&browser, "six, live again").await;
    assert_eq!(ids(&browser).await, (1..=last).collect::<Vec<_>>(), "no gap, no duplicate");
    assert_eq!(texts(&browser).await, ["one", "two", "three, live", "four, missed", "five, missed", "six, live again"]);
    let banner_hidden = browser.js("return document.getElementById('offline-banner').hidden", json!([])).await;
    assert_eq!(banner_hidden, true, "the notice goes when the stream is back");

    // The page fetched the API, its stream, avatars; none of it was kept.
    let kept = cached(&browser).await;
    assert!(kept.contains(&format!("chat-pages /rooms/{room}")), "{kept:?}");
    assert!(kept.iter().any(|k| k.ends_with(" /static/app.js")), "{kept:?}");
    for entry in &kept {
        let (cache, path) = entry.split_once(' ').unwrap();
        let allowed = match cache {
            "chat-pages" => path == "/" || path.strip_prefix("/rooms/").is_some_and(|r| !r.contains(['/', '?'])),
            _ => {
                cache.starts_with("chat-shell-")
                    && (path.starts_with("/static/")
                        || path.starts_with("/i18n/")
                        || path == "/manifest.webmanifest"
                        || path == "/favicon.svg")
            }
        };
        assert!(allowed, "the worker kept {entry}");
    }
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logging_out_leaves_no_room_readable_offline() {
    let Some(rig) = rig().await else { return };
    let browser = rig.desktop().await;
    crate::register(&rig, &browser, "alice").await;
    let page = rig.url("/rooms/secret");
    browser.goto(&page).await;
    wait_connected(&browser).await;
    wait_controlled(&browser).await;
    browser.goto(&page).await;
    wait_connected(&browser).await;
    wait_page_kept(&browser).await;
    rig.api().say("secret", "for alice's eyes").await;
    wait_for_text(&browser, "for alice's eyes").await;
    wait_snapshot_holds(&browser, "for alice's eyes").await;

    browser.click(&browser.find("form[action='/logout'] button").await).await;
    browser
        .wait_for("a guest after logging out", SLOW, "return document.querySelector('.name.guest')?.textContent")
        .await;
    let left: Value = browser
        .js(
            "return (async () => ({
               snapshots: Object.keys(localStorage).filter(k => k.startsWith('chat-offline:') && k.includes('alice')),
               page: !!(await caches.match('/rooms/secret')) }))()",
            json!([]),
        )
        .await;
    assert_eq!(left, json!({ "snapshots": [], "page": false }), "nothing of alice's rooms is kept");
    browser.quit().await;
}
