//! Analysing stored items: load a batch with its threads, run the local agents on a blocking
//! thread, and store everything in one transaction — the analyses, the messages' and
//! conversations' sentiment and language, the lead tag, the hand-off — together with the
//! `ItemAnalysed` events others react to. Used by the `pipeline.analyse` job and by replay.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use tidings_core::{ConnectionId, ConversationId, MessageId, WorkspaceId};
use tidings_nlp::lead::{CompiledLeadRules, LeadRules};
use tidings_nlp::pipeline::Config;
use tidings_store::queue::QueueError;
use tidings_store::{Db, StoreError};
use tokio::sync::Semaphore;

use super::analyse::{self, Outcome};
use super::leads;
use super::replies::store as replies_store;
use super::store::{self, NewAnalysis};
use crate::AppState;
use crate::events::{DomainEvent, Events};
use crate::inbox::live::{Live, LiveEvent};

/// Items analysed per transaction.
pub const BATCH: usize = 500;

/// Why the pipeline could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// No such resource in the workspace.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A field is invalid.
    #[error("{field}: {message}")]
    Validation { field: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// The analysis thread failed (it never should: each step falls back on its own).
    #[error("the analysis could not run: {0}")]
    Internal(String),
}

impl PipelineError {
    /// A validation error naming its field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation { field: field.into(), message: message.into() }
    }
}

/// First analysis of new items, or a replay of stored ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Items just stored: already analysed ones are skipped (a retried job does nothing twice),
    /// hand-offs apply and `ItemAnalysed` is published.
    New,
    /// Stored items again (after a change of rules or of Tidings): every one is re-analysed and
    /// its analysis replaced, but nothing is handed off and nothing announced, so no automatic
    /// reply or automation fires for old messages. Tags set by hand stay.
    Replay,
}

/// What a run did, and what changed compared with the stored analyses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Items analysed.
    pub analysed: u64,
    /// Items skipped (analysed already, or not inbound).
    pub skipped: u64,
    /// Items whose sentiment label differs from the stored one (first analyses not counted).
    pub sentiment_changed: u64,
    /// Messages whose lead tag differs from the stored one (first analyses not counted).
    pub lead_tag_changed: u64,
    /// Sentiment changes by transition, e.g. `neutral → negative`.
    pub sentiment_transitions: BTreeMap<String, u64>,
    /// Lead tag changes by transition, e.g. `WARM → HOT`.
    pub lead_tag_transitions: BTreeMap<String, u64>,
    /// Conversations handed to a person.
    pub handoffs: u64,
    /// Items on which a step fell back (flagged).
    pub flagged: u64,
}

impl Report {
    pub(super) fn add(&mut self, other: Report) {
        self.analysed += other.analysed;
        self.skipped += other.skipped;
        self.sentiment_changed += other.sentiment_changed;
        self.lead_tag_changed += other.lead_tag_changed;
        self.handoffs += other.handoffs;
        self.flagged += other.flagged;
        for (key, count) in other.sentiment_transitions {
            *self.sentiment_transitions.entry(key).or_default() += count;
        }
        for (key, count) in other.lead_tag_transitions {
            *self.lead_tag_transitions.entry(key).or_default() += count;
        }
    }
}

/// The analysis pipeline of one process. Cheap to clone.
#[derive(Clone)]
pub struct Pipeline {
    db: Db,
    events: Events,
    live: Live,
    /// Batches analysed at once: one per core, so analysis (CPU-bound) never takes every core
    /// from webhook intake however many `ai` jobs run.
    cpu: Arc<Semaphore>,
}

