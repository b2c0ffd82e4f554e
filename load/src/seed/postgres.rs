//! Seeding a PostgreSQL database (already migrated by the store): one
//! connection, one transaction per chunk, each table written by a single
//! `INSERT ... SELECT FROM UNNEST(<arrays>)` (the whole chunk in one round
//! trip and one plan). The session commits with `synchronous_commit = off`
//! (a crash may lose the last chunks, never corrupt anything), and lets the
//! GIN index's pending list grow to 64 MB before it is merged into the
//! index (12% faster than the default 4 MB over 300,000 messages, in two
//! paired runs); both settings are this session's alone.
//!
//! Messages are inserted in order, so `search_seq` (left to its default,
//! as the message writer leaves it) numbers them in time order, and the
//! GIN trigram index follows by itself. The tables are analyzed at the end,
//! as autovacuum would soon do, so the first queries get the plans a grown
//! database gets.
//!
//! The size reported is `pg_total_relation_size` (table, TOAST and every
//! index) of `messages` and `rooms`, after minus before.

use anyhow::{Context, Result, bail};
use sqlx::{Connection, Executor, PgConnection};

use super::layout::{Layout, room_name};
use super::{Chunks, Size};

/// A guest's message that replies to nothing and has no attachment, with
/// the columns the message writer fills (`search_seq` takes its default).
const INSERT_MESSAGES: &str = "INSERT INTO messages \
     (room, id, user_id, user_name, guest, text, html, at_ms, reply_to, bot, display) \
     SELECT room, id, NULL, author, 1, text, html, at_ms, NULL, 0, author \
     FROM UNNEST($1::text[], $2::int8[], $3::text[], $4::text[], $5::text[], $6::int8[]) \
     AS t (room, id, author, text, html, at_ms)";

/// The rooms' counters once the chunk is in.
const SET_ROOMS: &str = "INSERT INTO rooms (name, last_id, last_at_ms) \
     SELECT * FROM UNNEST($1::text[], $2::int8[], $3::int8[]) \
     ON CONFLICT (name) DO UPDATE SET last_id = excluded.last_id, last_at_ms = excluded.last_at_ms";

const SIZE: &str = "SELECT (pg_total_relation_size('messages') + pg_total_relation_size('rooms'))::int8";

pub(super) async fn seed(url: &str, layout: &Layout) -> Result<Size> {
    let mut connection = PgConnection::connect(url).await.context("cannot connect to PostgreSQL")?;
    connection.execute("SET synchronous_commit = off").await?;
    connection.execute("SET gin_pending_list_limit = '64MB'").await?;
    connection.execute("SET work_mem = '256MB'").await?;
    let occupied: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM messages) OR EXISTS (SELECT 1 FROM rooms)")
        .fetch_one(&mut connection)
        .await?;
    if occupied {
        bail!(
            "the database already holds messages or rooms: seed into a fresh database or schema (a seed is \
             a history from scratch, so that its ids and search order are the server's)"
        );
    }
    let before: i64 = sqlx::query_scalar(SIZE).fetch_one(&mut connection).await?;
    let rooms: Vec<String> = (0..layout.rooms).map(room_name).collect();
    let mut chunks = Chunks::start(layout);
    let progress = chat::progress::Progress::new("seed", "messages", Some(layout.messages));
    while let Some(chunk) = chunks.next().await {
        let rows = &chunk.rows;
        let mut tx = connection.begin().await?;
        sqlx::query(INSERT_MESSAGES)
            .bind(rows.iter().map(|r| rooms[r.room as usize].as_str()).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.id).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.author).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.text.as_str()).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.html.as_str()).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.at_ms).collect::<Vec<_>>())
            .execute(&mut *tx)
            .await
            .with_context(|| format!("inserting messages from {}", chunk.first))?;
        sqlx::query(SET_ROOMS)
            .bind(chunk.last.iter().map(|(room, _, _)| rooms[*room as usize].as_str()).collect::<Vec<_>>())
            .bind(chunk.last.iter().map(|(_, id, _)| *id).collect::<Vec<_>>())
            .bind(chunk.last.iter().map(|(_, _, at)| *at).collect::<Vec<_>>())
            .execute(&mut *tx)
            .await?;
        tx.commit().await.with_context(|| format!("committing messages from {}", chunk.first))?;
        progress.set(chunk.first + rows.len() as u64);
    }
    progress.finish();
    connection.execute("ANALYZE messages").await?;
    connection.execute("ANALYZE rooms").await?;
    let after: i64 = sqlx::query_scalar(SIZE).fetch_one(&mut connection).await?;
    connection.close().await?;
    Ok(Size {
        bytes: (after - before).max(0) as u64,
        how: "pg_total_relation_size of messages and rooms (with TOAST and indexes), after minus before",
    })
}
