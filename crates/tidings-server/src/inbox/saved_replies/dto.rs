//! Saved replies in the API: what is sent to create or change one, and what comes back.

use serde::{Deserialize, Serialize};
use tidings_core::time::to_rfc3339;
use tidings_core::{SavedReplyId, UserId};
use utoipa::ToSchema;

use super::store::SavedReplyRow;

/// A new saved reply.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SavedReplyIn {
    /// What is typed after "/" to insert it: letters, digits, `-` and `_`, at most 32 (stored in
    /// lower case, without the "/").
    pub shortcut: String,
    /// The text, at most 4,000 characters. May hold `{{customer_name}}`, `{{first_name}}` and
    /// `{{location}}`, filled in for the conversation when inserted.
    pub body: String,
}

/// Changes to a saved reply; what is left out stays.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SavedReplyPatch {
    pub shortcut: Option<String>,
    pub body: Option<String>,
}

/// A saved reply.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SavedReplyOut {
    pub id: SavedReplyId,
    pub shortcut: String,
    pub body: String,
    /// The member who added it, when known.
    pub created_by: Option<UserId>,
    /// RFC 3339.
    pub created_at: String,
    pub updated_at: String,
}

impl From<SavedReplyRow> for SavedReplyOut {
    fn from(row: SavedReplyRow) -> Self {
        Self {
            id: row.id,
            shortcut: row.shortcut,
            body: row.body,
            created_by: row.created_by,
            created_at: to_rfc3339(row.created_at),
            updated_at: to_rfc3339(row.updated_at),
        }
    }
}
