//! Notifications for each member (ADR 0024): what kinds exist, each member's choice per kind (in
//! the app, by email), their quiet hours, and the fan-out every in-app or "the team" email
//! delivery goes through.
//!
//! - **Choices.** A kind without a stored choice reaches the member in the app, not by email.
//! - **Quiet hours** are the member's own, in a time zone they choose. During them an in-app
//!   notification is stored without a live announcement (the bell shows it on the next page) and
//!   an email is queued to go when they end — held, never dropped. No kind overrides them.
//! - **Fan-out** happens in the transaction that marks the delivery delivered; the unique
//!   `(delivery, member)` keeps a retried delivery from notifying anyone twice, and an email's job
//!   carries the same key.

use std::collections::HashMap;

use chrono::{Duration, NaiveTime, Timelike};
use serde::{Deserialize, Serialize};
use tidings_core::time::now_millis;
use tidings_core::{DeliveryId, UserId, WorkspaceId};
use tidings_store::Tx;
use tidings_store::queue::NewJob;
use utoipa::ToSchema;

use super::model::Trigger;
use super::store::members::{self as store, MemberNotification, PreferenceRow, QuietHoursRow};
use super::{Automations, AutomationsError};
use crate::identity::store as identity_store;
use crate::inbox::live::LiveEvent;
use crate::inbox::model::stored_enum;
use crate::inbox::zone::Zone;
use crate::mail::SendEmail;

stored_enum!(
    /// What a notification is about: members choose per kind where it reaches them. The
    /// settings page lists them in this order.
    NotificationKind {
        /// A review analysed negative.
        NegativeReview,
        /// A lead scored HOT.
        LeadHot,
        /// The AI pipeline handed a conversation to a person.
        Handoff,
        /// A review or message waits for an answer.
        ResponseNeeded,
        /// A channel connection is failing.
        ConnectionFailing,
        /// The AI token budget reached 80 % or 100 %.
        Budget,
        /// A daily or weekly digest.
        Digest,
        /// A destination paused after repeated failures.
        DestinationPaused,
        /// Any other rule (reviews and messages received, Pipedrive deals).
        Other,
    }
);

impl NotificationKind {
    /// How the settings page names it.
    pub fn label(self) -> &'static str {
        match self {
            NotificationKind::NegativeReview => "Negative review",
            NotificationKind::LeadHot => "HOT lead",
            NotificationKind::Handoff => "Handoff to a person",
            NotificationKind::ResponseNeeded => "Response needed",
            NotificationKind::ConnectionFailing => "Connection failing",
            NotificationKind::Budget => "AI budget",
            NotificationKind::Digest => "Digests",
            NotificationKind::DestinationPaused => "Destination paused",
            NotificationKind::Other => "Other rules",
        }
    }

    /// The kind of a rule's notification.
    pub fn of_trigger(trigger: Trigger) -> NotificationKind {
        match trigger {
            Trigger::NegativeReview => NotificationKind::NegativeReview,
            Trigger::LeadHot => NotificationKind::LeadHot,
            Trigger::HandoffRequested => NotificationKind::Handoff,
            Trigger::ResponseNeeded => NotificationKind::ResponseNeeded,
            Trigger::ConnectionFailing => NotificationKind::ConnectionFailing,
            Trigger::BudgetThreshold => NotificationKind::Budget,
            _ => NotificationKind::Other,
        }
    }
}

/// Where one kind reaches a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    pub in_app: bool,
    pub email: bool,
}

/// A kind nobody chose for: in the app, not by email.
pub const DEFAULT_CHOICE: Choice = Choice { in_app: true, email: false };

/// A member's quiet hours: minutes after local midnight, in a zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuietHours {
    pub starts_minute: i64,
    pub ends_minute: i64,
    pub zone: Zone,
}

impl QuietHours {
    /// From a stored row.
    pub fn of_row(row: &QuietHoursRow) -> Self {
        Self { starts_minute: row.starts_minute, ends_minute: row.ends_minute, zone: Zone::named(&row.time_zone) }
    }

    /// When the quiet hours holding `now` (unix ms) end; `None` when `now` is not in them. They
    /// wrap past midnight when they start later than they end (22:00–07:00).
    pub fn until(&self, now: i64) -> Option<i64> {
        let local = self.zone.local(now);
        let minute = i64::from(local.hour() * 60 + local.minute());
        let (starts, ends) = (self.starts_minute, self.ends_minute);
        let quiet = if starts < ends { (starts..ends).contains(&minute) } else { minute >= starts || minute < ends };
        if !quiet || starts == ends {
            return None;
        }
        let ends_at = NaiveTime::from_hms_opt(u32::try_from(ends / 60).ok()?, u32::try_from(ends % 60).ok()?, 0)?;
        let day = if minute < ends { local.date() } else { local.date() + Duration::days(1) };
        Some(self.zone.instant(day.and_time(ends_at)))
    }
}

/// How a notification reaches members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// The bell.
    InApp,
    /// An email to each member's own address.
    Email,
}

/// A notification to fan out.
pub struct Notice<'a> {
    pub kind: NotificationKind,
    pub title: &'a str,
    pub body: &'a str,
    pub link: Option<&'a str>,
    /// The delivery it comes from (none for Tidings' own notices).
    pub delivery: Option<&'a DeliveryId>,
}

