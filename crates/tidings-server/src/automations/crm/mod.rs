//! CRM sync (ADR 0025): the CRM connections rules push leads to, their field mappings, the sync
//! itself on the delivery path, and erasing a contact's records from the CRMs.
//!
//! - **Connections** (here): HubSpot with a private-app access token, Salesforce with the org's
//!   instance URL and an OAuth access token, and every Pipedrive connection (its API token, from
//!   connecting Pipedrive for deal events). A token is checked against the CRM with a call its
//!   API offers before anything is saved, then sealed in the vault (`automations/crm/{id}/api-token`).
//!   A Salesforce connection may also carry its connected app's consumer key and secret and a
//!   refresh token (`automations/crm/{id}/oauth`): an expired session is then renewed by the
//!   connector and the new tokens sealed again ([`VaultTokens`]). A connection whose credentials
//!   the CRM refuses is marked failing until a sync through it succeeds.
//! - **Mappings** (`mapping.rs`): which CRM field gets which contact value, per workspace and CRM,
//!   as JSON validated against the connector's mapping type; defaults from `tidings-connectors`.
//! - **Sync** (`sync.rs`): a `sync_to_crm` action is a delivery to a CRM connection, run by the
//!   same `automations.deliver` job as notifications; HubSpot's batch endpoints push up to 100
//!   queued leads in one call per step; each created record is stored before the next step.
//! - **Erasure** (`sync.rs`): [`Automations::erase_contact_from_crms`].

pub mod dto;
pub mod mapping;
pub mod pages;
pub mod routes;
pub mod store;
pub mod sync;

use std::sync::Arc;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tidings_connectors::ConnectorError;
use tidings_connectors::crm::hubspot::Hubspot;
use tidings_connectors::crm::pipedrive::PipedrivePush;
use tidings_connectors::crm::salesforce::{RefreshGrant, Salesforce, TokenStore};
use tidings_connectors::crm::{Crm, CrmPush};
use tidings_connectors::pipedrive::PipedriveClient;
use tidings_core::{CrmConnectionId, WorkspaceId};

use super::store::{self as automations_store, CrmConnectionRow};
use super::{Automations, AutomationsError};
use crate::vault::Vault;
use dto::CrmConnectIn;

/// The vault name of a CRM connection's token (Pipedrive's API token, HubSpot's or Salesforce's
/// access token).
pub(crate) fn token_secret(id: &CrmConnectionId) -> String {
    format!("automations/crm/{id}/api-token")
}

/// The vault name of a Salesforce connection's refresh grant ([`StoredGrant`], JSON).
fn grant_secret(id: &CrmConnectionId) -> String {
    format!("automations/crm/{id}/oauth")
}

/// A Salesforce refresh grant as sealed in the vault.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredGrant {
    client_id: String,
    client_secret: String,
    refresh_token: String,
}

impl StoredGrant {
    /// The grant a connect form gave: none, or all three fields.
    fn from_input(input: &CrmConnectIn) -> Result<Option<Self>, AutomationsError> {
        let given = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
        let fields = [
            ("refreshToken", given(&input.refresh_token)),
            ("clientId", given(&input.client_id)),
            ("clientSecret", given(&input.client_secret)),
        ];
        if fields.iter().all(|(_, v)| v.is_none()) {
            return Ok(None);
        }
        if let Some((field, _)) = fields.iter().find(|(_, v)| v.as_ref().is_none_or(|v| v.len() > 4_096)) {
            return Err(AutomationsError::invalid(
                *field,
                "renewing expired sessions takes the refresh token and the connected app's consumer key and secret",
            ));
        }
        let [(_, refresh_token), (_, client_id), (_, client_secret)] = fields;
        Ok(Some(Self {
            client_id: client_id.unwrap_or_default(),
            client_secret: client_secret.unwrap_or_default(),
            refresh_token: refresh_token.unwrap_or_default(),
        }))
    }

