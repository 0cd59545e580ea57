//! CRM push: a lead (a contact who wrote to a business, maybe a deal, a note about the
//! conversation) sent out to HubSpot, Salesforce or Pipedrive.
//!
//! Every push returns the [`RemoteRecord`]s it created, which the caller stores: erasing the
//! contact later deletes exactly those records with [`CrmPush::delete`]. Which CRM fields get
//! which contact value is a mapping kept as data ([`FieldMap`], with per-CRM defaults), so a
//! workspace edits it as JSON without a code change.

pub mod hubspot;
pub mod pipedrive;
pub mod salesforce;

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::ConnectorError;
use crate::money::Money;

/// The CRMs Tidings pushes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Crm {
    /// HubSpot CRM (v3 objects API).
    Hubspot,
    /// Salesforce (REST sObjects).
    Salesforce,
    /// Pipedrive (v1 API).
    Pipedrive,
}

impl Crm {
    /// Every CRM.
    pub const ALL: [Crm; 3] = [Crm::Hubspot, Crm::Salesforce, Crm::Pipedrive];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Crm::Hubspot => "hubspot",
            Crm::Salesforce => "salesforce",
            Crm::Pipedrive => "pipedrive",
        }
    }

    /// Parses a stored name.
    pub fn parse(value: &str) -> Option<Crm> {
        Crm::ALL.into_iter().find(|c| c.as_str() == value)
    }

    /// How people name it.
    pub fn label(self) -> &'static str {
        match self {
            Crm::Hubspot => "HubSpot",
            Crm::Salesforce => "Salesforce",
            Crm::Pipedrive => "Pipedrive",
        }
    }
}

/// A name that is no CRM's [`Crm::as_str`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown CRM `{0}`")]
pub struct UnknownCrm(pub String);

/// Lets a row struct read a provider column with `#[sqlx(try_from = "String")]`, as
/// [`crate::Platform`] does: this crate stays free of sqlx.
impl TryFrom<String> for Crm {
    type Error = UnknownCrm;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        Crm::parse(&name).ok_or(UnknownCrm(name))
    }
}

/// A record Tidings created in a CRM, kept so it can be deleted on erasure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteRecord {
    /// Which CRM.
    pub crm: Crm,
    /// The CRM's object type: HubSpot `contacts`/`deals`/`notes`, Salesforce `Lead`/`Task`,
    /// Pipedrive `persons`/`deals`/`notes`.
    pub object: String,
    /// The CRM's id of the record.
    pub id: String,
}

/// A person as Tidings knows them; social contacts often have only a display name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CrmContact {
    /// The name the person shows on the platform.
    pub display_name: String,
    /// Given name, when known.
    pub first_name: Option<String>,
    /// Family name, when known.
    pub last_name: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Phone, E.164.
    pub phone: Option<String>,
    /// Their company, when known.
    pub company: Option<String>,
    /// The platform they wrote on (`instagram`, `whatsapp`…).
    pub platform: Option<String>,
    /// A link to their profile or the conversation.
    pub profile_url: Option<String>,
}

/// A deal to open with the contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CrmDeal {
    /// The deal's name.
    pub title: String,
    /// Its value.
    pub value: Option<Money>,
}

/// A note about the conversation (a summary, the last messages).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CrmNote {
    /// A short subject (Salesforce Task subject).
    pub subject: String,
    /// The text.
    pub body: String,
    /// When it happened, unix ms.
    pub at_ms: i64,
}

/// What one push sends (kept as JSON with the delivery until it is pushed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lead {
    /// The person.
    pub contact: CrmContact,
    /// A deal, where the CRM has deals.
    pub deal: Option<CrmDeal>,
    /// A note.
    pub note: Option<CrmNote>,
}

/// A contact value a CRM field is filled with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactField {
    /// [`CrmContact::display_name`].
    DisplayName,
    /// The given name, or the display name's words before the last.
    FirstName,
    /// The family name, or the display name's last word.
    LastName,
    /// [`CrmContact::email`].
    Email,
    /// [`CrmContact::phone`].
    Phone,
    /// [`CrmContact::company`].
    Company,
    /// [`CrmContact::platform`].
    Platform,
    /// [`CrmContact::profile_url`].
    ProfileUrl,
    /// A fixed text (`{"constant": "Tidings"}`).
    Constant(String),
}

impl ContactField {
    /// The value for `contact`, `None` when it has none.
    pub fn value(&self, contact: &CrmContact) -> Option<String> {
        let (first, last) = split_name(contact);
        match self {
            ContactField::DisplayName => Some(contact.display_name.clone()),
            ContactField::FirstName => first,
            ContactField::LastName => last,
            ContactField::Email => contact.email.clone(),
            ContactField::Phone => contact.phone.clone(),
            ContactField::Company => contact.company.clone(),
            ContactField::Platform => contact.platform.clone(),
            ContactField::ProfileUrl => contact.profile_url.clone(),
            ContactField::Constant(text) => Some(text.clone()),
        }
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
    }
}

/// CRM field name → the contact value it gets.
pub type FieldMap = BTreeMap<String, ContactField>;

/// The properties `map` gives `contact`; fields without a value are left out, so a push never
/// blanks a value the CRM already has.
pub fn apply(map: &FieldMap, contact: &CrmContact) -> BTreeMap<String, String> {
    map.iter().filter_map(|(field, source)| source.value(contact).map(|v| (field.clone(), v))).collect()
}

