//! Pipedrive as an event source: connecting with an API token (checked against Pipedrive before
//! anything is saved), registering the deal webhook with per-connection Basic auth credentials
//! (ADR 0016: Pipedrive does not sign), removing it on disconnect, the intake that stores each
//! delivery with its processing job in one transaction, and the cached names of pipelines,
//! stages and users.

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tidings_connectors::crm::Crm;
use tidings_connectors::pipedrive::{
    self as wire, Names, NewWebhook, PipedriveClient, PipedriveEvent, WebhookCredentials, WebhookVersion,
};
use tidings_connectors::{ConnectorError, WebhookError};
use tidings_core::time::now_millis;
use tidings_core::{CrmConnectionId, WorkspaceId};

use super::crm::token_secret;
use super::pipedrive_intake::Pending;
use super::store::{self, CrmConnectionRow, NewCrmConnection};
use super::{Automations, AutomationsError};

/// Names older than this are fetched again before a message is written.
const NAMES_TTL_MS: i64 = 3_600_000;
/// An unknown id (a stage created since) refreshes the names, but not more often than this.
const NAMES_MIN_REFRESH_MS: i64 = 60_000;

fn password_secret(id: &CrmConnectionId) -> String {
    format!("automations/crm/{id}/webhook-password")
}

/// Names as cached in `crm_connections.names_json`.
#[derive(Default, Serialize, Deserialize)]
struct CachedNames {
    pipelines: BTreeMap<i64, String>,
    stages: BTreeMap<i64, String>,
    users: BTreeMap<i64, String>,
}

impl From<CachedNames> for Names {
    fn from(c: CachedNames) -> Names {
        Names { pipelines: c.pipelines, stages: c.stages, users: c.users }
    }
}

/// What the intake did with a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intake {
    /// Stored and queued for processing.
    Accepted,
    /// The same delivery (by its identifiers) was stored before.
    Duplicate,
    /// Not a deal event Tidings acts on.
    Ignored,
}

/// Why a delivery was refused.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// No such connection (or a malformed id).
    #[error("unknown connection")]
    UnknownConnection,
    /// Missing or wrong Basic auth credentials.
    #[error(transparent)]
    Unauthorized(WebhookError),
    /// Not a Pipedrive payload.
    #[error(transparent)]
    Malformed(WebhookError),
    /// Storing failed: Pipedrive will retry.
    #[error(transparent)]
    Failed(#[from] AutomationsError),
}

impl Automations {
    fn pipedrive(&self, token: SecretString) -> PipedriveClient {
        PipedriveClient::new(self.api_http.clone(), &self.config.pipedrive_base_url, token)
    }

    /// Where Pipedrive posts this connection's deliveries.
    pub fn intake_url(&self, id: &CrmConnectionId) -> String {
        format!("{}/webhooks/pipedrive/{id}", self.public_url)
    }

