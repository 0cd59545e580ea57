//! Auto-reply (replyforce §3.1 from agent 5 on, §8.3): when the pipeline has analysed an inbound
//! message of a connection with auto-reply on, a draft is generated in the brand voice's tone,
//! passed through the output guardrail and decided on (agent 7). Sent automatically, it goes
//! through the inbox's reply path, so the `outbound` queue's rate limits and never-twice guarantee
//! apply; below the connection's threshold it stays as a draft for the team; on a handoff
//! trigger the conversation becomes `needs_human` and the holding message, if configured, goes
//! out. Every outcome is recorded with its reasons (`ai_reply_log`): that is how replies are
//! marked as automatic.
//!
//! The subscriber turns `ItemAnalysed` into one `ai.auto_reply` job per message of a connection
//! that had auto-reply on when the message was analysed (the pipeline reads which do, once per
//! batch, and says so in the event); the job claims
//! the message first, so it acts at most once even if it is retried.

use serde::{Deserialize, Serialize};
use tidings_core::{ConversationId, MessageId, WorkspaceId};
use tidings_nlp::compose::Tone;
use tidings_nlp::decision::Action;
use tidings_nlp::pipeline::{self, ReplyState};
use tidings_store::queue::{JobContext, JobError, JobPayload, NewJob, QueueError, Registry, names};

use super::hours::BusinessHours;
use super::service::{Replies, RepliesError};
use super::store::{self, Outcome};
use crate::access::Caller;
use crate::events::{DomainEvent, Subscriber};
use crate::inbox::model::ConversationStatus;
use crate::inbox::service::{InboxError, ReplyRequest};
use crate::inbox::window::SendAs;

/// Answer one analysed message automatically, if its connection wants it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoReply {
    pub conversation: ConversationId,
    pub message: MessageId,
    /// The analysis already handed the conversation to a person, for this reason.
    pub handoff_reason: Option<String>,
}

impl JobPayload for AutoReply {
    const KIND: &'static str = "ai.auto_reply";
    const QUEUE: &'static str = names::AI;
}

/// Subscribes auto-reply to analysed items.
pub struct AutoReplySubscriber;

impl Subscriber for AutoReplySubscriber {
    fn jobs_for(&self, _workspace: &WorkspaceId, events: &[DomainEvent]) -> Result<Vec<NewJob>, QueueError> {
        events
            .iter()
            .filter_map(|event| match event {
                DomainEvent::ItemAnalysed { conversation, message, handoff_reason, auto_reply: true, .. } => {
                    Some(AutoReply {
                        conversation: conversation.clone(),
                        message: message.clone(),
                        handoff_reason: handoff_reason.clone(),
                    })
                }
                _ => None,
            })
            .map(|job| -> Result<NewJob, QueueError> {
                Ok(NewJob::new(&job)?.unique_key(format!("ai.auto_reply:{}", job.message)))
            })
            .collect()
    }
}

/// Registers the `ai.auto_reply` handler.
pub fn register(registry: &mut Registry, replies: Replies) {
    registry.register(move |job: AutoReply, context: JobContext| {
        let replies = replies.clone();
        async move {
            let Some(workspace) = context.workspace_id.clone() else {
                return Err(JobError::fatal("ai.auto_reply without a workspace"));
            };
            match replies.auto_reply_to(&workspace, &job).await {
                Ok(_) => Ok(()),
                Err(error) => {
                    tracing::warn!(%workspace, message = %job.message, %error, "auto-reply failed");
                    Err(JobError::retry(error))
                }
            }
        }
    });
}

/// What auto-reply did, for the job's caller and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// The connection has auto-reply off, the message was handled before, or a newer one came.
    Ignored,
    /// Recorded with this action (`auto_sent`, `drafted`, `handed_off`, `skipped`).
    Done(&'static str),
}