    fn grant(self) -> RefreshGrant {
        RefreshGrant {
            client_id: self.client_id,
            client_secret: SecretString::from(self.client_secret),
            refresh_token: SecretString::from(self.refresh_token),
        }
    }
}

/// Seals the tokens a Salesforce refresh returned, where the next client reads them.
struct VaultTokens {
    vault: Vault,
    workspace: WorkspaceId,
    id: CrmConnectionId,
}

#[async_trait]
impl TokenStore for VaultTokens {
    async fn save(&self, access_token: &SecretString, grant: &RefreshGrant) -> Result<(), ConnectorError> {
        let stored = StoredGrant {
            client_id: grant.client_id.clone(),
            client_secret: grant.client_secret.expose_secret().to_owned(),
            refresh_token: grant.refresh_token.expose_secret().to_owned(),
        };
        let json = serde_json::to_vec(&stored).unwrap_or_default();
        let sealed = async {
            self.vault.put(&self.workspace, &token_secret(&self.id), access_token.expose_secret().as_bytes()).await?;
            self.vault.put(&self.workspace, &grant_secret(&self.id), &json).await
        };
        // Not kept: the call goes on with the new token, and the next client refreshes again.
        sealed.await.map(drop).map_err(|e| ConnectorError::Unavailable {
            platform: "salesforce",
            message: format!("the renewed token could not be stored: {e}"),
        })
    }
}

fn required<'a>(value: Option<&'a str>, field: &str, what: &str) -> Result<&'a str, AutomationsError> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= 4_096)
        .ok_or_else(|| AutomationsError::invalid(field, format!("{what} is required")))
}

/// A refused token is the member's to fix (422 on `accessToken`); anything else is the CRM's (502).
fn check_failed(crm: Crm, error: ConnectorError) -> AutomationsError {
    match error {
        ConnectorError::Unauthorized { message, .. } => {
            AutomationsError::invalid("accessToken", format!("{} refused this token: {message}", crm.label()))
        }
        other => AutomationsError::Crm(format!("{} could not check the token: {other}", crm.label())),
    }
}

impl Automations {
    /// Connects HubSpot or Salesforce: the token is checked against the CRM first (HubSpot's
    /// account details, Salesforce's Lead object), then sealed in the vault with the connection.
    /// Pipedrive is connected for deal events (`connect_pipedrive`) and pushes with that token.
    pub async fn connect_crm(
        &self,
        workspace: &WorkspaceId,
        input: &CrmConnectIn,
    ) -> Result<CrmConnectionRow, AutomationsError> {
        let token = required(input.access_token.as_deref(), "accessToken", "the access token")?;
        let secret = SecretString::from(token.to_owned());
        let mut grant = None;
        let (crm, account, instance_url) = match input.provider {
            Crm::Hubspot => {
                let client =
                    Hubspot::new(self.api_http.clone(), &self.config.hubspot_base_url, secret, Default::default());
                let account = client.account().await.map_err(|e| check_failed(Crm::Hubspot, e))?;
                (Crm::Hubspot, format!("HubSpot account {}", account.portal_id), None)
            }
            Crm::Salesforce => {
                let url = required(input.instance_url.as_deref(), "instanceUrl", "the instance URL")?;
                grant = StoredGrant::from_input(input)?;
                // The member types the instance URL: it goes through the same guard as webhooks.
                let url = self
                    .guard
                    .check(url)
                    .await
                    .map_err(|source| AutomationsError::Refused { field: "instanceUrl".into(), source })?;
                let base = url.as_str().trim_end_matches('/').to_owned();
                let client = Salesforce::new(self.guarded_http.clone(), &base, secret, Default::default());
                client.check().await.map_err(|e| check_failed(Crm::Salesforce, e))?;
                (Crm::Salesforce, url.host_str().unwrap_or_default().to_owned(), Some(base))
            }
            Crm::Pipedrive => {
                return Err(AutomationsError::invalid(
                    "provider",
                    "connect Pipedrive under Automations → Pipedrive; rules push to it with that token",
                ));
            }
        };
        let id = CrmConnectionId::generate();
        self.vault.put(workspace, &token_secret(&id), token.as_bytes()).await?;
        if let Some(grant) = grant {
            let json = serde_json::to_vec(&grant).unwrap_or_default();
            self.vault.put(workspace, &grant_secret(&id), &json).await?;
        }
        let name = input.name.as_deref().map(str::trim).filter(|n| !n.is_empty()).unwrap_or(crm.label());
        let new = store::NewPushConnection {
            id: &id,
            provider: crm,
            name,
            account_name: &account,
            instance_url: instance_url.as_deref(),
        };
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        store::insert_push_connection(&mut tx, workspace, &new).await?;
        tx.commit().await?;
        self.crm_connection(workspace, &id).await
    }

