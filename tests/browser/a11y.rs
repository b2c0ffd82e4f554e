//! A page for everyone: every page passes axe-core's WCAG 2.1 A and AA
//! rules and its best practices with no serious or critical finding, on a
//! desktop and on a 360 px phone, in light and dark, and with the theme
//! forced against the system's (`<html data-theme>`); the room page works
//! by keyboard alone with a visible focus ring; and a reader who asks for
//! less motion gets none.
//!
//! axe-core comes from npm, not from this repository: `npm install --prefix
//! target/axe axe-core@4` puts it where [`AXE`] says (`CHAT_AXE_JS` names
//! another file). Without it the axe test is skipped like the other browser
//! tests, unless browser tests are required, when it fails saying so.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::webdriver::{ENTER, Session};
use crate::{LIVE, Rig, SLOW, api_admin, log_in, open_room, register, rig, wait_connected};

/// Where `npm install --prefix target/axe axe-core@4` puts axe, from the
/// crate's directory.
const AXE: &str = "target/axe/node_modules/axe-core/axe.min.js";
const PASSWORD: &str = "correct horse battery";

const TAB: &str = "\u{E004}";
/// Shift down, Tab, every modifier up.
const SHIFT_TAB: &str = "\u{E008}\u{E004}\u{E000}";
const SPACE: &str = "\u{E00D}";
const ESCAPE: &str = "\u{E00C}";
const ARROW_RIGHT: &str = "\u{E014}";

/// The rules checked: WCAG 2.0 and 2.1, levels A and AA, and axe's best
/// practices (landmarks, headings, …). Findings of impact "serious" or
/// "critical" fail the test.
const RUN_AXE: &str = "const done = arguments[arguments.length - 1];
    const tags = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'];
    axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] })
      .then(r => done(r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help, url: v.helpUrl,
        nodes: v.nodes.map(n => ({ target: n.target.join(' '), html: n.html, summary: n.failureSummary })) }))))
      .catch(e => done({ error: String(e) }));";

/// axe-core's source, or `None` (after saying why) when it is not
/// installed and browser tests are not required.
fn axe_source() -> Option<String> {
    let path =
        std::env::var_os("CHAT_AXE_JS").map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(AXE), PathBuf::from);
    match std::fs::read_to_string(&path) {
        Ok(source) => Some(source),
        Err(e) if crate::required() => panic!(
            "the accessibility test needs axe-core at {} ({e}): run `npm install --prefix target/axe axe-core@4` \
             in the crate's directory, or set CHAT_AXE_JS to axe.min.js",
            path.display()
        ),
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "skipping the accessibility test: {} ({e})", path.display());
            None
        }
    }
}

/// How a page is shown: the viewport, the system's colour scheme, and the
/// theme the page forces (`None`: the page's own, which follows the system).
#[derive(Clone, Copy)]
struct Mode {
    phone: bool,
    dark_system: bool,
    forced: Option<&'static str>,
}

impl Mode {
    fn name(self) -> String {
        let mut name = format!(
            "{}, {} system",
            if self.phone { "phone" } else { "desktop" },
            if self.dark_system { "dark" } else { "light" }
        );
        if let Some(theme) = self.forced {
            name.push_str(&format!(", data-theme={theme}"));
        }
        name
    }

    /// Whether the page should be dark.
    fn dark(self) -> bool {
        self.forced.map_or(self.dark_system, |theme| theme == "dark")
    }
}

/// What to do on a page before checking it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Prep {
    Nothing,
    /// A room page: its stream connected.
    Room,
    /// The room with the search panel open and showing hits.
    Search,
    /// The room with a message's reaction picker open.
    Picker,
    /// The room with a message's moderation menu open.
    Menu,
}

