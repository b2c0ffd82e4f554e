//! The activity page as an admin sees it: reached from the admin area, its
//! charts drawn (coloured by the style sheet, so the strict CSP let them
//! be), each chart's numbers in a table behind a disclosure that opens by
//! keyboard, the year one click away, and an open page counted among the
//! streams. A member who types the address is refused.

use serde_json::json;

use crate::webdriver::{ENTER, Session};
use crate::{SLOW, api_admin, log_in, open_room, register, rig};

/// The cells of the table in section `id`'s disclosure, row by row.
async fn table(browser: &Session, id: &str) -> Vec<Vec<String>> {
    let rows = browser
        .js(
            "return [...document.querySelectorAll(`#${arguments[0]} details tbody tr`)]
               .map(tr => [...tr.children].map(c => c.textContent.trim()))",
            json!([id]),
        )
        .await;
    serde_json::from_value(rows).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_reads_the_charts_and_their_numbers_and_a_member_is_refused() {
    let Some(rig) = rig().await else { return };
    // A history: a member three times in #general, a guest twice in #random.
    api_admin(&rig, "boss").await;
    let mut alice = rig.app.member("alice").await;
    for text in ["one", "two", "three"] {
        alice.say("general", text).await;
    }
    let mut guest = rig.api();
    guest.say("random", "hello").await;
    guest.say("random", "anyone?").await;

    // A page open in a room: one Server-Sent Events stream.
    let reader = rig.desktop().await;
    register(&rig, &reader, "reader").await;
    open_room(&rig, &reader, "general").await;

    let admin = rig.desktop().await;
    log_in(&rig, &admin, "boss").await;
    admin.goto(&rig.url("/admin")).await;
    admin.click(&admin.find("a[href='/admin/activity']").await).await;
    admin.wait_for("the activity page", SLOW, "return document.querySelectorAll('svg.chart').length === 6").await;

    // The messages chart: one member bar and one guest bar for today, in
    // the style sheet's colours (a blocked style would leave them black).
    let bars = admin
        .js(
            "return [...document.querySelectorAll('#messages svg rect')]
               .map(r => [r.getAttribute('class'), getComputedStyle(r).fill, r.getBBox().height > 0])",
            json!([]),
        )
        .await;
    let bars = bars.as_array().unwrap();
    assert_eq!(bars.len(), 2, "{bars:?}");
    assert_eq!((bars[0][0].as_str(), bars[1][0].as_str()), (Some("series-members"), Some("series-guests")));
    assert!(bars.iter().all(|b| b[1] != "rgb(0, 0, 0)" && b[2] == true), "coloured and drawn: {bars:?}");
    let label =
        admin.js("return document.querySelector('#messages svg').getAttribute('aria-labelledby')", json!([])).await;
    assert_eq!(label, "messages-chart-title", "the chart is an image named by its title");

    // The numbers behind the chart, opened by keyboard.
    let summary = admin.find("#messages summary").await;
    admin.js("arguments[0].focus()", json!([summary.reference()])).await;
    admin.type_into(&summary, ENTER).await;
    admin.wait_for("the table to open", SLOW, "return document.querySelector('#messages details').open").await;
    let days = table(&admin, "messages").await;
    assert_eq!(days.len(), 30, "a row per day");
    assert_eq!(days.last().unwrap()[1..], ["3", "2", "0", "5"], "today: members, guests, bots, total");
    let rooms = table(&admin, "rooms").await;
    assert_eq!(rooms, [vec!["#general", "3"], vec!["#random", "2"]]);
    let split = table(&admin, "split").await;
    assert_eq!(split[0], ["Members", "3", "1"]);
    assert_eq!(split[1], ["Guests", "2", "1"]);
    let streams = table(&admin, "streams").await;
    let sse: i64 = streams[0][1].parse().unwrap();
    assert!(sse >= 1, "the reader's page is an open stream: {streams:?}");

    // The year is one click away.
    admin.click(&admin.find("nav.periods a[href='/admin/activity?days=365']").await).await;
    admin
        .wait_for("the year", SLOW, "return document.querySelectorAll('#messages details tbody tr').length === 365")
        .await;
    let current =
        admin.js("return document.querySelector('nav.periods [aria-current=page]').textContent", json!([])).await;
    assert_eq!(current, "Last year");

    // A member who types the address gets the refusal, not the numbers.
    let member = rig.desktop().await;
    log_in(&rig, &member, "alice").await;
    member.goto(&rig.url("/admin/activity")).await;
    let text = member.js("return document.body.textContent", json!([])).await;
    let text = text.as_str().unwrap();
    assert!(text.contains("only admins may do this"), "{text}");
    assert!(!text.contains("general"), "nothing of the numbers: {text}");
    for browser in [reader, admin, member] {
        browser.quit().await;
    }
}
