//! Delivering notifications: one job per delivery on the `outbound` queue, the queue that posts
//! platform replies, with the same discipline as `channels/outbound.rs`:
//!
//! - **Never twice.** The delivery is marked `sending` and committed before the destination is
//!   called, and the answer recorded right after. A job that finds it already `sending` ran
//!   before and was interrupted in between: the message may have arrived, so it is marked
//!   `unconfirmed` for a person to retry from the log — except a signed webhook, which is sent
//!   again with the same `webhook-id` for the receiver to drop as a repeat (Standard Webhooks).
//!   Signed webhooks therefore skip the `sending` commit altogether: interrupted, the delivery is
//!   still `queued` and goes out again under the same `webhook-id`, as a `sending` mark would
//!   have had it (`crates/tidings/tests/crash.rs` kills the process to prove it).
//!   In-app notifications, and "the team" emails (queued as mail jobs), are fanned out to the
//!   members who want them (members.rs) in the same transaction that marks them delivered.
//! - **Retries** follow the `outbound` queue's exponential schedule (1, 2, 4, 8, 16 s; 6
//!   attempts); a 429's `Retry-After` replaces the step. After the last attempt the delivery is
//!   `failed` (the job dead-letters) and can be retried from the log.
//! - **Pacing.** Chat destinations get at most one message per `chat_min_interval_ms`.
//! - **CRM syncs** (`sync_to_crm` actions) are deliveries to a CRM connection, taken from here by
//!   [`crate::automations::crm::sync`] with the same states, retries and log.
//! - **Circuit breaker** per destination ([`crate::channels::breaker`], grown to take keys and
//!   limits): after `breaker_failures` consecutive failures the destination pauses for
//!   `breaker_open_secs`, its row says so, and the workspace gets an in-app notification instead
//!   of the destination silently going quiet.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tidings_connectors::ConnectorError;
use tidings_connectors::notify::Message;
use tidings_core::time::now_millis;
use tidings_core::{DeliveryId, WorkspaceId};
use tidings_store::queue::{JobContext, JobError, JobPayload, NewJob, QueueError, Registry, Schedule, names};

use super::destinations::DestinationConfig;
use super::members::{Audience, Channel, Notice, NotificationKind};
use super::model::{DeliveryStatus, DestinationKind};
use super::store::deliveries::{self as log_store, AttemptOutcome, DeliveryRow};
use super::store::{self, DestinationRow};
use super::{Automations, AutomationsError};

/// Sends one delivery.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Deliver {
    pub workspace_id: WorkspaceId,
    pub delivery_id: DeliveryId,
}

impl JobPayload for Deliver {
    const KIND: &'static str = "automations.deliver";
    const QUEUE: &'static str = names::OUTBOUND;
}

/// Purges old delivery logs and events (daily).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PurgeLogs {}

impl JobPayload for PurgeLogs {
    const KIND: &'static str = "automations.purge_logs";
    const QUEUE: &'static str = names::MAINTENANCE;
}

/// The daily purge of the delivery log.
pub fn schedules() -> Result<Vec<Schedule>, QueueError> {
    Ok(vec![Schedule {
        name: "automations.purge_logs".into(),
        cron: "0 40 3 * * *".into(),
        job: NewJob::new(&PurgeLogs {})?,
    }])
}

/// Registers the delivery and purge handlers.
pub fn register(registry: &mut Registry, automations: Automations) {
    let deliver = automations.clone();
    registry.register(move |job: Deliver, context: JobContext| {
        let automations = deliver.clone();
        async move { automations.deliver(&job.workspace_id, &job.delivery_id, &context).await }
    });
    registry.register(move |_: PurgeLogs, _| {
        let automations = automations.clone();
        async move {
            let days = automations.config.log_retention_days;
            if days == 0 {
                return Ok(());
            }
            let cutoff = now_millis() - i64::from(days) * 86_400_000;
            let purged = log_store::purge_before(&automations.db, cutoff).await?;
            tracing::info!(purged, days, "purged old automation deliveries");
            Ok(())
        }
    });
}

/// The stored payload of a delivery.
#[derive(Deserialize)]
struct Payload {
    message: Message,
    #[serde(default)]
    thread: Option<String>,
    /// What it is about, when no event says (digests).
    #[serde(default)]
    kind: Option<NotificationKind>,
}

pub(crate) fn status_of(error: &ConnectorError) -> Option<i64> {
    match error {
        ConnectorError::RateLimited { .. } => Some(429),
        ConnectorError::Rejected { status, .. } => Some(i64::from(*status)),
        ConnectorError::Unauthorized { .. } => Some(401),
        ConnectorError::Unavailable { message, .. } => {
            message.strip_prefix("HTTP ").and_then(|rest| rest.get(..3)).and_then(|code| code.parse().ok())
        }
        _ => None,
    }
}

