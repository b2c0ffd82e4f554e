//! What happened, at a glance (issue #20): the numbers of the admins'
//! activity page — messages and people who wrote per day, the busiest
//! rooms, members against guests — and the streams open on this instance.
//!
//! [`Activity::report`] checks that the visitor is an admin, then reads the
//! daily rollup the store keeps (`store::activity`; a few rows per day, so a
//! year costs the same whatever the history holds) and the stream gauges.
//! It fills in days nobody wrote on, so every chart has a column per day.
//! Drawing is `chart`'s; HTTP is `web::admin`'s.

pub mod chart;
pub mod page;

use std::sync::Arc;

use serde::Serialize;
use thiserror::Error;

use crate::access::{Access, AccessError};
use crate::auth::Visitor;
use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::store::{MessagesOnDay, PeopleOnDay, RoomMessages, Store, StoreError};

/// The rooms listed, busiest first.
pub const TOP_ROOMS: u32 = 20;

/// The periods offered: the last 30 days, the last year; and the longest
/// asked for (the rollup keeps a little more, see housekeeping).
pub const DEFAULT_DAYS: u32 = 30;
pub const YEAR_DAYS: u32 = 365;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// The transports whose open streams are shown (the `streams_open` labels).
const TRANSPORTS: [&str; 3] = ["sse", "ws", "poll"];

#[derive(Debug, Error)]
pub enum ActivityError {
    #[error("days must be a whole number from 1 to {YEAR_DAYS}")]
    BadPeriod,
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Messages on one day, by who wrote them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayMessages {
    pub day: String,
    pub members: i64,
    pub guests: i64,
    pub bots: i64,
    pub total: i64,
}

/// People who wrote on one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayPeople {
    pub day: String,
    pub members: i64,
    pub guests: i64,
    pub total: i64,
}

/// The period's messages and different people, members against guests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub messages: i64,
    pub member_messages: i64,
    pub guest_messages: i64,
    pub bot_messages: i64,
    /// In direct conversations, all together (also in `messages`).
    pub direct_messages: i64,
    pub people: i64,
    pub members: i64,
    pub guests: i64,
}

/// Streams open on this instance now, by transport.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OpenStreams {
    pub sse: i64,
    pub ws: i64,
    pub poll: i64,
    pub total: i64,
}

/// Everything the page shows for a period ending today (UTC).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub days: u32,
    pub first_day: String,
    pub last_day: String,
    pub messages: Vec<DayMessages>,
    pub people: Vec<DayPeople>,
    pub top_rooms: Vec<RoomMessages>,
    pub totals: Totals,
    pub open_streams: OpenStreams,
}

/// The activity service; clones share everything.
#[derive(Clone)]
pub struct Activity {
    access: Access,
    store: Store,
    clock: Clock,
    metrics: Arc<Metrics>,
}

impl Activity {
    pub fn new(access: Access, store: Store, clock: Clock, metrics: Arc<Metrics>) -> Self {
        Self { access, store, clock, metrics }
    }

    /// The last `days` days up to today, for an admin; `None` is
    /// [`DEFAULT_DAYS`].
    pub async fn report(&self, visitor: &Visitor, days: Option<u32>) -> Result<Report, ActivityError> {
        self.access.require_admin(visitor).await?;
        let days = days.unwrap_or(DEFAULT_DAYS);
        if !(1..=YEAR_DAYS).contains(&days) {
            return Err(ActivityError::BadPeriod);
        }
        let last = self.clock.now_ms().div_euclid(DAY_MS);
        let first = last - i64::from(days) + 1;
        let store = &self.store;
        let (messages, people, top_rooms, direct_messages, (members, guests)) = tokio::try_join!(
            store.activity_messages(first, last),
            store.activity_people(first, last),
            store.activity_top_rooms(first, last, TOP_ROOMS),
            store.activity_direct_messages(first, last),
            store.activity_people_overall(first, last),
        )?;
        let messages = every_day(first, last, &messages, |d| d.day, |day, d| day_messages(day, d.copied()));
        let people = every_day(first, last, &people, |d| d.day, |day, d| day_people(day, d.copied()));
        let mut totals = Totals { direct_messages, members, guests, people: members + guests, ..Totals::default() };
        for day in &messages {
            totals.member_messages += day.members;
            totals.guest_messages += day.guests;
            totals.bot_messages += day.bots;
        }
        totals.messages = totals.member_messages + totals.guest_messages + totals.bot_messages;
        Ok(Report {
            days,
            first_day: date(first),
            last_day: date(last),
            messages,
            people,
            top_rooms,
            totals,
            open_streams: self.open_streams(),
        })
    }

    fn open_streams(&self) -> OpenStreams {
        let [sse, ws, poll] = TRANSPORTS.map(|t| self.metrics.streams_open.with_label_values(&[t]).get());
        OpenStreams { sse, ws, poll, total: sse + ws + poll }
    }
}

/// One entry per day from `first` to `last`, from rows that skip days.
fn every_day<R, T>(
    first: i64,
    last: i64,
    rows: &[R],
    day_of: impl Fn(&R) -> i64,
    make: impl Fn(i64, Option<&R>) -> T,
) -> Vec<T> {
    let mut rows = rows.iter().peekable();
    (first..=last)
        .map(|day| {
            while rows.peek().is_some_and(|r| day_of(r) < day) {
                rows.next();
            }
            let row = rows.next_if(|r| day_of(r) == day);
            make(day, row)
        })
        .collect()
}

fn day_messages(day: i64, row: Option<MessagesOnDay>) -> DayMessages {
    let MessagesOnDay { members, guests, bots, .. } = row.unwrap_or_default();
    DayMessages { day: date(day), members, guests, bots, total: members + guests + bots }
}

fn day_people(day: i64, row: Option<PeopleOnDay>) -> DayPeople {
    let PeopleOnDay { members, guests, .. } = row.unwrap_or_default();
    DayPeople { day: date(day), members, guests, total: members + guests }
}

/// A day number as its date, `2026-11-27`.
pub fn date(day: i64) -> String {
    let date = crate::rooms::from_millis(day * DAY_MS).date();
    format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_nobody_wrote_on_are_filled_with_zeros() {
        let rows = [MessagesOnDay { day: 11, members: 2, guests: 1, bots: 0 }];
        let days = every_day(10, 12, &rows, |d| d.day, |day, d| day_messages(day, d.copied()));
        let totals: Vec<i64> = days.iter().map(|d| d.total).collect();
        assert_eq!(totals, [0, 3, 0]);
    }

    #[test]
    fn rows_outside_the_period_are_ignored() {
        let rows = [
            PeopleOnDay { day: 1, members: 9, guests: 9 },
            PeopleOnDay { day: 5, members: 1, guests: 0 },
            PeopleOnDay { day: 99, members: 9, guests: 9 },
        ];
        let days = every_day(5, 6, &rows, |d| d.day, |day, d| day_people(day, d.copied()));
        assert_eq!(days.iter().map(|d| d.total).collect::<Vec<_>>(), [1, 0]);
    }

    #[test]
    fn a_day_number_reads_as_its_utc_date() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(20_784), "2026-11-27");
    }
}