    /// One CRM connection of the workspace.
    pub async fn crm_connection(
        &self,
        workspace: &WorkspaceId,
        id: &CrmConnectionId,
    ) -> Result<CrmConnectionRow, AutomationsError> {
        automations_store::crm_connection(&self.db, workspace, id)
            .await?
            .ok_or(AutomationsError::NotFound("connection"))
    }

    /// Removes a HubSpot or Salesforce connection, its token and its log; the records it created
    /// stay listed for erasure, which then reports them as unreachable. A Pipedrive connection is
    /// removed by disconnecting Pipedrive (its webhooks must go too).
    pub async fn disconnect_crm(&self, workspace: &WorkspaceId, id: &CrmConnectionId) -> Result<(), AutomationsError> {
        let row = self.crm_connection(workspace, id).await?;
        if row.provider == Crm::Pipedrive {
            return Err(AutomationsError::Conflict(
                "disconnect Pipedrive to remove its connection and webhooks".into(),
            ));
        }
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        automations_store::delete_crm_connection(&mut tx, workspace, id).await?;
        tx.commit().await?;
        self.vault.delete(workspace, &token_secret(id)).await?;
        self.vault.delete(workspace, &grant_secret(id)).await?;
        self.breakers.record_success(id.as_str());
        Ok(())
    }

    /// The client that pushes to a connection, with the workspace's mapping for its CRM.
    pub(crate) async fn crm_client(
        &self,
        workspace: &WorkspaceId,
        row: &CrmConnectionRow,
    ) -> Result<Box<dyn CrmPush>, AutomationsError> {
        let token =
            self.vault.get(workspace, &token_secret(&row.id)).await?.ok_or(AutomationsError::NotFound("token"))?;
        let token = SecretString::from(String::from_utf8_lossy(token.expose_secret()).into_owned());
        let mapping = self.mapping(workspace, row.provider).await?;
        Ok(match mapping {
            mapping::Mapping::Hubspot(mapping) => {
                Box::new(Hubspot::new(self.api_http.clone(), &self.config.hubspot_base_url, token, mapping))
            }
            mapping::Mapping::Salesforce(mapping) => {
                let url = row.instance_url.clone().ok_or(AutomationsError::NotFound("instance URL"))?;
                // Checked when connected, and again before each push (ADR 0017's contract).
                self.guard
                    .check(&url)
                    .await
                    .map_err(|source| AutomationsError::Refused { field: "instanceUrl".into(), source })?;
                let client = Salesforce::new(self.guarded_http.clone(), url, token, mapping);
                let grant = self.vault.get(workspace, &grant_secret(&row.id)).await?;
                match grant.and_then(|g| serde_json::from_slice::<StoredGrant>(g.expose_secret()).ok()) {
                    Some(grant) => {
                        let tokens =
                            VaultTokens { vault: self.vault.clone(), workspace: workspace.clone(), id: row.id.clone() };
                        Box::new(client.with_refresh(grant.grant(), Arc::new(tokens)))
                    }
                    None => Box::new(client),
                }
            }
            mapping::Mapping::Pipedrive(mapping) => {
                let client = PipedriveClient::new(self.api_http.clone(), &self.config.pipedrive_base_url, token);
                Box::new(PipedrivePush::new(client, mapping))
            }
        })
    }
}
