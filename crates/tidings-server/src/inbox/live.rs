//! Live updates: what changed in a workspace's inbox, pushed to open dashboards and API clients.
//!
//! In one process an in-memory broadcast carries events. With PostgreSQL, workers may run in
//! other processes, so events travel by `NOTIFY` and every serving process re-broadcasts what it
//! hears; each event reaches each subscriber once either way.

use serde::{Deserialize, Serialize};
use tidings_core::{ConversationId, WorkspaceId};
use tidings_store::{Db, Engine};
use tokio::sync::broadcast;
use utoipa::ToSchema;

/// The PostgreSQL channel live events travel on between processes.
const CHANNEL: &str = "tidings_live";

/// Something that changed in a workspace's inbox.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LiveEvent {
    /// The workspace it happened in; subscribers only see their own.
    #[serde(skip_serializing)]
    pub workspace_id: String,
    /// `conversation.created`, `message.created`, `conversation.updated`, or
    /// `notification.created` (someone in the workspace has a new notification: bells refresh).
    #[serde(rename = "type")]
    pub kind: String,
    /// The conversation concerned (empty for a notification).
    pub conversation_id: String,
}

impl LiveEvent {
    /// An event of `kind` about a conversation.
    pub fn new(workspace: &WorkspaceId, kind: &str, conversation: &ConversationId) -> Self {
        Self { workspace_id: workspace.to_string(), kind: kind.to_owned(), conversation_id: conversation.to_string() }
    }

    /// A member of the workspace has a new notification. The stream is the workspace's, so the
    /// event names no member: each bell asks for its own count.
    pub fn notification(workspace: &WorkspaceId) -> Self {
        Self {
            workspace_id: workspace.to_string(),
            kind: "notification.created".into(),
            conversation_id: String::new(),
        }
    }
}

/// The wire form between processes: the event with its workspace.
#[derive(Serialize, Deserialize)]
struct Wire {
    workspace_id: String,
    kind: String,
    conversation_id: String,
}

/// Publishes and subscribes to live events.
#[derive(Clone)]
pub struct Live {
    db: Db,
    sender: broadcast::Sender<LiveEvent>,
    /// Cancelled when the server shuts down, so open event streams end and do not hold it up.
    closing: tokio_util::sync::CancellationToken,
}

impl Live {
    /// A hub for `db`'s processes.
    pub fn new(db: Db) -> Self {
        let (sender, _) = broadcast::channel(1024);
        Self { db, sender, closing: tokio_util::sync::CancellationToken::new() }
    }

    /// Ends every open event stream (at shutdown).
    pub fn close(&self) {
        self.closing.cancel();
    }

    /// Resolves when the hub is closed.
    pub fn closed(&self) -> tokio_util::sync::WaitForCancellationFutureOwned {
        self.closing.clone().cancelled_owned()
    }

    /// Announces events after their data committed. Never fails the caller: a lost live event
    /// only means a dashboard shows the change on its next refresh.
    pub async fn publish(&self, events: Vec<LiveEvent>) {
        if events.is_empty() {
            return;
        }
        match (self.db.engine(), self.db.pools()) {
            (Engine::Postgres, tidings_store::db::Pools::Postgres(pool)) => {
                for event in events {
                    let wire = Wire {
                        workspace_id: event.workspace_id,
                        kind: event.kind,
                        conversation_id: event.conversation_id,
                    };
                    let payload = serde_json::to_string(&wire).unwrap_or_default();
                    if let Err(error) =
                        sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(payload).execute(pool).await
                    {
                        tracing::warn!(%error, "live event not published");
                    }
                }
            }
            _ => {
                for event in events {
                    let _ = self.sender.send(event);
                }
            }
        }
    }

    /// Events of one workspace from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.sender.subscribe()
    }

    /// On PostgreSQL, relays what other processes publish until `shutdown`.
    pub async fn relay(self, shutdown: tokio_util::sync::CancellationToken) {
        let tidings_store::db::Pools::Postgres(pool) = self.db.pools() else { return };
        loop {
            let listener = async {
                let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
                listener.listen(CHANNEL).await?;
                loop {
                    let notification = listener.recv().await?;
                    if let Ok(wire) = serde_json::from_str::<Wire>(notification.payload()) {
                        let _ = self.sender.send(LiveEvent {
                            workspace_id: wire.workspace_id,
                            kind: wire.kind,
                            conversation_id: wire.conversation_id,
                        });
                    }
                }
                #[allow(unreachable_code)]
                Ok::<(), sqlx::Error>(())
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                result = listener => {
                    if let Err(error) = result {
                        tracing::warn!(%error, "live event listener lost; reconnecting");
                    }
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    }
}
