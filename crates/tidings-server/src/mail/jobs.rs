//! The `mail.send` job: one message, sent from the `email` queue (6 attempts; 10 s, 1 min,
//! 5 min, 30 min, 2 h apart). A permanent rejection is dead-lettered at once.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tidings_store::Tx;
use tidings_store::queue::{Enqueued, JobContext, JobError, JobPayload, NewJob, Queue, QueueError, Registry, names};

use super::{MailError, Mailer, OutgoingEmail};

/// Sends one message through the configured mailer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendEmail {
    /// The recipient.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML alternative.
    #[serde(default)]
    pub html: Option<String>,
}

impl JobPayload for SendEmail {
    const KIND: &'static str = "mail.send";
    const QUEUE: &'static str = names::EMAIL;
}

impl From<&OutgoingEmail> for SendEmail {
    fn from(email: &OutgoingEmail) -> Self {
        Self {
            to: email.to.clone(),
            subject: email.subject.clone(),
            text: email.text.clone(),
            html: email.html.clone(),
        }
    }
}

/// Queues `email` for sending. With `tx`, the job is written in the caller's transaction and
/// exists only if that transaction commits (a sign-up and its verification mail, together);
/// without, it is committed on its own.
///
/// The job's payload is the rendered message, links and their tokens included; dead letters
/// keep it until they are purged (`queue.dead_letter_retention_days`).
pub async fn enqueue_email(queue: &Queue, tx: Option<&mut Tx>, email: &OutgoingEmail) -> Result<Enqueued, QueueError> {
    let job = NewJob::new(&SendEmail::from(email))?;
    match tx {
        Some(tx) => queue.enqueue_in(tx, job).await,
        None => queue.enqueue(job).await,
    }
}

/// Registers the `mail.send` handler, sending with `mailer`.
pub fn register(registry: &mut Registry, mailer: Arc<dyn Mailer>) {
    registry.register(move |job: SendEmail, context: JobContext| {
        let mailer = mailer.clone();
        async move { send(mailer.as_ref(), job, &context).await }
    });
}

#[tracing::instrument(skip_all, fields(job_id = %context.id, attempt = context.attempt))]
async fn send(mailer: &dyn Mailer, job: SendEmail, context: &JobContext) -> Result<(), JobError> {
    let email = OutgoingEmail {
        to: job.to,
        subject: job.subject,
        text: job.text,
        html: job.html,
        // The same Message-ID on every attempt, so a receiver can spot a resend.
        message_id: Some(context.id.to_string()),
    };
    mailer.send(&email).await.map_err(|error| {
        tracing::warn!(%error, permanent = error.is_permanent(), "email not sent");
        job_error(error)
    })
}

/// A permanent failure dead-letters the job; anything else retries on the queue's schedule.
fn job_error(error: MailError) -> JobError {
    if error.is_permanent() { JobError::fatal(error) } else { JobError::retry(error) }
}