impl Replies {
    /// Runs auto-reply for one analysed message.
    #[tracing::instrument(skip_all, fields(workspace_id = %workspace, message_id = %job.message))]
    pub async fn auto_reply_to(&self, workspace: &WorkspaceId, job: &AutoReply) -> Result<Handled, RepliesError> {
        let conversation = match self.inbox.conversation(workspace, &job.conversation).await {
            Ok(conversation) => conversation,
            Err(InboxError::NotFound(_)) => return Ok(Handled::Ignored),
            Err(error) => return Err(error.into()),
        };
        let Some(connection) = conversation.connection_id.clone() else { return Ok(Handled::Ignored) };
        let Some(settings) = store::auto_reply(&self.db, workspace, &connection).await? else {
            return Ok(Handled::Ignored);
        };
        if !settings.enabled {
            return Ok(Handled::Ignored);
        }
        if !store::claim_message(&self.db, workspace, &job.message, &job.conversation, Some(connection.as_str()))
            .await?
        {
            return Ok(Handled::Ignored);
        }
        let (_, time_zone) = self.connection_zone(workspace, connection.as_str()).await?;
        let hours: Option<BusinessHours> =
            settings.business_hours.as_deref().and_then(|h| serde_json::from_str(h).ok());
        let in_hours = hours.is_none_or(|h| h.is_open(chrono::Utc::now(), &time_zone));
        let ai_settings = store::settings(&self.db, workspace).await?;
        if let Some(reason) = &job.handoff_reason {
            let reasons = serde_json::json!([{ "trigger": "analysis", "reason": reason }]).to_string();
            return self.hand_off(workspace, job, &ai_settings.holding_message, &reasons, None, None).await;
        }
        let context = self.context(workspace, job.conversation.as_str()).await?;
        if context.message.id != job.message {
            let reasons = r#"[{"trigger":"newer_message"}]"#;
            return self.finish(workspace, job, "skipped", reasons, None, None, None).await;
        }
        let tone = Tone::parse(&ai_settings.tone).unwrap_or(Tone::Professional);
        let generated = self.draft(workspace, &context, &[tone], None).await?;
        let best = generated.responses.first();
        let threshold = settings.threshold_percent as f32 / 100.0;
        let decision = pipeline::decide(
            &context.input,
            &context.analysis,
            &ReplyState {
                confidence: best.map(|d| d.confidence),
                passed: best.is_some_and(|d| d.passed),
                unresolved_messages: context.unresolved,
                breaker_open: generated.fallback_reason.as_deref() == Some("breaker_open"),
                auto_reply_on: in_hours,
                auto_send_threshold: threshold,
            },
        );
        let reasons = serde_json::to_string(&decision.reasons).unwrap_or_else(|_| "[]".into());
        let confidence = best.map(|d| (d.confidence * 100.0).round() as i64);
        let source = Some(generated.source.as_str());
        match (decision.action, best) {
            (Action::AutoSend, Some(draft)) => match self.send(workspace, job, &draft.text, true).await? {
                Ok(response) => {
                    self.finish(workspace, job, "auto_sent", &reasons, confidence, source, Some(&response)).await
                }
                Err(refused) => {
                    let reasons = serde_json::json!([{ "trigger": "refused", "message": refused }]).to_string();
                    self.finish(workspace, job, "skipped", &reasons, confidence, source, None).await
                }
            },
            (Action::Handoff, _) => {
                self.hand_off(workspace, job, &ai_settings.holding_message, &reasons, confidence, source).await
            }
            (_, Some(draft)) => {
                let response = self.send(workspace, job, &draft.text, false).await?.ok();
                self.finish(workspace, job, "drafted", &reasons, confidence, source, response.as_deref()).await
            }
            (_, None) => self.finish(workspace, job, "skipped", &reasons, confidence, source, None).await,
        }
    }

    /// Writes a reply through the inbox (posted, or kept as a draft); `Ok(Err(why))` when the
    /// inbox refuses it (the messaging window is closed).
    async fn send(
        &self,
        workspace: &WorkspaceId,
        job: &AutoReply,
        text: &str,
        post: bool,
    ) -> Result<Result<String, String>, RepliesError> {
        let request = ReplyRequest { author: None, text, post_to_platform: post, send_as: &SendAs::Text };
        match self.inbox.reply(workspace, &job.conversation, &request).await {
            Ok(response) => Ok(Ok(response.id.into())),
            Err(error @ (InboxError::WindowClosed(_) | InboxError::Validation { .. })) => Ok(Err(error.to_string())),
            Err(error) => Err(error.into()),
        }
    }

    async fn hand_off(
        &self,
        workspace: &WorkspaceId,
        job: &AutoReply,
        holding_message: &Option<String>,
        reasons: &str,
        confidence: Option<i64>,
        source: Option<&str>,
    ) -> Result<Handled, RepliesError> {
        let holding = match holding_message {
            Some(text) => self.send(workspace, job, text, true).await?.ok(),
            None => None,
        };
        self.inbox
            .set_status(&Caller::system(workspace), &job.conversation, ConversationStatus::NeedsHuman, None)
            .await?;
        let outcome = Outcome {
            action: "handed_off",
            reasons,
            confidence_percent: confidence,
            source,
            response_id: None,
            holding_response_id: holding.as_deref(),
        };
        store::record_outcome(&self.db, workspace, &job.message, &outcome).await?;
        Ok(Handled::Done("handed_off"))
    }

    #[allow(clippy::too_many_arguments)]
    async fn finish(
        &self,
        workspace: &WorkspaceId,
        job: &AutoReply,
        action: &'static str,
        reasons: &str,
        confidence: Option<i64>,
        source: Option<&str>,
        response: Option<&str>,
    ) -> Result<Handled, RepliesError> {
        let outcome = Outcome {
            action,
            reasons,
            confidence_percent: confidence,
            source,
            response_id: response,
            holding_response_id: None,
        };
        store::record_outcome(&self.db, workspace, &job.message, &outcome).await?;
        Ok(Handled::Done(action))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tidings_nlp::lead::LeadTag;
    use tidings_nlp::sentiment::Sentiment;

    #[test]
    fn an_analysed_item_of_an_answering_connection_becomes_one_job_keyed_by_its_message() {
        let workspace = WorkspaceId::generate();
        let analysed = DomainEvent::ItemAnalysed {
            conversation: ConversationId::generate(),
            message: MessageId::generate(),
            sentiment: Sentiment::Neutral,
            lead_tag: Some(LeadTag::Hot),
            handoff_reason: None,
            auto_reply: true,
        };
        let off = DomainEvent::ItemAnalysed {
            conversation: ConversationId::generate(),
            message: MessageId::generate(),
            sentiment: Sentiment::Neutral,
            lead_tag: None,
            handoff_reason: None,
            auto_reply: false,
        };
        let stored =
            DomainEvent::ItemStored { conversation: ConversationId::generate(), message: MessageId::generate() };
        let jobs = AutoReplySubscriber.jobs_for(&workspace, &[analysed, off, stored]).expect("jobs");
        assert_eq!(jobs.len(), 1);
    }
}
