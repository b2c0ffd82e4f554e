//! The page in the reader's language and habits: an input method's Enter
//! never sends, the send key the settings chose (Enter, or Ctrl+Enter), a
//! Chinese page whose template and scripts show no English and no raw key,
//! and times in 12 or 24 hours as the settings ask.

use std::time::Duration;

use serde_json::{Value, json};

use crate::webdriver::{ENTER, SHIFT_ENTER, Session};
use crate::{LIVE, Rig, SLOW, open_room, register, rig, texts};

/// Control down, Enter, then every modifier up again.
const CTRL_ENTER: &str = "\u{E009}\u{E007}\u{E000}";
const ARROW_UP: &str = "\u{E013}";
const ESCAPE: &str = "\u{E00C}";

/// Chooses settings for the page's own visitor (its cookie), as the
/// settings page's script would: JSON to `/api/settings`.
async fn choose(browser: &Session, settings: Value) {
    let status = browser
        .js(
            "return fetch('/api/settings', { method: 'POST', headers: { 'Content-Type': 'application/json' },
                                             body: JSON.stringify(arguments[0]) }).then(r => r.status);",
            json!([settings]),
        )
        .await;
    assert_eq!(status, 200, "the settings are saved");
}

async fn message_count(browser: &Session) -> usize {
    texts(browser).await.len()
}

/// Lets the page act on what it was just sent, if it was going to.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(500)).await;
}

async fn box_value(browser: &Session) -> Value {
    browser.js("return document.querySelector('#send textarea').value", json!([])).await
}

