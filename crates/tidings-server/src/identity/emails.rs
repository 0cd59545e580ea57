//! The emails identity flows send, enqueued in the flow's own transaction so a sign-up, reset
//! or invitation and its message are committed together.

use std::time::Duration;

use tidings_store::Tx;
use tidings_store::queue::{Queue, QueueError};

use crate::access::Role;
use crate::mail::templates::Email;
use crate::mail::{MailError, enqueue_email};

/// The links in these emails point under this URL.
pub struct Links<'a>(pub &'a str);

async fn send(queue: &Queue, tx: &mut Tx, links: &Links<'_>, email: Email<'_>) -> Result<(), QueueError> {
    let message = email
        .render(links.0)
        .map_err(|e: MailError| QueueError::Payload { kind: "mail.send".to_owned(), message: e.to_string() })?;
    enqueue_email(queue, Some(tx), &message).await?;
    Ok(())
}

pub async fn verify_email(
    queue: &Queue,
    tx: &mut Tx,
    links: &Links<'_>,
    to: &str,
    name: &str,
    token: &str,
    valid_for: Duration,
) -> Result<(), QueueError> {
    send(queue, tx, links, Email::VerifyEmail { to, name, token, valid_for }).await
}

pub async fn reset_password(
    queue: &Queue,
    tx: &mut Tx,
    links: &Links<'_>,
    to: &str,
    name: &str,
    token: &str,
    valid_for: Duration,
) -> Result<(), QueueError> {
    send(queue, tx, links, Email::ResetPassword { to, name, token, valid_for }).await
}

#[allow(clippy::too_many_arguments)]
pub async fn invitation(
    queue: &Queue,
    tx: &mut Tx,
    links: &Links<'_>,
    to: &str,
    inviter: &str,
    workspace: &str,
    role: Role,
    token: &str,
    valid_for: Duration,
) -> Result<(), QueueError> {
    send(queue, tx, links, Email::Invitation { to, inviter, workspace, role: role.as_str(), token, valid_for }).await
}
