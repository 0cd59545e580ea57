//! The sync itself: a `sync_to_crm` action becomes a delivery to a CRM connection, queued with
//! its `automations.deliver` job like any notification (the `outbound` queue's backoff,
//! `Retry-After`, dead letters, the log), and the job pushes it step by step.
//!
//! - **Batches.** The job claims its delivery and up to the CRM's batch limit of other queued
//!   syncs to the same connection (HubSpot: 100; the others: 1), marking them `sending` with
//!   `batch_id` = its delivery. A job whose delivery sits in another job's batch waits for it.
//! - **Each record once.** Every step's records (contact, then deal, then note) are stored in
//!   `crm_remote_records` before the next step starts. A retry skips the steps already recorded,
//!   so a contact is never created twice because its deal failed. A job interrupted between a
//!   call and its record finds its batch still `sending` and marks it `unconfirmed`, as
//!   notifications are (ADR 0012): retrying it from the log finishes the steps not recorded.
//! - **Rate limits.** A 429 holds the connection until its `Retry-After`; the breaker per
//!   connection pauses a failing CRM as it pauses a destination.
//! - **Refused credentials** mark the connection failing (with the CRM's answer) until a sync
//!   through it succeeds; Salesforce renews an expired session first when it has a refresh grant.
//! - **Erasure.** [`Automations::erase_contact_from_crms`] deletes a contact's records.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tidings_connectors::ConnectorError;
use tidings_connectors::Platform;
use tidings_connectors::crm::{CrmContact, CrmDeal, CrmNote, CrmPush, Lead, RemoteRecord, Step, StepItem};
use tidings_core::time::now_millis;
use tidings_core::{ContactId, ConversationId, CrmConnectionId, DeliveryId, EventId, RuleId, WorkspaceId};
use tidings_store::queue::{JobContext, JobError};

use super::store::{self, NewRemoteRecord, RemoteRecordRow};
use crate::automations::actions::SyncAction;
use crate::automations::delivery::status_of;
use crate::automations::model::{DeliveryStatus, Facts};
use crate::automations::store::deliveries::{self as log_store, AttemptOutcome, DeliveryRow, NewDelivery, Target};
use crate::automations::store::{self as automations_store, CrmConnectionRow};
use crate::automations::{Automations, AutomationsError};
use crate::inbox::store as inbox_store;

/// How long a job whose delivery is in another job's batch waits before looking again.
const BATCH_WAIT: Duration = Duration::from_secs(3);

/// What a sync delivery pushes, kept as its payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncOrder {
    /// The contact, a deal and a note, as they were when the rule matched.
    pub lead: Lead,
    /// The Tidings contact it came from: erasing them deletes the records.
    pub contact_id: Option<ContactId>,
    /// The conversation it came from.
    pub conversation_id: Option<String>,
}

/// The stored payload of a sync delivery.
#[derive(Serialize, Deserialize)]
struct Payload {
    sync: SyncOrder,
}

/// What erasing a contact from the CRMs did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CrmErasure {
    /// Records deleted (or found already gone).
    pub deleted: usize,
    /// Records whose CRM connection was removed since: delete them in the CRM by hand.
    pub unreachable: Vec<String>,
    /// Records a CRM refused or failed to delete, with the reason; trying again may work.
    pub failed: Vec<String>,
}

/// Why a batch stopped.
enum Stop {
    Remote(ConnectorError),
    Local(AutomationsError),
}

impl From<AutomationsError> for Stop {
    fn from(error: AutomationsError) -> Self {
        Stop::Local(error)
    }
}

impl From<tidings_store::StoreError> for Stop {
    fn from(error: tidings_store::StoreError) -> Self {
        Stop::Local(error.into())
    }
}

/// A record as the log and erasure name it: `contacts/512`.
fn named(record: &RemoteRecord) -> String {
    format!("{}/{}", record.object, record.id)
}

