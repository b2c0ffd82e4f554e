//! `seed`: a seeded history served like a posted one (SQLite), and every
//! row written into PostgreSQL when a database is given.

use super::*;

/// The JSON line of a report.
fn json_of(report: &chat_load::Report) -> Value {
    let rendered = report.render();
    serde_json::from_str(rendered.lines().last().expect("output")).expect("the last line is JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_seeded_history_is_served_like_a_posted_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let seed = SeedArgs {
        messages: 3000,
        rooms: 4,
        big_room_share: 0.5,
        sqlite_data_dir: Some(dir.path().to_owned()),
        postgres: None,
    };
    let json = json_of(&chat_load::seed::run(&seed).await.expect("seeding"));
    assert_eq!(json["messages"], 3000, "{json}");
    assert_eq!(json["big_room_messages"], 1500, "{json}");
    assert!(json["bytes_per_message"].as_f64().unwrap() > 50.0, "{json}");
    // A seed is a history from scratch: a second one is refused.
    let again = chat_load::seed::run(&seed).await.expect_err("seeding twice").to_string();
    assert!(again.contains("already holds"), "{again}");

    let server = spawn_chat_on(dir).await;
    let args = HistoryArgs { rounds: 2, rooms: 4, back: 1000, behind: 100, page: 50 };
    let json = run(&common(&server), Scenario::History(args)).await;
    assert_eq!(json["errors"], 0, "{json}");
    assert_eq!(json["big_room_newest"], 1500, "{json}");
    assert_eq!(json["back_distance"], 1000, "{json}");
    assert_eq!(json["back_halfway"], false, "{json}");
    for (what, messages) in [("latest", 100), ("back", 100), ("resume", 200)] {
        assert_eq!(json[format!("{what}_count")], 2, "{json}");
        assert_eq!(json[format!("{what}_messages")], messages, "{json}");
    }
    assert_eq!(json["resumes_in_order"], 2, "{json}");
    // Every room holds more than --behind: no resume had to move.
    assert_eq!(json["resumes_in_big_room"], 0, "{json}");
    let classes = chat_load::scenario::corpus::QUERIES.len() as u64;
    assert_eq!(json["search_count"], 2 * classes, "{json}");
    // Messages 17 and 3 carry the planted words; "the" is everywhere.
    assert_eq!(json["hits"]["quasar"], "1", "{json}");
    assert_eq!(json["hits"]["the"], "20+", "{json}");
    assert_eq!(json["hits"]["xylophonist"], "0", "{json}");

    // A post after the seed takes the room's next id, and is found first.
    let target = Target::at(server.addr, Kind::Chat).unwrap();
    let mut conn = chat_load::http::Conn::new(&target, Duration::from_secs(10));
    let posted = conn.post("/rooms/hist-0001/messages", "application/json", br#"{"text":"the quasar again"}"#);
    let posted = posted.await.expect("posting");
    assert_eq!(posted.status(), 201, "{}", posted.text());
    let message: Value = serde_json::from_slice(&posted.body).unwrap();
    assert_eq!(message["id"], 501, "{message}");
    let found = conn.get("/api/search?q=quasar").await.expect("searching");
    let found: Value = serde_json::from_slice(&found.body).unwrap();
    let rooms: Vec<&str> = found["results"].as_array().unwrap().iter().map(|h| h["room"].as_str().unwrap()).collect();
    assert_eq!(rooms.len(), 2, "{found}");
    assert_eq!(rooms[0], "hist-0001", "{found}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeding_postgres_writes_every_row() {
    use sqlx::{Connection, Executor};
    let Ok(base) = std::env::var("CHAT_TEST_POSTGRES_URL") else {
        return; // no PostgreSQL to test against
    };
    // A schema of its own (as tests/api does), dropped at the end.
    let schema = format!("chat_load_seed_{:08x}", chat_load::probe::run_id());
    let mut admin = sqlx::PgConnection::connect(&base).await.expect("PostgreSQL answers");
    admin.execute(format!("CREATE SCHEMA {schema}").as_str()).await.unwrap();
    let separator = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
    let seed =
        SeedArgs { messages: 300, rooms: 3, big_room_share: 0.5, sqlite_data_dir: None, postgres: Some(url.clone()) };
    let seeded = chat_load::seed::run(&seed).await;
    let again = chat_load::seed::run(&seed).await;
    let mut db = sqlx::PgConnection::connect(&url).await.unwrap();
    let counts: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT r.name, r.last_id, (SELECT count(*) FROM messages m WHERE m.room = r.name) FROM rooms r ORDER BY 1",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    // Numbered for search in time order, and found by the trigram index.
    let ordered: bool = sqlx::query_scalar(
        "SELECT bool_and(seq > prev) FROM (SELECT search_seq AS seq, lag(search_seq, 1, 0::int8) \
         OVER (ORDER BY at_ms) AS prev FROM messages) AS s",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    let quasar: i64 = sqlx::query_scalar("SELECT count(*) FROM messages WHERE text ILIKE '%quasar%'")
        .fetch_one(&mut db)
        .await
        .unwrap();
    db.close().await.unwrap();
    admin.execute(format!("DROP SCHEMA {schema} CASCADE").as_str()).await.unwrap();
    let json = json_of(&seeded.expect("seeding"));
    assert_eq!(json["engine"], "postgres", "{json}");
    assert!(json["bytes"].as_u64().unwrap() > 0, "{json}");
    assert!(again.expect_err("seeding twice").to_string().contains("already holds"));
    let expected =
        [("hist-0000".to_owned(), 150, 150), ("hist-0001".to_owned(), 75, 75), ("hist-0002".to_owned(), 75, 75)];
    assert_eq!(counts, expected);
    assert!(ordered);
    assert_eq!(quasar, 1);
}
