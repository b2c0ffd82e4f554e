//! Changing a message: its author edits it, anyone who may post reacts to
//! it, and its author and moderators read its earlier versions. Each
//! change goes through the store, which numbers it in the room's sequence
//! and publishes it (see `store::changes`).

use super::{Chat, PostError, rendered};
use crate::auth::Visitor;
use crate::moderation::ModerationError;
use crate::rooms::{Emoji, MessageText, RoomName};
use crate::store::{Change, ChangeError, Changed, Version};

impl Chat {
    /// Replaces the text of `visitor`'s message `id`, within the edit window.
    pub async fn edit(&self, room: &RoomName, visitor: &Visitor, id: i64, text: &str) -> Result<Changed, PostError> {
        self.may_post(visitor, room).await?;
        let text = MessageText::parse(text)?;
        let html = rendered(&text).await;
        let window_ms = i64::try_from(self.rules.edit_window.as_millis()).unwrap_or(i64::MAX);
        let change = Change::Edit { editor: visitor.author(), text, html, window_ms };
        Ok(self.store.change(room, id, change).await?)
    }

    /// Adds (`on`) or takes back `visitor`'s reaction `emoji` on message `id`.
    pub async fn react(
        &self,
        room: &RoomName,
        visitor: &Visitor,
        id: i64,
        emoji: &str,
        on: bool,
    ) -> Result<Changed, PostError> {
        self.may_post(visitor, room).await?;
        let emoji = Emoji::parse(emoji)?;
        let change = Change::React { name: visitor.name().to_owned(), emoji, on };
        Ok(self.store.change(room, id, change).await?)
    }

    /// Every text message `id` has had, for its author and moderators, so
    /// an edit cannot hide from moderation what was said.
    pub async fn versions(&self, room: &RoomName, visitor: &Visitor, id: i64) -> Result<Vec<Version>, PostError> {
        if !self.can_read(visitor, room).await? {
            return Err(ModerationError::NoSuchRoom.into());
        }
        let author = self.store.authorship(room.as_str(), id).await?;
        let Some(author) = author else { return Err(ChangeError::NoSuchMessage.into()) };
        let mine = match visitor {
            Visitor::User(user) => author.user_id == Some(user.user_id),
            Visitor::Guest { name } => author.user_id.is_none() && author.name == name.as_str(),
            Visitor::Bot(bot) => author.user_id == Some(bot.user_id),
        };
        if !mine && !self.moderation.is_moderator(visitor).await? {
            return Err(PostError::VersionsHidden);
        }
        let versions = self.store.versions(room, id).await?;
        versions.ok_or_else(|| ChangeError::NoSuchMessage.into())
    }
}
