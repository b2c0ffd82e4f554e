//! The SQLite plan. An FTS5 trigram index finds any substring of three or more
//! characters, newest first, stopping after the page. A shorter word (a
//! two-character Chinese word, say) has no trigram of its own and is
//! checked with `LIKE` on the indexed text, which alone would read every
//! row for a rare word. So such a query first reads only the newest
//! [`RECENT_WINDOW`] rows (of the room, for a search kept to one: a common
//! short word fills the page there), and
//! then narrows the rest through the index's vocabulary: each occurrence of
//! the word starts some trigram in the index (the text is indexed with two
//! newlines after it), so the trigrams that start with the word, `OR`ed
//! together, find a superset of its rows, and `LIKE` keeps the exact ones.
//! A word with too many such trigrams is common, and is left to `LIKE`, as
//! is a single Latin letter or digit (see [`vocabulary_prefix`]).
//!
//! A search kept to one room reads that room's rows, newest first, instead
//! of the index when the room is small ([`SMALL_ROOM`]) or the words are
//! common ([`COMMON`]): the index would first go through their matches in
//! every other room.

use sqlx::Row;

use super::{Bind, Query, SearchSpec, like_pattern};
use crate::rooms::{Message, RoomName};
use crate::store::messages::{COLUMNS, FROM};
use crate::store::{Store, StoreError};

/// Newest indexed rows (of the room, for a search kept to one) a SQLite
/// query with a short word reads before it narrows through the vocabulary.
pub const RECENT_WINDOW: i64 = 4096;

/// Trigrams starting with a short word beyond which it counts as common
/// and is not narrowed through the vocabulary.
const MAX_EXPANSION: i64 = 256;

/// Rooms with at most this many numbers handed out are searched by reading
/// their rows, newest first: a row costs a few microseconds (its place in
/// the table, then `LIKE`), so this bounds such a search to about 10 ms on
/// the benchmark machine. A bigger room goes through the index when the
/// words match fewer than [`COMMON`] rows in all, and through its own rows
/// otherwise (where common words are soon found, unless the room has none).
const SMALL_ROOM: i64 = 2_000;

/// Matches beyond which a search kept to one room reads the room's rows
/// rather than the index's matches (each match costs a row lookup to learn
/// its room).
const COMMON: i64 = 5_000;

/// Where the rows of a page come from.
enum Source {
    /// The FTS index's matches of this expression, newest first.
    Index(String),
    /// The indexed rows themselves, newest first (only the room's, through
    /// `search_docs_by_room`, when the search is kept to one).
    Rows,
    /// These rows (a JSON list): matches of the index already listed.
    Among(String),
}