impl Pipeline {
    /// The pipeline over `db`, announcing through `events` and `live`.
    pub fn new(db: Db, events: Events, live: Live) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self { db, events, live, cpu: Arc::new(Semaphore::new(cores)) }
    }

    /// The pipeline of the application's state.
    pub fn of(state: &AppState) -> Self {
        Self::new(state.db.clone(), state.events.clone(), state.live().clone())
    }

    pub(super) fn db(&self) -> &Db {
        &self.db
    }

    pub(super) fn live(&self) -> &Live {
        &self.live
    }

    /// The workspace's lead rules: its own, or the seed's defaults.
    pub async fn lead_rules(&self, workspace: &WorkspaceId) -> Result<(LeadRules, Option<i64>), PipelineError> {
        Ok(match store::lead_rules(&self.db, workspace).await? {
            Some((json, updated_at)) => match leads::parse(workspace, &json) {
                Some(rules) => (rules, Some(updated_at)),
                None => (LeadRules::default(), None),
            },
            None => (LeadRules::default(), None),
        })
    }

    /// The local pipeline's settings for the workspace: its lead rules, and the products of its
    /// knowledge base (recognised as entities, and as product questions when scoring leads).
    /// One query per job: the rules compiled and the names read are kept per process until the
    /// stored rules or the knowledge version change (`leads`).
    pub async fn config(&self, workspace: &WorkspaceId) -> Result<Config, PipelineError> {
        let (version, rules) = store::analysis_settings(&self.db, workspace).await?.unwrap_or_default();
        let lead_rules = match rules {
            Some(json) => leads::compiled(workspace, &json),
            None => CompiledLeadRules::default(),
        };
        let products = match leads::products(workspace, version) {
            Some(names) => names,
            None => {
                let names = replies_store::product_names(&self.db, workspace).await?;
                leads::remember_products(workspace, version, &names);
                names
            }
        };
        Ok(Config { lead_rules, products, ..Config::default() })
    }

    /// Analyses the workspace's items `ids` (outbound ones are skipped) in batches of [`BATCH`].
    #[tracing::instrument(skip_all, fields(workspace_id = %workspace, items = ids.len(), ?mode))]
    pub async fn analyse(
        &self,
        workspace: &WorkspaceId,
        ids: &[MessageId],
        mode: Mode,
    ) -> Result<Report, PipelineError> {
        let config = self.config(workspace).await?;
        let mut report = Report::default();
        for chunk in ids.chunks(BATCH) {
            report.add(self.analyse_batch(workspace, chunk, mode, &config).await?);
        }
        Ok(report)
    }

    pub(super) async fn analyse_batch(
        &self,
        workspace: &WorkspaceId,
        ids: &[MessageId],
        mode: Mode,
        config: &Config,
    ) -> Result<Report, PipelineError> {
        let mut report = Report::default();
        let found = store::items(&self.db, workspace, ids).await?;
        let items: Vec<_> = found.into_iter().filter(|item| mode == Mode::Replay || !item.analysed).collect();
        report.skipped = (ids.len() - items.len()) as u64;
        if items.is_empty() {
            return Ok(report);
        }
        let conversations: BTreeSet<&str> = items.iter().map(|i| i.conversation_id.as_str()).collect();
        let conversations: Vec<&str> = conversations.into_iter().collect();
        let context = store::context(&self.db, workspace, &conversations).await?;
        let prepared = analyse::prepare(items, &context);
        let config = config.clone();
        // Milliseconds of CPU per batch: off the async workers, one batch per core at most.
        let permit = self.cpu.acquire().await.map_err(|error| PipelineError::Internal(error.to_string()))?;
        // The stored form (JSON included) is built on the blocking thread too, once per item.
        let (outcomes, records) = tokio::task::spawn_blocking(move || {
            let outcomes: Vec<Outcome> = prepared.into_iter().map(|p| analyse::run(p, &config)).collect();
            let records: Vec<analyse::Record> = outcomes.iter().map(Outcome::record).collect();
            (outcomes, records)
        })
        .await
        .map_err(|error| PipelineError::Internal(error.to_string()))?;
        drop(permit);
        let rows: Vec<NewAnalysis<'_>> = records.iter().zip(&outcomes).map(|(r, o)| r.row(o)).collect();
        // Read before the transaction: on PostgreSQL readers and writers share one pool, and a
        // transaction waiting for a second connection can starve with many jobs at once.
        let answering = match mode {
            Mode::New => replies_store::auto_reply_connections(&self.db, workspace).await?,
            Mode::Replay => Vec::new(),
        };
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        store::save(&mut tx, workspace, &rows).await?;
        // Per conversation: its newest item of the batch, and every reason to hand it off.
        let mut newest: BTreeMap<&str, (usize, Vec<String>)> = BTreeMap::new();
        for (at, (outcome, record)) in outcomes.iter().zip(&records).enumerate() {
            count(&mut report, outcome, record);
            // Oldest first, so the last one seen is the newest.
            let entry = newest.entry(outcome.item.conversation_id.as_str()).or_insert((at, Vec::new()));
            entry.0 = at;
            entry.1.extend(outcome.handoff_reason());
        }
        let mut changed = Vec::new();
        for (conversation, (at, reasons)) in &newest {
            let outcome = &outcomes[*at];
            let mut shown = store::show_on_conversation(&mut tx, workspace, &rows[*at]).await?;
            if mode == Mode::New && !reasons.is_empty() {
                let reason = reasons.join("; ");
                let item = &outcome.item;
                if store::hand_off(&mut tx, workspace, conversation, item.id.as_str(), item.sent_at, &reason).await? {
                    report.handoffs += 1;
                    shown = true;
                }
            }
            if shown && let Ok(id) = ConversationId::parse(conversation) {
                changed.push(LiveEvent::new(workspace, "conversation.updated", &id));
            }
        }
        if mode == Mode::New {
            let events: Vec<DomainEvent> = outcomes.iter().filter_map(|o| analysed_event(o, &answering)).collect();
            self.events.publish_in(&mut tx, workspace, &events).await?;
        }
        tx.commit().await?;
        metrics::counter!("tidings_pipeline_items_analysed_total").increment(report.analysed);
        if report.handoffs > 0 {
            metrics::counter!("tidings_pipeline_handoffs_total").increment(report.handoffs);
        }
        self.live.publish(changed).await;
        Ok(report)
    }
}

/// Counts an outcome in the report, with what changed since the stored analysis.
fn count(report: &mut Report, outcome: &Outcome, record: &analyse::Record) {
    report.analysed += 1;
    if !outcome.analysis.flags.is_empty() {
        report.flagged += 1;
    }
    if let Some(before) = outcome.item.previous_sentiment.as_deref()
        && before != record.sentiment
    {
        report.sentiment_changed += 1;
        *report.sentiment_transitions.entry(format!("{before} → {}", record.sentiment)).or_default() += 1;
    }
    if outcome.item.analysed
        && outcome.item.previous_lead_tag != record.lead_tag
        && let (Some(before), Some(after)) = (&outcome.item.previous_lead_tag, &record.lead_tag)
    {
        report.lead_tag_changed += 1;
        *report.lead_tag_transitions.entry(format!("{before} → {after}")).or_default() += 1;
    }
}

/// `answering`: the workspace's connections with auto-reply on.
fn analysed_event(outcome: &Outcome, answering: &[ConnectionId]) -> Option<DomainEvent> {
    Some(DomainEvent::ItemAnalysed {
        conversation: outcome.item.conversation_id.clone(),
        message: outcome.item.id.clone(),
        sentiment: outcome.sentiment().sentiment,
        lead_tag: outcome.lead_tag(),
        handoff_reason: outcome.handoff_reason(),
        auto_reply: outcome.item.connection_id.as_ref().is_some_and(|c| answering.contains(c)),
    })
}
