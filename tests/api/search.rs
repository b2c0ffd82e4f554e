//! Search (`GET /api/search`): every word must match, as a case-insensitive
//! substring in any script; hits come newest first, a page at a time with
//! no hit twice; only rooms the searcher may read are searched; deleted and
//! edited-away text is never found; snippets are marked and escaped; bad
//! queries are 400 with the reason. The same tests run on both engines.

use serde_json::{Value, json};

use crate::helpers::{LiveApp, connect_db, spawn_server, spawn_server_with};
use crate::http::Browser;

/// `s` percent-encoded for a query string.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `GET /api/search?q=<q><extra>` as (status, JSON).
async fn search(browser: &mut Browser, q: &str, extra: &str) -> (u16, Value) {
    let response = browser.get(&format!("/api/search?q={}{extra}", encode(q))).await;
    (response.status, serde_json::from_str(&response.body).unwrap_or(Value::Null))
}

/// The texts of the hits for `q`, newest first.
async fn found(browser: &mut Browser, q: &str) -> Vec<String> {
    let (status, body) = search(browser, q, "").await;
    assert_eq!(status, 200, "searching {q:?}: {body}");
    texts(&body)
}

fn texts(page: &Value) -> Vec<String> {
    page["results"].as_array().expect("results").iter().map(|m| m["text"].as_str().unwrap().to_owned()).collect()
}

async fn make(app: &LiveApp, name: &str, role: &str) {
    let mut db = connect_db(app.dir()).await;
    sqlx::query("UPDATE users SET role = $1 WHERE name = $2").bind(role).bind(name).execute(&mut db).await.unwrap();
}