/// Runs axe on the page `browser` shows; answers the serious and critical
/// findings, each written out for a reader to fix.
async fn audit(browser: &Session, axe: &str, what: &str) -> Vec<String> {
    if browser.js("return typeof axe === 'undefined'", json!([])).await == true {
        browser.js(axe, json!([])).await;
    }
    // Colours are checked as they settle, not halfway through a fade.
    crate::settled(browser).await;
    let found = browser.js_async(RUN_AXE, json!([])).await;
    let Value::Array(violations) = found else { panic!("axe failed on {what}: {found}") };
    let mut failures = Vec::new();
    for v in violations {
        let impact = v["impact"].as_str().unwrap_or("none");
        let mut report = format!("{what}: {} ({impact}): {} <{}>", v["id"], v["help"], v["url"].as_str().unwrap_or(""));
        for node in v["nodes"].as_array().into_iter().flatten() {
            let summary = node["summary"].as_str().unwrap_or("").replace('\n', "\n        ");
            report.push_str(&format!("\n    at {}: {}\n        {summary}", node["target"], node["html"]));
        }
        if matches!(impact, "serious" | "critical") {
            failures.push(report);
        } else {
            // Worth a look, not a failure: shown with `--nocapture`.
            println!("note: {report}");
        }
    }
    failures
}

/// A small PNG, to attach.
fn png() -> Vec<u8> {
    let image = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([(x * 4) as u8, (y * 5) as u8, 120]));
    let mut bytes = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(image).write_to(&mut bytes, image::ImageFormat::Png).unwrap();
    bytes.into_inner()
}

