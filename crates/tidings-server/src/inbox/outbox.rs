//! The inbox's side of sending replies: the jobs it puts on the `outbound` queue, in the same
//! transaction as the reply they carry. `channels/outbound.rs` registers the handlers that post
//! them to the platforms; the inbox names only the job, never the sender (ADR 0014: channels sit
//! above the inbox).

use serde::{Deserialize, Serialize};
use tidings_core::{ResponseId, WorkspaceId};
use tidings_store::Tx;
use tidings_store::queue::{JobPayload, NewJob, Queue, QueueError, names};

/// Posts one response to its platform.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendResponse {
    pub workspace_id: WorkspaceId,
    pub response_id: ResponseId,
}

impl JobPayload for SendResponse {
    const KIND: &'static str = "outbound.send_response";
    const QUEUE: &'static str = names::OUTBOUND;
}

/// Deletes a posted review reply from its platform.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeleteResponse {
    pub workspace_id: WorkspaceId,
    pub response_id: ResponseId,
}

impl JobPayload for DeleteResponse {
    const KIND: &'static str = "outbound.delete_response";
    const QUEUE: &'static str = names::OUTBOUND;
}

/// Queues a response for posting, in the caller's transaction. One job per response at a time.
pub async fn enqueue_send(
    queue: &Queue,
    tx: &mut Tx,
    workspace: &WorkspaceId,
    id: &ResponseId,
) -> Result<(), QueueError> {
    let job = NewJob::new(&SendResponse { workspace_id: workspace.clone(), response_id: id.clone() })?
        .workspace(workspace.clone())
        .unique_key(format!("send:{id}"));
    queue.enqueue_in(tx, job).await?;
    Ok(())
}

/// Queues the removal of a posted reply, in the caller's transaction.
pub async fn enqueue_delete(
    queue: &Queue,
    tx: &mut Tx,
    workspace: &WorkspaceId,
    id: &ResponseId,
) -> Result<(), QueueError> {
    let job = NewJob::new(&DeleteResponse { workspace_id: workspace.clone(), response_id: id.clone() })?
        .workspace(workspace.clone())
        .unique_key(format!("delete:{id}"));
    queue.enqueue_in(tx, job).await?;
    Ok(())
}
