//! Salesforce: a Lead per contact and a Task for the conversation, through the REST API's
//! sObject resources, with an OAuth access token for the org's instance URL.
//!
//! **Required fields social contacts lack.** A Lead cannot be saved without `LastName` and
//! `Company` (`REQUIRED_FIELD_MISSING`), and someone who wrote on Instagram has a display name
//! and nothing else. Tidings sends, by default:
//! * `LastName`: the known family name; otherwise the display name's last word ("Maria Keller"
//!   → `FirstName` "Maria", `LastName` "Keller"; a single-word handle becomes the `LastName`
//!   whole); with no name at all, `"Unknown"` ([`SalesforceMapping::missing_last_name`]).
//! * `Company`: the known company; otherwise `"[not provided]"`
//!   ([`SalesforceMapping::missing_company`]), the placeholder Salesforce itself writes when a
//!   Web-to-Lead form leaves a required field empty.
//!
//! Both are cut to the field lengths (80 and 255). The Task (`WhoId` = the Lead) carries the
//! note; Salesforce Leads have no deal, so a deal's title and value go into the Lead's
//! `Description`.
//!
//! Errors are a JSON array of `{message, errorCode, fields}`. `REQUEST_LIMIT_EXCEEDED` comes with
//! a 403 but is a rate limit, and `INVALID_SESSION_ID` (401) means the token expired.
//!
//! **Expired sessions.** An access token lives as long as the org's session timeout. A client
//! given a [`RefreshGrant`] (the connected app's consumer key and secret and a refresh token)
//! answers `INVALID_SESSION_ID` with the OAuth 2.0 refresh-token flow — `POST
//! {instance}/services/oauth2/token`, form-encoded `grant_type=refresh_token`, `client_id`,
//! `client_secret`, `refresh_token` — hands the new token (and the new refresh token, when the
//! app rotates them) to its [`TokenStore`], and repeats the call once. One refresh runs at a
//! time; calls that failed meanwhile use the token it got. A refused refresh
//! (`invalid_grant`) is [`ConnectorError::Unauthorized`]: someone must connect again.
//!
//! Docs: <https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/dome_sobject_create.htm>,
//! <https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_lead.htm>,
//! <https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_task.htm>,
//! <https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm>,
//! <https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_refresh_token_flow.htm>.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{
    ContactField, Crm, CrmContact, CrmNote, CrmPush, FieldMap, Lead, RemoteRecord, Step, StepItem, apply, contact_of,
};
use crate::{ConnectorError, http};

/// The REST API version every call is pinned to.
pub const API_VERSION: &str = "v60.0";

const PLATFORM: &str = "salesforce";
const LAST_NAME_MAX: usize = 80;
const COMPANY_MAX: usize = 255;

/// What a push writes, editable as JSON; every field has a default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SalesforceMapping {
    /// Lead field → contact value (`LastName` and `Company` get their fallbacks on top).
    pub lead: FieldMap,
    /// `LastName` when the contact has no name at all.
    pub missing_last_name: String,
    /// `Company` when the contact has none.
    pub missing_company: String,
    /// `Status` of the Task recording the conversation.
    pub task_status: String,
}

impl Default for SalesforceMapping {
    fn default() -> Self {
        let lead = [
            ("FirstName", ContactField::FirstName),
            ("LastName", ContactField::LastName),
            ("Email", ContactField::Email),
            ("Phone", ContactField::Phone),
            ("Company", ContactField::Company),
            ("Website", ContactField::ProfileUrl),
            ("LeadSource", ContactField::Constant("Tidings".into())),
        ];
        Self {
            lead: lead.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            missing_last_name: "Unknown".to_owned(),
            missing_company: "[not provided]".to_owned(),
            task_status: "Completed".to_owned(),
        }
    }
}

/// What renewing an access token takes: the connected app's consumer key and secret and a
/// refresh token issued to it.
#[derive(Clone)]
pub struct RefreshGrant {
    /// The consumer key.
    pub client_id: String,
    /// The consumer secret.
    pub client_secret: SecretString,
    /// The refresh token.
    pub refresh_token: SecretString,
}

/// Keeps refreshed tokens, so the next client starts with them (the server seals them in its
/// vault).
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Called after a refresh, before the failed call is repeated. `grant` holds the refresh
    /// token now valid (a new one when the app rotates them).
    async fn save(&self, access_token: &SecretString, grant: &RefreshGrant) -> Result<(), ConnectorError>;
}

struct Refresher {
    /// Held while refreshing, so concurrent calls refresh once.
    grant: tokio::sync::Mutex<RefreshGrant>,
    store: Arc<dyn TokenStore>,
}

/// One Salesforce org.
pub struct Salesforce {
    http: reqwest::Client,
    instance_url: String,
    token: RwLock<SecretString>,
    refresher: Option<Refresher>,
    mapping: SalesforceMapping,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
}

