//! Locations and connected platform accounts: validation, tenancy, credentials kept in the
//! vault, and the audit trail. No HTTP here; the routes translate.
//!
//! Credentials are written to the vault *outside* the database transaction that records the
//! connection (on SQLite the vault needs the single writer the transaction holds), so a
//! connection is created as: store the credentials under the new connection's id, insert the
//! row, and forget the credentials again when the insert does not happen. Removal forgets the
//! credentials first and then deletes the row, so a failure half-way can simply be retried.

use serde_json::json;
use tidings_connectors::{AccountRef, ConnectorError, Credentials, MessagingChannel, Platform, WebhookSubscription};
use tidings_core::Config;
use tidings_core::time::now_millis;
use tidings_core::{ConnectionId, LocationId, TaskId, UserId, WorkspaceId};
use tidings_store::queue::{Queue, QueueError};
use tidings_store::{Db, StoreError, Tx};

use super::credentials;
use super::model::{ConnectionChanges, ConnectionInput, ConnectionStatus, LocationInput, WebhookSubscriptionState};
use super::platforms::Platforms;
use super::store::{self, ConnectionRow, LocationRow, LocationStatsRow, NewConnection};
use super::sync::start_sync;
pub use super::validation::required_credentials;
use super::validation::{credentials_for, location_fields, required_text, sync_interval};
use crate::access::Caller;
use crate::audit::{self, AuditEntry};
use crate::inbox::store as inbox_store;
use crate::vault::{Vault, VaultError};

/// The shortest sync interval a connection may ask for.
pub const MIN_SYNC_INTERVAL_SECS: i64 = 300;
/// The longest sync interval a connection may ask for (a week).
pub const MAX_SYNC_INTERVAL_SECS: i64 = 7 * 24 * 3600;
/// The longest name of a location or connection.
pub const MAX_NAME_CHARS: usize = 200;
/// The longest credential value accepted.
pub(super) const MAX_CREDENTIAL_CHARS: usize = 8_192;

