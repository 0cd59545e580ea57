//! What the API promises for the bell, notification preferences and digests (ADR 0024).

use serde::{Deserialize, Serialize};
use tidings_core::time::to_rfc3339;
use tidings_core::{DigestId, LocationId, NotificationId};
use utoipa::ToSchema;

use super::members::NotificationKind;
use super::store::deliveries::NotificationRow;
use super::store::digests::DigestRow;

/// One in-app notification.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationOut {
    pub id: NotificationId,
    pub kind: NotificationKind,
    pub title: String,
    pub body: String,
    pub link: Option<String>,
    pub read: bool,
    /// It arrived during the member's quiet hours and was stored without ringing.
    pub quiet: bool,
    pub created_at: String,
}

impl NotificationOut {
    pub fn from_row(row: NotificationRow) -> Self {
        Self {
            id: row.id,
            kind: row.kind,
            title: row.title,
            body: row.body,
            link: row.link,
            read: row.read_at.is_some(),
            quiet: row.quiet,
            created_at: to_rfc3339(row.created_at),
        }
    }
}

/// The signed-in member's bell: unread count and the latest notifications.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationsOut {
    pub unread: i64,
    pub items: Vec<NotificationOut>,
}

/// Where one kind of notification reaches the member.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KindChoice {
    pub kind: NotificationKind,
    /// How the settings page names it (ignored on the way in).
    #[serde(default)]
    pub label: String,
    pub in_app: bool,
    pub email: bool,
}

/// Quiet hours, local times `HH:MM` in an IANA time zone; they wrap past midnight when they
/// start later than they end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QuietHoursIo {
    pub start: String,
    pub end: String,
    pub time_zone: String,
}

/// The member's notification preferences. On the way in, kinds left out keep their choice and
/// `quietHours: null` removes the quiet hours.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PreferencesIo {
    #[serde(default)]
    pub kinds: Vec<KindChoice>,
    #[serde(default)]
    pub quiet_hours: Option<QuietHoursIo>,
}

/// A new digest.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DigestIn {
    pub name: String,
    /// `daily` or `weekly`.
    pub frequency: String,
    /// Weekly digests: the day, 1 (Monday) to 7 (Sunday).
    #[serde(default)]
    pub weekday: Option<i64>,
    /// The local hour it is sent at, 0–23.
    pub hour: i64,
    /// The IANA time zone of `hour`; by default the location's, else UTC.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// One location (`loc_…`); none for the whole workspace.
    #[serde(default)]
    pub location_id: Option<String>,
    /// Where it goes (`dst_…`): email, Google Chat, Slack, in-app…
    pub destination_ids: Vec<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// A digest.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DigestOut {
    pub id: DigestId,
    pub name: String,
    pub frequency: String,
    pub weekday: Option<i64>,
    pub hour: i64,
    pub time_zone: String,
    pub location_id: Option<LocationId>,
    pub destination_ids: Vec<String>,
    pub enabled: bool,
    /// The period last sent: `2026-12-04` (daily) or `2026-W49` (weekly).
    pub last_period: Option<String>,
    pub last_sent_at: Option<String>,
    pub created_at: String,
}

impl DigestOut {
    pub fn from_row(row: DigestRow) -> Self {
        Self {
            destination_ids: serde_json::from_str(&row.destination_ids).unwrap_or_default(),
            id: row.id,
            name: row.name,
            frequency: row.frequency,
            weekday: row.weekday,
            hour: row.hour,
            time_zone: row.time_zone,
            location_id: row.location_id,
            enabled: row.enabled,
            last_period: row.last_period,
            last_sent_at: row.last_sent_at.map(to_rfc3339),
            created_at: to_rfc3339(row.created_at),
        }
    }
}
