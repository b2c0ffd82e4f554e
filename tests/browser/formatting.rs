//! Formatting on the page: Markdown shows as formatted elements, live, from
//! the server-rendered page and after an edit; and the XSS corpus
//! (`xss-vectors.txt`, OWASP's filter evasion vectors) posted as messages
//! runs nothing, breaks no Content-Security-Policy, and leaves nothing in
//! the page outside the formatting's allow-list.

use serde_json::{Value, json};

use crate::webdriver::{ENTER, Session};
use crate::{LIVE, SLOW, open_room, register, rig};

const ARROW_UP: &str = "\u{E013}";
const REL: &str = "noopener noreferrer nofollow ugc";

/// Installed before the page's own scripts (DevTools; the CSP does not
/// apply to it): every CSP violation the page reports is kept in
/// `window.violations`, and `alert`, `confirm` and `prompt` note that they
/// were called in `window.xssCalls` instead of opening a dialog.
const WATCH: &str = "window.violations = [];
    window.xssCalls = [];
    document.addEventListener('securitypolicyviolation', (e) =>
      window.violations.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + (e.sample || '')));
    for (const name of ['alert', 'confirm', 'prompt']) window[name] = (...args) => { window.xssCalls.push(name + ' ' + args.join(',')); };";

/// What the page holds that it should not: elements or attributes outside
/// the formatting's allow-list (`target` is the page's own, on links out),
/// links to anything but http(s), mailto or the server's rooms and
/// conversations, links without the rel, messages that show nothing,
/// vectors of markup (`arguments[0]`, in posting order) whose `<` is not
/// shown as text; and what ran or was refused.
const AUDIT: &str = "const allowed = { P: [], BR: [], EM: [], STRONG: [], DEL: [], CODE: [], PRE: [], BLOCKQUOTE: [],
      UL: [], OL: ['start'], LI: [], A: ['href', 'rel', 'target'] };
    const outside = [];
    for (const el of document.querySelectorAll('#messages .text *')) {
      const attributes = allowed[el.tagName];
      if (!attributes || [...el.attributes].some((a) => !attributes.includes(a.name))) outside.push(el.outerHTML);
      if (el.tagName === 'A' && (!/^(https?:\\/\\/|mailto:|\\/rooms\\/|\\/dm\\/)/.test(el.getAttribute('href') || '')
          || el.getAttribute('rel') !== 'noopener noreferrer nofollow ugc')) outside.push(el.outerHTML);
    }
    const blank = [...document.querySelectorAll('#messages li.msg')]
      .filter((li) => !(li.querySelector('.text')?.textContent.trim())).map((li) => li.dataset.id);
    const shown = [...document.querySelectorAll('#messages li.msg .text')].map((e) => e.textContent);
    const markup = (v) => /^<[a-z/!?]/i.test(v) && !/^<[a-z][a-z0-9+.-]*:/i.test(v);
    const hidden = arguments[0].filter((v, i) => markup(v) && !(shown[i] || '').includes('<'));
    return { outside, blank, hidden, calls: window.xssCalls, flag: window.xss ?? null, violations: window.violations,
             rows: document.querySelectorAll('#messages li.msg').length };";

/// The corpus: one vector a line, without comments and blank lines.
fn vectors() -> Vec<&'static str> {
    include_str!("xss-vectors.txt").lines().filter(|line| !line.trim().is_empty() && !line.starts_with('#')).collect()
}

async fn audit(page: &Session, vectors: &[&str]) -> Value {
    page.js(AUDIT, json!([vectors])).await
}

/// Waits for `page` to show `count` messages.
async fn wait_rows(page: &Session, count: usize) {
    let script = format!("return document.querySelectorAll('#messages li.msg').length === {count}");
    page.wait_for(&format!("{count} messages"), SLOW, &script).await;
}

