//! HubSpot: contacts, deals and notes through the CRM v3 objects API, with a private-app token.
//!
//! * **Contacts** are created or updated by email in one call, the batch upsert
//!   (`POST /crm/v3/objects/contacts/batch/upsert`, `idProperty: email`, up to 100 per call);
//!   a contact without an email is created (`POST /crm/v3/objects/contacts`).
//! * **Lifecycle stage and lead status are two properties with their own values.** "Sales
//!   Qualified Lead" is a value of `lifecyclestage` (`salesqualifiedlead`); `hs_lead_status`
//!   holds `NEW`, `OPEN`, `IN_PROGRESS`, `OPEN_DEAL`, `UNQUALIFIED`, `ATTEMPTED_TO_CONTACT`,
//!   `CONNECTED` or `BAD_TIMING`. [`LifecycleStage`] and [`LeadStatus`] keep them apart. HubSpot
//!   moves a lifecycle stage only forward through the API; a lower stage is ignored unless the
//!   property is cleared first, which Tidings does not do.
//! * **Deals** and **notes** are created with their association to the contact in the same call
//!   (HubSpot-defined association types 3: deal → contact, 202: note → contact).
//! * **Erasure** deletes deals and notes (`DELETE /crm/v3/objects/{type}/{id}`) and removes the
//!   contact with the GDPR delete (`POST /crm/v3/objects/contacts/gdpr-delete`), which also
//!   blocks the email from being re-created by forms and tracking.
//!
//! Docs: <https://developers.hubspot.com/docs/api/crm/contacts>,
//! <https://developers.hubspot.com/docs/api-reference/legacy/crm/objects/contacts/batch/upsert-contacts>,
//! <https://knowledge.hubspot.com/properties/hubspots-default-contact-properties>,
//! <https://developers.hubspot.com/docs/api/crm/associations> (default association type ids),
//! <https://developers.hubspot.com/docs/api/crm/notes>.

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{
    ContactField, Crm, CrmContact, CrmDeal, CrmNote, CrmPush, FieldMap, RemoteRecord, Step, StepItem, apply, contact_of,
};
use crate::{ConnectorError, http};

/// HubSpot's API host.
pub const DEFAULT_BASE_URL: &str = "https://api.hubapi.com";
/// The most inputs a batch call takes.
pub const BATCH_LIMIT: usize = 100;

const PLATFORM: &str = "hubspot";
const DEAL_TO_CONTACT: u32 = 3;
const NOTE_TO_CONTACT: u32 = 202;

/// The `lifecyclestage` property's internal values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LifecycleStage {
    /// Subscriber.
    Subscriber,
    /// Lead.
    Lead,
    /// Marketing Qualified Lead.
    #[serde(rename = "marketingqualifiedlead")]
    MarketingQualifiedLead,
    /// Sales Qualified Lead.
    #[serde(rename = "salesqualifiedlead")]
    SalesQualifiedLead,
    /// Opportunity.
    Opportunity,
    /// Customer.
    Customer,
    /// Evangelist.
    Evangelist,
    /// Other.
    Other,
}

impl LifecycleStage {
    /// The internal value HubSpot stores.
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleStage::Subscriber => "subscriber",
            LifecycleStage::Lead => "lead",
            LifecycleStage::MarketingQualifiedLead => "marketingqualifiedlead",
            LifecycleStage::SalesQualifiedLead => "salesqualifiedlead",
            LifecycleStage::Opportunity => "opportunity",
            LifecycleStage::Customer => "customer",
            LifecycleStage::Evangelist => "evangelist",
            LifecycleStage::Other => "other",
        }
    }
}

/// The `hs_lead_status` property's default values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LeadStatus {
    /// New.
    New,
    /// Open.
    Open,
    /// In progress.
    InProgress,
    /// Open deal.
    OpenDeal,
    /// Unqualified.
    Unqualified,
    /// Attempted to contact.
    AttemptedToContact,
    /// Connected.
    Connected,
    /// Bad timing.
    BadTiming,
}

impl LeadStatus {
    /// The internal value HubSpot stores.
    pub fn as_str(self) -> &'static str {
        match self {
            LeadStatus::New => "NEW",
            LeadStatus::Open => "OPEN",
            LeadStatus::InProgress => "IN_PROGRESS",
            LeadStatus::OpenDeal => "OPEN_DEAL",
            LeadStatus::Unqualified => "UNQUALIFIED",
            LeadStatus::AttemptedToContact => "ATTEMPTED_TO_CONTACT",
            LeadStatus::Connected => "CONNECTED",
            LeadStatus::BadTiming => "BAD_TIMING",
        }
    }
}