impl Automations {
    /// The lead a sync pushes for an event's conversation, with the objects the action asks for.
    pub(crate) async fn lead_for(
        &self,
        workspace: &WorkspaceId,
        action: &SyncAction,
        facts: &Facts,
    ) -> Result<SyncOrder, AutomationsError> {
        let item = facts.item.clone().unwrap_or_default();
        let conversation = match ConversationId::parse(&item.conversation_id) {
            Ok(id) => inbox_store::conversation(&self.db, workspace, &id).await?,
            Err(_) => None,
        };
        let display_name =
            conversation.as_ref().and_then(|c| c.contact_name.clone()).or(item.author.clone()).unwrap_or_default();
        let platform = Platform::parse(&item.platform).map(Platform::label).unwrap_or(item.platform.as_str());
        let contact = CrmContact {
            display_name: display_name.clone(),
            email: conversation.as_ref().and_then(|c| c.contact_email.clone()),
            phone: conversation.as_ref().and_then(|c| c.contact_phone.clone()),
            platform: Some(item.platform.clone()).filter(|p| !p.is_empty()),
            ..CrmContact::default()
        };
        let who = if display_name.is_empty() { "unknown contact".to_owned() } else { display_name };
        let deal =
            action.creates(Step::Deal).then(|| CrmDeal { title: format!("{platform} lead: {who}"), value: None });
        let note = action.creates(Step::Note).then(|| {
            let mut body = item.text.clone();
            if let Some(link) = &item.link {
                body.push_str(&format!("\n\nIn Tidings: {link}"));
            }
            CrmNote { subject: format!("{} on {platform}", facts.trigger.label()), body, at_ms: now_millis() }
        });
        Ok(SyncOrder {
            lead: Lead { contact, deal, note },
            contact_id: conversation.as_ref().and_then(|c| c.contact_id.clone()),
            conversation_id: Some(item.conversation_id).filter(|c| !c.is_empty()),
        })
    }

