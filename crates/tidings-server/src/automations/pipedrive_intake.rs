//! The Pipedrive intake's group commit, as Messenger's intake does it (ADR 0020): a verified
//! delivery is acknowledged only once it is stored with its processing job, but committing each
//! alone costs a disk flush per webhook, which capped a connection at a few hundred deals a
//! second (docs/BENCHMARKS.md, "Automations delivery"). Instead a writer takes every delivery
//! waiting at that moment and commits them together, one transaction per workspace with one
//! processing job for its new events, then answers each caller. Under light load a batch is one
//! delivery and nothing waits; under load batches grow, and so does throughput.
//!
//! The webhook passwords the intake checks are kept in memory too (one vault read and
//! decryption per request otherwise); a connection's password never changes, and a
//! disconnected connection is refused by its row before its password is looked at.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use secrecy::SecretString;
use tidings_core::{CrmConnectionId, EventId, WorkspaceId};
use tidings_store::Engine;
use tokio::sync::{mpsc, oneshot};

use super::model::{EventSource, Trigger};
use super::pipedrive::Intake;
use super::store::{self, NewEvent};
use super::{Automations, AutomationsError};
use crate::channels::webhooks::take_batch;

/// The most deliveries committed together.
const MAX_BATCH: usize = 256;
/// The most events one processing job takes, so that several workers share a large batch.
const MAX_PER_JOB: usize = 64;
/// Writers on PostgreSQL, each on a connection of its own: while one commits (a round trip and a
/// WAL flush), the next gathers what arrived meanwhile. SQLite has one writer anyway.
const POSTGRES_WRITERS: u32 = 2;

/// A verified, parsed delivery waiting to be stored.
pub(crate) struct Pending {
    pub workspace: WorkspaceId,
    pub connection: CrmConnectionId,
    pub trigger: Trigger,
    pub dedup_key: String,
    pub payload: String,
    reply: Option<oneshot::Sender<Result<Intake, String>>>,
}

impl Pending {
    pub fn new(
        workspace: WorkspaceId,
        connection: CrmConnectionId,
        trigger: Trigger,
        dedup_key: String,
        payload: String,
    ) -> Self {
        Self { workspace, connection, trigger, dedup_key, payload, reply: None }
    }
}

/// What the intake keeps between requests: the writers' queue (started with the first delivery,
/// from within the runtime) and the connections' webhook passwords.
#[derive(Default)]
pub(crate) struct IntakeState {
    writer: OnceLock<mpsc::Sender<Pending>>,
    passwords: Mutex<HashMap<CrmConnectionId, SecretString>>,
}

impl IntakeState {
    fn passwords(&self) -> std::sync::MutexGuard<'_, HashMap<CrmConnectionId, SecretString>> {
        self.passwords.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn password(&self, id: &CrmConnectionId) -> Option<SecretString> {
        self.passwords().get(id).cloned()
    }

    pub fn remember_password(&self, id: &CrmConnectionId, password: SecretString) {
        self.passwords().insert(id.clone(), password);
    }

    pub fn forget_password(&self, id: &CrmConnectionId) {
        self.passwords().remove(id);
    }
}

impl Automations {
    /// Stores a delivery with its processing job (batched with whatever else is waiting) and
    /// returns once it is durable.
    pub(crate) async fn store_delivery(&self, mut pending: Pending) -> Result<Intake, AutomationsError> {
        let sender = self.pipedrive_intake.writer.get_or_init(|| self.start_writers());
        let (reply, answer) = oneshot::channel();
        pending.reply = Some(reply);
        let stopped = || AutomationsError::Unavailable("the Pipedrive intake has stopped".into());
        sender.send(pending).await.map_err(|_| stopped())?;
        match answer.await {
            Ok(Ok(intake)) => Ok(intake),
            Ok(Err(message)) => Err(AutomationsError::Unavailable(format!("the delivery was not stored: {message}"))),
            Err(_) => Err(stopped()),
        }
    }

    fn start_writers(&self) -> mpsc::Sender<Pending> {
        let (sender, receiver) = mpsc::channel(MAX_BATCH * 4);
        let writers = match self.db.engine() {
            Engine::Sqlite => 1,
            Engine::Postgres => POSTGRES_WRITERS,
        };
        // Connections of their own, so acknowledging Pipedrive never waits for the workers' pool.
        let mut writer = self.clone();
        writer.db = self.db.with_own_connections(writers);
        let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
        for _ in 0..writers {
            tokio::spawn(writer.clone().write_batches(receiver.clone()));
        }
        sender
    }

    /// One writer: takes every delivery waiting (up to [`MAX_BATCH`]) and commits them together.
    async fn write_batches(self, receiver: Arc<tokio::sync::Mutex<mpsc::Receiver<Pending>>>) {
        while let Some(batch) = take_batch(&receiver, MAX_BATCH).await {
            metrics::histogram!("tidings_pipedrive_batch_size").record(batch.len() as f64);
            let mut by_workspace: BTreeMap<WorkspaceId, Vec<Pending>> = BTreeMap::new();
            for pending in batch {
                by_workspace.entry(pending.workspace.clone()).or_default().push(pending);
            }
            for (workspace, deliveries) in by_workspace {
                let written = self.write_workspace(&workspace, &deliveries).await;
                if let Err(error) = &written {
                    tracing::error!(%error, deliveries = deliveries.len(), "Pipedrive deliveries not stored");
                }
                for (index, pending) in deliveries.into_iter().enumerate() {
                    let answer = match &written {
                        Ok(outcomes) => Ok(outcomes[index]),
                        Err(error) => Err(error.to_string()),
                    };
                    if let Some(reply) = pending.reply {
                        let _ = reply.send(answer);
                    }
                }
            }
        }
    }

    /// One workspace's deliveries in one transaction: each event (a redelivery, also one within
    /// the batch, is recognised by its dedup key and stored once) and the jobs to process them.
    async fn write_workspace(
        &self,
        workspace: &WorkspaceId,
        deliveries: &[Pending],
    ) -> Result<Vec<Intake>, AutomationsError> {
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        let mut outcomes = Vec::with_capacity(deliveries.len());
        let mut stored = Vec::new();
        for pending in deliveries {
            let id = EventId::generate();
            let new = NewEvent {
                id: &id,
                source: EventSource::Pipedrive,
                crm_connection_id: Some(&pending.connection),
                trigger: pending.trigger,
                dedup_key: &pending.dedup_key,
                payload: &pending.payload,
            };
            if store::insert_event(&mut tx, workspace, &new).await? {
                outcomes.push(Intake::Accepted);
                stored.push(id);
            } else {
                outcomes.push(Intake::Duplicate);
            }
        }
        for ids in stored.chunks(MAX_PER_JOB) {
            self.queue_processing(&mut tx, workspace, ids).await?;
        }
        tx.commit().await?;
        Ok(outcomes)
    }
}
