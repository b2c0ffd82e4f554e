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
//! **SQLite**: an FTS5 trigram index finds any substring of three or more
//! characters, newest first, stopping after the page. A shorter word (a
//! two-character Chinese word, say) has no trigram of its own and is
//! checked with `LIKE` on the indexed text, which alone would read every
//! row for a rare word. So such a query first reads only the newest
//! [`RECENT_WINDOW`] rows (a common short word fills the page there), and
//! then narrows the rest through the index's vocabulary: each occurrence of
//! the word starts some trigram in the index (the text is indexed with two
//! newlines after it), so the trigrams that start with the word, `OR`ed
//! together, find a superset of its rows, and `LIKE` keeps the exact ones.
//! A word with too many such trigrams is common, and is left to `LIKE`, as
//! is a single Latin letter or digit (see [`vocabulary_prefix`]). A search
//! kept to a small room reads that room's rows instead ([`SMALL_ROOM`]).
//!
//! **PostgreSQL**: `ILIKE` per word; the planner uses the GIN trigram index
//! (`pg_trgm`) for words with trigrams and reads in cursor order otherwise.

use sqlx::Row;

use super::engine::Engine;
use super::messages::{COLUMNS, FROM, from_row};
use super::{Store, StoreError};
use crate::rooms::{DM_PREFIX, Message, Reaction, RoomName};
use crate::search::Words;

/// Newest indexed rows a SQLite query with a short word reads before it
/// narrows through the vocabulary.
pub const RECENT_WINDOW: i64 = 4096;

/// Trigrams starting with a short word beyond which it counts as common
/// and is not narrowed through the vocabulary.
const MAX_EXPANSION: i64 = 256;

/// Rooms with at most this many numbers handed out are searched by reading
/// their rows, newest first: a row costs a few microseconds (its place in
/// the table, then `LIKE`), so this bounds such a search to about 10 ms on
/// the benchmark machine. A bigger room goes through the index, which is
/// quick unless a word common elsewhere is rare in the room.
const SMALL_ROOM: i64 = 2_000;

/// Characters a word needs to be found through trigrams.
const TRIGRAM: usize = 3;

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

/// `word` as an FTS5 string: a phrase of its trigrams, which matches the
/// word as a substring.
fn fts_string(word: &str) -> String {
    format!("\"{}\"", word.replace('"', "\"\""))
}

fn is_short(word: &str) -> bool {
    word.chars().count() < TRIGRAM
}

/// Whether the index and `LIKE` fold `word`'s case alike: ASCII (folded to
/// lower case by both) and characters without case (CJK, digits, symbols)
/// do; other cased letters are folded by the index only.
fn folds_like_the_index(word: &str) -> bool {
    let caseless = |c: char| c.to_lowercase().eq([c]) && c.to_uppercase().eq([c]);
    word.chars().all(|c| c.is_ascii() || caseless(c))
}

