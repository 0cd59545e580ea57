//! Real names for senders whose platform sends only an id (Messenger, Instagram). Ingest names
//! such a contact `messenger user 2919` and queues a [`NameSenders`] job for the connection and
//! the moment: one job per connection and [`WINDOW`], whatever the number of new senders, which
//! asks the platform's User Profile API (allowed once the person has written) for every thread
//! the connection started in that window still showing a placeholder, and renames the contacts,
//! their messages and their threads' search text, many per transaction.
//!
//! While the platform is unreachable the whole batch waits: each attempt makes one trial call,
//! and when it fails (or the circuit is open) the job is postponed until the circuit may
//! half-open, instead of every sender's look-up failing and retrying on its own (issue 16: 5,617
//! failing attempts in 20 s, each a commit on SQLite's one writer). The names fill in once the
//! platform answers again.

use std::time::Duration;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tidings_connectors::{AccountRef, ConnectorError, MessagingChannel, Platform};
use tidings_core::time::{UnixMillis, millis};
use tidings_core::{ConnectionId, WorkspaceId};
use tidings_store::queue::{JobContext, JobError, JobPayload, NewJob, Queue, QueueError, Registry, names};
use tidings_store::{StoreError, Tx, tenant_read};

use super::accounts::ChannelContext;
use super::breaker::CircuitState;
use super::store;
use crate::inbox::ingest;
use crate::inbox::live::LiveEvent;

/// Threads started within one window share a look-up job; its job runs when the window is over.
const WINDOW: Duration = Duration::from_secs(2);
/// How long after its window a job starts: ingest transactions that took their time then are
/// committed (a job also covers the window before its own, for those that took longer).
const SETTLE: Duration = Duration::from_secs(1);
/// Look-ups in flight at once for one job.
const CONCURRENT_LOOKUPS: usize = 8;
/// Senders looked up, then renamed in one transaction.
const PER_TX: usize = 100;
/// A job postponed once per open period (a minute) lasts through an hour's outage.
const MAX_ATTEMPTS: i32 = 60;

/// Looks up the names of the senders whose threads a connection started in a time window.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NameSenders {
    pub workspace_id: WorkspaceId,
    pub connection_id: ConnectionId,
    /// Threads created from this time (inclusive)…
    pub from: UnixMillis,
    /// …until this one (exclusive).
    pub until: UnixMillis,
}

impl JobPayload for NameSenders {
    const KIND: &'static str = "channels.name_senders";
    const QUEUE: &'static str = names::SYNC;
}

/// One sender's look-up, as queued before look-ups were batched; run as a batch of one.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NameSender {
    pub workspace_id: WorkspaceId,
    pub connection_id: ConnectionId,
    /// The platform's id of the sender (a PSID, an IGSID).
    pub sender_id: String,
}

impl JobPayload for NameSender {
    const KIND: &'static str = "channels.name_sender";
    const QUEUE: &'static str = names::SYNC;
}

/// Queues, in `tx`, the look-up of the senders `connection` starts threads with now, unless the
/// job of this window is queued already. The existence check is a plain read first: on
/// PostgreSQL an `INSERT … ON CONFLICT` on a key another open transaction inserted waits for
/// that transaction, and every ingest transaction of the window would queue behind the first.
pub async fn queue_look_up(
    queue: &Queue,
    tx: &mut Tx,
    workspace: &WorkspaceId,
    connection: &ConnectionId,
    now: UnixMillis,
) -> Result<(), QueueError> {
    let window = Window::of(now);
    let key = format!("{}:{connection}:{}", NameSenders::KIND, window.index);
    if queue.has_unique_in(tx, NameSenders::QUEUE, &key).await? {
        return Ok(());
    }
    let job = NameSenders {
        workspace_id: workspace.clone(),
        connection_id: connection.clone(),
        from: window.from,
        until: window.until,
    };
    let job = NewJob::new(&job)?
        .workspace(workspace.clone())
        .unique_key(key)
        .run_at(window.run_at)
        .max_attempts(MAX_ATTEMPTS);
    queue.enqueue_in(tx, job).await?;
    Ok(())
}

/// The look-up job of the threads started at one moment.
#[derive(Debug, PartialEq, Eq)]
struct Window {
    /// Which [`WINDOW`] since the epoch: the job's key.
    index: i64,
    /// The threads it covers: its window and the one before, for an ingest transaction that
    /// stamped its threads before a window's end and queued the job after it.
    from: UnixMillis,
    until: UnixMillis,
    /// When the job runs: after its window, once late commits have landed.
    run_at: UnixMillis,
}

