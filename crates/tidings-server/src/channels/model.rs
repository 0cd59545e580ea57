//! The channels' stored states, as enums that know their stored names.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::inbox::model::stored_enum;

stored_enum!(
    /// The health of a connected platform account.
    ConnectionStatus {
        /// Syncing and receiving normally.
        Active = "active",
        /// The last sync failed; it will be retried.
        Error = "error",
        /// The platform refused the credentials: connect again.
        NeedsReauth = "needs_reauth",
        /// Paused by a person: not synced.
        Paused = "paused",
    }
);
