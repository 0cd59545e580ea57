//! Field mapping templates: per workspace and CRM, the JSON a push is written with, validated
//! against the connector's mapping type (every error names its field, `mapping.leadStatus`);
//! without a saved one, the connector's defaults.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tidings_connectors::crm::hubspot::HubspotMapping;
use tidings_connectors::crm::pipedrive::PipedriveMapping;
use tidings_connectors::crm::salesforce::SalesforceMapping;
use tidings_connectors::crm::{ContactField, Crm, FieldMap};
use tidings_core::WorkspaceId;

use super::store;
use crate::automations::{Automations, AutomationsError};

/// A CRM's mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapping {
    /// HubSpot: contact properties, lifecycle stage, lead status, deal pipeline and stage.
    Hubspot(HubspotMapping),
    /// Salesforce: Lead fields and what `LastName` and `Company` get when the contact has none.
    Salesforce(SalesforceMapping),
    /// Pipedrive: person fields besides name, email and phone.
    Pipedrive(PipedriveMapping),
}

/// The longest a fallback may be: Salesforce's `LastName` holds 80 characters.
const LAST_NAME_MAX: usize = 80;
const COMPANY_MAX: usize = 255;

impl Mapping {
    /// The connector's defaults for `crm`.
    pub fn defaults(crm: Crm) -> Mapping {
        match crm {
            Crm::Hubspot => Mapping::Hubspot(HubspotMapping::default()),
            Crm::Salesforce => Mapping::Salesforce(SalesforceMapping::default()),
            Crm::Pipedrive => Mapping::Pipedrive(PipedriveMapping::default()),
        }
    }

    /// As JSON, every field present.
    pub fn to_json(&self) -> Value {
        match self {
            Mapping::Hubspot(m) => serde_json::to_value(m),
            Mapping::Salesforce(m) => serde_json::to_value(m),
            Mapping::Pipedrive(m) => serde_json::to_value(m),
        }
        .unwrap_or_default()
    }

    /// Validates a submitted mapping for `crm`. Fields left out keep their defaults; unknown
    /// fields are refused rather than silently ignored.
    pub fn parse(crm: Crm, value: &Value) -> Result<Mapping, AutomationsError> {
        let object = value.as_object().ok_or_else(|| AutomationsError::invalid("mapping", "must be a JSON object"))?;
        let defaults = Mapping::defaults(crm).to_json();
        for (key, field) in object {
            if defaults.get(key).is_none() {
                let known = defaults.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>().join(", "));
                return Err(AutomationsError::invalid(
                    format!("mapping.{key}"),
                    format!("unknown field; one of {}", known.unwrap_or_default()),
                ));
            }
            // Each field alone, so that an error names it.
            let alone = Value::Object([(key.clone(), field.clone())].into_iter().collect());
            let checked = match crm {
                Crm::Hubspot => typed::<HubspotMapping>(&alone).map(drop),
                Crm::Salesforce => typed::<SalesforceMapping>(&alone).map(drop),
                Crm::Pipedrive => typed::<PipedriveMapping>(&alone).map(drop),
            };
            checked.map_err(|message| AutomationsError::invalid(format!("mapping.{key}"), message))?;
        }
        let mapping = match crm {
            Crm::Hubspot => Mapping::Hubspot(typed(value).map_err(|m| AutomationsError::invalid("mapping", m))?),
            Crm::Salesforce => Mapping::Salesforce(typed(value).map_err(|m| AutomationsError::invalid("mapping", m))?),
            Crm::Pipedrive => Mapping::Pipedrive(typed(value).map_err(|m| AutomationsError::invalid("mapping", m))?),
        };
        mapping.check()?;
        Ok(mapping)
    }

    /// What the types cannot say.
    fn check(&self) -> Result<(), AutomationsError> {
        let names = |field: &str, map: &FieldMap| -> Result<(), AutomationsError> {
            match map.keys().find(|k| k.trim().is_empty() || k.len() > 100) {
                Some(_) => {
                    Err(AutomationsError::invalid(format!("mapping.{field}"), "field names are 1 to 100 characters"))
                }
                None => Ok(()),
            }
        };
        match self {
            Mapping::Hubspot(m) => {
                names("contact", &m.contact)?;
                for (field, value) in [("dealPipeline", &m.deal_pipeline), ("dealStage", &m.deal_stage)] {
                    if value.trim().is_empty() {
                        return Err(AutomationsError::invalid(
                            format!("mapping.{field}"),
                            "an internal id is required",
                        ));
                    }
                }
            }
            Mapping::Salesforce(m) => {
                names("lead", &m.lead)?;
                // Required fields always get a value: the fallbacks must be usable ones.
                let fallbacks = [
                    ("missingLastName", &m.missing_last_name, LAST_NAME_MAX),
                    ("missingCompany", &m.missing_company, COMPANY_MAX),
                ];
                for (field, value, max) in fallbacks {
                    if value.trim().is_empty() || value.chars().count() > max {
                        return Err(AutomationsError::invalid(
                            format!("mapping.{field}"),
                            format!("1 to {max} characters: Salesforce refuses a Lead without it"),
                        ));
                    }
                }
            }
            Mapping::Pipedrive(m) => names("person", &m.person)?,
        }
        Ok(())
    }
}