    /// Connects a Pipedrive account: checks the token, registers the deal webhook with fresh
    /// credentials, then stores the connection (token and password sealed in the vault).
    pub async fn connect_pipedrive(
        &self,
        workspace: &WorkspaceId,
        name: Option<&str>,
        api_token: &str,
    ) -> Result<CrmConnectionRow, AutomationsError> {
        let token = api_token.trim();
        if token.is_empty() || token.len() > 200 {
            return Err(AutomationsError::invalid("apiToken", "the Pipedrive API token is required"));
        }
        let client = self.pipedrive(SecretString::from(token.to_owned()));
        let me = client.me().await.map_err(|error| match error {
            ConnectorError::Unauthorized { .. } => AutomationsError::invalid(
                "apiToken",
                "Pipedrive refused this API token (Settings → Personal preferences → API)",
            ),
            other => AutomationsError::Pipedrive(format!("the token could not be checked: {other}")),
        })?;
        let id = CrmConnectionId::generate();
        let credentials = WebhookCredentials::generate();
        let url = self.intake_url(&id);
        let webhook = NewWebhook {
            subscription_url: &url,
            event_action: "*",
            event_object: "deal",
            credentials: &credentials,
            version: WebhookVersion::V2,
        };
        let registered = client
            .register_webhook(&webhook)
            .await
            .map_err(|e| AutomationsError::Pipedrive(format!("the webhook could not be registered: {e}")))?;
        self.vault.put(workspace, &token_secret(&id), token.as_bytes()).await?;
        self.vault.put(workspace, &password_secret(&id), credentials.password.expose_secret().as_bytes()).await?;
        let account = match &me.company_name {
            Some(company) => format!("{} ({company})", me.name),
            None => me.name.clone(),
        };
        let name = name.map(str::trim).filter(|n| !n.is_empty()).unwrap_or("Pipedrive");
        let webhook_ids = serde_json::to_string(&[registered.id]).unwrap_or_else(|_| "[]".into());
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        let new = NewCrmConnection {
            id: &id,
            name,
            account_name: &account,
            company_domain: me.company_domain.as_deref(),
            webhook_user: &credentials.user,
            webhook_ids: &webhook_ids,
        };
        store::insert_crm_connection(&mut tx, workspace, &new).await?;
        tx.commit().await?;
        // Names now, so the first message reads well; a failure here only delays them.
        if let Err(error) = self.refresh_names(workspace, &id).await {
            tracing::warn!(%error, "Pipedrive names not fetched yet");
        }
        store::crm_connection(&self.db, workspace, &id).await?.ok_or(AutomationsError::NotFound("connection"))
    }

    /// Disconnects: deletes the webhooks in Pipedrive (best effort: a token revoked meanwhile
    /// must not keep the connection alive), then the connection and its secrets. Returns whether
    /// Pipedrive confirmed the webhooks' removal.
    pub async fn disconnect_pipedrive(
        &self,
        workspace: &WorkspaceId,
        id: &CrmConnectionId,
    ) -> Result<bool, AutomationsError> {
        let row = store::crm_connection(&self.db, workspace, id)
            .await?
            .filter(|row| row.provider == Crm::Pipedrive)
            .ok_or(AutomationsError::NotFound("connection"))?;
        let mut removed = true;
        if let Some(token) = self.vault.get(workspace, &token_secret(id)).await? {
            let token = String::from_utf8_lossy(token.expose_secret()).into_owned();
            let client = self.pipedrive(SecretString::from(token));
            for webhook in serde_json::from_str::<Vec<i64>>(&row.webhook_ids).unwrap_or_default() {
                if let Err(error) = client.delete_webhook(webhook).await {
                    tracing::warn!(%error, webhook, "Pipedrive webhook not deleted");
                    removed = false;
                }
            }
        }
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        store::delete_crm_connection(&mut tx, workspace, id).await?;
        tx.commit().await?;
        self.vault.delete(workspace, &token_secret(id)).await?;
        self.vault.delete(workspace, &password_secret(id)).await?;
        self.pipedrive_intake.forget_password(id);
        Ok(removed)
    }

