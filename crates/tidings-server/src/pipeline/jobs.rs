//! The `pipeline.analyse` job on the `ai` queue, and the subscriber that enqueues it: every
//! published batch of `ItemStored` events becomes one job with all its message ids, enqueued in
//! the transaction that stored them; edited reviews (`ItemEdited`) become a second job that
//! analyses them again as a replay does (the analysis is replaced; nothing is handed off or
//! announced, so no automatic reply or automation fires twice for one review).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tidings_core::{MessageId, WorkspaceId};
use tidings_store::queue::{JobContext, JobError, JobPayload, NewJob, QueueError, Registry, names};

use super::service::{Mode, Pipeline, PipelineError};
use crate::events::{DomainEvent, Subscriber};

/// Analyse these items of a workspace: newly stored, or edited on the platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnalyseItems {
    pub workspace_id: WorkspaceId,
    pub messages: Vec<MessageId>,
    /// The items were analysed before and their text changed (absent in jobs queued before
    /// edits were re-analysed).
    #[serde(default)]
    pub edited: bool,
}

impl JobPayload for AnalyseItems {
    const KIND: &'static str = "pipeline.analyse";
    const QUEUE: &'static str = names::AI;
}

/// Turns stored items into analysis jobs, one per published batch.
pub struct AnalysisSubscriber;

impl Subscriber for AnalysisSubscriber {
    fn jobs_for(&self, workspace: &WorkspaceId, events: &[DomainEvent]) -> Result<Vec<NewJob>, QueueError> {
        let (mut stored, mut edited) = (Vec::new(), Vec::new());
        for event in events {
            match event {
                DomainEvent::ItemStored { message, .. } => stored.push(message.clone()),
                DomainEvent::ItemEdited { message, .. } => edited.push(message.clone()),
                _ => {}
            }
        }
        [(stored, false), (edited, true)]
            .into_iter()
            .filter(|(messages, _)| !messages.is_empty())
            .map(|(messages, edited)| NewJob::new(&AnalyseItems { workspace_id: workspace.clone(), messages, edited }))
            .collect()
    }
}

/// Analysis jobs one handler call takes from a claim: their items are analysed together, a
/// transaction per [`super::service::BATCH`] items rather than one per job (on SQLite, whose one
/// writer the webhook intake shares, each commit counts).
const JOBS_PER_CALL: usize = 32;

/// Registers the analysis job's handler.
pub fn register(registry: &mut Registry, pipeline: Pipeline) {
    registry.register_batch(JOBS_PER_CALL, move |jobs: Vec<(AnalyseItems, JobContext)>| {
        let pipeline = pipeline.clone();
        async move {
            for ((workspace, edited), messages) in by_workspace_and_mode(jobs) {
                let mode = if edited { Mode::Replay } else { Mode::New };
                let report = pipeline.analyse(&workspace, &messages, mode).await.map_err(|error| match error {
                    PipelineError::Store(_) | PipelineError::Queue(_) => JobError::retry(error),
                    other => JobError::fatal(other),
                })?;
                tracing::debug!(analysed = report.analysed, handoffs = report.handoffs, "items analysed");
            }
            Ok(())
        }
    });
}

/// The items of a claim's jobs, by workspace and by whether they were edited, in claim order.
fn by_workspace_and_mode(jobs: Vec<(AnalyseItems, JobContext)>) -> BTreeMap<(WorkspaceId, bool), Vec<MessageId>> {
    let mut groups: BTreeMap<(WorkspaceId, bool), Vec<MessageId>> = BTreeMap::new();
    for (job, _) in jobs {
        groups.entry((job.workspace_id, job.edited)).or_default().extend(job.messages);
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use tidings_core::ConversationId;

    #[test]
    fn edited_reviews_are_analysed_again_in_a_job_of_their_own() {
        let workspace = WorkspaceId::generate();
        let stored =
            DomainEvent::ItemStored { conversation: ConversationId::generate(), message: MessageId::generate() };
        let edited =
            DomainEvent::ItemEdited { conversation: ConversationId::generate(), message: MessageId::generate() };
        assert_eq!(AnalysisSubscriber.jobs_for(&workspace, &[stored, edited.clone()]).expect("jobs").len(), 2);
        assert_eq!(AnalysisSubscriber.jobs_for(&workspace, &[edited]).expect("jobs").len(), 1);
    }

    #[test]
    fn a_claims_jobs_are_analysed_together_by_workspace_and_mode() {
        let (north, south) = (WorkspaceId::generate(), WorkspaceId::generate());
        let ids: Vec<MessageId> = (0..4).map(|_| MessageId::generate()).collect();
        let job = |workspace: &WorkspaceId, messages: &[MessageId], edited: bool| {
            let context = JobContext {
                id: tidings_core::JobId::generate(),
                attempt: 1,
                max_attempts: 3,
                workspace_id: Some(workspace.clone()),
                unique_key: None,
                shutdown: tokio_util::sync::CancellationToken::new(),
            };
            (AnalyseItems { workspace_id: workspace.clone(), messages: messages.to_vec(), edited }, context)
        };
        let groups = by_workspace_and_mode(vec![
            job(&north, &ids[0..1], false),
            job(&south, &ids[1..2], false),
            job(&north, &ids[2..3], true),
            job(&north, &ids[3..4], false),
        ]);
        assert_eq!(groups.len(), 3);
        assert_eq!(groups[&(north.clone(), false)], [ids[0].clone(), ids[3].clone()]);
        assert_eq!(groups[&(north, true)], [ids[2].clone()], "edits are analysed again apart from new items");
        assert_eq!(groups[&(south, false)], [ids[1].clone()]);
    }

    #[test]
    fn one_job_per_published_batch_and_none_without_stored_items() {
        let workspace = WorkspaceId::generate();
        let stored = |message: &MessageId| DomainEvent::ItemStored {
            conversation: ConversationId::generate(),
            message: message.clone(),
        };
        let ids = [MessageId::generate(), MessageId::generate()];
        let jobs = AnalysisSubscriber.jobs_for(&workspace, &[stored(&ids[0]), stored(&ids[1])]).expect("jobs");
        assert_eq!(jobs.len(), 1);
        let analysed = DomainEvent::ItemAnalysed {
            conversation: ConversationId::generate(),
            message: ids[0].clone(),
            sentiment: tidings_nlp::sentiment::Sentiment::Neutral,
            lead_tag: None,
            handoff_reason: None,
            auto_reply: false,
        };
        assert!(AnalysisSubscriber.jobs_for(&workspace, &[analysed]).expect("none").is_empty());
    }
}