fn typed<T: DeserializeOwned + Serialize>(value: &Value) -> Result<T, String> {
    serde_json::from_value(value.clone()).map_err(|e| e.to_string())
}

/// The contact values a field may be mapped from, as the editor lists them.
pub fn contact_values() -> Vec<String> {
    let values = [
        ContactField::DisplayName,
        ContactField::FirstName,
        ContactField::LastName,
        ContactField::Email,
        ContactField::Phone,
        ContactField::Company,
        ContactField::Platform,
        ContactField::ProfileUrl,
        ContactField::Constant("…".into()),
    ];
    values.iter().filter_map(|v| serde_json::to_value(v).ok()).map(|v| v.to_string()).collect()
}

impl Automations {
    /// The mapping pushes to `crm` use: the workspace's, else the defaults.
    pub async fn mapping(&self, workspace: &WorkspaceId, crm: Crm) -> Result<Mapping, AutomationsError> {
        Ok(self.saved_mapping(workspace, crm).await?.unwrap_or_else(|| Mapping::defaults(crm)))
    }

    /// The workspace's own mapping for `crm`, if it saved one.
    pub async fn saved_mapping(&self, workspace: &WorkspaceId, crm: Crm) -> Result<Option<Mapping>, AutomationsError> {
        let Some(json) = store::mapping(&self.db, workspace, crm).await? else { return Ok(None) };
        let value: Value = serde_json::from_str(&json).unwrap_or_default();
        // It was valid when saved; one the connector no longer reads falls back to the defaults.
        Ok(Mapping::parse(crm, &value).inspect_err(|e| tracing::warn!(%e, "stored CRM mapping no longer valid")).ok())
    }

    /// Validates and saves the workspace's mapping for `crm`.
    pub async fn save_mapping(
        &self,
        workspace: &WorkspaceId,
        crm: Crm,
        value: &Value,
    ) -> Result<Mapping, AutomationsError> {
        let mapping = Mapping::parse(crm, value)?;
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        store::put_mapping(&mut tx, workspace, crm, &mapping.to_json().to_string()).await?;
        tx.commit().await?;
        Ok(mapping)
    }

    /// Forgets the workspace's mapping for `crm`: pushes use the defaults again.
    pub async fn reset_mapping(&self, workspace: &WorkspaceId, crm: Crm) -> Result<(), AutomationsError> {
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        store::delete_mapping(&mut tx, workspace, crm).await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn field(crm: Crm, value: Value) -> String {
        match Mapping::parse(crm, &value) {
            Err(AutomationsError::Validation { field, .. }) => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_mapping_keeps_defaults_for_what_it_leaves_out() {
        let Ok(Mapping::Hubspot(m)) = Mapping::parse(Crm::Hubspot, &json!({ "lifecycleStage": "salesqualifiedlead" }))
        else {
            panic!("valid")
        };
        assert_eq!(m.deal_pipeline, "default");
        assert_eq!(m.lead_status, HubspotMapping::default().lead_status);
    }

    #[test]
    fn errors_name_the_field() {
        // "Sales Qualified Lead" is a lifecycle stage, not a lead status.
        assert_eq!(field(Crm::Hubspot, json!({ "leadStatus": "SALES_QUALIFIED_LEAD" })), "mapping.leadStatus");
        assert_eq!(field(Crm::Hubspot, json!({ "lifecyclestage": "lead" })), "mapping.lifecyclestage");
        assert_eq!(field(Crm::Hubspot, json!({ "contact": { "email": "mail" } })), "mapping.contact");
        assert_eq!(field(Crm::Salesforce, json!({ "missingCompany": "" })), "mapping.missingCompany");
        assert_eq!(field(Crm::Pipedrive, json!([])), "mapping");
    }
}
