//! The development transport: every message becomes a file in `<data_dir>/mail/` instead of
//! leaving the machine.
//!
//! Each message is written twice: `<timestamp>-<id>.eml`, the RFC 5322 message exactly as it
//! would have been sent, and `<timestamp>-<id>.json`, the parts the `/dev/mail` pages show.
//! The timestamp (`20261125T103000123Z`) makes names sort by time.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use lettre::message::Mailbox;
use serde::{Deserialize, Serialize};
use tidings_core::Config;
use tidings_core::time::{now_millis, to_rfc3339};

use super::{MailError, Mailer, OutgoingEmail, build_message, message_id};

/// The most messages the list page reads.
const LIST_LIMIT: usize = 200;

/// The folder the dev transport writes to.
pub fn mail_dir(config: &Config) -> PathBuf {
    config.data_dir.join("mail")
}

/// Writes messages to a folder.
pub struct DevMailer {
    dir: PathBuf,
    from: Mailbox,
}

/// What the JSON sidecar of a message holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredMail {
    /// The file stem shared by the `.eml` and the `.json`; the page's URL.
    pub id: String,
    /// The `From` header.
    pub from: String,
    /// The `To` header.
    pub to: String,
    /// The subject.
    pub subject: String,
    /// The text body.
    pub text: String,
    /// The HTML body, if any.
    pub html: Option<String>,
    /// When it was written, RFC 3339.
    pub sent_at: String,
}

impl DevMailer {
    /// A mailer writing to `dir` (created on first send).
    pub fn new(dir: PathBuf, from: Mailbox) -> Self {
        Self { dir, from }
    }

    /// Where the messages go.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[async_trait]
impl Mailer for DevMailer {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), MailError> {
        let id = message_id(email);
        let message = build_message(&self.from, email, &id)?;
        let now = now_millis();
        let stem = format!("{}-{id}", file_timestamp(now));
        let stored = StoredMail {
            id: stem.clone(),
            from: self.from.to_string(),
            to: email.to.trim().to_owned(),
            subject: email.subject.clone(),
            text: email.text.clone(),
            html: email.html.clone(),
            sent_at: to_rfc3339(now),
        };
        let json = serde_json::to_vec_pretty(&stored).map_err(|e| MailError::Unavailable(e.to_string()))?;
        let unavailable = |e: std::io::Error| MailError::Unavailable(format!("{}: {e}", self.dir.display()));
        tokio::fs::create_dir_all(&self.dir).await.map_err(unavailable)?;
        // The `.eml` first and the `.json` last, renamed into place: the pages list `.json`
        // files, so everything they list is complete.
        tokio::fs::write(self.dir.join(format!("{stem}.eml")), message.formatted()).await.map_err(unavailable)?;
        let partial = self.dir.join(format!(".{stem}.json.tmp"));
        tokio::fs::write(&partial, json).await.map_err(unavailable)?;
        tokio::fs::rename(&partial, self.dir.join(format!("{stem}.json"))).await.map_err(unavailable)?;
        tracing::info!(to = %stored.to, subject = %stored.subject, file = %stem, "dev mail written");
        Ok(())
    }
}

/// `20261125T103000123Z`: UTC, sortable, safe in a file name.
fn file_timestamp(at: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(at)
        .unwrap_or_default()
        .format("%Y%m%dT%H%M%S%3fZ")
        .to_string()
}

/// True for ids this module could have written; anything else (`..`, `/`) is never a file name.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
}

/// The newest messages first (at most 200). A missing folder is an empty list.
pub async fn list(dir: &Path) -> std::io::Result<Vec<StoredMail>> {
    let mut stems = Vec::new();
    let mut entries = match tokio::fs::read_dir(dir).await {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    while let Some(entry) = entries.next_entry().await? {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".json").filter(|stem| is_valid_id(stem)) {
            stems.push(stem.to_owned());
        }
    }
    stems.sort_unstable_by(|a, b| b.cmp(a));
    let mut mails = Vec::new();
    for stem in stems.into_iter().take(LIST_LIMIT) {
        if let Some(mail) = load(dir, &stem).await? {
            mails.push(mail);
        }
    }
    Ok(mails)
}

/// One message by id, or `None` when there is no such (readable) message.
pub async fn load(dir: &Path, id: &str) -> std::io::Result<Option<StoredMail>> {
    if !is_valid_id(id) {
        return Ok(None);
    }
    match tokio::fs::read(dir.join(format!("{id}.json"))).await {
        Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

/// The raw `.eml` of a message by id.
pub async fn load_raw(dir: &Path, id: &str) -> std::io::Result<Option<Vec<u8>>> {
    if !is_valid_id(id) {
        return Ok(None);
    }
    match tokio::fs::read(dir.join(format!("{id}.eml"))).await {
        Ok(bytes) => Ok(Some(bytes)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_sort_by_time_and_ids_cannot_leave_the_folder() {
        assert_eq!(file_timestamp(0), "19700101T000000000Z");
        assert!(file_timestamp(1_000) < file_timestamp(60_000));
        assert!(is_valid_id("20261125T103000123Z-job_0193a0b4"));
        for bad in ["", "..", "../etc/passwd", "a/b", "a.json", "a b"] {
            assert!(!is_valid_id(bad), "{bad}");
        }
    }

    #[tokio::test]
    async fn a_sent_message_is_listed_loaded_and_kept_as_rfc_5322() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mailer = DevMailer::new(dir.path().join("mail"), "Tidings <tidings@localhost>".parse().expect("from"));
        assert!(list(mailer.dir()).await.expect("list").is_empty(), "no folder yet");
        for subject in ["first", "second"] {
            let email =
                OutgoingEmail::new("ada@example.com", subject, "text".to_owned(), Some("<b>html</b>".to_owned()));
            mailer.send(&email).await.expect("written");
        }
        let mails = list(mailer.dir()).await.expect("list");
        let subjects: Vec<&str> = mails.iter().map(|m| m.subject.as_str()).collect();
        assert_eq!(subjects, ["second", "first"], "newest first");
        let raw = load_raw(mailer.dir(), &mails[0].id).await.expect("read").expect("eml exists");
        let raw = String::from_utf8(raw).expect("utf-8");
        assert!(raw.contains("Subject: second") && raw.contains("To: ada@example.com"), "{raw}");
        assert!(load(mailer.dir(), "../mail").await.expect("no error").is_none());
    }
}