impl Automations {
    #[tracing::instrument(skip_all, fields(workspace_id = %workspace, delivery_id = %id, attempt = context.attempt))]
    async fn deliver(&self, workspace: &WorkspaceId, id: &DeliveryId, context: &JobContext) -> Result<(), JobError> {
        let Some(delivery) = log_store::delivery(&self.db, workspace, id).await? else { return Ok(()) };
        if delivery.crm_connection_id.is_some() {
            return self.sync(workspace, delivery, context).await;
        }
        let Some(destination_id) = &delivery.destination_id else { return Err(JobError::fatal("no destination")) };
        let Some(destination) = store::destination(&self.db, workspace, destination_id).await? else { return Ok(()) };
        let kind = destination.kind;
        let resend = match delivery.status {
            DeliveryStatus::Queued => false,
            // Interrupted after calling the destination: only a receiver that drops repeats by
            // `webhook-id` may be called again.
            DeliveryStatus::Sending if kind == DestinationKind::Webhook => true,
            DeliveryStatus::Sending => {
                let message = "interrupted while sending: it may have arrived; retry it from the log if not";
                return self.record(workspace, id, DeliveryStatus::Unconfirmed, Some(message)).await;
            }
            _ => return Ok(()),
        };
        if !destination.enabled {
            let message = "the destination is disabled";
            return self.record(workspace, id, DeliveryStatus::Failed, Some(message)).await;
        }
        let payload: Payload = serde_json::from_str(&delivery.payload).map_err(JobError::fatal)?;
        let team = kind == DestinationKind::Email
            && serde_json::from_str::<DestinationConfig>(&destination.config).is_ok_and(|c| c.team);
        if kind == DestinationKind::InApp || team {
            let channel = if team { Channel::Email } else { Channel::InApp };
            let notification = self.notification_kind(workspace, &delivery, &payload).await?;
            return self.deliver_to_members(workspace, id, &payload.message, notification, channel).await;
        }
        if let Err(wait) = self.breakers.check(destination_id.as_str()) {
            let message = format!("{} is paused after repeated failures", destination.name);
            if context.is_last_attempt() {
                self.record(workspace, id, DeliveryStatus::Failed, Some(&message)).await?;
            }
            return Err(JobError::retry_after(message, wait));
        }
        if kind.is_chat() {
            let wait =
                self.pacer.reserve(destination_id.as_str(), Duration::from_millis(self.config.chat_min_interval_ms));
            if wait > Duration::from_secs(5) {
                return Err(JobError::retry_after("pacing messages to the destination", wait));
            }
            tokio::time::sleep(wait).await;
        }
        let notifier = match self.notifier(workspace, &destination, id.as_str(), payload.thread.clone()).await {
            Ok(notifier) => notifier,
            Err(error @ (AutomationsError::Store(_) | AutomationsError::Vault(_))) => {
                return Err(JobError::retry(error));
            }
            Err(error) => {
                let message = error.to_string();
                return self.record(workspace, id, DeliveryStatus::Failed, Some(&message)).await;
            }
        };

        // A signed webhook goes out without a `sending` mark committed first: interrupted between
        // the call and the record, it is still `queued`, and the job's next attempt sends it again
        // under the same `webhook-id` for the receiver to drop as a repeat, which is what the mark
        // would have led to (see `resend`). One commit per message fewer; the attempt is counted
        // with the answer.
        let marked = kind != DestinationKind::Webhook;
        if marked {
            let mut tx = self.db.begin_for_tenant(workspace).await?;
            let started = log_store::start_attempt(&mut tx, workspace, id, resend).await?;
            tx.commit().await?;
            if !started {
                return Ok(());
            }
        }
        let clock = Instant::now();
        let result = notifier.send(&payload.message).await;
        let latency = i64::try_from(clock.elapsed().as_millis()).unwrap_or(i64::MAX);

        match result {
            Ok(delivered) => {
                self.breakers.record_success(destination_id.as_str());
                let mut tx = self.db.begin_for_tenant(workspace).await?;
                if !marked && !log_store::count_attempt(&mut tx, workspace, id).await? {
                    return Ok(());
                }
                let outcome = AttemptOutcome {
                    status: DeliveryStatus::Delivered,
                    response_code: Some(i64::from(delivered.status)),
                    remote_id: delivered.remote_id.as_deref(),
                    error: None,
                    latency_ms: Some(latency),
                };
                log_store::finish_attempt(&mut tx, workspace, id, &outcome).await?;
                store::destination_delivered(&mut tx, workspace, destination_id).await?;
                tx.commit().await?;
                metrics::counter!("tidings_automations_delivered_total", "kind" => kind.as_str()).increment(1);
                Ok(())
            }
            Err(error) => {
                let message = error.to_string();
                let transient = error.is_transient() || matches!(error, ConnectorError::Malformed { .. });
                let outcome = match &error {
                    ConnectorError::RateLimited { retry_after: Some(after), .. } => {
                        JobError::retry_after(&message, *after)
                    }
                    _ if transient => JobError::retry(&message),
                    _ => JobError::fatal(&message),
                };
                let opened = if transient { self.breakers.record_failure(destination_id.as_str()) } else { None };
                let last = !transient || context.is_last_attempt();
                let status = if last { DeliveryStatus::Failed } else { DeliveryStatus::Queued };
                let audience = match opened {
                    Some(_) => Some(self.audience(workspace, NotificationKind::DestinationPaused).await?),
                    None => None,
                };
                let mut tx = self.db.begin_for_tenant(workspace).await?;
                if !marked && !log_store::count_attempt(&mut tx, workspace, id).await? {
                    return Ok(());
                }
                let attempt = AttemptOutcome {
                    status,
                    response_code: status_of(&error),
                    remote_id: None,
                    error: Some(&message),
                    latency_ms: Some(latency),
                };
                log_store::finish_attempt(&mut tx, workspace, id, &attempt).await?;
                let paused_until = opened.map(|open| now_millis() + i64::try_from(open.as_millis()).unwrap_or(0));
                store::destination_failed(&mut tx, workspace, destination_id, &message, paused_until).await?;
                let ring = match (opened, audience) {
                    (Some(open), Some(audience)) => {
                        self.notify_paused(&mut tx, workspace, &destination, open, &message, audience).await?
                    }
                    _ => None,
                };
                tx.commit().await?;
                self.live.publish(ring.into_iter().collect()).await;
                metrics::counter!("tidings_automations_failed_total", "kind" => kind.as_str()).increment(1);
                Err(outcome)
            }
        }
    }