/// What a push writes, editable as JSON; every field has a default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct HubspotMapping {
    /// Contact property → contact value.
    pub contact: FieldMap,
    /// The lifecycle stage a pushed contact gets, if any.
    pub lifecycle_stage: Option<LifecycleStage>,
    /// The lead status a pushed contact gets, if any.
    pub lead_status: Option<LeadStatus>,
    /// The deal pipeline's internal id.
    pub deal_pipeline: String,
    /// The deal stage's internal id in that pipeline.
    pub deal_stage: String,
}

impl Default for HubspotMapping {
    fn default() -> Self {
        let contact = [
            ("email", ContactField::Email),
            ("firstname", ContactField::FirstName),
            ("lastname", ContactField::LastName),
            ("phone", ContactField::Phone),
            ("company", ContactField::Company),
            ("website", ContactField::ProfileUrl),
        ];
        Self {
            contact: contact.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            lifecycle_stage: Some(LifecycleStage::Lead),
            lead_status: Some(LeadStatus::New),
            // The ids of the pipeline and first stage every HubSpot account starts with.
            deal_pipeline: "default".to_owned(),
            deal_stage: "appointmentscheduled".to_owned(),
        }
    }
}

/// One HubSpot account, reached with a private-app access token.
pub struct Hubspot {
    http: reqwest::Client,
    base_url: String,
    token: SecretString,
    mapping: HubspotMapping,
}

#[derive(Deserialize)]
struct Object {
    id: String,
}

#[derive(Deserialize)]
struct BatchResult {
    results: Vec<BatchObject>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchObject {
    id: String,
    #[serde(default)]
    properties: serde_json::Map<String, Value>,
    /// The input's `objectWriteTraceId`, echoed by batch creates.
    #[serde(default)]
    object_write_trace_id: Option<String>,
}

impl Hubspot {
    /// A client for `base_url` (normally [`DEFAULT_BASE_URL`]).
    pub fn new(
        http: reqwest::Client,
        base_url: impl Into<String>,
        token: SecretString,
        mapping: HubspotMapping,
    ) -> Self {
        Self { http, base_url: base_url.into().trim_end_matches('/').to_owned(), token, mapping }
    }

    fn post(&self, path: &str, body: &Value) -> reqwest::RequestBuilder {
        self.http.post(format!("{}{path}", self.base_url)).bearer_auth(self.token.expose_secret()).json(body)
    }

    fn properties(&self, contact: &CrmContact) -> serde_json::Map<String, Value> {
        let mut properties: serde_json::Map<String, Value> =
            apply(&self.mapping.contact, contact).into_iter().map(|(k, v)| (k, Value::String(v))).collect();
        if let Some(stage) = self.mapping.lifecycle_stage {
            properties.insert("lifecyclestage".into(), stage.as_str().into());
        }
        if let Some(status) = self.mapping.lead_status {
            properties.insert("hs_lead_status".into(), status.as_str().into());
        }
        properties
    }

    /// Creates or updates contacts by email, at most [`BATCH_LIMIT`] per call. Returns one record
    /// per contact, in the order given. Every contact must have an email.
    pub async fn upsert_contacts(&self, contacts: &[CrmContact]) -> Result<Vec<RemoteRecord>, ConnectorError> {
        let mut records = Vec::with_capacity(contacts.len());
        for chunk in contacts.chunks(BATCH_LIMIT) {
            let mut inputs = Vec::with_capacity(chunk.len());
            for contact in chunk {
                let email = contact.email.as_deref().map(str::trim).filter(|e| !e.is_empty());
                let email = email
                    .ok_or(ConnectorError::MissingCredential { platform: PLATFORM, what: "an email to upsert by" })?;
                inputs.push(json!({ "idProperty": "email", "id": email, "properties": self.properties(contact) }));
            }
            let request = self.post("/crm/v3/objects/contacts/batch/upsert", &json!({ "inputs": inputs }));
            let answer: BatchResult = http::send_json(PLATFORM, request).await?;
            // Results are not guaranteed to come back in input order: match them by email.
            for contact in chunk {
                let email = contact.email.as_deref().map(|e| e.trim().to_ascii_lowercase());
                let found = answer
                    .results
                    .iter()
                    .find(|r| r.properties.get("email").and_then(Value::as_str).map(str::to_ascii_lowercase) == email);
                let found = found.or(if chunk.len() == 1 { answer.results.first() } else { None });
                let object = found.ok_or_else(|| ConnectorError::Malformed {
                    platform: PLATFORM,
                    message: format!("no upsert result for {}", email.unwrap_or_default()),
                })?;
                records.push(record("contacts", &object.id));
            }
        }
        Ok(records)
    }

