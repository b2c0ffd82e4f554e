//! Attaching files on the page: an image chosen through the file input is
//! previewed, sent with a progress bar, and shown as a thumbnail that
//! loads, on the sender's page and live on another's; any other file shows
//! as a download link with its name and size.

use std::io::Cursor;

use serde_json::{Value, json};

use crate::webdriver::{ENTER, Session};
use crate::{LIVE, SLOW, open_room, register, rig};

/// Defines `last()`: the attachments of the page's last message, for each
/// the image's width and height attributes and whether it loaded, or the
/// link's text.
const LAST_ATTACHMENTS: &str =
    "const last = () => { const li = [...document.querySelectorAll('#messages li.msg')].pop();
    return li ? [...li.querySelectorAll('.attachments a')].map(a => {
        const img = a.querySelector('img');
        return img ? [img.getAttribute('width'), img.getAttribute('height'), img.complete && img.naturalWidth > 0]
                   : a.textContent;
    }) : null; };";

async fn last_attachments(browser: &Session) -> Value {
    browser.js(&format!("{LAST_ATTACHMENTS} return last();"), json!([])).await
}

/// Waits until the last message shows `kind` ("image": loaded, or "file").
async fn wait_for_last(browser: &Session, what: &str, kind: &str) -> Value {
    let ready = match kind {
        "image" => "a && a[0] && a[0][2]",
        _ => "a && typeof a[0] === 'string'",
    };
    browser.wait_for(what, LIVE + SLOW, &format!("{LAST_ATTACHMENTS} const a = last(); return {ready} && a")).await
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
    let mut bytes = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(image).write_to(&mut bytes, image::ImageFormat::Png).unwrap();
    bytes.into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chosen_image_is_previewed_sent_with_progress_and_shown_as_a_thumbnail_that_loads() {
    let Some(rig) = rig().await else { return };
    let alice = rig.desktop().await;
    register(&rig, &alice, "alice").await;
    open_room(&rig, &alice, "pics").await;
    let bob = rig.desktop().await;
    register(&rig, &bob, "bob").await;
    open_room(&rig, &bob, "pics").await;
    let files = tempfile::tempdir().unwrap();
    let photo = files.path().join("sunset.png");
    std::fs::write(&photo, png(800, 600)).unwrap();

    // WebDriver hands a path to the file input, as choosing it would.
    alice.type_into(&alice.find("#attach-file").await, photo.to_str().unwrap()).await;
    let shown = alice
        .wait_for(
            "the preview",
            SLOW,
            "const p = document.getElementById('upload-preview'); const c = p.querySelector('canvas');
             return !p.hidden && !c.hidden && c.width > 0 &&
                 [p.querySelector('.preview-name').textContent, p.querySelector('.preview-size').textContent, c.width, c.height]",
        )
        .await;
    let size = format!("{:.1} KiB", std::fs::metadata(&photo).unwrap().len() as f64 / 1024.0).replace(".0 ", " ");
    assert_eq!(shown, json!(["sunset.png", size, 120, 90]), "the image drawn small, its name and size");

    alice.type_into(&alice.find("#send textarea").await, &format!("the view from here{ENTER}")).await;
    let sent = wait_for_last(&alice, "the sent image, loaded", "image").await;
    assert_eq!(sent, json!([["320", "240", true]]), "the thumbnail at its own size, loaded");
    let after = alice
        .js(
            "const p = document.getElementById('upload-preview');
             return [p.hidden, p.querySelector('progress').value, [...document.querySelectorAll('#messages .text')].pop().textContent]",
            json!([]),
        )
        .await;
    assert_eq!(
        after,
        json!([true, 100, "the view from here"]),
        "the progress bar reached the end, the preview is gone"
    );
    let href = alice
        .js(
            "return [...document.querySelectorAll('#messages .attachment.image')].pop().getAttribute('href')",
            json!([]),
        )
        .await;
    assert!(href.as_str().unwrap().ends_with("/sunset.png"), "{href}");

    // Bob's page draws it live, loaded too.
    let live = wait_for_last(&bob, "the image on bob's page", "image").await;
    assert_eq!(live, json!([["320", "240", true]]));

    // Any other file: no text needed, a download link with name and size.
    let notes = files.path().join("notes.txt");
    std::fs::write(&notes, "x".repeat(2048)).unwrap();
    bob.type_into(&bob.find("#attach-file").await, notes.to_str().unwrap()).await;
    bob.wait_for("the file's preview", SLOW, "return !document.getElementById('upload-preview').hidden").await;
    bob.type_into(&bob.find("#send textarea").await, ENTER).await;
    let link = wait_for_last(&bob, "the download link", "file").await;
    assert_eq!(link, json!(["notes.txt 2 KiB"]));
    wait_for_last(&alice, "the download link on alice's page", "file").await;
    assert_eq!(last_attachments(&alice).await, json!(["notes.txt 2 KiB"]));

    // A file over upload_max_bytes: refused with the server's reason, and
    // the file stays chosen (Cancel drops it).
    let big = files.path().join("big.bin");
    std::fs::write(&big, vec![7u8; 10 * 1024 * 1024 + 1]).unwrap();
    bob.type_into(&bob.find("#attach-file").await, big.to_str().unwrap()).await;
    bob.wait_for("the big file's preview", SLOW, "return !document.getElementById('upload-preview').hidden").await;
    bob.type_into(&bob.find("#send textarea").await, ENTER).await;
    let reason = bob.wait_for("the refusal", SLOW, "return document.querySelector('#chat p.error')?.textContent").await;
    assert_eq!(reason, "the file is larger than the limit of 10 MiB (upload_max_bytes)");
    bob.click(&bob.find("#upload-preview .preview-cancel").await).await;
    bob.wait_for("the preview gone", SLOW, "return document.getElementById('upload-preview').hidden").await;

    // After a reload the server draws the same.
    alice.refresh().await;
    let drawn = alice
        .wait_for(
            "the page drawn by the server",
            SLOW,
            "const img = document.querySelector('#messages .attachment.image img');
             return img && img.complete && img.naturalWidth > 0 &&
                 [img.getAttribute('width'), img.getAttribute('height'), document.querySelector('.attachment.file').textContent]",
        )
        .await;
    assert_eq!(drawn, json!(["320", "240", "notes.txt 2 KiB"]));
    alice.quit().await;
    bob.quit().await;
}
