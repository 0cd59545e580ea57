//! Everything a job needs to call a platform for a connection: its decrypted credentials with a
//! fresh access token, a circuit breaker, and the mapping of platform errors to job outcomes.

use std::time::Duration;

use tidings_connectors::oauth::ensure_fresh;
use tidings_connectors::{AccountRef, ConnectorError, Platform};
use tidings_core::time::now_millis;
use tidings_core::{ConnectionId, WorkspaceId};
use tidings_store::queue::{JobError, QueueError};
use tidings_store::{Db, Tx};

use super::breaker::Breakers;
use super::model::ConnectionStatus;
use super::platforms::Platforms;
use super::{credentials, store};
use crate::events::{DomainEvent, Events};
use crate::inbox::live::Live;
use crate::vault::Vault;

/// What the sync and outbound jobs share.
#[derive(Clone)]
pub struct ChannelContext {
    pub db: Db,
    pub vault: Vault,
    pub platforms: Platforms,
    pub breakers: Breakers,
    pub live: Live,
    /// Announces stored items to the capabilities that react to them (the AI pipeline).
    pub events: Events,
}

impl ChannelContext {
    /// The account to call the platform as, refreshing an expiring OAuth token first (and
    /// storing the new one).
    pub async fn account(
        &self,
        workspace: &WorkspaceId,
        connection: &store::ConnectionRow,
        platform: Platform,
    ) -> Result<AccountRef, JobError> {
        let id = &connection.id;
        let mut creds = credentials::load(&self.vault, workspace, id).await?;
        if let Some(oauth) = self.platforms.oauth(platform) {
            let refreshed = ensure_fresh(&oauth, &mut creds, now_millis()).await;
            match refreshed {
                Ok(true) => {
                    credentials::save(&self.vault, workspace, id, &creds).await?;
                    let mut tx = self.db.begin_for_tenant(workspace).await?;
                    store::set_token_expiry(&mut tx, workspace, id, creds.expires_at_ms).await?;
                    tx.commit().await?;
                }
                Ok(false) => {}
                Err(error) => return Err(self.fail(workspace, id, platform, error).await),
            }
        }
        Ok(AccountRef { external_id: connection.external_account_id.clone(), credentials: creds })
    }

    /// `Err` with the wait while the platform's circuit is open.
    pub fn check_breaker(&self, platform: Platform) -> Result<(), JobError> {
        self.breakers
            .check(platform.as_str())
            .map_err(|wait| JobError::retry_after(format!("{platform} circuit open"), wait.max(Duration::from_secs(1))))
    }

    /// Records a failed call on the breaker and the connection's health, and says how the job
    /// should end: refused credentials mark the connection for reconnecting and stop; outages
    /// and limits retry (after `Retry-After` when given); rejections stop.
    pub async fn fail(
        &self,
        workspace: &WorkspaceId,
        id: &ConnectionId,
        platform: Platform,
        error: ConnectorError,
    ) -> JobError {
        let message = error.to_string();
        match &error {
            ConnectorError::RateLimited { retry_after, .. } => {
                self.breakers.record_failure(platform.as_str());
                match retry_after {
                    Some(after) => JobError::retry_after(message, *after),
                    None => JobError::retry(message),
                }
            }
            ConnectorError::Unavailable { .. } => {
                self.breakers.record_failure(platform.as_str());
                JobError::retry(message)
            }
            ConnectorError::Unauthorized { .. } | ConnectorError::MissingCredential { .. } => {
                self.breakers.record_success(platform.as_str());
                if let Err(store_error) = self.mark(workspace, id, ConnectionStatus::NeedsReauth, &message).await {
                    tracing::warn!(%store_error, "connection health not recorded");
                }
                JobError::fatal(message)
            }
            _ => {
                self.breakers.record_success(platform.as_str());
                JobError::fatal(message)
            }
        }
    }

    async fn mark(
        &self,
        workspace: &WorkspaceId,
        id: &ConnectionId,
        status: ConnectionStatus,
        error: &str,
    ) -> Result<(), QueueError> {
        let was_healthy =
            store::connection(&self.db, workspace, id).await?.is_some_and(|row| row.status == ConnectionStatus::Active);
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        store::mark_health(&mut tx, workspace, id, status, error).await?;
        if was_healthy {
            self.announce_failing(&mut tx, workspace, id, status, error).await?;
        }
        Ok(tx.commit().await?)
    }

    /// Announces, in `tx`, that a connection turned from healthy to failing: automations'
    /// `connection_failing` trigger hears it (ADR 0024). Called once per turn, not per retry.
    pub async fn announce_failing(
        &self,
        tx: &mut Tx,
        workspace: &WorkspaceId,
        id: &ConnectionId,
        status: ConnectionStatus,
        error: &str,
    ) -> Result<(), QueueError> {
        let event = DomainEvent::ConnectionFailing {
            connection: id.clone(),
            status: status.as_str().to_owned(),
            error: error.to_owned(),
            since: now_millis(),
        };
        self.events.publish_in(tx, workspace, &[event]).await
    }
}
