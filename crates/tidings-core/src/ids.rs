//! Prefixed, time-sortable identifiers (`ws_…`, `job_…`).
//!
//! An id is a UUIDv7 in lowercase hex behind a short prefix naming what it identifies, so ids
//! sort by creation time and say what they are in logs and URLs. Parsing checks the prefix,
//! so a job id can never be passed where a workspace id is expected.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The error returned when a string is not a valid id of the expected kind.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{value}` is not a valid {kind} id (expected `{prefix}_` followed by 32 hex digits)")]
pub struct IdError {
    /// The kind of id that was expected.
    pub kind: &'static str,
    /// The prefix that was expected.
    pub prefix: &'static str,
    /// The rejected input.
    pub value: String,
}

macro_rules! prefixed_id {
    ($(#[$meta:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, utoipa::ToSchema)]
        #[schema(value_type = String, example = json!(concat!($prefix, "_0193a0b4c2d87f2e9a1b2c3d4e5f6a7b")))]
        pub struct $name(String);

        impl $name {
            /// The prefix every id of this kind starts with.
            pub const PREFIX: &'static str = $prefix;

            /// A new, unique id sorting after every id created before it.
            pub fn generate() -> Self {
                Self(format!("{}_{}", $prefix, uuid::Uuid::now_v7().simple()))
            }

            /// Parses an id, checking its prefix and shape.
            pub fn parse(value: &str) -> Result<Self, IdError> {
                let valid = value
                    .strip_prefix(concat!($prefix, "_"))
                    .is_some_and(|rest| rest.len() == 32 && rest.bytes().all(|b| b.is_ascii_hexdigit()));
                if valid {
                    Ok(Self(value.to_ascii_lowercase()))
                } else {
                    Err(IdError { kind: $kind, prefix: $prefix, value: value.to_owned() })
                }
            }

            /// The id as stored and shown.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        /// The id as text, for a DTO field that promises a string.
        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        #[cfg(feature = "sqlx")]
        $crate::stored_as_text!($name);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(deserializer)?;
                Self::parse(&raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

prefixed_id!(
    /// A workspace: the tenant every piece of customer data belongs to.
    WorkspaceId, "ws", "workspace"
);
prefixed_id!(
    /// A job in the durable work queue.
    JobId, "job", "job"
);
prefixed_id!(
    /// A person who can sign in.
    UserId, "usr", "user"
);
prefixed_id!(
    /// A signed-in session: one family of rotating refresh tokens.
    SessionId, "ses", "session"
);
prefixed_id!(
    /// An invitation to join a workspace.
    InviteId, "inv", "invite"
);
prefixed_id!(
    /// An API key for scripts and integrations.
    ApiKeyId, "key", "API key"
);
prefixed_id!(
    /// An entry of a workspace's audit log.
    AuditId, "aud", "audit entry"
);
prefixed_id!(
    /// A credential stored, encrypted, in a workspace's vault.
    SecretId, "sec", "secret"
);
prefixed_id!(
    /// A business location (a shop, a hotel, a branch) reviews and messages belong to.
    LocationId, "loc", "location"
);
prefixed_id!(
    /// A platform account connected to a workspace (a Google location, a Page, a phone number).
    ConnectionId, "con", "connection"
);
prefixed_id!(
    /// A person who wrote a review or a message, merged across platforms.
    ContactId, "ctc", "contact"
);
prefixed_id!(
    /// A review with its replies, or a message thread.
    ConversationId, "cnv", "conversation"
);
prefixed_id!(
    /// One review, message, comment or reply.
    MessageId, "msg", "message"
);
prefixed_id!(
    /// A reply written in Tidings, from draft to posted.
    ResponseId, "rsp", "response"
);
prefixed_id!(
    /// A webhook delivery as received, kept verbatim.
    EventId, "evt", "event"
);
prefixed_id!(
    /// An entry of a workspace's knowledge base: an FAQ entry or a document replies draw on.
    KnowledgeId, "kb", "knowledge entry"
);
prefixed_id!(
    /// A reply template a workspace wrote.
    ReplyTemplateId, "tpl", "reply template"
);
prefixed_id!(
    /// A long-running piece of work a person started (a sync, an import) and its progress.
    TaskId, "tsk", "task"
);
prefixed_id!(
    /// A workspace's saved reply, inserted into the reply box with "/" and its shortcut.
    SavedReplyId, "srp", "saved reply"
);
prefixed_id!(
    /// A CRM account (Pipedrive) sending its events to a workspace's automations.
    CrmConnectionId, "crm", "CRM connection"
);
prefixed_id!(
    /// A place automations send notifications to (a Google Chat space, a Slack channel…).
    DestinationId, "dst", "destination"
);
prefixed_id!(
    /// An automation rule: a trigger, conditions and actions.
    RuleId, "rule", "rule"
);
prefixed_id!(
    /// One notification sent (or to be sent) to one destination.
    DeliveryId, "dlv", "delivery"
);
prefixed_id!(
    /// An in-app notification (the dashboard's bell).
    NotificationId, "ntf", "notification"
);
prefixed_id!(
    /// A daily or weekly digest: a summary of a period's reviews sent to destinations.
    DigestId, "dig", "digest"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_back_and_sort_by_creation() {
        let first = JobId::generate();
        let second = JobId::generate();
        assert!(first.as_str().starts_with("job_"));
        assert_eq!(JobId::parse(first.as_str()), Ok(first.clone()));
        assert!(first < second, "{first} should sort before {second}");
    }

    #[test]
    fn an_id_of_another_kind_is_rejected() {
        let workspace = WorkspaceId::generate();
        let error = JobId::parse(workspace.as_str()).expect_err("prefix must be checked");
        assert_eq!(error.kind, "job");
        assert!(JobId::parse("job_xyz").is_err());
        assert!(JobId::parse("job_").is_err());
    }

    #[test]
    fn ids_round_trip_through_json() {
        let id = WorkspaceId::generate();
        let json = serde_json::to_string(&id).expect("serialize");
        let back: WorkspaceId = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, id);
        assert!(serde_json::from_str::<WorkspaceId>("\"ws_nothex\"").is_err());
    }
}
