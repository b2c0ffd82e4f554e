//! One person in a room's online list, and what makes two entries the
//! same person (the handle and whether a guest, not the display name). It
//! holds no state and knows nothing of rooms.

use serde::{Deserialize, Serialize};

/// One person in a room's online list: a member by account name, a guest by
/// guest name, each with what the page calls them (`display`). Who they are
/// is the name and whether a guest: two entries differing only in display
/// name are one person (a stream opened before and one after a change).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Member {
    pub user: String,
    /// The display name as the stream that counted them knew it (the
    /// newest stream's, once one opens after a change). Empty only from
    /// an instance that predates display names.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub display: String,
    pub guest: bool,
}

impl Member {
    /// A member whose display name is their handle (guests, tests).
    pub fn new(user: impl Into<String>, guest: bool) -> Self {
        let user = user.into();
        Self { display: user.clone(), user, guest }
    }

    pub fn displayed(user: impl Into<String>, display: impl Into<String>, guest: bool) -> Self {
        Self { user: user.into(), display: display.into(), guest }
    }

    /// Whether two entries say the same, display name included.
    pub(super) fn same_as_shown(&self, other: &Self) -> bool {
        self == other && self.display == other.display
    }
}

impl PartialEq for Member {
    fn eq(&self, other: &Self) -> bool {
        (self.guest, &self.user) == (other.guest, &other.user)
    }
}

impl Eq for Member {}

impl std::hash::Hash for Member {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (self.guest, &self.user).hash(state);
    }
}

/// Members first, then guests, each by name: the order the page lists them in.
impl Ord for Member {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.guest, &self.user).cmp(&(other.guest, &other.user))
    }
}

impl PartialOrd for Member {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
