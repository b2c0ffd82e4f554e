//! Search on the page: a query typed into the sidebar's box lists the hits
//! (room, author, time, the snippet with the words marked and hostile text
//! shown as text), and a hit opens its room at the message.

use serde_json::json;

use crate::webdriver::ENTER;
use crate::{SLOW, open_room, rig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_lists_its_hits_and_a_hit_opens_the_room_at_the_message() {
    let Some(rig) = rig().await else { return };
    let mut api = rig.api();
    let id = api.say("harbour", "the ferry leaves at nine <b>sharp</b>, 大家你好").await;
    api.say("harbour", "no boats today").await;
    api.say("other", "ferry tales").await;

    let page = rig.desktop().await;
    open_room(&rig, &page, "lobby").await;
    let search = page.find("#search-q").await;
    page.type_into(&search, "ferry 你好").await;
    page.type_into(&search, ENTER).await;
    page.wait_for("one hit", SLOW, "return document.querySelectorAll('#search-results .search-hits a').length === 1")
        .await;
    let hit = page
        .js(
            "const a = document.querySelector('#search-results .search-hits a'); return {
                href: a.getAttribute('href'), room: a.querySelector('.search-room').textContent,
                user: a.querySelector('.user').textContent, snippet: a.querySelector('.snippet').innerHTML,
                marks: [...a.querySelectorAll('mark')].map(m => m.textContent), bold: a.querySelector('.snippet b'),
                status: document.querySelector('#search-results .search-status').textContent }",
            json!([]),
        )
        .await;
    assert_eq!(hit["href"], format!("/rooms/harbour?at={id}"));
    assert_eq!(hit["room"], "#harbour");
    assert!(hit["user"].as_str().unwrap().starts_with("guest-"), "{hit}");
    assert_eq!(hit["marks"], json!(["ferry", "你好"]));
    assert_eq!(hit["bold"], json!(null), "the message's markup is shown as text: {hit}");
    assert!(hit["snippet"].as_str().unwrap().contains("&lt;b&gt;sharp&lt;/b&gt;"), "{hit}");
    assert_eq!(hit["status"], "1 message");

    // A word found nowhere says so; Escape clears the results.
    page.clear(&search).await;
    page.type_into(&search, "submarine").await;
    page.type_into(&search, ENTER).await;
    page.wait_for(
        "no hits",
        SLOW,
        "return document.querySelector('#search-results .search-status').textContent === 'No messages match.'",
    )
    .await;
    page.type_into(&search, "\u{E00C}").await;
    page.wait_for("the results cleared", SLOW, "return document.getElementById('search-results').hidden").await;

    // The hit is a link: following it opens the room at the message.
    page.clear(&search).await;
    page.type_into(&search, "ferry leaves").await;
    page.type_into(&search, ENTER).await;
    page.wait_for(
        "the hit again",
        SLOW,
        "return document.querySelectorAll('#search-results .search-hits a').length === 1",
    )
    .await;
    page.click(&page.find("#search-results .search-hits a").await).await;
    page.wait_for(
        "the room page at the message",
        SLOW,
        &format!(
            "return location.pathname === '/rooms/harbour' && location.search === '?at={id}' \
             && document.querySelector('.room-head h1')?.textContent === '#harbour'"
        ),
    )
    .await;
    page.quit().await;
}
