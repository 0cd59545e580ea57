//! What the audit endpoints accept and promise.

use serde::{Deserialize, Serialize};
use tidings_core::time::to_rfc3339;
use utoipa::{IntoParams, ToSchema};

use super::store::AuditRow;
use crate::http::Pagination;

/// Filters for the audit log.
#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only this action (`member.invited`).
    pub action: Option<String>,
    /// Only this actor (user or API key id).
    pub actor_id: Option<String>,
    /// Only this kind of resource (`api_key`).
    pub resource_type: Option<String>,
    /// `success` or `failure`.
    pub result: Option<String>,
    /// From this time on (RFC 3339).
    pub from: Option<String>,
    /// Before this time (RFC 3339).
    pub to: Option<String>,
    /// Page size, 1–200 (default 50).
    pub limit: Option<i64>,
    /// Entries to skip.
    pub offset: Option<i64>,
}

/// Who acted.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActorOut {
    /// `user`, `api_key`, `anonymous` or `system`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Option<String>,
    pub role: Option<String>,
    pub ip: Option<String>,
}

/// What was acted on.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceOut {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Option<String>,
}

/// One audit entry: who (actor), what (action on a resource), when, from where, and the outcome.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntryOut {
    pub event_id: String,
    pub sequence: i64,
    pub timestamp: String,
    pub actor: ActorOut,
    pub action: String,
    pub resource: ResourceOut,
    pub metadata: serde_json::Value,
    pub result: String,
    /// This entry's hash; it covers the previous entry's hash.
    pub hash: String,
}

impl From<AuditRow> for AuditEntryOut {
    fn from(row: AuditRow) -> Self {
        Self {
            event_id: row.id,
            sequence: row.seq,
            timestamp: to_rfc3339(row.created_at),
            actor: ActorOut { kind: row.actor_type, id: row.actor_id, role: row.actor_role, ip: row.ip },
            action: row.action,
            resource: ResourceOut { kind: row.resource_type, id: row.resource_id },
            metadata: serde_json::from_str(&row.metadata).unwrap_or(serde_json::Value::Null),
            result: row.result,
            hash: row.hash,
        }
    }
}

/// A page of the audit log.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditListOut {
    pub entries: Vec<AuditEntryOut>,
    pub pagination: Pagination,
}

/// The outcome of checking the chain.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChainOut {
    pub valid: bool,
    pub entries: i64,
    pub broken_at_sequence: Option<i64>,
    pub problem: Option<String>,
}
