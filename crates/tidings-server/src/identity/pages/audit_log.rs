//! `/settings/audit-log`: the workspace's audit log as a filterable table, and a button that
//! verifies its hash chain. Owners and admins only (`ViewAuditLog`). The log is audit's; the page
//! is identity's because it names each actor by their membership (name and address).

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::AppState;
use crate::access::Permission;
use crate::audit::{self, AuditFilter, AuditRow};
use crate::dashboard::csrf::Csrf;
use crate::dashboard::member::{DashboardUser, query_escape};
use crate::dashboard::page::{FormErrors, PageError};

/// Entries per page.
const PAGE_SIZE: i64 = 50;

/// Actions the identity flows record, offered as suggestions in the filter.
const KNOWN_ACTIONS: &[&str] = &[
    "api_key.created",
    "api_key.revoked",
    "member.invited",
    "member.joined",
    "member.left",
    "member.removed",
    "member.role_changed",
    "session.refresh_token_reused",
    "session.signed_in",
    "workspace.created",
];

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AuditPageQuery {
    action: Option<String>,
    result: Option<String>,
    /// `YYYY-MM-DD`, from the start of that day (UTC).
    from: Option<String>,
    /// `YYYY-MM-DD`, up to the end of that day (UTC).
    to: Option<String>,
    offset: Option<i64>,
    /// Present: verify the hash chain too.
    verify: Option<String>,
}

struct EntryView {
    seq: i64,
    when: String,
    actor: String,
    actor_role: String,
    action: String,
    resource_type: String,
    resource_id: String,
    success: bool,
    ip: String,
    metadata: String,
}

struct ChainView {
    valid: bool,
    entries: i64,
    broken_at: Option<i64>,
    problem: String,
}

struct ResultOption {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

#[derive(Template)]
#[template(path = "audit/audit_log.html")]
struct AuditBody<'a> {
    action: &'a str,
    results: Vec<ResultOption>,
    from: &'a str,
    to: &'a str,
    actions: &'static [&'static str],
    entries: Vec<EntryView>,
    total: i64,
    first: i64,
    last: i64,
    previous: Option<String>,
    next: Option<String>,
    chain: Option<ChainView>,
    errors: &'a FormErrors,
}

/// The start of a `YYYY-MM-DD` day (UTC) in milliseconds, shifted by `days`.
fn day_start(value: &str, days: i64) -> Option<i64> {
    let date = chrono::NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d").ok()?;
    let start = date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis();
    Some(start + days * 86_400_000)
}

fn filled(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn when(at: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(at)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

fn entry_view(row: AuditRow, names: &HashMap<String, String>) -> EntryView {
    let actor = match (row.actor_type.as_str(), row.actor_id.as_deref()) {
        ("user", Some(id)) => names.get(id).cloned().unwrap_or_else(|| id.to_owned()),
        ("api_key", Some(id)) => format!("API key {id}"),
        (kind, _) => kind.to_owned(),
    };
    EntryView {
        seq: row.seq,
        when: when(row.created_at),
        actor,
        actor_role: row.actor_role.unwrap_or_default(),
        success: row.result == "success",
        action: row.action,
        resource_type: row.resource_type,
        resource_id: row.resource_id.unwrap_or_default(),
        ip: row.ip.unwrap_or_default(),
        metadata: if row.metadata == "{}" { String::new() } else { row.metadata },
    }
}

/// The page's address with these filters and offset.
fn link(filter: &[(&str, Option<&str>)], offset: i64) -> String {
    let mut query: Vec<String> =
        filter.iter().filter_map(|(name, value)| value.map(|v| format!("{name}={}", query_escape(v)))).collect();
    if offset > 0 {
        query.push(format!("offset={offset}"));
    }
    if query.is_empty() { "/settings/audit-log".to_owned() } else { format!("/settings/audit-log?{}", query.join("&")) }
}

pub(super) async fn audit_log_page(
    State(state): State<AppState>,
    user: DashboardUser,
    csrf: Csrf,
    Query(query): Query<AuditPageQuery>,
) -> Result<Response, PageError> {
    user.require(Permission::ViewAuditLog)?;
    let workspace = &user.auth.workspace_id;
    let mut errors = FormErrors::new();
    let action = filled(&query.action);
    let result = filled(&query.result).filter(|r| *r == "success" || *r == "failure");
    let from_text = filled(&query.from);
    let to_text = filled(&query.to);
    let from = from_text.and_then(|v| {
        let day = day_start(v, 0);
        if day.is_none() {
            errors.add("from", "Enter a date as YYYY-MM-DD.");
        }
        day
    });
    let to = to_text.and_then(|v| {
        let day = day_start(v, 1);
        if day.is_none() {
            errors.add("to", "Enter a date as YYYY-MM-DD.");
        }
        day
    });
    let offset = query.offset.unwrap_or(0).max(0);
    let filter = AuditFilter {
        action: action.map(str::to_owned),
        actor_id: None,
        resource_type: None,
        result: result.map(str::to_owned),
        from,
        to,
    };
    let (rows, total) = audit::list(&state.db, workspace, &filter, PAGE_SIZE, offset).await?;
    let names: HashMap<String, String> = state
        .identity
        .members(workspace)
        .await?
        .into_iter()
        .map(|m| (m.user_id.to_string(), format!("{} <{}>", m.name, m.email)))
        .collect();
    let chain = if query.verify.is_some() {
        let report = audit::verify_chain(&state.db, workspace).await?;
        Some(ChainView {
            valid: report.valid,
            entries: report.entries,
            broken_at: report.broken_at_seq,
            problem: report.problem.unwrap_or_default(),
        })
    } else {
        None
    };
    let kept: [(&str, Option<&str>); 4] =
        [("action", action), ("result", result), ("from", from_text), ("to", to_text)];
    let shown = i64::try_from(rows.len()).unwrap_or(0);
    let body = AuditBody {
        action: action.unwrap_or_default(),
        results: [("", "any result"), ("success", "success"), ("failure", "failure")]
            .into_iter()
            .map(|(value, label)| ResultOption { value, label, selected: result.unwrap_or_default() == value })
            .collect(),
        from: from_text.unwrap_or_default(),
        to: to_text.unwrap_or_default(),
        actions: KNOWN_ACTIONS,
        entries: rows.into_iter().map(|row| entry_view(row, &names)).collect(),
        total,
        first: if shown == 0 { 0 } else { offset + 1 },
        last: offset + shown,
        previous: (offset > 0).then(|| link(&kept, (offset - PAGE_SIZE).max(0))),
        next: (offset + shown < total).then(|| link(&kept, offset + PAGE_SIZE)),
        chain,
        errors: &errors,
    };
    let html = user.page(&state, &csrf, "/settings/audit-log", "Audit log", &body).await?;
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok((status, csrf, html).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_utc_and_links_keep_the_filters() {
        assert_eq!(day_start("1970-01-02", 0), Some(86_400_000));
        assert_eq!(day_start("1970-01-01", 1), Some(86_400_000));
        assert_eq!(day_start("yesterday", 0), None);
        let kept = [("action", Some("member.invited")), ("result", None)];
        assert_eq!(link(&kept, 50), "/settings/audit-log?action=member.invited&offset=50");
        assert_eq!(link(&[], 0), "/settings/audit-log");
    }
}