#[derive(Deserialize)]
struct TokenRefusal {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

#[derive(Deserialize)]
struct Created {
    id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LeadInfo {
    object_describe: ObjectDescribe,
}

#[derive(Deserialize)]
struct ObjectDescribe {
    #[serde(default)]
    createable: bool,
}

#[derive(Deserialize)]
struct SalesforceError {
    #[serde(default)]
    message: String,
    #[serde(default, rename = "errorCode")]
    error_code: String,
}

impl Salesforce {
    /// A client for the org at `instance_url` (`https://yourorg.my.salesforce.com`).
    pub fn new(
        http: reqwest::Client,
        instance_url: impl Into<String>,
        token: SecretString,
        mapping: SalesforceMapping,
    ) -> Self {
        let instance_url = instance_url.into().trim_end_matches('/').to_owned();
        Self { http, instance_url, token: RwLock::new(token), refresher: None, mapping }
    }

    /// Renews the access token with `grant` when Salesforce says the session expired, keeping
    /// the new tokens in `store`.
    pub fn with_refresh(mut self, grant: RefreshGrant, store: Arc<dyn TokenStore>) -> Self {
        self.refresher = Some(Refresher { grant: tokio::sync::Mutex::new(grant), store });
        self
    }

    fn token(&self) -> SecretString {
        self.token.read().map(|t| t.clone()).unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    /// Sends the request `build` makes with the current token; an expired session is renewed
    /// once (see the module documentation) and the request sent again.
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        build: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> Result<T, ConnectorError> {
        let token = self.token();
        match send(build(token.expose_secret())).await {
            Err(ConnectorError::Unauthorized { message, .. })
                if self.refresher.is_some() && message.contains("INVALID_SESSION_ID") =>
            {
                let token = self.refresh(&token).await?;
                send(build(token.expose_secret())).await
            }
            other => other,
        }
    }

    /// A token newer than `expired`: the one another call just got, or a fresh one.
    async fn refresh(&self, expired: &SecretString) -> Result<SecretString, ConnectorError> {
        let Some(refresher) = &self.refresher else {
            return Err(ConnectorError::MissingCredential { platform: PLATFORM, what: "a refresh token" });
        };
        let mut grant = refresher.grant.lock().await;
        let current = self.token();
        if current.expose_secret() != expired.expose_secret() {
            return Ok(current);
        }
        let form = [
            ("grant_type", "refresh_token"),
            ("client_id", grant.client_id.as_str()),
            ("client_secret", grant.client_secret.expose_secret()),
            ("refresh_token", grant.refresh_token.expose_secret()),
        ];
        let url = format!("{}/services/oauth2/token", self.instance_url);
        let response = self.http.post(url).form(&form).send().await.map_err(|e| http::request_error(PLATFORM, &e))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ConnectorError::Unavailable { platform: PLATFORM, message: e.to_string() })?;
        if !status.is_success() {
            let refusal: TokenRefusal = serde_json::from_slice(&bytes).unwrap_or(TokenRefusal {
                error: format!("HTTP {status}"),
                error_description: String::from_utf8_lossy(&bytes).into_owned(),
            });
            let message = format!(
                "the session expired and the refresh token was refused ({}: {}); connect Salesforce again",
                refusal.error, refusal.error_description
            );
            return Err(match status.as_u16() {
                400 | 401 | 403 => ConnectorError::Unauthorized { platform: PLATFORM, message },
                _ => http::error_for_status(PLATFORM, status, None, &message),
            });
        }
        let answer: TokenAnswer = serde_json::from_slice(&bytes)
            .map_err(|e| ConnectorError::Malformed { platform: PLATFORM, message: e.to_string() })?;
        let token = SecretString::from(answer.access_token);
        if let Some(rotated) = answer.refresh_token {
            grant.refresh_token = SecretString::from(rotated);
        }
        refresher.store.save(&token, &grant).await?;
        if let Ok(mut slot) = self.token.write() {
            *slot = token.clone();
        }
        Ok(token)
    }

    fn sobject_url(&self, object: &str) -> String {
        format!("{}/services/data/{API_VERSION}/sobjects/{object}/", self.instance_url)
    }

    /// The Lead's fields: the mapping, then the required fields' fallbacks.
    pub fn lead_fields(&self, contact: &CrmContact, description: Option<String>) -> BTreeMap<String, String> {
        let mut fields = apply(&self.mapping.lead, contact);
        let last_name = fields.remove("LastName").unwrap_or_else(|| self.mapping.missing_last_name.clone());
        let company = fields.remove("Company").unwrap_or_else(|| self.mapping.missing_company.clone());
        fields.insert("LastName".into(), last_name.chars().take(LAST_NAME_MAX).collect());
        fields.insert("Company".into(), company.chars().take(COMPANY_MAX).collect());
        if let Some(description) = description {
            fields.insert("Description".into(), description);
        }
        fields
    }

