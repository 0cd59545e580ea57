//! `tidings pipeline replay`: analyses stored items again — after lead rules changed, or a new
//! version of the models — and reports what changed. Nothing is handed off or announced again
//! (see [`Mode::Replay`]); tags set by hand stay.

use tidings_core::{MessageId, WorkspaceId};

use super::service::{BATCH, Mode, Pipeline, PipelineError, Report};
use super::store;

/// Re-analyses every inbound item sent since `since` (Unix milliseconds), in one workspace or
/// in all of them; `progress` hears (done, total) after each batch.
pub async fn replay(
    pipeline: &Pipeline,
    workspace: Option<&WorkspaceId>,
    since: i64,
    mut progress: impl FnMut(u64, u64),
) -> Result<Report, PipelineError> {
    let items = store::items_since(pipeline.db(), workspace, since).await?;
    let total = items.len() as u64;
    progress(0, total);
    let mut report = Report::default();
    let mut done = 0u64;
    for group in items.chunk_by(|a, b| a.0 == b.0) {
        let workspace = &group[0].0;
        let ids: Vec<MessageId> = group.iter().map(|(_, message)| message.clone()).collect();
        // Each workspace's own rules.
        let config = pipeline.config(workspace).await?;
        for chunk in ids.chunks(BATCH) {
            report.add(pipeline.analyse_batch(workspace, chunk, Mode::Replay, &config).await?);
            done += chunk.len() as u64;
            progress(done, total);
        }
    }
    Ok(report)
}

/// The start of a replay: a date (`2026-11-01`, midnight UTC) or an RFC 3339 time, as Unix
/// milliseconds.
pub fn parse_since(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(at.timestamp_millis());
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|at| at.and_utc().timestamp_millis())
        .ok_or_else(|| format!("`{text}` is neither a date (2026-11-01) nor an RFC 3339 time (2026-11-01T09:00:00Z)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_are_read_in_utc() {
        assert_eq!(parse_since("1970-01-02"), Ok(86_400_000));
        assert_eq!(parse_since("1970-01-01T00:00:01Z"), Ok(1_000));
        assert!(parse_since("last week").is_err());
    }
}
