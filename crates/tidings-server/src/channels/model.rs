//! The channels' words: stored states, as enums that know their stored names, and what a person
//! gives the service (locations, connections, changes), before the service checks it.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::inbox::model::stored_enum;

stored_enum!(
    /// The health of a connected platform account.
    ConnectionStatus {
        /// Syncing and receiving normally.
        Active,
        /// The last sync failed; it will be retried.
        Error,
        /// The platform refused the credentials: connect again.
        NeedsReauth,
        /// Paused by a person: not synced.
        Paused,
    }
);

stored_enum!(
    /// Whether the platform agreed to send a connection's events to our webhook. A connection
    /// whose platform needs no subscription per account stores none.
    WebhookSubscriptionState {
        /// The platform sends the account's events.
        Subscribed,
        /// The platform refused (the reason is stored beside it).
        Failed,
    }
);

/// A location's fields as a person gave them; the service checks them, naming the field at fault.
#[derive(Debug, Clone, Default)]
pub struct LocationInput {
    pub name: String,
    pub address: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub phone: Option<String>,
    pub website: Option<String>,
    /// An IANA time zone name; UTC when absent.
    pub timezone: Option<String>,
}

/// Credentials given to connect a platform account by hand.
#[derive(Debug, Clone, Default)]
pub struct CredentialsInput {
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub secret: Option<String>,
    pub login: Option<String>,
}

/// A platform account to connect with an API key or token, as a person gave it.
#[derive(Debug, Clone, Default)]
pub struct ConnectionInput {
    /// The platform's name (`google`, `yelp`, …).
    pub platform: String,
    pub external_account_id: String,
    pub display_name: String,
    pub location_id: Option<String>,
    pub credentials: CredentialsInput,
    /// Seconds between syncs; the server's default when absent.
    pub sync_interval_secs: Option<i64>,
}

/// What a person changes on a connection; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ConnectionChanges {
    pub display_name: Option<String>,
    /// `Some(None)` detaches the connection from its location.
    pub location_id: Option<Option<String>>,
    /// `true` stops syncing; `false` resumes it.
    pub paused: Option<bool>,
    pub sync_interval_secs: Option<i64>,
}