impl Window {
    fn of(now: UnixMillis) -> Self {
        let length = millis(WINDOW);
        let index = now.div_euclid(length);
        Self {
            index,
            from: (index - 1) * length,
            until: (index + 1) * length,
            run_at: (index + 1) * length + millis(SETTLE),
        }
    }
}

/// Registers the handlers.
pub fn register(registry: &mut Registry, context: ChannelContext) {
    let batched = context.clone();
    registry.register(move |job: NameSenders, attempt: JobContext| {
        let context = batched.clone();
        async move {
            let window = job.from..job.until;
            let senders = unnamed(&context, &job.workspace_id, &job.connection_id, window).await?;
            name_senders(&context, &job.workspace_id, &job.connection_id, &senders, &attempt).await
        }
    });
    registry.register(move |job: NameSender, attempt: JobContext| {
        let context = context.clone();
        async move {
            let senders = [job.sender_id];
            name_senders(&context, &job.workspace_id, &job.connection_id, &senders, &attempt).await
        }
    });
}

/// The senders of the threads `connection` started in `window` whose contact still has the
/// placeholder name.
async fn unnamed(
    context: &ChannelContext,
    workspace: &WorkspaceId,
    connection: &ConnectionId,
    window: std::ops::Range<UnixMillis>,
) -> Result<Vec<String>, StoreError> {
    let rows: Vec<(String, String, String)> = tenant_read!(context.db, workspace, |conn| sqlx::query_as(
        "SELECT c.platform, ci.external_id, k.display_name FROM conversations c \
         JOIN contacts k ON k.workspace_id = c.workspace_id AND k.id = c.contact_id \
         JOIN contact_identities ci ON ci.workspace_id = c.workspace_id AND ci.contact_id = c.contact_id \
           AND ci.platform = c.platform \
         WHERE c.workspace_id = $1 AND c.connection_id = $2 AND c.kind = 'thread' \
           AND c.created_at >= $3 AND c.created_at < $4"
    )
    .bind(workspace.as_str())
    .bind(connection.as_str())
    .bind(window.start)
    .bind(window.end)
    .fetch_all(&mut **conn)
    .await)?;
    let mut senders: Vec<String> = rows
        .into_iter()
        .filter(|(platform, sender, name)| *name == ingest::placeholder_name(platform, sender))
        .map(|(_, sender, _)| sender)
        .collect();
    senders.sort_unstable();
    senders.dedup();
    Ok(senders)
}

/// Looks up and stores the names of `senders` of `connection`, [`PER_TX`] at a time.
async fn name_senders(
    context: &ChannelContext,
    workspace: &WorkspaceId,
    connection_id: &ConnectionId,
    senders: &[String],
    attempt: &JobContext,
) -> Result<(), JobError> {
    if senders.is_empty() {
        return Ok(());
    }
    // Disconnected since the messages arrived: the placeholders stay.
    let Some(connection) = store::connection(&context.db, workspace, connection_id).await? else { return Ok(()) };
    let platform = connection.platform;
    let Some(channel) = context.platforms.channel(platform) else { return Ok(()) };
    postpone_while_open(context, platform)?;
    let account = context.account(workspace, &connection, platform).await?;
    // A connection without a token (the demo's) has nothing to ask with.
    if account.credentials.access_token.is_none() {
        return Ok(());
    }
    let look_up =
        LookUp { context, workspace, connection: connection_id, platform, channel: channel.as_ref(), account };
    let look_up = &look_up;
    for chunk in senders.chunks(PER_TX) {
        if attempt.shutdown.is_cancelled() {
            return Err(JobError::retry("shutting down"));
        }
        let mut found = Vec::new();
        // The first call alone: while the platform is down, an attempt costs one call.
        let (first, rest) = chunk.split_at(1);
        for sender in first {
            look_up.record(sender, look_up.ask(sender).await, &mut found).await?;
        }
        // Owned ids: a stream of futures borrowing its items is not `Send` to the compiler.
        let answers: Vec<_> = futures::stream::iter(rest.iter().cloned())
            .map(|sender| async move {
                let answer = look_up.ask(&sender).await;
                (sender, answer)
            })
            .buffered(CONCURRENT_LOOKUPS)
            .collect()
            .await;
        let mut outage = None;
        for (sender, answer) in answers {
            if let Err(error) = look_up.record(&sender, answer, &mut found).await {
                outage.get_or_insert(error);
            }
        }
        // What was learned is kept even when the platform failed part-way.
        rename(context, workspace, platform, &found).await?;
        if let Some(error) = outage {
            return Err(error);
        }
    }
    Ok(())
}