    /// Receives one delivery: checks the connection's credentials, parses it (v1 or v2), and
    /// stores it with its processing job in one transaction (shared with the deliveries that
    /// arrived meanwhile: pipedrive_intake.rs); a redelivery is recognised by its identifiers and
    /// stored once.
    pub async fn pipedrive_intake(
        &self,
        connection: &str,
        authorization: Option<&str>,
        body: &[u8],
    ) -> Result<Intake, IntakeError> {
        let id = CrmConnectionId::parse(connection).map_err(|_| IntakeError::UnknownConnection)?;
        let row = store::crm_connection_for_intake(&self.db, &id)
            .await
            .map_err(AutomationsError::from)?
            .filter(|row| row.provider == Crm::Pipedrive)
            .ok_or(IntakeError::UnknownConnection)?;
        let workspace = row.workspace_id.clone();
        let password = match self.pipedrive_intake.password(&id) {
            Some(password) => password,
            None => {
                let sealed = self
                    .vault
                    .get(&workspace, &password_secret(&id))
                    .await
                    .map_err(AutomationsError::from)?
                    .ok_or(IntakeError::UnknownConnection)?;
                let password = SecretString::from(String::from_utf8_lossy(sealed.expose_secret()).into_owned());
                self.pipedrive_intake.remember_password(&id, password.clone());
                password
            }
        };
        let expected = WebhookCredentials { user: row.webhook_user.clone().unwrap_or_default(), password };
        wire::verify_basic_auth(&expected, authorization).map_err(IntakeError::Unauthorized)?;
        let event = match wire::parse_webhook(body).map_err(IntakeError::Malformed)? {
            PipedriveEvent::Deal(event) => event,
            PipedriveEvent::Ignored { reason } => {
                tracing::debug!(%reason, "Pipedrive delivery ignored");
                return Ok(Intake::Ignored);
            }
        };
        let trigger = super::process::deal_trigger(&event.kind);
        let dedup_key = format!("pipedrive:{id}:{}", event.delivery.dedup_key);
        let payload = String::from_utf8_lossy(body).into_owned();
        let outcome = self.store_delivery(Pending::new(workspace, id, trigger, dedup_key, payload)).await?;
        metrics::counter!("tidings_automations_events_total", "source" => "pipedrive", "outcome" => match outcome {
            Intake::Accepted => "accepted",
            Intake::Duplicate => "duplicate",
            Intake::Ignored => "ignored",
        })
        .increment(1);
        Ok(outcome)
    }

    /// Fetches the connection's pipeline, stage and user names and caches them.
    async fn refresh_names(&self, workspace: &WorkspaceId, id: &CrmConnectionId) -> Result<Names, AutomationsError> {
        let token =
            self.vault.get(workspace, &token_secret(id)).await?.ok_or(AutomationsError::NotFound("connection"))?;
        let client = self.pipedrive(SecretString::from(String::from_utf8_lossy(token.expose_secret()).into_owned()));
        let names = client.names().await.map_err(|e| AutomationsError::Pipedrive(e.to_string()))?;
        let cached = CachedNames {
            pipelines: names.pipelines.clone(),
            stages: names.stages.clone(),
            users: names.users.clone(),
        };
        let json = serde_json::to_string(&cached).unwrap_or_else(|_| "{}".into());
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        store::set_crm_names(&mut tx, workspace, id, &json).await?;
        tx.commit().await?;
        Ok(names)
    }

    /// The names messages are written with: the cache while fresh and complete for `ids`, else
    /// fetched again (at most once a minute); a failed fetch falls back to the cache.
    pub(crate) async fn names_for(
        &self,
        workspace: &WorkspaceId,
        row: &CrmConnectionRow,
        stage_ids: &[i64],
        user_id: Option<i64>,
        pipeline_id: Option<i64>,
    ) -> Names {
        let cached: Names = row
            .names_json
            .as_deref()
            .and_then(|j| serde_json::from_str::<CachedNames>(j).ok())
            .unwrap_or_default()
            .into();
        let age = row.names_fetched_at.map(|at| now_millis() - at);
        let missing = stage_ids.iter().any(|s| !cached.stages.contains_key(s))
            || user_id.is_some_and(|u| !cached.users.contains_key(&u))
            || pipeline_id.is_some_and(|p| !cached.pipelines.contains_key(&p));
        let stale = age.is_none_or(|age| age > NAMES_TTL_MS || (missing && age > NAMES_MIN_REFRESH_MS));
        if !stale {
            return cached;
        }
        match self.refresh_names(workspace, &row.id).await {
            Ok(names) => names,
            Err(error) => {
                tracing::warn!(%error, "Pipedrive names not refreshed; using the cache");
                cached
            }
        }
    }
}
