//! Searching messages for a visitor: only the rooms they may read (the
//! rule is `moderation`'s), each hit with its snippet (`search::snippet`).

use super::Chat;
use crate::auth::Visitor;
use crate::search::snippet::snippet;
use crate::search::{Hit, Page, SearchQuery};
use crate::store::{SearchSpec, StoreError};

impl Chat {
    /// A page of the messages matching `query` that `visitor` may read,
    /// newest first. A room they may not read answers like a room without
    /// messages: no hits, and nothing said about it.
    pub async fn search(&self, visitor: &Visitor, query: &SearchQuery) -> Result<Page, StoreError> {
        if let Some(room) = &query.room
            && !self.can_read(visitor, room).await?
        {
            return Ok(Page::empty());
        }
        // A bot searches one of its rooms at a time: over every room, its
        // search would read rooms it was not given.
        if matches!(visitor, Visitor::Bot(_)) && query.room.is_none() {
            return Ok(Page::empty());
        }
        let readable = self.moderation.restricted_rooms_readable(visitor).await?;
        // One more than the page, to know whether another follows.
        let spec = SearchSpec {
            words: &query.words,
            room: query.room.as_ref(),
            before: query.before.unwrap_or(i64::MAX),
            limit: query.limit + 1,
            readable: &readable,
        };
        let mut found = self.store.search(&spec).await?;
        let more = found.len() > query.limit as usize;
        found.truncate(query.limit as usize);
        let next_before = if more { found.last().map(|(cursor, _)| *cursor) } else { None };
        let results = found
            .into_iter()
            .map(|(_, message)| {
                let snippet = snippet(&message.text, &query.words);
                Hit { message, snippet }
            })
            .collect();
        Ok(Page { results, next_before })
    }
}