    /// Tells the workspace, in the bell, that a destination is paused.
    async fn notify_paused(
        &self,
        tx: &mut tidings_store::Tx,
        workspace: &WorkspaceId,
        destination: &DestinationRow,
        open: Duration,
        error: &str,
        audience: Audience,
    ) -> Result<Option<crate::inbox::live::LiveEvent>, AutomationsError> {
        let title = format!("{} is paused", destination.name);
        let body = format!(
            "Sending to {} failed {} times in a row, so Tidings pauses it for {} s and then tries again. Last error: {error}",
            destination.name,
            self.config.breaker_failures,
            open.as_secs()
        );
        let link = format!("{}/automations/destinations", self.public_url);
        let notice = Notice {
            kind: NotificationKind::DestinationPaused,
            title: &title,
            body: &body,
            link: Some(&link),
            delivery: None,
        };
        let fanned = self.fan_out(tx, workspace, &notice, Channel::InApp, audience).await?;
        tracing::warn!(destination = %destination.id, "destination paused by the circuit breaker");
        Ok(fanned.live_event(workspace))
    }

    /// What a delivery is about: its payload says (digests), or its event's trigger does.
    async fn notification_kind(
        &self,
        workspace: &WorkspaceId,
        delivery: &DeliveryRow,
        payload: &Payload,
    ) -> Result<NotificationKind, JobError> {
        if let Some(kind) = payload.kind {
            return Ok(kind);
        }
        let event = match &delivery.event_id {
            Some(event) => store::event(&self.db, workspace, event).await?,
            None => None,
        };
        let trigger = event.map(|e| e.trigger_kind);
        Ok(trigger.map_or(NotificationKind::Other, NotificationKind::of_trigger))
    }

    /// An in-app or "the team" email delivery: fanned out to the members who want it, in the
    /// transaction that marks the delivery delivered; open bells ring after the commit.
    async fn deliver_to_members(
        &self,
        workspace: &WorkspaceId,
        id: &DeliveryId,
        message: &Message,
        kind: NotificationKind,
        channel: Channel,
    ) -> Result<(), JobError> {
        let audience = self.audience(workspace, kind).await.map_err(JobError::retry)?;
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        if !log_store::start_attempt(&mut tx, workspace, id, false).await? {
            return Ok(());
        }
        let (title, body) = (message.subject(), message.plain_text());
        let body = body.strip_prefix(&title).map(str::trim_start).unwrap_or(&body).to_owned();
        let notice = Notice { kind, title: &title, body: &body, link: message.link(), delivery: Some(id) };
        let fanned = self.fan_out(&mut tx, workspace, &notice, channel, audience).await.map_err(JobError::retry)?;
        let outcome = AttemptOutcome {
            status: DeliveryStatus::Delivered,
            response_code: None,
            remote_id: None,
            error: None,
            latency_ms: Some(0),
        };
        log_store::finish_attempt(&mut tx, workspace, id, &outcome).await?;
        tx.commit().await?;
        self.live.publish(fanned.live_event(workspace).into_iter().collect()).await;
        Ok(())
    }

    pub(crate) async fn record(
        &self,
        workspace: &WorkspaceId,
        id: &DeliveryId,
        status: DeliveryStatus,
        error: Option<&str>,
    ) -> Result<(), JobError> {
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        let outcome = AttemptOutcome { status, response_code: None, remote_id: None, error, latency_ms: None };
        log_store::finish_attempt(&mut tx, workspace, id, &outcome).await?;
        tx.commit().await?;
        Ok(())
    }
}
