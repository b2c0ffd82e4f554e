//! Reactions: which emoji may be one, and how the rows of who reacted with
//! what become the list a message carries.

use serde::{Deserialize, Serialize};

use super::InvalidInput;

/// Most distinct emoji on one message.
pub const MAX_REACTION_KINDS: usize = 20;

/// Most names a reaction lists (its `count` says how many reacted).
pub const REACTION_USERS: usize = 10;

/// One emoji, as Unicode defines them: a single character, a sequence with
/// a skin tone, a flag, a family. Anything else (text, two emoji, an emoji
/// with text around it) is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emoji(String);

impl Emoji {
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        // The emoji table knows every emoji and its skin-tone variants; a
        // lookup of anything else, including two emoji, finds nothing.
        match emojis::get(raw) {
            Some(_) => Ok(Self(raw.to_owned())),
            None => Err(InvalidInput::Emoji),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One emoji on a message: how many reacted with it and the first
/// [`REACTION_USERS`] of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    pub emoji: String,
    pub count: usize,
    pub users: Vec<String>,
}

impl Reaction {
    /// The list a message carries, from `(emoji, name)` rows in the order
    /// they were made: each emoji once, in the order it was first used.
    pub fn tally(rows: impl IntoIterator<Item = (String, String)>) -> Vec<Reaction> {
        let mut tally: Vec<Reaction> = Vec::new();
        for (emoji, name) in rows {
            let reaction = match tally.iter_mut().position(|r| r.emoji == emoji) {
                Some(at) => &mut tally[at],
                None => {
                    tally.push(Reaction { emoji, count: 0, users: Vec::new() });
                    tally.last_mut().expect("just pushed")
                }
            };
            reaction.count += 1;
            if reaction.users.len() < REACTION_USERS {
                reaction.users.push(name);
            }
        }
        tally
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_emoji_is_accepted_and_anything_else_refused() {
        for good in ["👍", "👍🏽", "❤️", "🇫🇷", "👨‍👩‍👧", "🎉"] {
            assert!(Emoji::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "a", "👍👍", "👍 ", ":+1:", "<b>", "1"] {
            assert_eq!(Emoji::parse(bad), Err(InvalidInput::Emoji), "{bad:?}");
        }
    }

    #[test]
    fn the_tally_keeps_first_use_order_and_lists_ten_names() {
        let mut rows = vec![("🎉".to_string(), "ann".to_string())];
        rows.extend((0..12).map(|i| ("👍".to_string(), format!("u{i}"))));
        rows.push(("🎉".into(), "bob".into()));
        let tally = Reaction::tally(rows);
        assert_eq!(tally.iter().map(|r| (r.emoji.as_str(), r.count)).collect::<Vec<_>>(), [("🎉", 2), ("👍", 12)]);
        assert_eq!(tally[1].users.len(), REACTION_USERS);
        assert_eq!(tally[0].users, ["ann", "bob"]);
    }
}