async fn call(browser: &mut Browser, path: &str, body: Value) -> (u16, Value) {
    let response = browser.post_json(path, &body).await;
    (response.status, serde_json::from_str(&response.body).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_word_must_match_in_any_order_ignoring_latin_case() {
    let app = spawn_server().await;
    let mut alice = app.member("alice").await;
    alice.say("r", "The quick brown fox").await;
    alice.say("r", "quick thinking").await;
    alice.say("other", "BROWN bears are Quick too").await;
    alice.say("r", "nothing to see").await;

    assert_eq!(found(&mut alice, "brown QUICK").await, ["BROWN bears are Quick too", "The quick brown fox"]);
    assert_eq!(
        found(&mut alice, "quick").await,
        ["BROWN bears are Quick too", "quick thinking", "The quick brown fox"]
    );
    assert_eq!(found(&mut alice, "quick fox thinking").await, Vec::<String>::new());
    // Short words are substrings too, and must match like the others.
    assert_eq!(found(&mut alice, "ox qu").await, ["The quick brown fox"]);
    assert_eq!(found(&mut alice, "i").await.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hits_come_newest_first_across_rooms_each_as_history_answers_it() {
    let app = spawn_server().await;
    let mut alice = app.member("alice").await;
    let first = alice.say("a", "needle one").await;
    alice.say("b", "needle two").await;
    call(&mut alice, &format!("/rooms/a/messages/{first}/reactions"), json!({ "emoji": "👍" })).await;
    let reply = call(&mut alice, "/rooms/a/messages", json!({ "text": "needle three", "reply_to": first })).await.1;

    let (status, page) = search(&mut alice, "needle", "").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(texts(&page), ["needle three", "needle two", "needle one"]);
    assert_eq!(page["next_before"], Value::Null);
    let history = alice.get("/rooms/a/messages").await.json();
    for (hit, message) in [(&page["results"][0], &history[1]), (&page["results"][2], &history[0])] {
        let mut hit = hit.clone();
        assert!(hit.as_object_mut().unwrap().remove("snippet").is_some());
        assert_eq!(&hit, message, "a hit is the message as history answers it, and its snippet");
    }
    assert_eq!(page["results"][0]["id"], reply["id"]);
    assert_eq!(page["results"][0]["reply_to"]["id"], first);
    assert_eq!(page["results"][2]["reactions"][0]["emoji"], "👍");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_with_next_before_returns_every_hit_once_in_order() {
    let app = spawn_server().await;
    let mut alice = app.member("alice").await;
    let mut posted = Vec::new();
    for n in 0..25 {
        let room = ["x", "y", "z"][n % 3];
        let text = format!("page test {n}");
        alice.say(room, &text).await;
        alice.say(room, "unrelated").await;
        posted.push(text);
    }
    posted.reverse();

    let mut seen = Vec::new();
    let mut before = String::new();
    let mut pages = Vec::new();
    loop {
        let (status, page) = search(&mut alice, "page test", &format!("&limit=10{before}")).await;
        assert_eq!(status, 200, "{page}");
        pages.push(page["results"].as_array().unwrap().len());
        seen.extend(texts(&page));
        match page["next_before"].as_i64() {
            Some(next) => before = format!("&before={next}"),
            None => break,
        }
    }
    assert_eq!(pages, [10, 10, 5]);
    assert_eq!(seen, posted, "every hit once, newest first, across rooms");

    // The default page is 20; 100 is the most.
    assert_eq!(texts(&search(&mut alice, "page", "").await.1).len(), 20);
    assert_eq!(texts(&search(&mut alice, "page", "&limit=100").await.1).len(), 25);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chinese_japanese_and_korean_are_found_by_any_substring() {
    let app = spawn_server().await;
    let mut alice = app.member("alice").await;
    alice.say("r", "大家你好！").await;
    alice.say("r", "東京は今日も晴れです").await;
    alice.say("r", "안녕하세요 여러분").await;
    alice.say("r", "你们").await;

    assert_eq!(found(&mut alice, "你好").await, ["大家你好！"]);
    assert_eq!(found(&mut alice, "家你好").await, ["大家你好！"]);
    assert_eq!(found(&mut alice, "好").await, ["大家你好！"]);
    assert_eq!(found(&mut alice, "你").await, ["你们", "大家你好！"]);
    assert_eq!(found(&mut alice, "東京").await, ["東京は今日も晴れです"]);
    assert_eq!(found(&mut alice, "今日も 晴れ").await, ["東京は今日も晴れです"]);
    assert_eq!(found(&mut alice, "하세").await, ["안녕하세요 여러분"]);
    assert_eq!(found(&mut alice, "안녕하세요").await, ["안녕하세요 여러분"]);
    assert_eq!(found(&mut alice, "你好 東京").await, Vec::<String>::new());
    assert_eq!(found(&mut alice, "大阪").await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_filter_keeps_to_that_room_whatever_its_size() {
    let app = spawn_server().await;
    let mut alice = app.member("alice").await;
    for room in ["a", "b"] {
        alice.say(room, "shared words 你好").await;
        alice.say(room, &format!("only in {room}")).await;
    }
    let in_b = |page: &Value| -> Vec<(String, String)> {
        let hits = page["results"].as_array().unwrap().iter();
        hits.map(|m| (m["room"].as_str().unwrap().to_owned(), m["text"].as_str().unwrap().to_owned())).collect()
    };
    let queries = ["shared", "你好", "only", "in", "ONLY b", "a"];
    let mut small = Vec::new();
    for q in queries {
        let (status, page) = search(&mut alice, q, "&room=b").await;
        assert_eq!(status, 200, "{page}");
        assert!(in_b(&page).iter().all(|(room, _)| room == "b"), "{q}: {page}");
        small.push(in_b(&page));
    }
    assert_eq!(small[0], [("b".to_owned(), "shared words 你好".to_owned())]);
    assert_eq!(small[4], [("b".to_owned(), "only in b".to_owned())]);
    // A big room is searched through the index instead, with the same answers.
    let mut db = connect_db(app.dir()).await;
    sqlx::query("UPDATE rooms SET last_id = 1000000 WHERE name = 'b'").execute(&mut db).await.unwrap();
    for (q, expected) in queries.iter().zip(&small) {
        assert_eq!(&in_b(&search(&mut alice, q, "&room=b").await.1), expected, "{q}");
    }
    assert_eq!(
        search(&mut alice, "shared", "&room=never-used").await,
        (200, json!({ "results": [], "next_before": null }))
    );
    assert_eq!(search(&mut alice, "shared", "&room=Not%20A%20Room").await.0, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_members_only_room_is_searched_by_its_members_and_moderators_only() {
    let app = spawn_server().await;
    let mut moderator = app.member("mod").await;
    make(&app, "mod", "moderator").await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    let mut guest = app.browser();
    let (status, _) =
        call(&mut moderator, "/rooms/staff/members-only", json!({ "enabled": true, "add": ["alice"] })).await;
    assert_eq!(status, 200);
    alice.say("staff", "secret launch plans").await;
    alice.say("lobby", "public launch party").await;

    for member in [&mut alice, &mut moderator] {
        assert_eq!(found(member, "launch").await, ["public launch party", "secret launch plans"]);
    }
    for outsider in [&mut bob, &mut guest] {
        assert_eq!(found(outsider, "launch").await, ["public launch party"]);
        assert_eq!(found(outsider, "secret").await, Vec::<String>::new());
        // Named, the room answers like one that never had a message.
        let unknown = search(outsider, "secret", "&room=no-such-room").await;
        assert_eq!(search(outsider, "secret", "&room=staff").await, unknown);
    }
    assert_eq!(texts(&search(&mut alice, "secret", "&room=staff").await.1), ["secret launch plans"]);

    // Off the allow list, out of the results.
    call(&mut moderator, "/rooms/staff/members-only", json!({ "enabled": true, "remove": ["alice"] })).await;
    assert_eq!(found(&mut alice, "secret").await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_is_searched_by_its_members_only_not_even_by_admins() {
    let app = spawn_server().await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    let mut carol = app.member("carol").await;
    let mut root = app.member("root").await;
    make(&app, "root", "admin").await;
    let (status, dm) = call(&mut alice, "/api/dm", json!({ "users": ["bob"] })).await;
    assert_eq!(status, 200, "{dm}");
    let room = dm["room"].as_str().unwrap().to_owned();
    alice.say(&room, "our private joke").await;

    for member in [&mut alice, &mut bob] {
        assert_eq!(found(member, "private joke").await, ["our private joke"]);
    }
    let mut guest = app.browser();
    for outsider in [&mut carol, &mut root, &mut guest] {
        assert_eq!(found(outsider, "joke").await, Vec::<String>::new());
        assert_eq!(search(outsider, "joke", &format!("&room={room}")).await.1["results"], json!([]));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_messages_are_never_found() {
    let app = spawn_server().await;
    let mut alice = app.member("alice").await;
    let id = alice.say("r", "regrettable 你好 words").await;
    alice.say("r", "kept words").await;
    assert_eq!(found(&mut alice, "regrettable").await.len(), 1);

    let (status, _) = call(&mut alice, &format!("/rooms/r/messages/{id}/delete"), json!({})).await;
    assert_eq!(status, 200);
    for q in ["regrettable", "你好", "words"] {
        assert!(!found(&mut alice, q).await.iter().any(|t| t.contains("regrettable")), "{q}");
    }
    assert_eq!(found(&mut alice, "words").await, ["kept words"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_edited_away_is_not_found_and_the_new_text_is() {
    let app = spawn_server().await;
    let mut alice = app.member("alice").await;
    let id = alice.say("r", "meet at the harbour").await;
    alice.say("r", "later message").await;
    let (status, _) =
        call(&mut alice, &format!("/rooms/r/messages/{id}/edit"), json!({ "text": "meet at the 駅" })).await;
    assert_eq!(status, 200);

    assert_eq!(found(&mut alice, "harbour").await, Vec::<String>::new());
    assert_eq!(found(&mut alice, "駅").await, ["meet at the 駅"]);
    // It keeps its place: it was posted before the later message.
    assert_eq!(found(&mut alice, "e").await, ["later message", "meet at the 駅"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snippets_mark_every_word_and_escape_everything_else() {
    let app = spawn_server().await;
    let mut mallory = app.member("mallory").await;
    mallory.say("r", "<script>alert('findme')</script> & <b>FindMe</b> \"twice\"").await;

    let (_, page) = search(&mut mallory, "findme", "").await;
    assert_eq!(
        page["results"][0]["snippet"],
        "&lt;script&gt;alert(&#39;<mark>findme</mark>&#39;)&lt;/script&gt; &amp; &lt;b&gt;<mark>FindMe</mark>&lt;/b&gt; &quot;twice&quot;"
    );
    let (_, page) = search(&mut mallory, "<script>", "").await;
    assert_eq!(page["results"][0]["snippet"].as_str().unwrap().matches("<mark>&lt;script&gt;</mark>").count(), 1);

    let long = format!("{} needle {}", "a".repeat(600), "b".repeat(600));
    mallory.say("r", &long).await;
    let (_, page) = search(&mut mallory, "needle", "").await;
    let snippet = page["results"][0]["snippet"].as_str().unwrap();
    assert!(snippet.starts_with('…') && snippet.ends_with('…') && snippet.contains("<mark>needle</mark>"), "{snippet}");
    assert!(snippet.chars().count() < 200, "{snippet}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_query_is_400_with_the_reason() {
    let app = spawn_server().await;
    let mut alice = app.member("alice").await;
    let too_long = format!("/api/search?q={}", "x".repeat(201));
    let cases = [
        ("/api/search", "q is empty"),
        ("/api/search?q=", "q is empty"),
        ("/api/search?q=%20%20", "q is empty"),
        (too_long.as_str(), "longer than 200"),
        ("/api/search?q=a+b+c+d+e+f+g+h+i+j+k", "more than 10 words"),
        ("/api/search?q=hi&limit=0", "limit"),
        ("/api/search?q=hi&limit=101", "limit"),
        ("/api/search?q=hi&before=soon", "before"),
        ("/api/search?q=hi&room=..", "room names"),
        // Found by the schema-driven fuzzer: a NUL inside a word was a 503.
        ("/api/search?q=abc%00def", "control characters"),
        ("/api/search?q=%00", "control characters"),
    ];
    for (path, reason) in cases {
        let response = alice.get(path).await;
        assert_eq!(response.status, 400, "{path}: {}", response.body);
        assert!(response.json()["error"].as_str().unwrap().contains(reason), "{path}: {}", response.body);
    }
    assert_eq!(alice.get(&format!("/api/search?q={}", "好".repeat(200))).await.status, 200);
    assert_eq!(alice.get("/api/search?q=a+b+c+d+e+f+g+h+i+j").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn like_wildcards_and_fts_syntax_in_a_query_are_literal() {
    let app = spawn_server().await;
    let mut alice = app.member("alice").await;
    for text in
        ["100% sure", "100 percent", "snake_case", "snakeXcase", "back\\slash", "backslash", "say \"hi\" OR NOT"]
    {
        alice.say("r", text).await;
    }
    assert_eq!(found(&mut alice, "%").await, ["100% sure"]);
    assert_eq!(found(&mut alice, "0%").await, ["100% sure"]);
    assert_eq!(found(&mut alice, "_").await, ["snake_case"]);
    assert_eq!(found(&mut alice, "e_c").await, ["snake_case"]);
    assert_eq!(found(&mut alice, "\\").await, ["back\\slash"]);
    assert_eq!(found(&mut alice, "k\\s").await, ["back\\slash"]);
    // FTS5's own syntax is just text too.
    assert_eq!(found(&mut alice, "\"hi\"").await, ["say \"hi\" OR NOT"]);
    assert_eq!(found(&mut alice, "\"hi\" OR").await, ["say \"hi\" OR NOT"]);
    for q in ["NEAR(hi", "sure*", "^say", "text:hi", "hi\"", "OR AND NOT"] {
        let (status, body) = search(&mut alice, q, "").await;
        assert_eq!(status, 200, "{q}: {body}");
    }
    assert_eq!(found(&mut alice, "sure*").await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_words_are_found_in_old_messages_beyond_the_newest_rows() {
    // More rows than the SQLite plan reads before narrowing short words
    // through the index's vocabulary, with the rare ones oldest.
    let app = spawn_server().await;
    let mut alice = app.member("alice").await;
    alice.say("r", "你好 at the very start").await;
    alice.say("r", "qz").await;
    alice.say("r", "ends with 好").await;
    let filler = (chat::store::RECENT_WINDOW / 500 + 2) * 500;
    let mut db = connect_db(app.dir()).await;
    for first in (0..filler).step_by(500) {
        let rows: Vec<String> = (0..500)
            .map(|n| format!("('r', {}, NULL, 'seed', 0, 'filler text number {}', 0)", first + n + 10, first + n))
            .collect();
        let sql = format!(
            "INSERT INTO messages (room, id, user_id, user_name, guest, text, at_ms) VALUES {}",
            rows.join(", ")
        );
        sqlx::query(&sql).execute(&mut db).await.unwrap();
    }

    assert_eq!(found(&mut alice, "你好").await, ["你好 at the very start"]);
    assert_eq!(found(&mut alice, "好").await, ["ends with 好", "你好 at the very start"]);
    assert_eq!(found(&mut alice, "qz").await, ["qz"]);
    assert_eq!(found(&mut alice, "QZ").await, ["qz"]);
    assert_eq!(found(&mut alice, "xq").await, Vec::<String>::new());
    assert_eq!(found(&mut alice, "你好 very").await, ["你好 at the very start"]);
    // A common short word pages through both parts without a repeat.
    let mut seen = std::collections::HashSet::new();
    let mut before = String::new();
    for _ in 0..60 {
        let (status, page) = search(&mut alice, "r 9", &format!("&limit=100{before}")).await;
        assert_eq!(status, 200);
        for hit in page["results"].as_array().unwrap() {
            assert!(seen.insert((hit["room"].to_string(), hit["id"].as_i64().unwrap())), "{hit} twice");
        }
        match page["next_before"].as_i64() {
            Some(next) => before = format!("&before={next}"),
            None => break,
        }
    }
    let expected = (0..filler).filter(|n| n.to_string().contains('9')).count();
    assert_eq!(seen.len(), expected);

    // Kept to a big room, a word matching thousands of rows elsewhere is
    // looked for in that room's own rows: the same answers.
    alice.say("other", "filler in another room").await;
    alice.say("other", "something else").await;
    sqlx::query("UPDATE rooms SET last_id = 1000000").execute(&mut db).await.unwrap();
    let (_, page) = search(&mut alice, "filler", "&room=other").await;
    assert_eq!(texts(&page), ["filler in another room"]);
    let (_, page) = search(&mut alice, "filler 99", "&room=r&limit=3").await;
    assert_eq!(texts(&page), ["filler text number 4999", "filler text number 4998", "filler text number 4997"]);
    assert_eq!(found(&mut alice, "qz").await, ["qz"]);
    let (_, page) = search(&mut alice, "qz", "&room=r").await;
    assert_eq!(texts(&page), ["qz"]);
    // Every word still has to match, the long ones too.
    alice.say("r", "zz on top").await;
    let (_, page) = search(&mut alice, "number z", "&room=r").await;
    assert_eq!(texts(&page), Vec::<String>::new());
    let (_, page) = search(&mut alice, "top z", "&room=r").await;
    assert_eq!(texts(&page), ["zz on top"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searching_draws_on_the_post_rate_limit() {
    let app = spawn_server_with(|f| f.merge(("rate_limits", true))).await;
    let mut alice = app.member("alice").await;
    // A member's burst is 10 (refilling at 5/s): a quick run of searches
    // meets a 429 soon after.
    for answered in 0..30 {
        let response = alice.get("/api/search?q=anything").await;
        if response.status == 429 {
            assert!(response.header("retry-after").is_some());
            assert!((10..20).contains(&answered), "{answered} answered before the first 429");
            return;
        }
        assert_eq!(response.status, 200, "{}", response.body);
    }
    panic!("30 searches in a row were all answered");
}