/// Whether the last message holds each selector, and the text of each.
async fn last_message(page: &Session, selectors: &[&str]) -> Value {
    let script = "const li = [...document.querySelectorAll('#messages li.msg')].pop();
        return arguments[0].map((s) => li.querySelector('.text ' + s)?.textContent ?? null);";
    page.js(script, json!([selectors])).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markdown_shows_as_formatted_elements_live_after_a_reload_and_after_an_edit() {
    let Some(rig) = rig().await else { return };
    let alice = rig.desktop().await;
    register(&rig, &alice, "alice").await;
    open_room(&rig, &alice, "fmt").await;

    let text = "*em* **strong** ~~gone~~ `x < y`\n\n```\nfn main() {}\n```\n\n> quoted\n\n- one\n- two\n\n1. first\n\n\
                see https://example.com/docs, ask @alice in #tea";
    let mut bob = rig.api();
    bob.say("fmt", text).await;
    let selectors = [
        "em",
        "strong",
        "del",
        "p > code",
        "pre > code",
        "blockquote",
        "ul > li + li",
        "ol > li",
        &format!("a[href='https://example.com/docs'][rel='{REL}'][target=_blank]"),
        &format!("a[href='/dm/alice'][rel='{REL}']:not([target])"),
        "a[href='/rooms/tea']",
    ];
    let expected = json!([
        "em",
        "strong",
        "gone",
        "x < y",
        "fn main() {}\n",
        "\nquoted\n",
        "two",
        "first",
        "https://example.com/docs",
        "@alice",
        "#tea"
    ]);
    let script = "return document.querySelectorAll('#messages li.msg .text blockquote').length === 1";
    alice.wait_for("bob's formatted message", LIVE, script).await;
    assert_eq!(last_message(&alice, &selectors).await, expected, "drawn live");
    alice.refresh().await;
    crate::wait_connected(&alice).await;
    assert_eq!(last_message(&alice, &selectors).await, expected, "drawn by the server");

    // Alice's own message, edited with Up: the box gets the Markdown she
    // wrote (not the words shown), and the edit shows formatted.
    let box_ = alice.find("#send textarea").await;
    alice.type_into(&box_, "plain **at** first").await;
    alice.type_into(&box_, ENTER).await;
    alice
        .wait_for(
            "alice's message",
            LIVE,
            "return [...document.querySelectorAll('#messages li.msg')].pop().dataset.user === 'alice'",
        )
        .await;
    alice.type_into(&box_, ARROW_UP).await;
    let value = alice.js("return document.querySelector('#send textarea').value", json!([])).await;
    assert_eq!(value, "plain **at** first", "the text as written");
    alice.js("document.querySelector('#send textarea').value = ''", json!([])).await;
    alice.type_into(&box_, "now _emphatic_").await;
    alice.type_into(&box_, ENTER).await;
    let script = "const li = [...document.querySelectorAll('#messages li.msg')].pop();
        return li.querySelector('.text em')?.textContent === 'emphatic' && !!li.querySelector('.edited')";
    alice.wait_for("the edit, formatted", LIVE, script).await;
    alice.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_xss_corpus_shows_as_text_runs_nothing_and_breaks_no_policy() {
    let Some(rig) = rig().await else { return };
    let vectors = vectors();
    assert!(vectors.len() >= 60, "the corpus has {} vectors", vectors.len());
    let page = rig.desktop().await;
    page.devtools("Page.addScriptToEvaluateOnNewDocument", json!({ "source": WATCH })).await;
    let mut poster = rig.api();
    // Rooms of 50 (a page's history): each vector is drawn live, then again
    // by the server when the page is loaded anew.
    for (n, chunk) in vectors.chunks(50).enumerate() {
        let room = format!("xss-{n}");
        open_room(&rig, &page, &room).await;
        for vector in chunk {
            poster.say(&room, vector).await;
        }
        wait_rows(&page, chunk.len()).await;
        for how in ["live", "from the server"] {
            let found = audit(&page, chunk).await;
            let clean = json!({ "outside": [], "blank": [], "hidden": [], "calls": [], "flag": null, "violations": [],
                                "rows": chunk.len() });
            assert_eq!(found, clean, "{room}, drawn {how}");
            assert_eq!(page.alert_text().await, None, "no dialog is open");
            page.refresh().await;
            crate::wait_connected(&page).await;
            wait_rows(&page, chunk.len()).await;
        }
    }
    page.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watch_sees_a_violation_and_a_call_when_there_is_one() {
    // The corpus test can only fail if its watch can see something: here
    // the page is made to break its own policy and call alert.
    let Some(rig) = rig().await else { return };
    let page = rig.desktop().await;
    page.devtools("Page.addScriptToEvaluateOnNewDocument", json!({ "source": WATCH })).await;
    open_room(&rig, &page, "watch").await;
    page.js(
        "const img = document.createElement('img');
         img.setAttribute('onerror', 'window.xss = 1');
         img.src = '/no-such-image.png';
         document.querySelector('#messages').append(img);
         alert('seen');",
        json!([]),
    )
    .await;
    let seen = page
        .wait_for("the violation", SLOW, "return window.violations.length > 0 && [window.violations, window.xssCalls]")
        .await;
    assert!(seen[0][0].as_str().unwrap().starts_with("script-src"), "{seen}");
    assert_eq!(seen[1], json!(["alert seen"]));
    assert_eq!(page.js("return window.xss ?? null", json!([])).await, Value::Null, "the policy held");
    page.quit().await;
}