/// The texts of every `<time>` in the message list.
async fn shown_times(browser: &Session) -> Vec<String> {
    let times =
        browser.js("return [...document.querySelectorAll('#messages time')].map(t => t.textContent)", json!([])).await;
    serde_json::from_value(times).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_input_methods_enter_never_sends_and_ctrl_enter_sends_when_chosen() {
    let Some(rig) = rig().await else { return };
    let browser = rig.desktop().await;
    register(&rig, &browser, "alice").await;
    open_room(&rig, &browser, "ime").await;
    let box_ = browser.find("#send textarea").await;

    // Typing 你好 with a pinyin input method: the Enter that confirms the
    // characters (isComposing, keyCode 229), and a keydown that comes just
    // after compositionend (as in Safari), send nothing.
    browser
        .js(
            "const box = document.querySelector('#send textarea');
             box.value = '你好';
             const key = (init) => box.dispatchEvent(new KeyboardEvent('keydown',
               Object.assign({ key: 'Enter', code: 'Enter', bubbles: true, cancelable: true }, init)));
             box.dispatchEvent(new CompositionEvent('compositionstart', { bubbles: true, data: '' }));
             key({ isComposing: true, keyCode: 229 });
             box.dispatchEvent(new CompositionEvent('compositionend', { bubbles: true, data: '你好' }));
             key({ keyCode: 229 });
             box.dispatchEvent(new CompositionEvent('compositionstart', { bubbles: true, data: '' }));
             box.dispatchEvent(new CompositionEvent('compositionend', { bubbles: true, data: '你好' }));
             key({});",
            json!([]),
        )
        .await;
    settle().await;
    assert_eq!(message_count(&browser).await, 0, "nothing was sent during the composition");
    assert_eq!(box_value(&browser).await, "你好", "the text is still in the box");

    // A plain Enter afterwards sends it.
    browser.type_into(&box_, ENTER).await;
    browser
        .wait_for("the sent message", LIVE, "return document.querySelectorAll('#messages li.msg').length === 1")
        .await;
    assert_eq!(texts(&browser).await, ["你好"]);
    assert_eq!(box_value(&browser).await, "");

    // With Ctrl+Enter chosen, Enter is a new line and Ctrl+Enter sends.
    choose(&browser, json!({ "send_key": "ctrl-enter" })).await;
    browser.refresh().await;
    crate::wait_connected(&browser).await;
    let hint = browser.js("return document.querySelector('#send textarea').placeholder", json!([])).await;
    assert_eq!(hint, "Message #ime (Ctrl+Enter sends, Enter for a new line, Up edits your last)");
    let box_ = browser.find("#send textarea").await;
    browser.type_into(&box_, "line one").await;
    browser.type_into(&box_, ENTER).await;
    browser.type_into(&box_, "line two").await;
    browser.type_into(&box_, SHIFT_ENTER).await;
    browser.type_into(&box_, "line three").await;
    settle().await;
    assert_eq!(message_count(&browser).await, 1, "Enter and Shift+Enter did not send");
    assert_eq!(box_value(&browser).await, "line one\nline two\nline three");
    browser.type_into(&box_, CTRL_ENTER).await;
    browser
        .wait_for("the sent message", LIVE, "return document.querySelectorAll('#messages li.msg').length === 2")
        .await;
    let sent =
        browser.js("return document.querySelector('#messages li.msg:last-child .text').dataset.text", json!([])).await;
    assert_eq!(sent, "line one\nline two\nline three");

    // Up in the empty box still edits the last message; Escape cancels.
    browser.type_into(&box_, ARROW_UP).await;
    assert_eq!(box_value(&browser).await, "line one\nline two\nline three", "Up edits the last message");
    assert_eq!(browser.js("return document.getElementById('composing').hidden", json!([])).await, false);
    browser.type_into(&box_, ESCAPE).await;
    assert_eq!(box_value(&browser).await, "");
    browser.quit().await;
}

/// Every run of Latin letters the reader sees (text, titles, labels,
/// placeholders), and every word that looks like a catalog key.
const LATIN_AND_KEYS: &str = "const skip = new Set(arguments[0]);
    let shown = document.body.innerText;
    for (const text of skip) shown = shown.split(text).join(' ');
    const attributes = [...document.querySelectorAll('[title], [aria-label], [placeholder]')]
      .flatMap(e => ['title', 'aria-label', 'placeholder'].map(a => e.getAttribute(a) || ''))
      .filter(v => !skip.has(v));
    const all = [shown, ...attributes, document.title].join('\\n');
    return {
      latin: [...new Set(all.match(/[A-Za-z]{2,}/g) || [])].sort(),
      keys: all.match(/\\b[a-z]+_[a-z_]+\\b|\\bt\\.[a-z_]+\\.[a-z_]+/g) || [],
    };";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chinese_page_shows_chinese_from_the_template_and_the_scripts_and_no_raw_key() {
    let Some(rig) = rig().await else { return };
    let mut bob = bob(&rig).await;
    bob.say("zhongwen", "早上好").await;

    let page = rig.desktop().await;
    register(&rig, &page, "lihua").await;
    choose(&page, json!({ "language": "zh" })).await;
    open_room_zh(&rig, &page, "zhongwen").await;
    assert_eq!(page.js("return document.documentElement.lang", json!([])).await, "zh-CN");
    assert_eq!(page.js("return document.getElementById('state').textContent", json!([])).await, "已连接");
    assert_eq!(
        page.js("return document.querySelector('#send button[type=submit]').textContent", json!([])).await,
        "发送"
    );

    // Her own message, then an edit with Up: the composer and the row say so in Chinese.
    let box_ = page.find("#send textarea").await;
    page.type_into(&box_, "大家好").await;
    page.type_into(&box_, ENTER).await;
    page.wait_for("her message", LIVE, "return document.querySelectorAll('#messages li.msg').length === 2").await;
    page.type_into(&box_, ARROW_UP).await;
    let editing = page.js("return document.querySelector('#composing .composing-what').textContent", json!([])).await;
    assert_eq!(editing, "正在编辑你的消息（Esc 取消）");
    page.type_into(&box_, "！").await;
    page.type_into(&box_, ENTER).await;
    page.wait_for(
        "the edit",
        LIVE,
        "return document.querySelector('#messages li.msg:last-child .edited')?.textContent === '（已编辑）'",
    )
    .await;
    let tools = page
        .js(
            "const li = document.querySelector('#messages li.msg:last-child');
             return ['reply', 'react', 'link', 'edit'].map(n => li.querySelector('.tool-' + n).getAttribute('aria-label'))",
            json!([]),
        )
        .await;
    assert_eq!(tools, json!(["回复", "表情回应", "复制链接", "编辑"]));

    // Bob, live: his message and his typing.
    bob.say("zhongwen", "你好李华").await;
    page.wait_for("bob's live message", LIVE, "return document.querySelectorAll('#messages li.msg').length === 3")
        .await;
    let typing = bob.post_json("/rooms/zhongwen/typing", &json!({})).await;
    assert_eq!(typing.status, 204);
    page.wait_for("bob typing", LIVE, "return document.getElementById('typing').textContent === 'bob 正在输入…'").await;

    // Times in 24 hours (the language's habit), server-rendered and live alike.
    let times = shown_times(&page).await;
    assert_eq!(times.len(), 3, "{times:?}");
    for time in &times {
        let (hours, minutes) = time.split_once(':').unwrap_or_else(|| panic!("a time of day: {time:?}"));
        assert!(hours.len() == 2 && hours.parse::<u8>().is_ok_and(|h| h < 24), "24 hours: {times:?}");
        assert!(minutes.len() == 2 && minutes.parse::<u8>().is_ok(), "24 hours: {times:?}");
    }
    let edited = page.js("return document.querySelector('#messages .edited').title", json!([])).await;
    assert!(edited.as_str().unwrap().starts_with("编辑于 "), "{edited}");

    // No English, no raw key: only the names, the room and the keys' names
    // are in Latin letters.
    let typed = json!(["早上好", "大家好！", "你好李华"]);
    let found = page.js(LATIN_AND_KEYS, json!([typed])).await;
    assert_eq!(found["keys"], json!([]), "raw keys on the page: {found}");
    let allowed = ["Ctrl", "Enter", "Esc", "Shift", "bob", "lihua", "lobby", "zhongwen"];
    let english: Vec<&str> =
        found["latin"].as_array().unwrap().iter().filter_map(Value::as_str).filter(|w| !allowed.contains(w)).collect();
    assert!(english.is_empty(), "untranslated words: {english:?} in {found}");
    page.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_english_page_shows_times_in_12_or_24_hours_as_chosen() {
    let Some(rig) = rig().await else { return };
    let mut bob = bob(&rig).await;
    bob.say("clock", "tick").await;
    let guest = rig.desktop().await;
    open_room(&rig, &guest, "clock").await;
    bob.say("clock", "tock").await;
    guest.wait_for("the live message", LIVE, "return document.querySelectorAll('#messages li.msg').length === 2").await;
    let twelve = shown_times(&guest).await;
    assert_eq!(twelve.len(), 2);
    for time in &twelve {
        assert!(time.ends_with("AM") || time.ends_with("PM"), "12 hours by default in English: {twelve:?}");
    }

    // The guest chooses 24 hours on the settings page (kept in this browser).
    guest.goto(&rig.url("/settings")).await;
    guest.click(&guest.find("input[name=clock][value='24h']").await).await;
    guest.click(&guest.find("form.settings-form button[type=submit]").await).await;
    guest.wait_for("saved", SLOW, "return location.search.includes('done')").await;
    open_room(&rig, &guest, "clock").await;
    assert_eq!(
        guest.js("return [document.documentElement.lang, document.documentElement.dataset.clock]", json!([])).await,
        json!(["en", "24h"])
    );
    let twenty_four = shown_times(&guest).await;
    assert_eq!(twenty_four.len(), 2);
    for (time, before) in twenty_four.iter().zip(&twelve) {
        assert!(!time.contains('M') && time.contains(':'), "24 hours: {twenty_four:?}");
        let hour = |t: &str| t.split(':').next().unwrap().trim().parse::<u32>().unwrap();
        let minutes = |t: &str| t.split(':').nth(1).unwrap()[..2].to_owned();
        assert_eq!(hour(time) % 12, hour(before) % 12, "the same time: {twelve:?} {twenty_four:?}");
        assert_eq!(minutes(time), minutes(before));
    }
    guest.quit().await;
}

/// Bob, a member posting through the API.
async fn bob(rig: &Rig) -> crate::http::Browser {
    let mut bob = rig.api();
    let registered = bob.post_form("/register", &[("username", "bob"), ("password", "correct horse battery")]).await;
    assert_eq!(registered.status, 303);
    bob
}

async fn open_room_zh(rig: &Rig, browser: &Session, room: &str) {
    browser.goto(&rig.url(&format!("/rooms/{room}"))).await;
    crate::wait_connected(browser).await;
}
