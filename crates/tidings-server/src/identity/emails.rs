//! The emails identity flows send, enqueued in the flow's own transaction.

use tidings_store::Tx;
use tidings_store::queue::{Queue, QueueError};

use super::permissions::Role;

pub async fn verify_email(
    _queue: &Queue,
    _tx: &mut Tx,
    _to: &str,
    _name: &str,
    _token: &str,
) -> Result<(), QueueError> {
    Ok(())
}

pub async fn reset_password(
    _queue: &Queue,
    _tx: &mut Tx,
    _to: &str,
    _name: &str,
    _token: &str,
) -> Result<(), QueueError> {
    Ok(())
}

pub async fn invitation(
    _queue: &Queue,
    _tx: &mut Tx,
    _to: &str,
    _inviter: &str,
    _workspace: &str,
    _role: Role,
    _token: &str,
) -> Result<(), QueueError> {
    Ok(())
}