/// Given and family name: as known, or split from the display name at its last space
/// ("Maria Keller" → "Maria", "Keller"; a single word is a family name only).
fn split_name(contact: &CrmContact) -> (Option<String>, Option<String>) {
    if contact.first_name.is_some() || contact.last_name.is_some() {
        return (contact.first_name.clone(), contact.last_name.clone());
    }
    let name = contact.display_name.trim();
    match name.rsplit_once(char::is_whitespace) {
        Some((first, last)) => (Some(first.trim().to_owned()), Some(last.to_owned())),
        None if name.is_empty() => (None, None),
        None => (None, Some(name.to_owned())),
    }
}

/// One step of a push. Steps run in this order, and each one's records are kept before the next
/// starts, so a push interrupted by a failure resumes where it stopped instead of creating the
/// contact again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// The person: HubSpot contact, Salesforce Lead, Pipedrive person.
    Contact,
    /// The deal linked to them (Salesforce: none, the deal is written into the Lead).
    Deal,
    /// The note about the conversation (Salesforce: a Task).
    Note,
}

impl Step {
    /// The steps of a push, in order.
    pub const ALL: [Step; 3] = [Step::Contact, Step::Deal, Step::Note];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Contact => "contact",
            Step::Deal => "deal",
            Step::Note => "note",
        }
    }

    /// Parses a stored name.
    pub fn parse(value: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|s| s.as_str() == value)
    }
}

/// One lead's part in a step: the lead, a key naming it within the batch (HubSpot echoes it back
/// as `objectWriteTraceId`), and the records the earlier steps created for it.
#[derive(Debug, Clone, Copy)]
pub struct StepItem<'a> {
    /// Unique within the batch.
    pub key: &'a str,
    /// What to push.
    pub lead: &'a Lead,
    /// The contact, once the contact step ran.
    pub contact: Option<&'a RemoteRecord>,
    /// The deal, once the deal step created one.
    pub deal: Option<&'a RemoteRecord>,
}

/// A CRM that takes leads and gives back what it created.
#[async_trait]
pub trait CrmPush: Send + Sync {
    /// Which CRM.
    fn crm(&self) -> Crm;

    /// The most leads one call of [`CrmPush::push`] takes: HubSpot's batch endpoints take 100,
    /// the others one.
    fn batch_limit(&self) -> usize {
        1
    }

    /// Runs one step for `items` (at most [`CrmPush::batch_limit`]), all or nothing. Returns one
    /// entry per item, in order: the record created or updated, or `None` where the step has
    /// nothing to create (no deal or note in the lead, Salesforce's deal). The deal and note steps
    /// need the item's contact.
    async fn push(&self, step: Step, items: &[StepItem<'_>]) -> Result<Vec<Option<RemoteRecord>>, ConnectorError>;

    /// Deletes one record created by [`CrmPush::push`]; one already gone counts as deleted.
    async fn delete(&self, record: &RemoteRecord) -> Result<(), ConnectorError>;

    /// Pushes one lead through every step. Returns every record created or touched, the contact
    /// first.
    async fn push_lead(&self, lead: &Lead) -> Result<Vec<RemoteRecord>, ConnectorError> {
        let (mut contact, mut deal) = (None, None);
        let mut records = Vec::new();
        for step in Step::ALL {
            let item = StepItem { key: "lead", lead, contact: contact.as_ref(), deal: deal.as_ref() };
            let created = self.push(step, &[item]).await?.into_iter().next().flatten();
            if let Some(record) = &created {
                records.push(record.clone());
            }
            match step {
                Step::Contact => contact = created,
                Step::Deal => deal = created,
                Step::Note => {}
            }
        }
        Ok(records)
    }
}

/// The contact an item's deal or note is linked to; the caller runs the contact step first.
pub(crate) fn contact_of<'a>(item: &StepItem<'a>, platform: &'static str) -> Result<&'a RemoteRecord, ConnectorError> {
    item.contact.ok_or_else(|| ConnectorError::Malformed {
        platform,
        message: "a deal or note was pushed before its contact".to_owned(),
    })
}

/// Treats a 404 from a delete as success: the record is gone either way.
pub(crate) fn gone_is_deleted(result: Result<(), ConnectorError>) -> Result<(), ConnectorError> {
    match result {
        Err(ConnectorError::Rejected { status: 404, .. }) => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_split_only_when_not_known() {
        let contact = |name: &str| CrmContact { display_name: name.into(), ..CrmContact::default() };
        assert_eq!(split_name(&contact("Maria van der Berg")), (Some("Maria van der".into()), Some("Berg".into())));
        assert_eq!(split_name(&contact("djcoolcat")), (None, Some("djcoolcat".into())));
        assert_eq!(split_name(&contact("  ")), (None, None));
        let known = CrmContact { first_name: Some("Ana".into()), ..contact("ana.o") };
        assert_eq!(split_name(&known), (Some("Ana".into()), None));
    }

    #[test]
    fn a_field_map_reads_as_json_and_skips_empty_values() {
        let map: FieldMap =
            serde_json::from_str(r#"{"email":"email","phone":"phone","source":{"constant":"Tidings"}}"#).expect("json");
        let contact =
            CrmContact { display_name: "Ana".into(), email: Some("ana@example.com".into()), ..CrmContact::default() };
        let properties = apply(&map, &contact);
        assert_eq!(properties.get("email").map(String::as_str), Some("ana@example.com"));
        assert_eq!(properties.get("source").map(String::as_str), Some("Tidings"));
        assert!(!properties.contains_key("phone"), "no value, no field");
    }
}
