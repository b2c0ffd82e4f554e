//! The page in Chinese, chosen on the settings page, on a desktop and a
//! 360 px phone, light and dark: what a Chinese reader sees, with no raw
//! catalog key anywhere, and the README's Chinese screenshots.

use serde_json::json;

use crate::page::{save, say};
use crate::webdriver::Session;
use crate::{LIVE, Rig, SLOW, register, rig};

/// Chooses `language` (and nothing else) on this browser's settings page.
async fn choose_language(rig: &Rig, browser: &Session, language: &str) {
    browser.goto(&rig.url("/settings")).await;
    browser.click(&browser.find(&format!("input[name=language][value={language}]")).await).await;
    browser.click(&browser.find("form.settings-form button[type=submit]").await).await;
    browser
        .wait_for(
            "the settings saved",
            SLOW,
            "return location.search === '?done=saved' && !!document.querySelector('[role=status]')",
        )
        .await;
}

/// Visible text and the attributes people hear or hover, minus the
/// messages' own texts: any `table.key` path or `snake_case` word left
/// there is a key that was not translated.
const RAW_KEYS: &str = "
    const messages = new Set([...document.querySelectorAll('#messages .text, .quote-text')]);
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const seen = [];
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if ([...messages].some(m => m.contains(node))) continue;
      seen.push(node.textContent);
    }
    for (const el of document.querySelectorAll('[title], [aria-label], [placeholder], [alt]')) {
      for (const name of ['title', 'aria-label', 'placeholder', 'alt']) seen.push(el.getAttribute(name) || '');
    }
    seen.push(document.title);
    return seen.filter(text => /\\b[a-z]+_[a-z_]+\\b|\\bt\\.[a-z_]+\\.[a-z_]+/.test(text));";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chinese_reader_sees_the_room_in_chinese_on_a_phone_and_a_desktop_in_light_and_dark() {
    let Some(rig) = rig().await else { return };
    let mut wang = rig.api();
    let form = [("username", "wangfang"), ("password", "correct horse battery"), ("display", "王芳")];
    assert_eq!(wang.post_form("/register", &form).await.status, 303);
    for (room, text) in
        [("rust", "新版本的编译速度快了不少"), ("random", "中午一起吃饭吗？"), ("help", "怎么重置密码？")]
    {
        wang.say(room, text).await;
    }
    wang.say("lobby", "大家早上好！").await;
    wang.say("lobby", "今天下午三点开会，别忘了").await;

    let lihua = rig.desktop().await;
    register(&rig, &lihua, "lihua").await;
    choose_language(&rig, &lihua, "zh").await;
    crate::open_room(&rig, &lihua, "lobby").await;
    let guest = rig.phone().await;
    choose_language(&rig, &guest, "zh").await;
    crate::open_room(&rig, &guest, "lobby").await;

    say(&lihua, "收到，我会准时参加 @wangfang").await;
    say(&guest, "你好！第一次来，请问这里可以问 API 的问题吗？").await;
    wang.say("lobby", "当然可以，欢迎！").await;
    say(&lihua, "README 里有完整的 HTTP 接口说明").await;
    for page in [&lihua, &guest] {
        page.wait_for("every message", LIVE, "return document.querySelectorAll('#messages li.msg').length === 6").await;
        page.wait_for("two online", SLOW, "return document.querySelectorAll('#online li').length === 2").await;
        let shown = page
            .js("return { lang: document.documentElement.lang, title: document.title, send: document.querySelector('#send button[type=submit]').textContent }", json!([]))
            .await;
        assert_eq!(shown["lang"], "zh-CN", "{shown}");
        assert!(!shown["send"].as_str().unwrap().contains("Send"), "the send button is translated: {shown}");
        let raw = page.js(RAW_KEYS, json!([])).await;
        assert_eq!(raw, json!([]), "raw catalog keys on the page");
    }

    let dark = json!({ "features": [{ "name": "prefers-color-scheme", "value": "dark" }] });
    crate::settled(&lihua).await;
    crate::settled(&guest).await;
    save(&lihua.screenshot().await, "room-desktop-zh.png");
    save(&guest.screenshot().await, "room-phone-zh.png");
    for page in [&lihua, &guest] {
        page.devtools("Emulation.setEmulatedMedia", dark.clone()).await;
        crate::settled(page).await;
    }
    save(&lihua.screenshot().await, "room-desktop-zh-dark.png");
    save(&guest.screenshot().await, "room-phone-zh-dark.png");
    lihua.quit().await;
    guest.quit().await;
}