/// The prefix a short word's trigrams start with in the index, when its
/// folding agrees with `LIKE`'s. Not for a single ASCII character: it is in
/// most messages, and listing the trigrams that start with it would read
/// most of the index (the vocabulary counts each trigram's rows as it lists
/// it).
fn vocabulary_prefix(word: &str) -> Option<String> {
    let single_ascii = word.len() == 1;
    (!single_ascii && folds_like_the_index(word)).then(|| word.to_ascii_lowercase())
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

    async fn search_sqlite(&self, spec: &SearchSpec<'_>) -> Result<Vec<(i64, Message)>, StoreError> {
        if let Some(room) = spec.room
            && spec.words.iter().all(folds_like_the_index)
            && self.room_numbers(room).await? <= SMALL_ROOM
        {
            // A small room's rows, newest first, each checked with `LIKE`:
            // bounded by the room, where the index would go through every
            // match of a common word in every other room first.
            let words: Vec<&str> = spec.words.iter().collect();
            return self.sqlite_page(spec, None, &words, None, spec.before, spec.limit).await;
        }
        let (short, long): (Vec<&str>, Vec<&str>) = spec.words.iter().partition(|w| is_short(w));
        let phrases: Vec<String> = long.iter().map(|w| fts_string(w)).collect();
        if short.is_empty() {
            return self.sqlite_page(spec, Some(phrases.join(" AND ")), &short, None, spec.before, spec.limit).await;
        }
        // The newest rows first, without the vocabulary: a common short
        // word fills the page here.
        let newest: i64 =
            sqlx::query_scalar("SELECT COALESCE(max(doc), 0) FROM search_docs").fetch_one(&self.pool).await?;
        let upper = spec.before.min(newest.saturating_add(1));
        let lower = upper.saturating_sub(RECENT_WINDOW);
        let phrases_only = (!phrases.is_empty()).then(|| phrases.join(" AND "));
        let mut hits = self.sqlite_page(spec, phrases_only, &short, Some(lower), upper, spec.limit).await?;
        if hits.len() >= spec.limit as usize || lower <= 0 {
            return Ok(hits);
        }
        // The rest, narrowed through the vocabulary where the word is rare.
        let mut groups = phrases;
        for word in &short {
            let Some(prefix) = vocabulary_prefix(word) else { continue };
            let Some(trigrams) = self.trigrams_starting_with(&prefix).await? else { continue };
            if trigrams.is_empty() {
                // Nowhere in the index: nothing older can match.
                return Ok(hits);
            }
            let any: Vec<String> = trigrams.iter().map(|t| fts_string(t)).collect();
            groups.push(format!("({})", any.join(" OR ")));
        }
        let narrowed = (!groups.is_empty()).then(|| groups.join(" AND "));
        let rest = spec.limit - hits.len() as u32;
        hits.extend(self.sqlite_page(spec, narrowed, &short, None, lower.saturating_add(1), rest).await?);
        Ok(hits)
    }

    /// The numbers a room has handed out (messages and changes): at least
    /// its number of indexed rows, read from one row.
    async fn room_numbers(&self, room: &RoomName) -> Result<i64, StoreError> {
        let last: Option<i64> = sqlx::query_scalar("SELECT last_id FROM rooms WHERE name = $1")
            .bind(room.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(last.unwrap_or(0))
    }

    /// The index's trigrams that start with `prefix` (one or two
    /// characters), or `None` when there are more than [`MAX_EXPANSION`].
    async fn trigrams_starting_with(&self, prefix: &str) -> Result<Option<Vec<String>>, StoreError> {
        // Terms compare as bytes, and UTF-8 keeps code point order: every
        // trigram starting with `prefix` lies between these two.
        let last = format!("{prefix}{}", "\u{10FFFF}".repeat(TRIGRAM - prefix.chars().count()));
        let terms: Vec<String> =
            sqlx::query_scalar("SELECT term FROM search_vocab WHERE term >= $1 AND term <= $2 LIMIT $3")
                .bind(prefix)
                .bind(last)
                .bind(MAX_EXPANSION + 1)
                .fetch_all(&self.pool)
                .await?;
        Ok((terms.len() as i64 <= MAX_EXPANSION).then_some(terms))
    }

    /// Up to `limit` hits numbered in `(above, below)`, newest first: through
    /// the FTS index when there is a `fts` expression, else by reading the
    /// indexed rows in order; every `short` word is checked with `LIKE`.
    async fn sqlite_page(
        &self,
        spec: &SearchSpec<'_>,
        fts: Option<String>,
        short: &[&str],
        above: Option<i64>,
        below: i64,
        limit: u32,
    ) -> Result<Vec<(i64, Message)>, StoreError> {
        let mut query = Query::default();
        // CROSS JOIN keeps the order as written: the index (or the rows in
        // cursor order) drives, so the first `limit` rows found end it.
        let (from, cursor) = match fts.filter(|f| !f.is_empty()) {
            Some(expression) => {
                let matches = query.param(Bind::Text(expression));
                query.push(format!("message_search MATCH {matches}"));
                ("message_search f CROSS JOIN search_docs d ON d.doc = f.rowid CROSS JOIN ", "f.rowid")
            }
            None => ("search_docs d CROSS JOIN ", "d.doc"),
        };
        let below = query.param(Bind::Int(below));
        query.push(format!("{cursor} < {below}"));
        if let Some(above) = above {
            let above = query.param(Bind::Int(above));
            query.push(format!("{cursor} > {above}"));
        }
        for word in short {
            let pattern = query.param(Bind::Text(like_pattern(word)));
            query.push(format!("d.text LIKE {pattern} ESCAPE '\\'"));
        }
        self.keep_to_readable(&mut query, spec, "d.room");
        query.push("m.room = d.room AND m.id = d.id".into());
        let limit = query.param(Bind::Int(i64::from(limit)));
        let sql = format!(
            "SELECT {cursor} AS cursor, d.room AS room, {COLUMNS} FROM {from}{FROM} WHERE {} \
             ORDER BY {cursor} DESC LIMIT {limit}",
            query.filter()
        );
        self.fetch_hits(&sql, query.binds).await
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

    #[test]
    fn quotes_in_a_word_stay_inside_its_fts_string() {
        assert_eq!(fts_string("say\"hi"), "\"say\"\"hi\"");
        assert_eq!(fts_string("OR"), "\"OR\"");
    }

    #[test]
    fn only_words_whose_folding_is_known_narrow_through_the_vocabulary() {
        assert_eq!(vocabulary_prefix("你好").as_deref(), Some("你好"));
        assert_eq!(vocabulary_prefix("Go").as_deref(), Some("go"));
        assert_eq!(vocabulary_prefix("7%").as_deref(), Some("7%"));
        assert_eq!(vocabulary_prefix("好").as_deref(), Some("好"));
        assert_eq!(vocabulary_prefix("e"), None);
        assert_eq!(vocabulary_prefix("Éa"), None);
        assert_eq!(vocabulary_prefix("ж"), None);
    }

    #[test]
    fn words_of_fewer_than_three_characters_are_short() {
        assert!(is_short("你好"));
        assert!(is_short("a"));
        assert!(!is_short("你好吗"));
        assert!(!is_short("abc"));
    }
}