/// Characters a word needs to be found through trigrams.
const TRIGRAM: usize = 3;

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
    pub(super) async fn search_sqlite(&self, spec: &SearchSpec<'_>) -> Result<Vec<(i64, Message)>, StoreError> {
        let words: Vec<&str> = spec.words.iter().collect();
        // A search kept to one room may read that room's rows, newest first,
        // instead of the index, when `LIKE` finds what the index would.
        let room_rows = (spec.room.is_some() && words.iter().all(|w| folds_like_the_index(w))).then_some(&words[..]);
        if let (Some(room), Some(all)) = (spec.room, room_rows)
            && self.room_numbers(room).await? <= SMALL_ROOM
        {
            return self.sqlite_page(spec, Source::Rows, all, None, spec.before, spec.limit).await;
        }
        let (short, long): (Vec<&str>, Vec<&str>) = words.iter().partition(|w| is_short(w));
        let phrases: Vec<String> = long.iter().map(|w| fts_string(w)).collect();
        if short.is_empty() {
            return self.index_page(spec, phrases.join(" AND "), &short, room_rows, spec.before, spec.limit).await;
        }
        // The newest rows first, without the vocabulary: a common short
        // word fills the page here.
        let newest: i64 =
            sqlx::query_scalar("SELECT COALESCE(max(doc), 0) FROM search_docs").fetch_one(&self.pool).await?;
        let upper = spec.before.min(newest.saturating_add(1));
        let lower = match spec.room {
            // The room's own newest rows: a word common there fills the
            // page, however few of the newest rows of all are the room's.
            Some(room) => self.room_window_start(room, upper).await?,
            None => upper.saturating_sub(RECENT_WINDOW),
        };
        let (recent, checked) = match room_rows {
            // The room's rows, every word by `LIKE`: the index would go
            // through every room's matches between those numbers.
            Some(all) => (Source::Rows, all),
            None if phrases.is_empty() => (Source::Rows, &short[..]),
            None => (Source::Index(phrases.join(" AND ")), &short[..]),
        };
        let mut hits = self.sqlite_page(spec, recent, checked, Some(lower), upper, spec.limit).await?;
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
        let (below, rest) = (lower.saturating_add(1), spec.limit - hits.len() as u32);
        let more = if groups.is_empty() {
            self.sqlite_page(spec, Source::Rows, &short, None, below, rest).await?
        } else {
            self.index_page(spec, groups.join(" AND "), &short, room_rows, below, rest).await?
        };
        hits.extend(more);
        Ok(hits)
    }

    /// Up to `limit` hits numbered below `below` through the index, unless
    /// the search is kept to one room (`room_rows`: every word, for `LIKE`)
    /// and `expression` matches at least [`COMMON`] rows: then reading the
    /// room's rows costs less than going through those matches in every
    /// other room first.
    async fn index_page(
        &self,
        spec: &SearchSpec<'_>,
        expression: String,
        short: &[&str],
        room_rows: Option<&[&str]>,
        below: i64,
        limit: u32,
    ) -> Result<Vec<(i64, Message)>, StoreError> {
        let Some(all) = room_rows else {
            return self.sqlite_page(spec, Source::Index(expression), short, None, below, limit).await;
        };
        // The matches as one JSON list made by SQLite: cheaper than a row
        // each when there are thousands.
        let row = sqlx::query(
            "SELECT count(*), '[' || COALESCE(group_concat(rowid), '') || ']' FROM \
             (SELECT rowid FROM message_search WHERE message_search MATCH $1 AND rowid < $2 LIMIT $3)",
        )
        .bind(&expression)
        .bind(below)
        .bind(COMMON)
        .fetch_one(&self.pool)
        .await?;
        let (count, matches): (i64, String) = (row.get(0), row.get(1));
        if count >= COMMON {
            return self.sqlite_page(spec, Source::Rows, all, None, below, limit).await;
        }
        // Every match is listed: no need to ask the index twice.
        self.sqlite_page(spec, Source::Among(matches), short, None, below, limit).await
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

    /// The number above which lie the newest [`RECENT_WINDOW`] rows of
    /// `room` below `upper` (0 when it has fewer).
    async fn room_window_start(&self, room: &RoomName, upper: i64) -> Result<i64, StoreError> {
        let start: Option<i64> = sqlx::query_scalar(
            "SELECT doc FROM search_docs WHERE room = $1 AND doc < $2 ORDER BY doc DESC LIMIT 1 OFFSET $3",
        )
        .bind(room.as_str())
        .bind(upper)
        .bind(RECENT_WINDOW)
        .fetch_optional(&self.pool)
        .await?;
        Ok(start.unwrap_or(0))
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

    /// Up to `limit` hits numbered in `(above, below)`, newest first, from
    /// `source`; every `short` word is checked with `LIKE`.
    async fn sqlite_page(
        &self,
        spec: &SearchSpec<'_>,
        source: Source,
        short: &[&str],
        above: Option<i64>,
        below: i64,
        limit: u32,
    ) -> Result<Vec<(i64, Message)>, StoreError> {
        let mut query = Query::default();
        // CROSS JOIN keeps the order as written: the index (or the rows in
        // cursor order) drives, so the first `limit` rows found end it.
        let (from, cursor) = match source {
            Source::Index(expression) => {
                let matches = query.param(Bind::Text(expression));
                query.push(format!("message_search MATCH {matches}"));
                ("message_search f CROSS JOIN search_docs d ON d.doc = f.rowid CROSS JOIN ", "f.rowid")
            }
            Source::Rows => ("search_docs d CROSS JOIN ", "d.doc"),
            Source::Among(rows) => {
                let list = query.param(Bind::Text(rows));
                query.push(format!("d.doc IN (SELECT value FROM json_each({list}))"));
                ("search_docs d CROSS JOIN ", "d.doc")
            }
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