/// Gets the page at `path` ready to check as `prep` says.
async fn prepare(rig: &Rig, browser: &Session, path: &str, prep: Prep) {
    browser.goto(&rig.url(path)).await;
    if prep == Prep::Nothing {
        return;
    }
    wait_connected(browser).await;
    match prep {
        Prep::Nothing | Prep::Room => {}
        Prep::Search => {
            browser.type_into(&browser.find("#search-q").await, &format!("deploy{ENTER}")).await;
            browser
                .wait_for("search hits", SLOW, "return document.querySelectorAll('.search-hits li').length > 0")
                .await;
        }
        Prep::Picker => {
            browser.js("document.querySelector('li.msg .tool-react').click()", json!([])).await;
            browser.wait_for("the reaction picker", SLOW, "return document.querySelector('.picker .pick')").await;
        }
        Prep::Menu => {
            browser.js("document.querySelector('li.msg .msg-actions').click()", json!([])).await;
            browser
                .wait_for("the message menu", SLOW, "return document.querySelector('.msg-menu [role=menuitem]')")
                .await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_passes_axe_on_a_desktop_and_a_phone_in_light_dark_and_forced_themes() {
    let Some(rig) = rig().await else { return };
    let Some(axe) = axe_source() else { return };

    // An admin, and people who talked: a reply, a reaction, a locked room,
    // an invite, a ban and a reset link (so the admin tables have rows).
    let mut boss = api_admin(&rig, "boss").await;
    let mut bob = rig.app.member("bob").await;
    let mut carol = rig.app.member("carol").await;
    let _mallory = rig.app.member("mallory").await;
    let first = bob.say("lobby", "morning all! the deploy went fine").await;
    let reply = json!({ "text": "nice, **thanks** — did the deploy touch `search`?", "reply_to": first });
    assert_eq!(carol.post_json("/rooms/lobby/messages", &reply).await.status, 201);
    let reaction = json!({ "emoji": "🎉", "on": true });
    let reacted = bob.post_json(&format!("/rooms/lobby/messages/{first}/reactions"), &reaction).await;
    assert_eq!(reacted.status, 200);
    bob.say("lobby", "@boss can you look at the release notes?\n\n- one\n- two").await;
    assert_eq!(boss.post_json("/rooms/staff/lock", &json!({ "locked": true })).await.status, 200);
    assert_eq!(boss.post_json("/rooms/staff/members-only", &json!({ "enabled": true })).await.status, 200);
    let invite = json!({ "uses": 2, "expires_hours": 24, "rooms": ["staff"] });
    assert_eq!(boss.post_json("/admin/invites", &invite).await.status, 201);
    assert_eq!(boss.post_json("/admin/ban", &json!({ "user": "mallory", "banned": true })).await.status, 200);
    let reset = boss.post_json("/admin/reset-link", &json!({ "user": "carol" })).await;
    assert_eq!(reset.status, 201);
    let reset = reset.json()["url"].as_str().expect("a reset link").to_owned();

    let desktop = rig.desktop().await;
    log_in(&rig, &desktop, "boss").await;
    // An attachment, sent the way a person does.
    open_room(&rig, &desktop, "lobby").await;
    let files = tempfile::tempdir().unwrap();
    let picture = files.path().join("diagram.png");
    std::fs::write(&picture, png()).unwrap();
    desktop.type_into(&desktop.find("#attach-file").await, picture.to_str().unwrap()).await;
    desktop.type_into(&desktop.find("#send textarea").await, &format!("the diagram{ENTER}")).await;
    desktop
        .wait_for(
            "the attached picture",
            LIVE + SLOW,
            "const img = document.querySelector('.attachments img'); return img && img.complete && img.naturalWidth > 0",
        )
        .await;
    // A conversation with one person.
    desktop.goto(&rig.url("/dm/bob")).await;
    let dm = desktop
        .wait_for("the conversation", SLOW, "return location.pathname.startsWith('/rooms/') && location.pathname")
        .await;
    let dm = dm.as_str().unwrap().to_owned();
    wait_connected(&desktop).await;
    desktop.type_into(&desktop.find("#send textarea").await, &format!("about the release{ENTER}")).await;
    desktop
        .wait_for("the direct message", LIVE, "return document.querySelectorAll('#messages li.msg').length === 1")
        .await;

    let phone = rig.phone().await;
    log_in(&rig, &phone, "boss").await;

    // Each page, and whether it is also checked with a forced theme.
    let pages: Vec<(&str, Prep, bool)> = vec![
        ("/rooms/lobby", Prep::Search, true),
        ("/rooms/lobby", Prep::Picker, false),
        ("/rooms/lobby", Prep::Menu, false),
        (&dm, Prep::Room, false),
        ("/login", Prep::Nothing, true),
        ("/register", Prep::Nothing, false),
        ("/account", Prep::Nothing, true),
        ("/account/security", Prep::Nothing, false),
        ("/settings", Prep::Nothing, true),
        ("/admin", Prep::Nothing, true),
        ("/admin?find=mal", Prep::Nothing, false),
        ("/admin/audit", Prep::Nothing, false),
        ("/admin/activity", Prep::Nothing, true),
        (&reset, Prep::Nothing, false),
        ("/no/such/page", Prep::Nothing, true),
    ];
    let modes = [
        Mode { phone: false, dark_system: false, forced: None },
        Mode { phone: false, dark_system: true, forced: None },
        Mode { phone: false, dark_system: false, forced: Some("dark") },
        Mode { phone: false, dark_system: true, forced: Some("light") },
        Mode { phone: true, dark_system: false, forced: None },
        Mode { phone: true, dark_system: true, forced: None },
    ];
    let mut failures = Vec::new();
    let mut checked = 0;
    for mode in modes {
        let browser = if mode.phone { &phone } else { &desktop };
        let scheme = if mode.dark_system { "dark" } else { "light" };
        let media = json!({ "features": [{ "name": "prefers-color-scheme", "value": scheme }] });
        browser.devtools("Emulation.setEmulatedMedia", media).await;
        for &(path, prep, forced_too) in &pages {
            if mode.forced.is_some() && !forced_too {
                continue;
            }
            prepare(&rig, browser, path, prep).await;
            if let Some(theme) = mode.forced {
                browser.js("document.documentElement.dataset.theme = arguments[0]", json!([theme])).await;
            }
            let background = browser.js("return getComputedStyle(document.body).backgroundColor", json!([])).await;
            let expected = if mode.dark() { "rgb(20, 24, 29)" } else { "rgb(255, 255, 255)" };
            assert_eq!(background, expected, "{path} in {}", mode.name());
            failures.extend(audit(browser, &axe, &format!("[{}] {path} ({prep:?})", mode.name())).await);
            checked += 1;
        }
    }
    // The theme chosen on the settings page, against the system's.
    for (system, theme, background) in [("light", "dark", "rgb(20, 24, 29)"), ("dark", "light", "rgb(255, 255, 255)")] {
        let media = json!({ "features": [{ "name": "prefers-color-scheme", "value": system }] });
        desktop.devtools("Emulation.setEmulatedMedia", media).await;
        desktop.goto(&rig.url("/settings")).await;
        desktop.click(&desktop.find(&format!("input[name=theme][value={theme}]")).await).await;
        desktop.click(&desktop.find("form[action='/settings'] button[type=submit]").await).await;
        desktop
            .wait_for("the saved theme", SLOW, &format!("return document.documentElement.dataset.theme === '{theme}'"))
            .await;
        prepare(&rig, &desktop, "/rooms/lobby", Prep::Room).await;
        let shown = desktop.js("return getComputedStyle(document.body).backgroundColor", json!([])).await;
        assert_eq!(shown, background, "the {theme} theme chosen in the settings, on a {system} system");
        let what = format!("[desktop, {system} system, {theme} theme in the settings] /rooms/lobby");
        failures.extend(audit(&desktop, &axe, &what).await);
        checked += 1;
    }
    let (more, views) = second_factor_pages(&rig, &axe).await;
    failures.extend(more);
    checked += views;
    // A guest's room page (its header and hint differ), and the forms and
    // the error page as someone logged out sees them.
    let guest = rig.desktop().await;
    for (path, prep) in [
        ("/rooms/lobby", Prep::Room),
        ("/settings", Prep::Nothing),
        ("/register", Prep::Nothing),
        ("/no/such/page", Prep::Nothing),
    ] {
        prepare(&rig, &guest, path, prep).await;
        failures.extend(both_schemes(&guest, &axe, &format!("{path} (a guest)")).await);
        checked += 2;
    }
    // In Chinese (the guest's choice, kept in the browser).
    guest.goto(&rig.url("/settings")).await;
    guest.click(&guest.find("input[name=language][value=zh]").await).await;
    guest.click(&guest.find("form[action='/settings'] button[type=submit]").await).await;
    guest.wait_for("the page in Chinese", SLOW, "return document.documentElement.lang === 'zh-CN'").await;
    for (path, prep) in [("/settings", Prep::Nothing), ("/rooms/lobby", Prep::Room)] {
        prepare(&rig, &guest, path, prep).await;
        failures.extend(both_schemes(&guest, &axe, &format!("{path} (a guest, in Chinese)")).await);
        checked += 2;
    }
    guest.quit().await;
    println!("axe checked {checked} page views");
    assert!(failures.is_empty(), "{} accessibility violations:\n\n{}", failures.len(), failures.join("\n\n"));
    desktop.quit().await;
    phone.quit().await;
}

/// Checks the page `browser` shows on a light and on a dark system.
async fn both_schemes(browser: &Session, axe: &str, what: &str) -> Vec<String> {
    let mut failures = Vec::new();
    for scheme in ["dark", "light"] {
        let media = json!({ "features": [{ "name": "prefers-color-scheme", "value": scheme }] });
        browser.devtools("Emulation.setEmulatedMedia", media).await;
        failures.extend(audit(browser, axe, &format!("[desktop, {scheme} system] {what}")).await);
    }
    failures
}

/// The pages of a second factor, on a desktop in both schemes: the
/// security page while an authenticator app is set up (QR code, key, code
/// field) and right after (the recovery codes), and a login's code step.
/// Answers the findings and how many page views were checked.
async fn second_factor_pages(rig: &Rig, axe: &str) -> (Vec<String>, usize) {
    let dora = rig.desktop().await;
    register(rig, &dora, "dora").await;
    dora.goto(&rig.url("/account/security")).await;
    dora.click(&dora.find("form[action='/account/totp/start'] button").await).await;
    let secret =
        dora.wait_for("the set-up key", SLOW, "return document.getElementById('totp-secret')?.textContent").await;
    let mut failures = both_schemes(&dora, axe, "/account/security (setting up)").await;

    let secret = secret.as_str().unwrap().replace(' ', "");
    let bytes = totp_rs::Secret::Encoded(secret).to_bytes().expect("a base32 key");
    let totp = totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes).expect("a 160-bit key");
    let code = totp.generate_current().unwrap();
    dora.type_into(&dora.find("input[name=code]").await, &format!("{code}{ENTER}")).await;
    dora.wait_for("the recovery codes", SLOW, "return document.querySelectorAll('.recovery-codes li').length > 0")
        .await;
    failures.extend(both_schemes(&dora, axe, "/account/security (recovery codes)").await);

    dora.click(&dora.find("form[action='/logout'] button").await).await;
    dora.wait_for("logged out", SLOW, "return !document.querySelector('a.name')").await;
    dora.goto(&rig.url("/login")).await;
    dora.type_into(&dora.find("input[name=username]").await, "dora").await;
    dora.type_into(&dora.find("input[name=password]").await, &format!("{PASSWORD}{ENTER}")).await;
    dora.wait_for("the code step", SLOW, "return document.querySelector('form[action=\"/login/code\"]')").await;
    failures.extend(both_schemes(&dora, axe, "/login (its code step)").await);
    dora.quit().await;
    (failures, 6)
}

/// The focused element, described for a failing assertion.
const FOCUSED: &str = "const e = document.activeElement; return e ? e.outerHTML.slice(0, 160) : null";

/// Whether the focused element draws a ring: `[style, width, opacity]`.
const RING: &str = "const e = document.activeElement, s = getComputedStyle(e);
    return [s.outlineStyle, parseFloat(s.outlineWidth), parseFloat(s.opacity)]";

async fn press(browser: &Session, keys: &str) {
    browser.type_into(&browser.find(":focus").await, keys).await;
}

/// Presses `key` until the focused element matches `css`.
async fn move_focus_to(browser: &Session, key: &str, css: &str) {
    for _ in 0..80 {
        if browser.js("return document.activeElement.matches(arguments[0])", json!([css])).await == true {
            return;
        }
        let anything = browser.js("return document.activeElement !== document.body", json!([])).await == true;
        let target = if anything { browser.find(":focus").await } else { browser.find("body").await };
        browser.type_into(&target, key).await;
    }
    panic!("{css} is not reachable by keyboard (focus is on {})", browser.js(FOCUSED, json!([])).await);
}

/// Waits until the focused element shows a ring and is fully drawn (the
/// message tools fade in).
async fn assert_ring(browser: &Session, what: &str) {
    let deadline = std::time::Instant::now() + SLOW;
    loop {
        let ring = browser.js(RING, json!([])).await;
        if ring[0] != "none" && ring[1].as_f64() > Some(0.0) && ring[2].as_f64() == Some(1.0) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no visible focus ring on {what}: [outline-style, outline-width, opacity] = {ring} on {}",
            browser.js(FOCUSED, json!([])).await
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_room_page_works_by_keyboard_alone_with_a_visible_focus_ring() {
    let Some(rig) = rig().await else { return };
    let mut bob = rig.app.member("bob").await;
    bob.say("lobby", "anyone around?").await;
    let alice = rig.desktop().await;
    register(&rig, &alice, "alice").await;
    open_room(&rig, &alice, "lobby").await;

    // From the top of a fresh page, the first Tab shows "Skip to the
    // message box", and Enter on it goes there.
    alice.js("document.activeElement.blur()", json!([])).await;
    alice.type_into(&alice.find("body").await, TAB).await;
    let on_skip = alice.js("return document.activeElement.matches('a.skip')", json!([])).await;
    assert_eq!(on_skip, true, "the first Tab stop is the skip link, not {}", alice.js(FOCUSED, json!([])).await);
    assert_ring(&alice, "the skip link").await;
    let shown =
        "const r = document.activeElement.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight";
    assert_eq!(alice.js(shown, json!([])).await, true, "the skip link is on screen when focused");
    press(&alice, ENTER).await;
    alice.wait_for("the message box focused", SLOW, "return document.activeElement.matches('#send textarea')").await;
    assert_ring(&alice, "the message box").await;
    // On a fresh page Tab alone reaches it too, past the sidebar and the
    // messages.
    alice.refresh().await;
    wait_connected(&alice).await;
    move_focus_to(&alice, TAB, "#send textarea").await;
    // Typing and Enter send.
    press(&alice, &format!("hello from the keyboard{ENTER}")).await;
    alice
        .wait_for(
            "the sent message",
            LIVE,
            "return [...document.querySelectorAll('#messages li.msg .text')].some(t => t.textContent === 'hello from the keyboard')",
        )
        .await;

    // Back up to Bob's message: its React button shows, with a ring.
    let react = "li.msg[data-user=bob] .tool-react";
    move_focus_to(&alice, SHIFT_TAB, react).await;
    assert_ring(&alice, "the React button").await;
    // Enter opens the picker on its first choice; Escape closes it and
    // gives the focus back.
    press(&alice, ENTER).await;
    alice
        .wait_for(
            "the picker's first choice focused",
            SLOW,
            "return document.activeElement.matches('.picker .pick:first-child')",
        )
        .await;
    assert_ring(&alice, "a reaction choice").await;
    assert_eq!(
        alice.js("return document.querySelector(arguments[0]).getAttribute('aria-expanded')", json!([react])).await,
        "true"
    );
    press(&alice, ESCAPE).await;
    alice
        .wait_for(
            "Escape to close the picker",
            SLOW,
            &format!("return !document.querySelector('.picker') && document.activeElement.matches({})", json!(react)),
        )
        .await;
    // Space opens it again, Right moves to the second choice, Enter picks it.
    press(&alice, SPACE).await;
    alice
        .wait_for("the picker again", SLOW, "return document.activeElement.matches('.picker .pick:first-child')")
        .await;
    press(&alice, ARROW_RIGHT).await;
    assert_eq!(alice.js("return document.activeElement.textContent", json!([])).await, "❤️");
    press(&alice, ENTER).await;
    alice
        .wait_for(
            "the reaction",
            LIVE,
            "return document.querySelector('li.msg[data-user=bob] .reaction[aria-pressed=true]')?.dataset.emoji === '❤️'",
        )
        .await;
    alice
        .wait_for("the focus back on React", SLOW, &format!("return document.activeElement.matches({})", json!(react)))
        .await;

    // Reply (Space on the button before React), type, Enter: a reply.
    press(&alice, SHIFT_TAB).await;
    assert!(
        alice.js("return document.activeElement.matches('.tool-reply')", json!([])).await == true,
        "{}",
        alice.js(FOCUSED, json!([])).await
    );
    assert_ring(&alice, "the Reply button").await;
    press(&alice, SPACE).await;
    alice
        .wait_for(
            "the reply bar",
            SLOW,
            "return !document.getElementById('composing').hidden && document.activeElement.matches('#send textarea')",
        )
        .await;
    press(&alice, &format!("here I am{ENTER}")).await;
    alice
        .wait_for(
            "the reply",
            LIVE,
            "const last = [...document.querySelectorAll('#messages li.msg')].pop(); return last.querySelector('.quote') && last.querySelector('.text').textContent === 'here I am'",
        )
        .await;
    alice.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asking_for_less_motion_stops_every_fade() {
    let Some(rig) = rig().await else { return };
    let mut bob = rig.app.member("bob").await;
    bob.say("lobby", "anyone around?").await;
    let alice = rig.desktop().await;
    register(&rig, &alice, "alice").await;
    open_room(&rig, &alice, "lobby").await;
    alice.wait_for("bob's message and its tools", SLOW, "return document.querySelector('li.msg .tool')").await;
    // What moves: the message tools fade in, a row's highlight fades out.
    let durations = "return ['li.msg .tool', 'li.msg'].map(css => {
        const s = getComputedStyle(document.querySelector(css));
        return [s.transitionDuration, s.animationDuration];
      })";
    assert_eq!(alice.js(durations, json!([])).await, json!([["0.15s", "0s"], ["0.4s", "0s"]]), "they move by default");
    let reduce = json!({ "features": [{ "name": "prefers-reduced-motion", "value": "reduce" }] });
    alice.devtools("Emulation.setEmulatedMedia", reduce).await;
    assert_eq!(alice.js(durations, json!([])).await, json!([["0s", "0s"], ["0s", "0s"]]), "nothing moves");
    alice.quit().await;
}
