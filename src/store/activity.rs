//! Reads of the activity rollup (`activity_rooms`, `activity_people`),
//! which the migrations' triggers keep in the message writer's own
//! transaction, and its trimming for housekeeping. Every read is a range of
//! days on the tables' primary keys: a year is at most a row per day and
//! room written in, never a pass over `messages`.
//!
//! Days are UTC days numbered from 1970-01-01. The bucket of every direct
//! conversation is the one room key [`DM_BUCKET`]: it is counted in the
//! totals and never listed as a room.

use sqlx::Row;

use super::{Store, StoreError};

/// The rollup's one key for every direct conversation (their rooms' prefix).
pub const DM_BUCKET: &str = crate::rooms::DM_PREFIX;

/// The rollup's two tables, as housekeeping trims them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivityRows {
    /// Messages per day and room: counts only.
    Rooms,
    /// Who wrote on a day: names guests.
    People,
}

/// Messages written on one day, by who wrote them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct MessagesOnDay {
    pub day: i64,
    pub members: i64,
    pub guests: i64,
    pub bots: i64,
}

/// People who wrote on one day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PeopleOnDay {
    pub day: i64,
    pub members: i64,
    pub guests: i64,
}

/// A room and the messages written in it over a range of days.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RoomMessages {
    pub room: String,
    pub messages: i64,
}

impl Store {
    /// Messages per day from `first` to `last` (inclusive), days with none
    /// left out, oldest first.
    pub async fn activity_messages(&self, first: i64, last: i64) -> Result<Vec<MessagesOnDay>, StoreError> {
        let rows = sqlx::query(
            "SELECT day, CAST(sum(members) AS BIGINT), CAST(sum(guests) AS BIGINT), CAST(sum(bots) AS BIGINT) \
             FROM activity_rooms WHERE day BETWEEN $1 AND $2 GROUP BY day ORDER BY day",
        )
        .bind(first)
        .bind(last)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| MessagesOnDay { day: r.get(0), members: r.get(1), guests: r.get(2), bots: r.get(3) })
            .collect())
    }

    /// People who wrote, per day from `first` to `last`, oldest first.
    pub async fn activity_people(&self, first: i64, last: i64) -> Result<Vec<PeopleOnDay>, StoreError> {
        let rows = sqlx::query(
            "SELECT day, CAST(sum(1 - guest) AS BIGINT), CAST(sum(guest) AS BIGINT) \
             FROM activity_people WHERE day BETWEEN $1 AND $2 GROUP BY day ORDER BY day",
        )
        .bind(first)
        .bind(last)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| PeopleOnDay { day: r.get(0), members: r.get(1), guests: r.get(2) }).collect())
    }

    /// Different people who wrote at all from `first` to `last`: (members,
    /// guests). A person who wrote on ten days counts once.
    pub async fn activity_people_overall(&self, first: i64, last: i64) -> Result<(i64, i64), StoreError> {
        let rows = sqlx::query(
            "SELECT guest, count(DISTINCT person) FROM activity_people WHERE day BETWEEN $1 AND $2 GROUP BY guest",
        )
        .bind(first)
        .bind(last)
        .fetch_all(&self.pool)
        .await?;
        let count = |guest: i64| rows.iter().find(|r| r.get::<i64, _>(0) == guest).map_or(0, |r| r.get(1));
        Ok((count(0), count(1)))
    }

    /// The `limit` rooms with the most messages from `first` to `last`,
    /// most first (ties by name); direct conversations are not rooms here.
    pub async fn activity_top_rooms(&self, first: i64, last: i64, limit: u32) -> Result<Vec<RoomMessages>, StoreError> {
        let rows = sqlx::query(
            "SELECT room, CAST(sum(members + guests + bots) AS BIGINT) AS n FROM activity_rooms \
             WHERE day BETWEEN $1 AND $2 AND room <> $3 GROUP BY room ORDER BY n DESC, room LIMIT $4",
        )
        .bind(first)
        .bind(last)
        .bind(DM_BUCKET)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| RoomMessages { room: r.get(0), messages: r.get(1) }).collect())
    }

    /// Messages in direct conversations, all together, from `first` to `last`.
    pub async fn activity_direct_messages(&self, first: i64, last: i64) -> Result<i64, StoreError> {
        let total: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(sum(members + guests + bots) AS BIGINT) FROM activity_rooms \
             WHERE day BETWEEN $1 AND $2 AND room = $3",
        )
        .bind(first)
        .bind(last)
        .bind(DM_BUCKET)
        .fetch_one(&self.pool)
        .await?;
        Ok(total.unwrap_or(0))
    }

    /// Deletes up to `limit` of `rows` on days before `day`; answers how
    /// many went.
    pub async fn delete_activity_before(&self, rows: ActivityRows, day: i64, limit: u32) -> Result<u64, StoreError> {
        let (table, key) = match rows {
            ActivityRows::Rooms => ("activity_rooms", "room"),
            ActivityRows::People => ("activity_people", "person"),
        };
        let sql = format!(
            "DELETE FROM {table} WHERE (day, {key}) IN (SELECT day, {key} FROM {table} WHERE day < $1 ORDER BY day LIMIT $2)"
        );
        let done = sqlx::query(&sql).bind(day).bind(i64::from(limit)).execute(&self.pool).await?;
        Ok(done.rows_affected())
    }
}