/// Why a channels action was refused.
#[derive(Debug, thiserror::Error)]
pub enum ChannelsError {
    /// Nothing with that id in this workspace.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A field is missing or wrong.
    #[error("{field}: {message}")]
    Validation {
        /// The field, as the API names it.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The platform account is connected already (here or in another workspace, which is not said).
    #[error("this {0} account is already connected to a Tidings workspace")]
    AlreadyConnected(&'static str),
    /// The action does not fit the connection's state.
    #[error("{0}")]
    Conflict(String),
    /// The OAuth `state` is unknown, expired, used, or belongs to someone else.
    #[error("this sign-in link is invalid, expired or already used; start connecting again")]
    InvalidState,
    /// The server lacks the configuration the action needs.
    #[error("{0}")]
    NotConfigured(String),
    /// The platform refused or failed during the connect flow.
    #[error("{label} answered with an error: {source}")]
    Platform {
        /// The platform's name for people.
        label: &'static str,
        /// What it said.
        source: ConnectorError,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The work queue refused a job.
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// The vault failed.
    #[error(transparent)]
    Vault(#[from] VaultError),
}

pub(super) fn invalid(field: &'static str, message: impl Into<String>) -> ChannelsError {
    ChannelsError::Validation { field, message: message.into() }
}

/// Locations and connections of workspaces: what the API and the dashboard share.
#[derive(Clone)]
pub struct Channels {
    pub(crate) db: Db,
    pub(crate) queue: Queue,
    pub(crate) vault: Vault,
    pub(crate) platforms: Platforms,
    pub(crate) public_url: String,
    pub(crate) default_sync_interval_secs: i64,
    pub(crate) http_timeout: std::time::Duration,
}

/// A location with its counts.
pub struct LocationView {
    /// The location.
    pub row: LocationRow,
    /// Its connections, reviews and rating, when it has any.
    pub stats: Option<LocationStatsRow>,
}

impl Channels {
    /// The service over the database, the queue, the vault and the platform clients, with the
    /// connectors' configuration (sync interval, HTTP timeout) and the server's public URL.
    pub fn new(db: Db, queue: Queue, vault: Vault, platforms: Platforms, config: &Config) -> Self {
        let connectors = &config.connectors;
        Self {
            db,
            queue,
            vault,
            platforms,
            public_url: config.public_url(),
            default_sync_interval_secs: i64::try_from(connectors.sync_interval_secs)
                .unwrap_or(MAX_SYNC_INTERVAL_SECS)
                .clamp(MIN_SYNC_INTERVAL_SECS, MAX_SYNC_INTERVAL_SECS),
            http_timeout: std::time::Duration::from_secs(connectors.http_timeout_secs.max(1)),
        }
    }

    /// The platform clients and secrets.
    pub fn platforms(&self) -> &Platforms {
        &self.platforms
    }

    /// The absolute URL of a path on this server.
    pub fn absolute(&self, path: &str) -> String {
        format!("{}{path}", self.public_url)
    }

    // ----- locations -----

    /// Every location of the workspace, by name, with its counts.
    #[tracing::instrument(skip_all, fields(workspace_id = %workspace))]
    pub async fn locations(&self, workspace: &WorkspaceId) -> Result<Vec<LocationView>, ChannelsError> {
        let rows = store::locations(&self.db, workspace).await?;
        let mut stats = store::location_stats(&self.db, workspace, None).await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let found = stats.iter().position(|s| s.location_id == row.id).map(|i| stats.swap_remove(i));
                LocationView { row, stats: found }
            })
            .collect())
    }

    /// One location with its counts.
    pub async fn location(&self, workspace: &WorkspaceId, id: &LocationId) -> Result<LocationView, ChannelsError> {
        let row = store::location(&self.db, workspace, id).await?.ok_or(ChannelsError::NotFound("location"))?;
        let stats = store::location_stats(&self.db, workspace, Some(id)).await?.into_iter().next();
        Ok(LocationView { row, stats })
    }

    /// Adds a location.
    #[tracing::instrument(skip_all, fields(workspace_id = %caller.workspace_id))]
    pub async fn create_location(&self, caller: &Caller, input: LocationInput) -> Result<LocationView, ChannelsError> {
        let workspace = &caller.workspace_id;
        let fields = location_fields(input)?;
        let id = LocationId::generate();
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        store::insert_location(&mut tx, workspace, &id, &fields).await?;
        record(&mut tx, caller, "location.created", "location", id.as_str(), json!({ "name": fields.name })).await?;
        tx.commit().await?;
        self.location(workspace, &id).await
    }

    /// Replaces a location's fields.
    #[tracing::instrument(skip_all, fields(workspace_id = %caller.workspace_id, location_id = %id))]
    pub async fn update_location(
        &self,
        caller: &Caller,
        id: &LocationId,
        input: LocationInput,
    ) -> Result<LocationView, ChannelsError> {
        let workspace = &caller.workspace_id;
        let fields = location_fields(input)?;
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        if !store::update_location(&mut tx, workspace, id, &fields).await? {
            return Err(ChannelsError::NotFound("location"));
        }
        record(&mut tx, caller, "location.updated", "location", id.as_str(), json!({ "name": fields.name })).await?;
        tx.commit().await?;
        self.location(workspace, id).await
    }

    /// Removes a location; its connections and conversations stay, detached from it.
    #[tracing::instrument(skip_all, fields(workspace_id = %caller.workspace_id, location_id = %id))]
    pub async fn delete_location(&self, caller: &Caller, id: &LocationId) -> Result<(), ChannelsError> {
        let workspace = &caller.workspace_id;
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        if !store::delete_location(&mut tx, workspace, id).await? {
            return Err(ChannelsError::NotFound("location"));
        }
        record(&mut tx, caller, "location.deleted", "location", id.as_str(), json!({})).await?;
        tx.commit().await?;
        Ok(())
    }

    /// `Some(id)` for a location of this workspace; a validation error on `field` otherwise.
    pub(crate) async fn existing_location(
        &self,
        workspace: &WorkspaceId,
        field: &'static str,
        value: Option<&str>,
    ) -> Result<Option<LocationId>, ChannelsError> {
        let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        let id = LocationId::parse(value).map_err(|_| invalid(field, "no such location"))?;
        if store::location(&self.db, workspace, &id).await?.is_none() {
            return Err(invalid(field, "no such location"));
        }
        Ok(Some(id))
    }

    // ----- connections -----

    /// Every connection of the workspace with its health.
    pub async fn connections(&self, workspace: &WorkspaceId) -> Result<Vec<ConnectionRow>, ChannelsError> {
        Ok(store::connections(&self.db, workspace).await?)
    }

    /// One connection.
    pub async fn connection(&self, workspace: &WorkspaceId, id: &ConnectionId) -> Result<ConnectionRow, ChannelsError> {
        store::connection(&self.db, workspace, id).await?.ok_or(ChannelsError::NotFound("connection"))
    }

    /// Connects a platform account with an API key or token.
    #[tracing::instrument(skip_all, fields(workspace_id = %caller.workspace_id))]
    pub async fn connect(&self, caller: &Caller, input: ConnectionInput) -> Result<ConnectionRow, ChannelsError> {
        let workspace = &caller.workspace_id;
        let platform = Platform::parse(input.platform.trim()).ok_or_else(|| invalid("platform", "unknown platform"))?;
        let external_id = required_text("externalAccountId", &input.external_account_id)?;
        let display_name = required_text("displayName", &input.display_name)?;
        let interval = sync_interval(input.sync_interval_secs)?.unwrap_or(self.default_sync_interval_secs);
        let credentials = credentials_for(platform, input.credentials)?;
        let location = self.existing_location(workspace, "locationId", input.location_id.as_deref()).await?;
        let account = NewAccount { external_id, display_name, credentials };
        match self.insert_account(caller, platform, location.as_ref(), interval, &account, "token").await? {
            Some(id) => self.subscribe_webhooks(workspace, &id).await,
            None => Err(ChannelsError::AlreadyConnected(platform.label())),
        }
    }

    /// Asks the platform to send the connection's events to our webhook (Meta: the Page
    /// installs the app) and records the outcome on the connection. A refusal is recorded with
    /// its reason rather than returned: the connection exists, and this can be asked again.
    #[tracing::instrument(skip_all, fields(workspace_id = %workspace, connection_id = %id))]
    pub async fn subscribe_webhooks(
        &self,
        workspace: &WorkspaceId,
        id: &ConnectionId,
    ) -> Result<ConnectionRow, ChannelsError> {
        let row = self.connection(workspace, id).await?;
        let outcome = match self.messaging_account(workspace, &row).await? {
            Some((channel, account)) => channel.subscribe_webhooks(&account).await.map_err(|error| {
                tracing::warn!(%error, "webhook subscription failed");
                error.to_string()
            }),
            None => Ok(WebhookSubscription::NotApplicable),
        };
        store::set_webhook_subscription(&self.db, workspace, id, outcome.as_ref().map(|s| *s).map_err(String::as_str))
            .await?;
        self.connection(workspace, id).await
    }

    /// The channel that takes the connection's webhook events and the account to call it as;
    /// `None` for review platforms without webhooks and connections without credentials.
    async fn messaging_account(
        &self,
        workspace: &WorkspaceId,
        row: &ConnectionRow,
    ) -> Result<Option<(Box<dyn MessagingChannel>, AccountRef)>, ChannelsError> {
        let Some(channel) = self.platforms.channel(row.platform) else {
            return Ok(None);
        };
        if row.credentials_secret.is_none() {
            return Ok(None);
        }
        let credentials = credentials::load(&self.vault, workspace, &row.id).await?;
        Ok(Some((channel, AccountRef { external_id: row.external_account_id.clone(), credentials })))
    }

    /// Stops the platform sending a removed connection's events, unless another connection of
    /// the same Page (Messenger and Facebook reviews share one) still needs them. A refusal is
    /// logged, not returned: removing the connection must not depend on the platform.
    async fn unsubscribe_webhooks(&self, workspace: &WorkspaceId, row: &ConnectionRow) -> Result<(), ChannelsError> {
        if row.webhook_subscription != Some(WebhookSubscriptionState::Subscribed) {
            return Ok(());
        }
        let siblings = [Platform::Messenger, Platform::Facebook];
        if siblings.contains(&row.platform) {
            for sibling in siblings.into_iter().filter(|p| *p != row.platform) {
                if store::connection_by_account(&self.db, sibling.as_str(), &row.external_account_id).await?.is_some() {
                    return Ok(());
                }
            }
        }
        if let Some((channel, account)) = self.messaging_account(workspace, row).await?
            && let Err(error) = channel.unsubscribe_webhooks(&account).await
        {
            tracing::warn!(%error, connection_id = %row.id, "webhook unsubscription failed");
        }
        Ok(())
    }

    /// Stores an account's credentials and its connection row (with an audit entry). `None`
    /// when the platform account is already connected; its credentials are then forgotten.
    pub(crate) async fn insert_account(
        &self,
        caller: &Caller,
        platform: Platform,
        location: Option<&LocationId>,
        sync_interval_secs: i64,
        account: &NewAccount,
        method: &'static str,
    ) -> Result<Option<ConnectionId>, ChannelsError> {
        let workspace = &caller.workspace_id;
        let id = ConnectionId::generate();
        credentials::save(&self.vault, workspace, &id, &account.credentials).await?;
        let secret_name = credentials::secret_name(&id);
        let inserted = async {
            let mut tx = self.db.begin_for_tenant(workspace).await?;
            let new = NewConnection {
                id: &id,
                location_id: location,
                platform: platform.as_str(),
                external_account_id: &account.external_id,
                display_name: &account.display_name,
                credentials_secret: Some(&secret_name),
                token_expires_at: account.credentials.expires_at_ms,
                sync_interval_secs,
            };
            if !store::insert_connection(&mut tx, workspace, &new).await? {
                return Ok::<_, StoreError>(false);
            }
            let metadata = json!({
                "platform": platform.as_str(),
                "externalAccountId": account.external_id,
                "locationId": location.map(LocationId::as_str),
                "method": method,
            });
            record(&mut tx, caller, "connection.created", "connection", id.as_str(), metadata).await?;
            tx.commit().await?;
            Ok(true)
        }
        .await;
        match inserted {
            Ok(true) => Ok(Some(id)),
            Ok(false) => {
                credentials::forget(&self.vault, workspace, &id).await?;
                Ok(None)
            }
            Err(error) => {
                if let Err(vault_error) = credentials::forget(&self.vault, workspace, &id).await {
                    tracing::warn!(%vault_error, connection_id = %id, "credentials of a failed connect not forgotten");
                }
                Err(error.into())
            }
        }
    }

    /// Changes what a person may change on a connection: name, location, paused, interval.
    #[tracing::instrument(skip_all, fields(workspace_id = %caller.workspace_id, connection_id = %id))]
    pub async fn update_connection(
        &self,
        caller: &Caller,
        id: &ConnectionId,
        patch: ConnectionChanges,
    ) -> Result<ConnectionRow, ChannelsError> {
        let workspace = &caller.workspace_id;
        let row = self.connection(workspace, id).await?;
        let display_name = match patch.display_name.as_deref() {
            Some(name) => required_text("displayName", name)?,
            None => row.display_name.clone(),
        };
        let location = match patch.location_id {
            Some(value) => self.existing_location(workspace, "locationId", value.as_deref()).await?,
            None => row.location_id.clone(),
        };
        let interval = sync_interval(patch.sync_interval_secs)?.unwrap_or(row.sync_interval_secs);
        let current = row.status;
        let status = match patch.paused {
            Some(true) => ConnectionStatus::Paused,
            Some(false) if current == ConnectionStatus::Paused => ConnectionStatus::Active,
            _ => current,
        };
        let resumed = current == ConnectionStatus::Paused && status == ConnectionStatus::Active;
        let moved = location != row.location_id;
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        if !store::update_connection(&mut tx, workspace, id, &display_name, location.as_ref(), status, interval).await?
        {
            return Err(ChannelsError::NotFound("connection"));
        }
        if moved {
            inbox_store::move_connection_conversations(&mut tx, workspace, id, location.as_ref()).await?;
        }
        if resumed {
            store::schedule_sync_now(&mut tx, workspace, id, now_millis()).await?;
        }
        let metadata = json!({
            "displayName": display_name,
            "locationId": location.as_ref().map(LocationId::as_str),
            "status": { "from": row.status, "to": status },
            "syncIntervalSecs": interval,
        });
        record(&mut tx, caller, "connection.updated", "connection", id.as_str(), metadata).await?;
        tx.commit().await?;
        self.connection(workspace, id).await
    }

    /// Disconnects an account: its credentials are forgotten, then the connection removed.
    /// Its conversations stay in the inbox.
    #[tracing::instrument(skip_all, fields(workspace_id = %caller.workspace_id, connection_id = %id))]
    pub async fn disconnect(&self, caller: &Caller, id: &ConnectionId) -> Result<(), ChannelsError> {
        let workspace = &caller.workspace_id;
        let row = self.connection(workspace, id).await?;
        self.unsubscribe_webhooks(workspace, &row).await?;
        credentials::forget(&self.vault, workspace, id).await?;
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        if !store::delete_connection(&mut tx, workspace, id).await? {
            return Err(ChannelsError::NotFound("connection"));
        }
        let metadata = json!({ "platform": row.platform, "externalAccountId": row.external_account_id });
        record(&mut tx, caller, "connection.removed", "connection", id.as_str(), metadata).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Connects an account again with new credentials (an OAuth flow for an account this
    /// workspace already has): active again, failures forgotten, due for sync now.
    pub(crate) async fn reconnect(
        &self,
        caller: &Caller,
        id: &ConnectionId,
        credentials: &Credentials,
    ) -> Result<(), ChannelsError> {
        let workspace = &caller.workspace_id;
        credentials::save(&self.vault, workspace, id, credentials).await?;
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        if !store::reactivate_connection(&mut tx, workspace, id, credentials.expires_at_ms).await? {
            return Err(ChannelsError::NotFound("connection"));
        }
        record(&mut tx, caller, "connection.reconnected", "connection", id.as_str(), json!({})).await?;
        tx.commit().await?;
        Ok(())
    }
}

impl Channels {
    /// Asks for a connection to be synced now: it becomes due, so the sync scheduler picks it on
    /// its next tick. Returns when it is due (now). Paused connections and connections waiting to
    /// be connected again are refused.
    #[tracing::instrument(skip_all, fields(workspace_id = %workspace, connection_id = %id))]
    pub async fn request_sync(&self, workspace: &WorkspaceId, id: &ConnectionId) -> Result<i64, ChannelsError> {
        let row = store::connection(&self.db, workspace, id).await?.ok_or(ChannelsError::NotFound("connection"))?;
        match row.status {
            ConnectionStatus::Paused => {
                return Err(ChannelsError::Conflict("the connection is paused; resume it to sync".to_owned()));
            }
            ConnectionStatus::NeedsReauth => {
                return Err(ChannelsError::Conflict(
                    "the platform refused this connection's credentials; connect it again to sync".to_owned(),
                ));
            }
            _ => {}
        }
        let now = now_millis();
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        if !store::schedule_sync_now(&mut tx, workspace, id, now).await? {
            return Err(ChannelsError::NotFound("connection"));
        }
        tx.commit().await?;
        Ok(now)
    }

    /// Syncs the workspace's review connections now (only `only`, when given), with a progress
    /// task; returns the task and how many connections it syncs. `requested_by` is shown on the task.
    pub async fn sync_reviews(
        &self,
        workspace: &WorkspaceId,
        requested_by: Option<&UserId>,
        only: Option<&ConnectionId>,
    ) -> Result<(TaskId, i64), ChannelsError> {
        if let Some(id) = only {
            self.connection(workspace, id).await?;
        }
        Ok(start_sync(&self.db, &self.queue, workspace, requested_by, only).await?)
    }
}

/// An account about to be connected.
pub(crate) struct NewAccount {
    pub external_id: String,
    pub display_name: String,
    pub credentials: Credentials,
}

/// Appends to the audit log inside `tx`, as the caller.
async fn record(
    tx: &mut Tx,
    caller: &Caller,
    action: &'static str,
    resource_type: &'static str,
    resource_id: &str,
    metadata: serde_json::Value,
) -> Result<(), StoreError> {
    let entry = AuditEntry::by(caller, action, resource_type).on(resource_id).with(metadata);
    audit::record(tx, &caller.workspace_id, entry).await
}