    /// Records a sync delivery and queues its job, in `tx`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn enqueue_sync(
        &self,
        tx: &mut tidings_store::Tx,
        workspace: &WorkspaceId,
        event: Option<&EventId>,
        rule: Option<&RuleId>,
        connection: &CrmConnectionId,
        order: SyncOrder,
        test: bool,
    ) -> Result<DeliveryId, AutomationsError> {
        let id = DeliveryId::generate();
        let payload = serde_json::to_string(&Payload { sync: order })
            .map_err(|e| AutomationsError::invalid("payload", e.to_string()))?;
        let new = NewDelivery {
            id: &id,
            event_id: event,
            rule_id: rule,
            target: Target::Crm(connection),
            test,
            payload: &payload,
        };
        log_store::insert_delivery(tx, workspace, &new).await?;
        self.queue_delivery(tx, workspace, &id).await?;
        Ok(id)
    }

    /// Runs a sync delivery's job (see the module doc).
    #[tracing::instrument(skip_all, fields(workspace_id = %workspace, delivery_id = %delivery.id))]
    pub(crate) async fn sync(
        &self,
        workspace: &WorkspaceId,
        delivery: DeliveryRow,
        context: &JobContext,
    ) -> Result<(), JobError> {
        let id = delivery.id.clone();
        let leads_own_batch = delivery.batch_id.as_ref() == Some(&delivery.id);
        match delivery.status {
            DeliveryStatus::Queued => {}
            DeliveryStatus::Sending if !leads_own_batch => {
                return Err(JobError::retry_after("pushed in another job's batch; waiting for it", BATCH_WAIT));
            }
            DeliveryStatus::Sending => return self.interrupted(workspace, &id).await,
            _ => return Ok(()),
        }
        let Some(connection_id) = delivery.crm_connection_id.clone() else {
            return Err(JobError::fatal("no CRM connection"));
        };
        let Some(connection) = automations_store::crm_connection(&self.db, workspace, &connection_id).await? else {
            return self.record(workspace, &id, DeliveryStatus::Failed, Some("the CRM connection was removed")).await;
        };
        if let Some(wait) = self.crm_holds.held(connection_id.as_str()) {
            return Err(JobError::retry_after(format!("{} asked to wait", connection.name), wait));
        }
        if let Err(wait) = self.breakers.check(connection_id.as_str()) {
            let message = format!("{} is paused after repeated failures", connection.name);
            if context.is_last_attempt() {
                self.record(workspace, &id, DeliveryStatus::Failed, Some(&message)).await?;
            }
            return Err(JobError::retry_after(message, wait));
        }
        let client = match self.crm_client(workspace, &connection).await {
            Ok(client) => client,
            Err(error @ (AutomationsError::Store(_) | AutomationsError::Vault(_))) => {
                return Err(JobError::retry(error));
            }
            Err(error) => {
                return self.record(workspace, &id, DeliveryStatus::Failed, Some(&error.to_string())).await;
            }
        };
        let limit = i64::try_from(client.batch_limit()).unwrap_or(1);
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        let batch = store::claim_batch(&mut tx, workspace, &id, &connection_id, limit).await?;
        let recorded = store::records_of_batch(&mut tx, workspace, &id).await?;
        tx.commit().await?;
        if !batch.iter().any(|d| d.id == delivery.id) {
            // Another job claimed it meanwhile: that job answers for it.
            return Ok(());
        }
        let clock = Instant::now();
        let pushed = self.push_batch(workspace, &connection, client.as_ref(), &batch, recorded).await;
        let latency = i64::try_from(clock.elapsed().as_millis()).unwrap_or(i64::MAX);
        self.finish_batch(workspace, &id, &connection, &batch, pushed, latency, context).await
    }

    /// Pushes a claimed batch step by step, storing each step's records before the next; returns
    /// what every delivery of the batch now has in the CRM.
    async fn push_batch(
        &self,
        workspace: &WorkspaceId,
        connection: &CrmConnectionRow,
        client: &dyn CrmPush,
        batch: &[DeliveryRow],
        recorded: Vec<RemoteRecordRow>,
    ) -> Result<HashMap<DeliveryId, Vec<RemoteRecord>>, Stop> {
        let crm = client.crm();
        let mut done: HashMap<(DeliveryId, Step), RemoteRecord> = recorded
            .into_iter()
            .filter_map(|r| {
                let step = Step::parse(&r.step)?;
                Some(((r.delivery_id, step), RemoteRecord { crm, object: r.object, id: r.remote_id }))
            })
            .collect();
        let orders: Vec<(&DeliveryRow, SyncOrder)> = batch
            .iter()
            .filter_map(|d| serde_json::from_str::<Payload>(&d.payload).ok().map(|p| (d, p.sync)))
            .collect();
        for step in Step::ALL {
            let pending: Vec<&(&DeliveryRow, SyncOrder)> = orders
                .iter()
                .filter(|(d, _)| !done.contains_key(&(d.id.clone(), step)))
                .filter(|(d, _)| step == Step::Contact || done.contains_key(&(d.id.clone(), Step::Contact)))
                .collect();
            for chunk in pending.chunks(client.batch_limit().max(1)) {
                let created = {
                    let items: Vec<StepItem<'_>> = chunk
                        .iter()
                        .map(|(d, order)| StepItem {
                            key: d.id.as_str(),
                            lead: &order.lead,
                            contact: done.get(&(d.id.clone(), Step::Contact)),
                            deal: done.get(&(d.id.clone(), Step::Deal)),
                        })
                        .collect();
                    client.push(step, &items).await.map_err(Stop::Remote)?
                };
                let mut tx = self.db.begin_for_tenant(workspace).await?;
                for ((delivery, order), record) in chunk.iter().zip(created) {
                    let Some(record) = record else { continue };
                    let new = NewRemoteRecord {
                        delivery_id: &delivery.id,
                        step,
                        connection_id: &connection.id,
                        provider: crm,
                        object: &record.object,
                        remote_id: &record.id,
                        contact_id: order.contact_id.as_ref(),
                        conversation_id: order.conversation_id.as_deref(),
                    };
                    store::insert_record(&mut tx, workspace, &new).await?;
                    done.insert((delivery.id.clone(), step), record);
                }
                tx.commit().await?;
            }
        }
        let mut created: HashMap<DeliveryId, Vec<RemoteRecord>> = HashMap::new();
        for step in Step::ALL {
            for ((delivery, s), record) in &done {
                if *s == step {
                    created.entry(delivery.clone()).or_default().push(record.clone());
                }
            }
        }
        Ok(created)
    }

    /// Records how a batch ended: delivered, or back to `queued` for a retry (each delivery's own
    /// job takes it up again), or failed for good.
    #[allow(clippy::too_many_arguments)]
    async fn finish_batch(
        &self,
        workspace: &WorkspaceId,
        leader: &DeliveryId,
        connection: &CrmConnectionRow,
        batch: &[DeliveryRow],
        pushed: Result<HashMap<DeliveryId, Vec<RemoteRecord>>, Stop>,
        latency: i64,
        context: &JobContext,
    ) -> Result<(), JobError> {
        let crm = connection.provider.as_str();
        let created = match pushed {
            Ok(created) => created,
            Err(Stop::Local(error)) => {
                // Nothing to blame the CRM for: the batch goes back to the queue as it is.
                let message = error.to_string();
                let outcome = AttemptOutcome {
                    status: DeliveryStatus::Queued,
                    response_code: None,
                    remote_id: None,
                    error: Some(&message),
                    latency_ms: Some(latency),
                };
                let mut tx = self.db.begin_for_tenant(workspace).await?;
                for delivery in batch {
                    log_store::finish_attempt(&mut tx, workspace, &delivery.id, &outcome).await?;
                }
                tx.commit().await?;
                return Err(JobError::retry(error));
            }
            Err(Stop::Remote(error)) => {
                return self.batch_failed(workspace, leader, connection, batch, &error, latency, context).await;
            }
        };
        self.breakers.record_success(connection.id.as_str());
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        if connection.failing_since.is_some() {
            store::mark_working(&mut tx, workspace, &connection.id).await?;
        }
        for delivery in batch {
            let records = created.get(&delivery.id).map(|r| r.iter().map(named).collect::<Vec<_>>().join(" "));
            let outcome = AttemptOutcome {
                status: DeliveryStatus::Delivered,
                response_code: None,
                remote_id: records.as_deref(),
                error: None,
                latency_ms: Some(latency),
            };
            log_store::finish_attempt(&mut tx, workspace, &delivery.id, &outcome).await?;
        }
        tx.commit().await?;
        metrics::counter!("tidings_automations_crm_synced_total", "crm" => crm.to_owned())
            .increment(batch.len() as u64);
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn batch_failed(
        &self,
        workspace: &WorkspaceId,
        leader: &DeliveryId,
        connection: &CrmConnectionRow,
        batch: &[DeliveryRow],
        error: &ConnectorError,
        latency: i64,
        context: &JobContext,
    ) -> Result<(), JobError> {
        let message = error.to_string();
        let transient = error.is_transient();
        let answer = match error {
            ConnectorError::RateLimited { retry_after: Some(after), .. } => {
                self.crm_holds.hold(connection.id.as_str(), *after);
                JobError::retry_after(&message, *after)
            }
            _ if transient => JobError::retry(&message),
            _ => JobError::fatal(&message),
        };
        if transient {
            self.breakers.record_failure(connection.id.as_str());
        }
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        // Refused credentials (an expired session that could not be renewed) fail every sync
        // until someone connects again: the connection says so on the CRM page.
        if let ConnectorError::Unauthorized { .. } = error {
            store::mark_failing(&mut tx, workspace, &connection.id, &message).await?;
        }
        for delivery in batch {
            // Other deliveries of the batch still have their own job, which retries them.
            let last = !transient || (delivery.id == *leader && context.is_last_attempt());
            let status = if last { DeliveryStatus::Failed } else { DeliveryStatus::Queued };
            let outcome = AttemptOutcome {
                status,
                response_code: status_of(error),
                remote_id: None,
                error: Some(&message),
                latency_ms: Some(latency),
            };
            log_store::finish_attempt(&mut tx, workspace, &delivery.id, &outcome).await?;
        }
        tx.commit().await?;
        metrics::counter!("tidings_automations_failed_total", "kind" => connection.provider.as_str()).increment(1);
        Err(answer)
    }

    /// The job of a batch's leader ran again while its batch was `sending`: it was interrupted
    /// between a call and its record. What was recorded stays; the rest may or may not have
    /// reached the CRM, so the batch is `unconfirmed` until a person retries it from the log.
    async fn interrupted(&self, workspace: &WorkspaceId, leader: &DeliveryId) -> Result<(), JobError> {
        let message = "interrupted while syncing: the records created so far are kept; retry it from the log to \
                       finish the rest";
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        for delivery in store::unfinished_batch(&mut tx, workspace, leader).await? {
            let outcome = AttemptOutcome {
                status: DeliveryStatus::Unconfirmed,
                response_code: None,
                remote_id: None,
                error: Some(message),
                latency_ms: None,
            };
            log_store::finish_attempt(&mut tx, workspace, &delivery.id, &outcome).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes every record Tidings created in a CRM for `contact` (notes and deals first, then
    /// the contact), through each connection's [`CrmPush::delete`]; what was deleted is marked
    /// so. For the privacy capability's erasure; safe to call again.
    #[tracing::instrument(skip_all, fields(workspace_id = %workspace, contact_id = %contact))]
    pub async fn erase_contact_from_crms(
        &self,
        workspace: &WorkspaceId,
        contact: &ContactId,
    ) -> Result<CrmErasure, AutomationsError> {
        let mut rows = store::records_of_contact(&self.db, workspace, contact).await?;
        // Several deliveries may name one remote contact (HubSpot upserts by email): delete it once.
        rows.sort_by_key(|r| (Step::parse(&r.step).map(|s| std::cmp::Reverse(s as u8)), r.remote_id.clone()));
        rows.dedup_by(|a, b| (&a.provider, &a.object, &a.remote_id) == (&b.provider, &b.object, &b.remote_id));
        let mut clients: HashMap<CrmConnectionId, Box<dyn CrmPush>> = HashMap::new();
        let mut report = CrmErasure::default();
        for row in rows {
            let crm = row.provider;
            let record = RemoteRecord { crm, object: row.object.clone(), id: row.remote_id.clone() };
            let connection = match &row.crm_connection_id {
                Some(id) => automations_store::crm_connection(&self.db, workspace, id).await?,
                None => None,
            };
            let Some(connection) = connection else {
                report.unreachable.push(format!("{} {}", crm.label(), named(&record)));
                continue;
            };
            if !clients.contains_key(&connection.id) {
                clients.insert(connection.id.clone(), self.crm_client(workspace, &connection).await?);
            }
            let client = &clients[&connection.id];
            match client.delete(&record).await {
                Ok(()) => {
                    let mut tx = self.db.begin_for_tenant(workspace).await?;
                    store::mark_deleted(&mut tx, workspace, row.provider.as_str(), &row.object, &row.remote_id).await?;
                    tx.commit().await?;
                    report.deleted += 1;
                }
                Err(error) => report.failed.push(format!("{} {}: {error}", crm.label(), named(&record))),
            }
        }
        Ok(report)
    }
}
