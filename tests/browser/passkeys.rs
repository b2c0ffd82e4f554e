//! Passkeys in a real browser: Chromium with WebDriver's virtual
//! authenticator (CTAP2, built in, resident keys, user verification)
//! registers a passkey on the security page; after logging out, the login
//! page's passkey button logs in with it alone, no name and no password.
//!
//! WebAuthn needs a secure context and a relying party that is a domain,
//! so the page is opened at `http://localhost:<port>` (Chromium treats
//! localhost as secure), the server's default relying party.

use serde_json::json;

use crate::webdriver::Session;
use crate::{SLOW, rig};

fn localhost(rig: &crate::Rig, path: &str) -> String {
    format!("http://localhost:{}{path}", rig.app.addr.port())
}

async fn me(browser: &Session) -> serde_json::Value {
    browser.js("return fetch('/api/me').then(r => r.json())", json!([])).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passkey_registered_on_the_security_page_logs_in_without_a_password() {
    let Some(rig) = rig().await else { return };
    let browser = rig.desktop().await;
    let authenticator = browser
        .add_virtual_authenticator(json!({
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserVerified": true,
        }))
        .await;
    assert!(authenticator.is_string(), "an authenticator id: {authenticator}");

    // Register through the form at localhost (the cookies are that host's).
    browser.goto(&localhost(&rig, "/register")).await;
    browser.type_into(&browser.find("input[name=username]").await, "alice").await;
    browser.type_into(&browser.find("input[name=password]").await, "correct horse battery").await;
    browser.click(&browser.find("form[action='/register'] button").await).await;
    browser.wait_for("the lobby", SLOW, "return document.querySelector('a.name')?.textContent === 'alice'").await;

    // An admin, to read the audit log at the end.
    let mut db = crate::helpers::connect_db(rig.app.dir()).await;
    sqlx::query("UPDATE users SET role = 'admin' WHERE name = 'alice'").execute(&mut db).await.unwrap();

    browser.goto(&localhost(&rig, "/account/security")).await;
    let name = browser.find("#passkey-add input[name=name]").await;
    browser.clear(&name).await;
    browser.type_into(&name, "Laptop").await;
    browser.click(&browser.find("#passkey-add button").await).await;
    browser
        .wait_for(
            "the passkey in the list",
            SLOW,
            "return document.querySelector('#passkeys .passkey-name')?.textContent === 'Laptop'
               || document.getElementById('passkey-status')?.textContent",
        )
        .await;
    let listed = browser.js("return document.querySelector('#passkeys .passkey-name')?.textContent", json!([])).await;
    assert_eq!(listed, "Laptop", "{}", browser.js("return document.body.innerText", json!([])).await);

    // Log out, then log in with the passkey alone.
    browser.click(&browser.find("form[action='/logout'] button").await).await;
    browser.wait_for("logged out", SLOW, "return document.querySelector('a.name') === null").await;
    assert_eq!(me(&browser).await["guest"], true);
    browser.goto(&localhost(&rig, "/login")).await;
    browser.click(&browser.find("#passkey-login").await).await;
    browser
        .wait_for(
            "logged in with the passkey",
            SLOW,
            "return document.querySelector('a.name')?.textContent === 'alice'
               || document.getElementById('passkey-status')?.textContent",
        )
        .await;
    let me = me(&browser).await;
    assert_eq!((me["user"].as_str(), me["guest"].as_bool()), (Some("alice"), Some(false)), "{me}");
    assert_eq!(browser.js("return location.pathname", json!([])).await, "/");
    let session_cookie_visible = browser.js("return document.cookie.includes('session')", json!([])).await;
    assert_eq!(session_cookie_visible, false, "the session cookie stays HttpOnly");

    let audit = browser.js("return fetch('/admin/audit').then(r => r.json())", json!([])).await;
    let added = audit.as_array().unwrap().iter().any(|e| e["action"] == "passkey-add" && e["detail"] == "Laptop");
    assert!(added, "adding it is audited: {audit}");
    browser.quit().await;
}