    /// Creates a contact that has no email (HubSpot then cannot deduplicate it).
    pub async fn create_contact(&self, contact: &CrmContact) -> Result<RemoteRecord, ConnectorError> {
        let request = self.post("/crm/v3/objects/contacts", &json!({ "properties": self.properties(contact) }));
        let created: Object = http::send_json(PLATFORM, request).await?;
        Ok(record("contacts", &created.id))
    }

    /// Creates a deal in the mapped pipeline and stage, associated with the contact.
    pub async fn create_deal(&self, contact_id: &str, deal: &CrmDeal) -> Result<RemoteRecord, ConnectorError> {
        let body = self.deal_input(contact_id, deal, "");
        let created: Object = http::send_json(PLATFORM, self.post("/crm/v3/objects/deals", &body)).await?;
        Ok(record("deals", &created.id))
    }

    /// Creates a note on the contact's timeline.
    pub async fn create_note(&self, contact_id: &str, note: &CrmNote) -> Result<RemoteRecord, ConnectorError> {
        let body = self.note_input(contact_id, note, "");
        let created: Object = http::send_json(PLATFORM, self.post("/crm/v3/objects/notes", &body)).await?;
        Ok(record("notes", &created.id))
    }

    /// Checks the token with a call every private app may make, the account's details
    /// (`GET /account-info/v3/details`), and names the account.
    pub async fn account(&self) -> Result<HubspotAccount, ConnectorError> {
        let request =
            self.http.get(format!("{}/account-info/v3/details", self.base_url)).bearer_auth(self.token.expose_secret());
        http::send_json(PLATFORM, request).await
    }

    /// A deal's create input; `trace` (when not empty) names it in a batch.
    fn deal_input(&self, contact_id: &str, deal: &CrmDeal, trace: &str) -> Value {
        let mut properties = json!({
            "dealname": deal.title,
            "pipeline": self.mapping.deal_pipeline,
            "dealstage": self.mapping.deal_stage,
        });
        if let Some(value) = &deal.value {
            properties["amount"] = value.decimal().into();
            properties["deal_currency_code"] = value.currency.clone().into();
        }
        let mut input = json!({ "properties": properties, "associations": [association(contact_id, DEAL_TO_CONTACT)] });
        if !trace.is_empty() {
            input["objectWriteTraceId"] = trace.into();
        }
        input
    }

    /// A note's create input; `trace` (when not empty) names it in a batch.
    fn note_input(&self, contact_id: &str, note: &CrmNote, trace: &str) -> Value {
        let timestamp = chrono::DateTime::from_timestamp_millis(note.at_ms)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut input = json!({
            "properties": { "hs_timestamp": timestamp, "hs_note_body": format!("{}\n\n{}", note.subject, note.body) },
            "associations": [association(contact_id, NOTE_TO_CONTACT)],
        });
        if !trace.is_empty() {
            input["objectWriteTraceId"] = trace.into();
        }
        input
    }

    /// The contact step for a batch: the contacts with an email in one upsert call, the others
    /// created one by one (without an email HubSpot has nothing to deduplicate by).
    async fn push_contacts(&self, items: &[StepItem<'_>]) -> Result<Vec<Option<RemoteRecord>>, ConnectorError> {
        let email_of = |item: &StepItem<'_>| {
            item.lead.contact.email.as_deref().map(|e| e.trim().to_ascii_lowercase()).filter(|e| !e.is_empty())
        };
        // One input per email: a person who wrote twice is one contact, and HubSpot refuses a
        // batch naming the same id twice.
        let mut emails: Vec<String> = Vec::new();
        let mut unique: Vec<CrmContact> = Vec::new();
        for item in items {
            if let Some(email) = email_of(item)
                && !emails.contains(&email)
            {
                emails.push(email);
                unique.push(item.lead.contact.clone());
            }
        }
        let upserted = self.upsert_contacts(&unique).await?;
        let mut records = Vec::with_capacity(items.len());
        for item in items {
            let record = match email_of(item) {
                Some(email) => emails.iter().position(|e| *e == email).and_then(|i| upserted.get(i).cloned()),
                None => Some(self.create_contact(&item.lead.contact).await?),
            };
            records.push(record);
        }
        Ok(records)
    }

