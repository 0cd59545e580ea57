//! Health, readiness, metrics and the operator's queue endpoints.

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use tidings_core::JobId;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::dto::{
    AffectedOut, CheckOut, DeadLetterListOut, DeadLetterOut, DeadLetterQuery, HealthOut, QueueOut, ReadyOut,
    RetryDeadLettersIn,
};
use super::service;
use crate::AppState;
use crate::http::error::ErrorBody;
use crate::http::{ApiError, ApiJson, Envelope, Operator, Pagination};

/// Health, readiness and metrics, at the root as probes expect them.
pub fn ops_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health)).routes(routes!(ready)).routes(routes!(metrics))
}

/// The operator's queue endpoints, under `/api/v1`.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_queues))
        .routes(routes!(list_dead_letters))
        .routes(routes!(get_dead_letter, discard_dead_letter))
        .routes(routes!(retry_dead_letter))
        .routes(routes!(retry_dead_letters))
}

/// The process is alive.
#[utoipa::path(get, path = "/health", tag = "system", responses((status = 200, body = HealthOut)))]
async fn health() -> axum::Json<HealthOut> {
    axum::Json(HealthOut { status: "ok".to_owned() })
}

/// The process can serve: database reachable, migrations applied, queue flowing.
#[utoipa::path(get, path = "/ready", tag = "system", responses(
    (status = 200, body = ReadyOut, description = "Ready"),
    (status = 503, body = ReadyOut, description = "Not ready: a check failed"),
))]
async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    let checks = service::readiness(&state).await;
    let ok = checks.iter().all(|c| c.ok);
    let body = ReadyOut {
        status: if ok { "ready" } else { "not_ready" }.to_owned(),
        checks: checks.into_iter().map(|c| CheckOut { name: c.name.to_owned(), ok: c.ok, detail: c.detail }).collect(),
    };
    (if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, axum::Json(body))
}

/// Prometheus metrics: HTTP latency, queue depths and job outcomes, database pool.
#[utoipa::path(get, path = "/metrics", tag = "system", responses(
    (status = 200, content_type = "text/plain; version=0.0.4", body = String),
))]
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    service::refresh_gauges(&state).await;
    state.metrics.run_upkeep();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.render())
}

/// Depth of every queue.
#[utoipa::path(get, path = "/queues", tag = "queue", security(("operator" = [])), responses(
    (status = 200, body = Envelope<Vec<QueueOut>>),
    (status = 401, body = ErrorBody),
))]
async fn list_queues(_: Operator, State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let stats = state.queue.stats().await?;
    Ok(Envelope::new(stats.into_iter().map(QueueOut::from).collect::<Vec<_>>()))
}

/// Dead letters, newest first.
#[utoipa::path(get, path = "/dead-letters", tag = "queue", security(("operator" = [])), params(DeadLetterQuery), responses(
    (status = 200, body = Envelope<DeadLetterListOut>),
    (status = 401, body = ErrorBody),
    (status = 422, body = ErrorBody),
))]
async fn list_dead_letters(
    _: Operator,
    State(state): State<AppState>,
    Query(query): Query<DeadLetterQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::validation("limit", "must be between 1 and 200"));
    }
    let offset = query.offset.unwrap_or(0);
    if offset < 0 {
        return Err(ApiError::validation("offset", "must not be negative"));
    }
    let page = state.queue.dead_letters(query.queue.as_deref(), limit, offset).await?;
    Ok(Envelope::new(DeadLetterListOut {
        dead_letters: page.jobs.into_iter().map(DeadLetterOut::from).collect(),
        pagination: Pagination::of(page.total, limit, offset),
    }))
}

fn parse_job_id(id: &str) -> Result<JobId, ApiError> {
    JobId::parse(id).map_err(|_| ApiError::not_found("dead letter"))
}

/// One dead letter, with its payload and last error.
#[utoipa::path(get, path = "/dead-letters/{id}", tag = "queue", security(("operator" = [])),
    params(("id" = String, Path, description = "Job id (`job_…`)")),
    responses((status = 200, body = Envelope<DeadLetterOut>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_dead_letter(
    _: Operator,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let job = state.queue.job(&parse_job_id(&id)?).await?;
    match job.filter(|job| job.state == tidings_store::queue::JobState::Dead) {
        Some(job) => Ok(Envelope::new(DeadLetterOut::from(job))),
        None => Err(ApiError::not_found("dead letter")),
    }
}

/// Puts a dead letter back on its queue with a fresh set of attempts.
#[utoipa::path(post, path = "/dead-letters/{id}/retry", tag = "queue", security(("operator" = [])),
    params(("id" = String, Path, description = "Job id (`job_…`)")),
    responses((status = 200, body = Envelope<AffectedOut>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn retry_dead_letter(
    _: Operator,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    if state.queue.retry_dead(&parse_job_id(&id)?).await? {
        Ok(Envelope::new(AffectedOut { affected: 1 }))
    } else {
        Err(ApiError::not_found("dead letter"))
    }
}

/// Deletes a dead letter for good.
#[utoipa::path(delete, path = "/dead-letters/{id}", tag = "queue", security(("operator" = [])),
    params(("id" = String, Path, description = "Job id (`job_…`)")),
    responses((status = 200, body = Envelope<AffectedOut>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn discard_dead_letter(
    _: Operator,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    if state.queue.discard_dead(&parse_job_id(&id)?).await? {
        Ok(Envelope::new(AffectedOut { affected: 1 }))
    } else {
        Err(ApiError::not_found("dead letter"))
    }
}

/// Retries every dead letter, or those of one queue.
#[utoipa::path(post, path = "/dead-letters/retry", tag = "queue", security(("operator" = [])),
    request_body = RetryDeadLettersIn,
    responses(
        (status = 200, body = Envelope<AffectedOut>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn retry_dead_letters(
    _: Operator,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RetryDeadLettersIn>,
) -> Result<impl IntoResponse, ApiError> {
    if let Some(queue) = &body.queue
        && !state.queue.specs().any(|spec| &spec.name == queue)
    {
        return Err(ApiError::validation("queue", format!("unknown queue `{queue}`")));
    }
    let affected = state.queue.retry_all_dead(body.queue.as_deref()).await?;
    Ok(Envelope::new(AffectedOut { affected }))
}
