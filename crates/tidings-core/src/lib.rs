//! Shared building blocks of Tidings: configuration, typed identifiers, time and secrets.
//!
//! Nothing here performs network or database I/O; every other crate depends on this one.

pub mod config;
pub mod crypto;
pub mod ids;
pub mod secrets;
#[cfg(feature = "sqlx")]
pub mod stored;
pub mod text;
pub mod time;

pub use config::{Config, ConfigError};
pub use ids::{
    ApiKeyId, AuditId, ConnectionId, ContactId, ConversationId, CrmConnectionId, DeliveryId, DestinationId, DigestId,
    EventId, InviteId, JobId, KnowledgeId, LocationId, MessageId, NotificationId, ReplyTemplateId, ResponseId, RuleId,
    SavedReplyId, SecretId, SessionId, TaskId, UserId, WorkspaceId,
};