    async fn create(&self, object: &str, body: &Value) -> Result<RemoteRecord, ConnectorError> {
        let url = self.sobject_url(object);
        let created: Created = self.call(|token| self.http.post(&url).bearer_auth(token).json(body)).await?;
        Ok(RemoteRecord { crm: Crm::Salesforce, object: object.to_owned(), id: created.id })
    }

    /// Checks the token and that it may create Leads: the Lead object's basic information
    /// (`GET /services/data/vXX.X/sobjects/Lead/`), whose `objectDescribe.createable` says so.
    pub async fn check(&self) -> Result<(), ConnectorError> {
        let url = self.sobject_url("Lead");
        let info: LeadInfo = self.call(|token| self.http.get(&url).bearer_auth(token)).await?;
        if info.object_describe.createable {
            Ok(())
        } else {
            Err(ConnectorError::Rejected {
                platform: PLATFORM,
                status: 403,
                message: "this user may not create Leads".to_owned(),
            })
        }
    }

    /// Creates a Task on the Lead (`WhoId`) recording the note.
    pub async fn create_task(&self, lead_id: &str, note: &CrmNote) -> Result<RemoteRecord, ConnectorError> {
        let date =
            chrono::DateTime::from_timestamp_millis(note.at_ms).unwrap_or_default().format("%Y-%m-%d").to_string();
        let body = json!({
            "WhoId": lead_id,
            "Subject": note.subject,
            "Description": note.body,
            "Status": self.mapping.task_status,
            "ActivityDate": date,
        });
        self.create("Task", &body).await
    }
}

/// Sends and decodes, reading Salesforce's error array (see the module documentation).
async fn send<T: serde::de::DeserializeOwned>(request: reqwest::RequestBuilder) -> Result<T, ConnectorError> {
    let response = request.send().await.map_err(|e| http::request_error(PLATFORM, &e))?;
    let status = response.status();
    let retry_after = http::retry_after(&response);
    let bytes = response
        .bytes()
        .await
        .map_err(|e| ConnectorError::Unavailable { platform: PLATFORM, message: e.to_string() })?;
    if status.is_success() {
        // A delete answers 204 with no body.
        let bytes: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
        return serde_json::from_slice(bytes)
            .map_err(|e| ConnectorError::Malformed { platform: PLATFORM, message: e.to_string() });
    }
    let errors: Vec<SalesforceError> = serde_json::from_slice(&bytes).unwrap_or_default();
    if errors.iter().any(|e| e.error_code == "REQUEST_LIMIT_EXCEEDED") {
        return Err(ConnectorError::RateLimited { platform: PLATFORM, retry_after });
    }
    let text = if errors.is_empty() {
        String::from_utf8_lossy(&bytes).into_owned()
    } else {
        errors.iter().map(|e| format!("{}: {}", e.error_code, e.message)).collect::<Vec<_>>().join("; ")
    };
    Err(http::error_for_status(PLATFORM, status, retry_after, &text))
}

#[async_trait]
impl CrmPush for Salesforce {
    fn crm(&self) -> Crm {
        Crm::Salesforce
    }

    async fn push(&self, step: Step, items: &[StepItem<'_>]) -> Result<Vec<Option<RemoteRecord>>, ConnectorError> {
        let mut records = Vec::with_capacity(items.len());
        for item in items {
            let record = match step {
                Step::Contact => {
                    let fields = self.lead_fields(&item.lead.contact, deal_description(item.lead));
                    Some(self.create("Lead", &serde_json::to_value(&fields).unwrap_or_default()).await?)
                }
                // A Lead has no deal: the deal was written into its Description.
                Step::Deal => None,
                Step::Note => match &item.lead.note {
                    Some(note) => Some(self.create_task(&contact_of(item, PLATFORM)?.id, note).await?),
                    None => None,
                },
            };
            records.push(record);
        }
        Ok(records)
    }

    async fn delete(&self, record: &RemoteRecord) -> Result<(), ConnectorError> {
        let url = format!("{}/services/data/{API_VERSION}/sobjects/{}/{}", self.instance_url, record.object, record.id);
        let result: Result<Value, _> = self.call(|token| self.http.delete(&url).bearer_auth(token)).await;
        super::gone_is_deleted(result.map(drop))
    }
}

/// A deal's title and value, for the Lead's `Description`.
fn deal_description(lead: &Lead) -> Option<String> {
    lead.deal.as_ref().map(|deal| match &deal.value {
        Some(value) => format!("{} ({})", deal.title, value.display()),
        None => deal.title.clone(),
    })
}
