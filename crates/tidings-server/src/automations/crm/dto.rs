//! What the CRM endpoints accept and promise. Tokens go in and never come out.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tidings_connectors::crm::Crm;
use tidings_core::CrmConnectionId;
use tidings_core::time::to_rfc3339;
use utoipa::ToSchema;

use super::mapping::{Mapping, contact_values};
use crate::automations::store::CrmConnectionRow;

/// Connects HubSpot or Salesforce for CRM sync (Pipedrive is connected for its deal events and
/// pushes with that token).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CrmConnectIn {
    /// `hubspot` or `salesforce`.
    #[schema(value_type = String)]
    pub provider: Crm,
    /// A name for the connection (the CRM's name when left out).
    #[serde(default)]
    pub name: Option<String>,
    /// HubSpot: a private app's access token (`pat-…`, scopes `crm.objects.contacts.write`,
    /// `crm.objects.deals.write`); Salesforce: an OAuth access token of the org. Checked against
    /// the CRM before anything is saved; stored encrypted.
    #[serde(default)]
    pub access_token: Option<String>,
    /// Salesforce: the org's instance URL (`https://yourorg.my.salesforce.com`).
    #[serde(default)]
    pub instance_url: Option<String>,
    /// Salesforce, optional: a refresh token issued to your connected app, to renew the access
    /// token when its session expires. Takes `clientId` and `clientSecret` too; stored encrypted.
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// Salesforce: the connected app's consumer key (with `refreshToken`).
    #[serde(default)]
    pub client_id: Option<String>,
    /// Salesforce: the connected app's consumer secret (with `refreshToken`).
    #[serde(default)]
    pub client_secret: Option<String>,
}

/// A CRM connection rules can push to.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncConnectionOut {
    pub id: CrmConnectionId,
    /// `hubspot`, `salesforce` or `pipedrive`.
    pub provider: String,
    pub name: String,
    /// The account as the CRM names it.
    pub account_name: String,
    /// Salesforce: the org's instance URL.
    pub instance_url: Option<String>,
    /// Since when the CRM refuses the connection's credentials (connect it again), if it does.
    pub failing_since: Option<String>,
    /// What the CRM answered then.
    pub last_error: Option<String>,
    pub created_at: String,
}

impl SyncConnectionOut {
    pub fn from_row(row: CrmConnectionRow) -> Self {
        Self {
            id: row.id,
            provider: row.provider.as_str().to_owned(),
            name: row.name,
            account_name: row.account_name,
            instance_url: row.instance_url,
            failing_since: row.failing_since.map(to_rfc3339),
            last_error: row.last_error,
            created_at: to_rfc3339(row.created_at),
        }
    }
}

/// A mapping to save: the CRM's fields (see [`MappingOut::mapping`]); any left out keep their
/// defaults.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub struct MappingIn(pub Value);

/// A CRM's field mapping for the workspace.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MappingOut {
    /// `hubspot`, `salesforce` or `pipedrive`.
    pub provider: String,
    /// The mapping in effect, every field present. HubSpot: `contact` (property → contact value),
    /// `lifecycleStage`, `leadStatus`, `dealPipeline`, `dealStage`; Salesforce: `lead`,
    /// `missingLastName`, `missingCompany`, `taskStatus`; Pipedrive: `person`.
    #[schema(value_type = Object)]
    pub mapping: Value,
    /// False while the workspace uses the defaults.
    pub customised: bool,
    /// The contact values a field may take (`"email"`, `{"constant": "…"}`…).
    pub contact_values: Vec<String>,
}

impl MappingOut {
    pub fn new(crm: Crm, mapping: &Mapping, customised: bool) -> Self {
        Self {
            provider: crm.as_str().to_owned(),
            mapping: mapping.to_json(),
            customised,
            contact_values: contact_values(),
        }
    }
}
