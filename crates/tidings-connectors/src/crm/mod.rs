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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Crm {
    /// HubSpot CRM (v3 objects API).
    Hubspot,
    /// Salesforce (REST sObjects).
    Salesforce,
    /// Pipedrive (v1 API).
    Pipedrive,
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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmDeal {
    /// The deal's name.
    pub title: String,
    /// Its value.
    pub value: Option<Money>,
}

/// A note about the conversation (a summary, the last messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmNote {
    /// A short subject (Salesforce Task subject).
    pub subject: String,
    /// The text.
    pub body: String,
    /// When it happened, unix ms.
    pub at_ms: i64,
}

/// What one push sends.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// A CRM that takes leads and gives back what it created.
#[async_trait]
pub trait CrmPush: Send + Sync {
    /// Which CRM.
    fn crm(&self) -> Crm;

    /// Creates (or updates) the contact, then the deal and note linked to it. Returns every
    /// record it created or touched, the contact first.
    async fn push_lead(&self, lead: &Lead) -> Result<Vec<RemoteRecord>, ConnectorError>;

    /// Deletes one record created by [`CrmPush::push_lead`]; one already gone counts as deleted.
    async fn delete(&self, record: &RemoteRecord) -> Result<(), ConnectorError>;
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
