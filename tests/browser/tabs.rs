//! Eight tabs in one browser: more than the six HTTP/1.1 connections a
//! browser opens to one origin, so a stream per tab would stall the seventh.
//! The tabs share one stream (one leader, seven followers), every tab gets
//! its room's messages, and when the leader closes another takes over and
//! misses nothing.

use std::time::Instant;

use serde_json::json;

use crate::{LIVE, SLOW, rig, texts, wait_connected};

const TABS: usize = 8;

fn room_of(tab: usize) -> String {
    format!("tab{}", tab % 3)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_tabs_share_one_stream_and_survive_the_leader_closing() {
    let Some(rig) = rig().await else { return };
    let browser = rig.desktop().await;
    let mut handles = Vec::new();
    for tab in 0..TABS {
        if tab > 0 {
            browser.new_tab().await;
        }
        browser.goto(&rig.url(&format!("/rooms/{}", room_of(tab)))).await;
        wait_connected(&browser).await;
        handles.push(browser.tabs().await.into_iter().find(|h| !handles.contains(h)).unwrap());
    }
    let mut roles = Vec::new();
    for handle in &handles {
        browser.switch_to(handle).await;
        roles.push(browser.js("return document.getElementById('chat').dataset.stream", json!([])).await);
    }
    let leaders: Vec<usize> = (0..TABS).filter(|&t| roles[t] == "leader").collect();
    assert_eq!(leaders.len(), 1, "one tab holds the stream: {roles:?}");
    assert_eq!(roles.iter().filter(|r| *r == "follower").count(), TABS - 1, "{roles:?}");

    let mut poster = rig.api();
    let posted = Instant::now();
    for room in 0..3 {
        poster.say(&format!("tab{room}"), &format!("to tab{room}")).await;
    }
    for (tab, handle) in handles.iter().enumerate() {
        browser.switch_to(handle).await;
        let expected = format!("to {}", room_of(tab));
        browser
            .wait_for(
                &format!("tab {tab}"),
                LIVE,
                &format!(
                    "return [...document.querySelectorAll('#messages .text')].some(e => e.textContent === {})",
                    json!(expected)
                ),
            )
            .await;
        assert_eq!(texts(&browser).await, [expected], "tab {tab} shows its room's message once");
    }
    assert!(posted.elapsed() < LIVE * 2, "every tab within {:?}", posted.elapsed());

    // The leader goes; a follower takes over and resumes from the cursor.
    browser.switch_to(&handles[leaders[0]]).await;
    browser.close_tab().await;
    for room in 0..3 {
        poster.say(&format!("tab{room}"), &format!("again to tab{room}")).await;
    }
    let mut new_leaders = 0;
    for (tab, handle) in handles.iter().enumerate().filter(|(t, _)| *t != leaders[0]) {
        browser.switch_to(handle).await;
        let room = room_of(tab);
        browser
            .wait_for(
                &format!("tab {tab} after the leader left"),
                SLOW,
                "return document.querySelectorAll('#messages li.msg').length === 2",
            )
            .await;
        assert_eq!(texts(&browser).await, [format!("to {room}"), format!("again to {room}")], "tab {tab}");
        let role = browser.js("return document.getElementById('chat').dataset.stream", json!([])).await;
        new_leaders += usize::from(role == "leader");
    }
    assert_eq!(new_leaders, 1, "exactly one tab took over");
    browser.quit().await;
}
