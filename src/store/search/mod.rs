//! Finding the messages that contain every word of a query, newest first,
//! among the rooms a searcher may read: one plan per engine over the
//! indexes the migrations keep in step with `messages` (triggers on SQLite,
//! PostgreSQL's own index maintenance), so nothing here writes.
//!
//! Both engines order hits by a number given to each message as it is
//! stored (`search_docs.doc` on SQLite, `messages.search_seq` on
//! PostgreSQL), which is also the page cursor: `before` answers only hits
//! numbered below it, so pages neither overlap nor leave gaps.
//!
//! The SQLite plan has a file of its own (`sqlite`: the FTS5 index, short
//! words, rooms).
//!
//! **PostgreSQL**: `ILIKE` per word; the planner uses the GIN trigram index
//! (`pg_trgm`) for words with trigrams and reads in cursor order otherwise.

mod sqlite;

pub use sqlite::RECENT_WINDOW;

use sqlx::Row;

use super::engine::Engine;
use super::messages::{COLUMNS, FROM, from_row};
use super::{Store, StoreError};
use crate::rooms::{DM_PREFIX, Message, Reaction, RoomName};
use crate::search::Words;

/// What to search.
#[derive(Debug, Clone, Copy)]
pub struct SearchSpec<'a> {
    pub words: &'a Words,
    /// Only this room's messages.
    pub room: Option<&'a RoomName>,
    /// Only hits numbered below this.
    pub before: i64,
    /// Most hits to answer.
    pub limit: u32,
    /// The members-only rooms and conversations the searcher may read
    /// (every other such room is left out; open rooms are all searched).
    pub readable: &'a [RoomName],
}

/// A value to bind, in the order the SQL numbers them.
enum Bind {
    Int(i64),
    Text(String),
}

/// SQL being built, with its parameters numbered as they are added.
#[derive(Default)]
struct Query {
    conditions: Vec<String>,
    binds: Vec<Bind>,
}

impl Query {
    /// Adds a parameter, answering its `$n`.
    fn param(&mut self, bind: Bind) -> String {
        self.binds.push(bind);
        format!("${}", self.binds.len())
    }

    fn push(&mut self, condition: String) {
        self.conditions.push(condition);
    }

    fn filter(&self) -> String {
        self.conditions.join(" AND ")
    }
}

/// `%word%` with LIKE's wildcards (and the escape itself) escaped by `\`.
fn like_pattern(word: &str) -> String {
    let escaped = word.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

impl Store {
    /// The hits of `spec`, newest first, each with its cursor and the
    /// message as history answers it.
    pub async fn search(&self, spec: &SearchSpec<'_>) -> Result<Vec<(i64, Message)>, StoreError> {
        let found = match self.engine {
            Engine::Sqlite => self.search_sqlite(spec).await?,
            Engine::Postgres => self.search_postgres(spec).await?,
        };
        self.with_reactions_of_hits(found).await
    }

    async fn search_postgres(&self, spec: &SearchSpec<'_>) -> Result<Vec<(i64, Message)>, StoreError> {
        let mut query = Query::default();
        let before = query.param(Bind::Int(spec.before));
        query.push(format!("m.search_seq < {before}"));
        for word in spec.words.iter() {
            let pattern = query.param(Bind::Text(like_pattern(word)));
            query.push(format!("m.text ILIKE {pattern} ESCAPE '\\'"));
        }
        self.keep_to_readable(&mut query, spec, "m.room");
        let limit = query.param(Bind::Int(i64::from(spec.limit)));
        let sql = format!(
            "SELECT m.search_seq AS cursor, m.room AS room, {COLUMNS} FROM {FROM} WHERE {} \
             ORDER BY m.search_seq DESC LIMIT {limit}",
            query.filter()
        );
        self.fetch_hits(&sql, query.binds).await
    }

    /// Keeps `query` to `spec.room` (if any), to messages not deleted, and
    /// to rooms the searcher may read: every room that is neither a
    /// conversation nor members-only, and those of `spec.readable`.
    fn keep_to_readable(&self, query: &mut Query, spec: &SearchSpec<'_>, room: &str) {
        if let Some(only) = spec.room {
            let only = query.param(Bind::Text(only.as_str().to_owned()));
            query.push(format!("{room} = {only}"));
        }
        query.push("m.deleted_by IS NULL".into());
        let prefix = query.param(Bind::Text(DM_PREFIX.to_owned()));
        let open = format!(
            "NOT (substr({room}, 1, {}) = {prefix} OR EXISTS \
             (SELECT 1 FROM rooms r WHERE r.name = {room} AND r.members_only = 1))",
            DM_PREFIX.len()
        );
        if spec.readable.is_empty() {
            query.push(open);
            return;
        }
        let names: Vec<&str> = spec.readable.iter().map(RoomName::as_str).collect();
        let list = query.param(Bind::Text(serde_json::to_string(&names).expect("names serialize")));
        let listed = match self.engine {
            Engine::Sqlite => format!("SELECT value FROM json_each({list})"),
            Engine::Postgres => format!("SELECT json_array_elements_text(CAST({list} AS json))"),
        };
        query.push(format!("({open} OR {room} IN ({listed}))"));
    }

    async fn fetch_hits(&self, sql: &str, binds: Vec<Bind>) -> Result<Vec<(i64, Message)>, StoreError> {
        let mut query = sqlx::query(sql);
        for bind in binds {
            query = match bind {
                Bind::Int(value) => query.bind(value),
                Bind::Text(value) => query.bind(value),
            };
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                let room: String = row.get("room");
                let room = RoomName::parse(&room).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
                Ok((row.get("cursor"), from_row(&room, row)))
            })
            .collect()
    }

    /// Fills in the reactions of hits from many rooms, in one query (a
    /// query per room would cost more than the search itself).
    async fn with_reactions_of_hits(&self, mut hits: Vec<(i64, Message)>) -> Result<Vec<(i64, Message)>, StoreError> {
        if hits.is_empty() {
            return Ok(hits);
        }
        let pairs: Vec<String> =
            (0..hits.len()).map(|i| format!("(room = ${} AND id = ${})", 2 * i + 1, 2 * i + 2)).collect();
        let sql = format!(
            "SELECT room, id, emoji, name FROM reactions WHERE {} ORDER BY room, id, at_ms, emoji, name",
            pairs.join(" OR ")
        );
        let mut query = sqlx::query(&sql);
        for (_, message) in &hits {
            query = query.bind(message.room.as_str()).bind(message.id);
        }
        let rows = query.fetch_all(&self.pool).await?;
        let same = |a: &sqlx::any::AnyRow, b: &sqlx::any::AnyRow| {
            a.get::<String, _>(0) == b.get::<String, _>(0) && a.get::<i64, _>(1) == b.get::<i64, _>(1)
        };
        for run in rows.chunk_by(same) {
            let (room, id): (String, i64) = (run[0].get(0), run[0].get(1));
            if let Some((_, message)) = hits.iter_mut().find(|(_, m)| m.room.as_str() == room && m.id == id) {
                message.reactions = Reaction::tally(run.iter().map(|r| (r.get(2), r.get(3))));
            }
        }
        Ok(hits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_in_a_word_are_literal() {
        assert_eq!(like_pattern("100%"), "%100\\%%");
        assert_eq!(like_pattern("a_b"), "%a\\_b%");
        assert_eq!(like_pattern("c:\\x"), "%c:\\\\x%");
    }
}