/// What became of one look-up.
enum Answer {
    /// The platform answered: the name, or none set.
    Name(Option<String>),
    /// The call failed.
    Failed(ConnectorError),
    /// Not asked: the platform's circuit opened meanwhile.
    NotAsked,
}

/// What a batch's look-ups share.
struct LookUp<'a> {
    context: &'a ChannelContext,
    workspace: &'a WorkspaceId,
    connection: &'a ConnectionId,
    platform: Platform,
    channel: &'a dyn MessagingChannel,
    account: AccountRef,
}

impl LookUp<'_> {
    /// Asks the platform, unless its circuit opened meanwhile.
    async fn ask(&self, sender: &str) -> Answer {
        if self.context.breakers.check(self.platform.as_str()).is_err() {
            return Answer::NotAsked;
        }
        match self.channel.sender_name(&self.account, sender).await {
            Ok(name) => Answer::Name(name),
            Err(error) => Answer::Failed(error),
        }
    }

    /// Adds a learned name to `found`; `Err` with how the job should end when the platform
    /// failed (or was not asked because its circuit is open).
    async fn record(&self, sender: &str, answer: Answer, found: &mut Vec<(String, String)>) -> Result<(), JobError> {
        let platform = self.platform;
        match answer {
            Answer::Name(name) => {
                self.context.breakers.record_success(platform.as_str());
                found.extend(name.map(|name| (sender.to_owned(), name)));
                Ok(())
            }
            // No consent, blocked, or no such person: nothing will change on a retry.
            Answer::Failed(ConnectorError::Rejected { message, .. }) => {
                tracing::info!(%platform, %message, "the platform gave no profile for a sender");
                Ok(())
            }
            Answer::Failed(error) => {
                let failed = self.context.fail(self.workspace, self.connection, platform, error).await;
                Err(postpone_while_open(self.context, platform)
                    .err()
                    .unwrap_or_else(|| outage_wait(self.context, failed)))
            }
            Answer::NotAsked => postpone_while_open(self.context, platform),
        }
    }
}

/// `Err` postponing the job until the platform's circuit may half-open, while it is open.
fn postpone_while_open(context: &ChannelContext, platform: Platform) -> Result<(), JobError> {
    match context.breakers.state(platform.as_str()) {
        CircuitState::Open(wait) => Err(JobError::retry_after(
            format!("{platform} unreachable: sender names wait for it"),
            wait.max(Duration::from_secs(1)),
        )),
        CircuitState::Closed | CircuitState::HalfOpen => Ok(()),
    }
}

/// A failed call with the circuit still closed: an outage waits as long as an open circuit
/// would (the queue's backoff is for one job's trouble, not the platform's); a `Retry-After`
/// and a final refusal stay as they are.
fn outage_wait(context: &ChannelContext, failed: JobError) -> JobError {
    match failed {
        JobError::Retry { message, after: None } => JobError::retry_after(message, context.breakers.open_for()),
        other => other,
    }
}

/// Stores the names learned, in one transaction, and tells the open inboxes.
async fn rename(
    context: &ChannelContext,
    workspace: &WorkspaceId,
    platform: Platform,
    found: &[(String, String)],
) -> Result<(), StoreError> {
    if found.is_empty() {
        return Ok(());
    }
    let mut tx = context.db.begin_for_tenant(workspace).await?;
    let mut renamed = Vec::new();
    for (sender, name) in found {
        renamed.extend(ingest::name_sender(&mut tx, workspace, platform.as_str(), sender, name).await?);
    }
    tx.commit().await?;
    let events = renamed.iter().map(|id| LiveEvent::new(workspace, "conversation.updated", id)).collect();
    context.live.publish(events).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_is_covered_by_the_job_of_its_window_and_by_the_next_one() {
        let length = millis(WINDOW);
        let stamped = 10 * length - 1;
        for queued_at in [stamped, stamped + 2] {
            let window = Window::of(queued_at);
            assert!((window.from..window.until).contains(&stamped), "{window:?} covers {stamped}");
            assert!(window.run_at > window.until, "it runs once its window is over");
        }
        assert_eq!(Window::of(stamped).index + 1, Window::of(stamped + 2).index, "two jobs: the window changed");
        assert_eq!(Window::of(stamped - length + 1), Window::of(stamped), "one job for a window's threads");
    }
}
