//! Pipedrive as a CRM to push to: a person, a deal and a note, with the same client and token
//! as the deal webhooks ([`crate::pipedrive::PipedriveClient`]).
//!
//! `POST /v1/persons` (`name`, `email` and `phone` as lists of `{value, primary, label}`, plus
//! any mapped custom fields by their 40-character keys), `POST /v1/deals` (`title`, `value`,
//! `currency`, `person_id`) and `POST /v1/notes` (`content`, `person_id`, `deal_id`); each
//! answers `{"success": true, "data": {"id": …}}`. Erasure deletes them
//! (`DELETE /v1/{persons,deals,notes}/{id}`).
//!
//! Docs: <https://developers.pipedrive.com/docs/api/v1/Persons#addPerson>,
//! <https://developers.pipedrive.com/docs/api/v1/Deals#addDeal>,
//! <https://developers.pipedrive.com/docs/api/v1/Notes#addNote>.

use async_trait::async_trait;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Crm, CrmContact, CrmDeal, CrmPush, FieldMap, RemoteRecord, Step, StepItem, apply, contact_of};
use crate::ConnectorError;
use crate::notify::escape_markup;
use crate::pipedrive::{PipedriveClient, data, send};

/// What a push writes besides name, email and phone; editable as JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PipedriveMapping {
    /// Person field key (a custom field's 40-character key) → contact value.
    pub person: FieldMap,
}

#[derive(Deserialize)]
struct Created {
    id: i64,
}

/// Pushes leads into Pipedrive.
pub struct PipedrivePush {
    client: PipedriveClient,
    mapping: PipedriveMapping,
}

impl PipedrivePush {
    /// Pushes with `client` (the connection's token) and `mapping`.
    pub fn new(client: PipedriveClient, mapping: PipedriveMapping) -> Self {
        Self { client, mapping }
    }

    async fn create(&self, path: &str, object: &str, body: &Value) -> Result<RemoteRecord, ConnectorError> {
        let created: Created = data(self.client.request(Method::POST, path).json(body)).await?;
        Ok(RemoteRecord { crm: Crm::Pipedrive, object: object.to_owned(), id: created.id.to_string() })
    }

    /// Creates a person.
    pub async fn create_person(&self, contact: &CrmContact) -> Result<RemoteRecord, ConnectorError> {
        let entry = |value: &Option<String>| match value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            Some(v) => json!([{ "value": v, "primary": true, "label": "work" }]),
            None => json!([]),
        };
        let mut body = json!({
            "name": contact.display_name,
            "email": entry(&contact.email),
            "phone": entry(&contact.phone),
        });
        for (key, value) in apply(&self.mapping.person, contact) {
            body[key] = value.into();
        }
        self.create("/v1/persons", "persons", &body).await
    }

    /// Creates a deal linked to the person.
    pub async fn create_deal(&self, person_id: &str, deal: &CrmDeal) -> Result<RemoteRecord, ConnectorError> {
        let mut body = json!({ "title": deal.title, "person_id": numeric(person_id)? });
        if let Some(value) = &deal.value {
            // A decimal string keeps the cents exact; Pipedrive accepts numbers as strings.
            body["value"] = value.decimal().into();
            body["currency"] = value.currency.clone().into();
        }
        self.create("/v1/deals", "deals", &body).await
    }

    /// Creates a note on the person (and the deal, when there is one).
    pub async fn create_note(
        &self,
        person_id: &str,
        deal_id: Option<&str>,
        content: &str,
    ) -> Result<RemoteRecord, ConnectorError> {
        let mut body = json!({ "content": content, "person_id": numeric(person_id)? });
        if let Some(deal_id) = deal_id {
            body["deal_id"] = numeric(deal_id)?.into();
        }
        self.create("/v1/notes", "notes", &body).await
    }
}

fn numeric(id: &str) -> Result<i64, ConnectorError> {
    id.parse()
        .map_err(|_| ConnectorError::Malformed { platform: "pipedrive", message: format!("id {id:?} is not a number") })
}

#[async_trait]
impl CrmPush for PipedrivePush {
    fn crm(&self) -> Crm {
        Crm::Pipedrive
    }

    async fn push(&self, step: Step, items: &[StepItem<'_>]) -> Result<Vec<Option<RemoteRecord>>, ConnectorError> {
        let mut records = Vec::with_capacity(items.len());
        for item in items {
            let lead = item.lead;
            let record = match (step, &lead.deal, &lead.note) {
                (Step::Contact, _, _) => Some(self.create_person(&lead.contact).await?),
                (Step::Deal, Some(deal), _) => Some(self.create_deal(&contact_of(item, "pipedrive")?.id, deal).await?),
                (Step::Note, _, Some(note)) => {
                    let content = format!(
                        "<b>{}</b><br>{}",
                        escape_markup(&note.subject),
                        escape_markup(&note.body).replace('\n', "<br>")
                    );
                    let person = &contact_of(item, "pipedrive")?.id;
                    Some(self.create_note(person, item.deal.map(|d| d.id.as_str()), &content).await?)
                }
                _ => None,
            };
            records.push(record);
        }
        Ok(records)
    }

    async fn delete(&self, record: &RemoteRecord) -> Result<(), ConnectorError> {
        let path = format!("/v1/{}/{}", record.object, numeric(&record.id)?);
        super::gone_is_deleted(send(self.client.request(Method::DELETE, &path)).await.map(drop))
    }
}
