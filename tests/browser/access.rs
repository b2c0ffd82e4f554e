//! The admin page by keyboard alone: an admin reaches the invite form with
//! Tab, fills it in and presses Enter, and a new person registers through
//! the link the page shows, logged in at once and a member of the invite's
//! members-only room.

use serde_json::json;

use crate::webdriver::{ENTER, Session};
use crate::{SLOW, api_admin, log_in, rig};

const PASSWORD: &str = "correct horse battery";
const TAB: &str = "\u{E004}";
/// Control down, "a" (select the field's text), every modifier up.
const SELECT_ALL: &str = "\u{E009}a\u{E000}";

/// Presses Tab (on whatever has the focus) until the element `id` has it.
async fn tab_to(browser: &Session, id: &str) {
    for _ in 0..80 {
        let focused = browser.js("return document.activeElement ? document.activeElement.id : ''", json!([])).await;
        if focused == id {
            return;
        }
        let has_focus =
            browser.js("return document.activeElement && document.activeElement !== document.body", json!([])).await;
        let target = if has_focus == true { browser.find(":focus").await } else { browser.find("body").await };
        browser.type_into(&target, TAB).await;
    }
    panic!("#{id} is not reachable with the Tab key");
}

/// Types into whatever has the focus.
async fn keys(browser: &Session, text: &str) {
    browser.type_into(&browser.find(":focus").await, text).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_creates_an_invite_by_keyboard_and_a_new_person_registers_through_its_link() {
    let Some(rig) = rig().await else { return };
    let mut api = api_admin(&rig, "boss").await;
    assert_eq!(api.post_json("/rooms/staff/members-only", &json!({ "enabled": true })).await.status, 200);
    assert_eq!(api.post_json("/admin/registration", &json!({ "mode": "invite" })).await.status, 200);

    let admin = rig.desktop().await;
    log_in(&rig, &admin, "boss").await;
    admin.goto(&rig.url("/admin")).await;
    tab_to(&admin, "invite-uses").await;
    keys(&admin, &format!("{SELECT_ALL}2{TAB}{SELECT_ALL}24{TAB}staff{ENTER}")).await;
    let link = admin
        .wait_for("the new invite's link", SLOW, "return document.getElementById('new-link')?.getAttribute('href')")
        .await;
    let link = link.as_str().expect("a link").to_owned();
    assert!(link.starts_with("/join/"), "{link}");
    let listed = admin.js("return document.querySelector('#invites tbody tr').textContent", json!([])).await;
    let listed = listed.as_str().unwrap_or_default();
    assert!(listed.contains("0 of 2") && listed.contains("#staff"), "{listed}");

    let newcomer = rig.desktop().await;
    newcomer.goto(&rig.url(&link)).await;
    newcomer.type_into(&newcomer.find("input[name=username]").await, "carol").await;
    newcomer.type_into(&newcomer.find("input[name=password]").await, &format!("{PASSWORD}{ENTER}")).await;
    newcomer
        .wait_for(
            "the lobby after registering",
            SLOW,
            "return document.querySelector('a.name')?.textContent === 'carol'",
        )
        .await;
    newcomer.goto(&rig.url("/rooms/staff")).await;
    newcomer
        .wait_for("the members-only room", SLOW, "return document.getElementById('chat')?.dataset.room === 'staff'")
        .await;

    admin.goto(&rig.url("/admin")).await;
    let listed = admin.js("return document.querySelector('#invites tbody tr').textContent", json!([])).await;
    assert!(listed.as_str().unwrap_or_default().contains("1 of 2"), "{listed}");
    admin.quit().await;
    newcomer.quit().await;
}