    /// Creates `inputs` (one per item; `None` skips the item) in one batch call
    /// (`POST /crm/v3/objects/{object}/batch/create`). Results are matched back to their items by
    /// `objectWriteTraceId`, as they need not come back in order.
    async fn batch_create(
        &self,
        object: &str,
        items: &[StepItem<'_>],
        inputs: Vec<Option<Value>>,
    ) -> Result<Vec<Option<RemoteRecord>>, ConnectorError> {
        let sent: Vec<&Value> = inputs.iter().flatten().collect();
        if sent.is_empty() {
            return Ok(vec![None; items.len()]);
        }
        let request = self.post(&format!("/crm/v3/objects/{object}/batch/create"), &json!({ "inputs": sent }));
        let answer: BatchResult = http::send_json(PLATFORM, request).await?;
        items
            .iter()
            .zip(&inputs)
            .map(|(item, input)| {
                if input.is_none() {
                    return Ok(None);
                }
                let traced = answer.results.iter().find(|r| r.object_write_trace_id.as_deref() == Some(item.key));
                let found = traced.or(if sent.len() == 1 { answer.results.first() } else { None });
                found.map(|r| Some(record(object, &r.id))).ok_or_else(|| ConnectorError::Malformed {
                    platform: PLATFORM,
                    message: format!("no {object} batch result for {}", item.key),
                })
            })
            .collect()
    }
}

/// The account a token belongs to (`GET /account-info/v3/details`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HubspotAccount {
    /// The account (portal) id.
    pub portal_id: i64,
    /// `app.hubspot.com`, `app-eu1.hubspot.com`…: where its records are opened.
    #[serde(default)]
    pub ui_domain: Option<String>,
    /// The account's currency.
    #[serde(default)]
    pub company_currency: Option<String>,
}

fn record(object: &str, id: &str) -> RemoteRecord {
    RemoteRecord { crm: Crm::Hubspot, object: object.to_owned(), id: id.to_owned() }
}

fn association(contact_id: &str, type_id: u32) -> Value {
    json!({
        "to": { "id": contact_id },
        "types": [{ "associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id }],
    })
}

#[async_trait]
impl CrmPush for Hubspot {
    fn crm(&self) -> Crm {
        Crm::Hubspot
    }

    fn batch_limit(&self) -> usize {
        BATCH_LIMIT
    }

    async fn push(&self, step: Step, items: &[StepItem<'_>]) -> Result<Vec<Option<RemoteRecord>>, ConnectorError> {
        match step {
            Step::Contact => self.push_contacts(items).await,
            Step::Deal => {
                let inputs = items
                    .iter()
                    .map(|item| match &item.lead.deal {
                        Some(deal) => Ok(Some(self.deal_input(&contact_of(item, PLATFORM)?.id, deal, item.key))),
                        None => Ok(None),
                    })
                    .collect::<Result<Vec<_>, ConnectorError>>()?;
                self.batch_create("deals", items, inputs).await
            }
            Step::Note => {
                let inputs = items
                    .iter()
                    .map(|item| match &item.lead.note {
                        Some(note) => Ok(Some(self.note_input(&contact_of(item, PLATFORM)?.id, note, item.key))),
                        None => Ok(None),
                    })
                    .collect::<Result<Vec<_>, ConnectorError>>()?;
                self.batch_create("notes", items, inputs).await
            }
        }
    }

    async fn delete(&self, record: &RemoteRecord) -> Result<(), ConnectorError> {
        let request = if record.object == "contacts" {
            self.post("/crm/v3/objects/contacts/gdpr-delete", &json!({ "objectId": record.id }))
        } else {
            self.http
                .delete(format!("{}/crm/v3/objects/{}/{}", self.base_url, record.object, record.id))
                .bearer_auth(self.token.expose_secret())
        };
        super::gone_is_deleted(http::send(PLATFORM, request).await.map(drop))
    }
}
