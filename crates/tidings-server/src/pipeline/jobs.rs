//! The `pipeline.analyse` job on the `ai` queue, and the subscriber that enqueues it: every
//! published batch of `ItemStored` events becomes one job with all its message ids, enqueued in
//! the transaction that stored them.

use serde::{Deserialize, Serialize};
use tidings_core::{MessageId, WorkspaceId};
use tidings_store::queue::{JobContext, JobError, JobPayload, NewJob, QueueError, Registry, names};

use super::service::{Mode, Pipeline, PipelineError};
use crate::events::{DomainEvent, Subscriber};

/// Analyse these newly stored items of a workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnalyseItems {
    pub workspace_id: WorkspaceId,
    pub messages: Vec<MessageId>,
}

impl JobPayload for AnalyseItems {
    const KIND: &'static str = "pipeline.analyse";
    const QUEUE: &'static str = names::AI;
}

/// Turns stored items into analysis jobs, one per published batch.
pub struct AnalysisSubscriber;

impl Subscriber for AnalysisSubscriber {
    fn jobs_for(&self, workspace: &WorkspaceId, events: &[DomainEvent]) -> Result<Vec<NewJob>, QueueError> {
        let messages: Vec<MessageId> = events
            .iter()
            .filter_map(|event| match event {
                DomainEvent::ItemStored { message, .. } => Some(message.clone()),
                _ => None,
            })
            .collect();
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        Ok(vec![NewJob::new(&AnalyseItems { workspace_id: workspace.clone(), messages })?])
    }
}

/// Registers the analysis job's handler.
pub fn register(registry: &mut Registry, pipeline: Pipeline) {
    registry.register(move |job: AnalyseItems, _context: JobContext| {
        let pipeline = pipeline.clone();
        async move {
            let report =
                pipeline.analyse(&job.workspace_id, &job.messages, Mode::New).await.map_err(|error| match error {
                    PipelineError::Store(_) | PipelineError::Queue(_) => JobError::retry(error),
                    other => JobError::fatal(other),
                })?;
            tracing::debug!(analysed = report.analysed, handoffs = report.handoffs, "items analysed");
            Ok(())
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use tidings_core::ConversationId;

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
        };
        assert!(AnalysisSubscriber.jobs_for(&workspace, &[analysed]).expect("none").is_empty());
    }
}