/// What a fan-out did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FanOut {
    /// Members notified in the app, and of them, during quiet hours.
    pub in_app: usize,
    pub quiet: usize,
    /// Emails queued, and of them, held until quiet hours end.
    pub emails: usize,
    pub held: usize,
}

impl FanOut {
    /// The live event to publish after the commit, when someone's bell should ring now.
    pub fn live_event(&self, workspace: &WorkspaceId) -> Option<LiveEvent> {
        (self.in_app > self.quiet).then(|| LiveEvent::notification(workspace))
    }
}

/// Who may be notified of a kind, and how: read before the transaction that notifies them, since
/// a read on the pool inside it needs a second connection, which a busy pool may never give
/// (PostgreSQL, until the acquire timeout).
pub(crate) struct Audience {
    members: Vec<identity_store::MemberRow>,
    choices: HashMap<UserId, Choice>,
    quiet: HashMap<UserId, QuietHours>,
}

impl Automations {
    /// The members of the workspace with their choices for `kind` and their quiet hours.
    pub(crate) async fn audience(
        &self,
        workspace: &WorkspaceId,
        kind: NotificationKind,
    ) -> Result<Audience, AutomationsError> {
        let members = identity_store::members(&self.db, workspace).await?;
        let choices = choices_by_member(store::preferences(&self.db, workspace, None).await?, kind);
        let quiet = store::quiet_hours(&self.db, workspace, None)
            .await?
            .iter()
            .map(|row| (row.member_id.clone(), QuietHours::of_row(row)))
            .collect();
        Ok(Audience { members, choices, quiet })
    }

    /// Notifies, in `tx`, every member of `audience` who wants `notice`'s kind on `channel`,
    /// respecting their quiet hours (see the module doc).
    pub(crate) async fn fan_out(
        &self,
        tx: &mut Tx,
        workspace: &WorkspaceId,
        notice: &Notice<'_>,
        channel: Channel,
        audience: Audience,
    ) -> Result<FanOut, AutomationsError> {
        let now = now_millis();
        let Audience { members, choices, quiet } = audience;
        let mut done = FanOut::default();
        for member in members {
            let choice = choices.get(&member.user_id).copied().unwrap_or(DEFAULT_CHOICE);
            let held_until = quiet.get(&member.user_id).and_then(|q| q.until(now));
            let member_id = member.user_id.clone();
            match channel {
                Channel::InApp if choice.in_app => {
                    let new = MemberNotification {
                        member: &member_id,
                        kind: notice.kind.as_str(),
                        title: notice.title,
                        body: notice.body,
                        link: notice.link,
                        delivery_id: notice.delivery,
                        quiet: held_until.is_some(),
                    };
                    if store::insert(tx, workspace, &new).await? {
                        done.in_app += 1;
                        done.quiet += usize::from(held_until.is_some());
                    }
                }
                Channel::Email if choice.email => {
                    let link = notice.link.map(|l| format!("\n\n{l}")).unwrap_or_default();
                    let email = SendEmail {
                        to: member.email.clone(),
                        subject: notice.title.to_owned(),
                        text: format!("{}{link}", notice.body),
                        html: None,
                    };
                    let mut job = NewJob::new(&email)?.workspace(workspace.clone());
                    if let Some(delivery) = notice.delivery {
                        job = job.unique_key(format!("notify:{delivery}:{}", member.user_id));
                    }
                    if let Some(at) = held_until {
                        job = job.run_at(at);
                        done.held += 1;
                    }
                    self.queue.enqueue_in(tx, job).await?;
                    done.emails += 1;
                }
                _ => {}
            }
        }
        Ok(done)
    }
}

/// Each member's choice for `kind`.
fn choices_by_member(rows: Vec<PreferenceRow>, kind: NotificationKind) -> HashMap<UserId, Choice> {
    rows.into_iter()
        .filter(|row| row.kind == kind)
        .map(|row| (row.member_id, Choice { in_app: row.in_app, email: row.email }))
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn at(zone: &Zone, hour: u32, minute: u32) -> i64 {
        let day = NaiveDate::from_ymd_opt(2026, 12, 4).expect("date");
        zone.instant(day.and_hms_opt(hour, minute, 0).expect("time"))
    }

    #[test]
    fn quiet_hours_wrap_past_midnight_in_the_members_zone() {
        let zone = Zone::named("Europe/Lisbon");
        let quiet = QuietHours { starts_minute: 22 * 60, ends_minute: 7 * 60, zone: zone.clone() };
        assert_eq!(quiet.until(at(&zone, 21, 59)), None);
        let next_morning = NaiveDate::from_ymd_opt(2026, 12, 5).and_then(|d| d.and_hms_opt(7, 0, 0)).expect("time");
        assert_eq!(quiet.until(at(&zone, 23, 30)), Some(zone.instant(next_morning)));
        assert_eq!(quiet.until(at(&zone, 6, 59)), Some(at(&zone, 7, 0)));
        assert_eq!(quiet.until(at(&zone, 7, 0)), None);
        let day = QuietHours { starts_minute: 12 * 60, ends_minute: 13 * 60, zone: zone.clone() };
        assert_eq!(day.until(at(&zone, 12, 30)), Some(at(&zone, 13, 0)));
        assert_eq!(day.until(at(&zone, 13, 30)), None);
    }
}
