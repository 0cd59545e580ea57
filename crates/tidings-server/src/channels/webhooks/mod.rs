//! `GET|POST /webhooks/{platform}`: platforms' verification challenges and signed deliveries.
//!
//! A Meta app sends every event of an object (`page`, `instagram`, `whatsapp_business_account`)
//! to one callback URL, so the Meta paths (`facebook`, `messenger`, `instagram`, `whatsapp`) are
//! aliases of each other: a delivery is filed under the channel its `object` names, and a Page's
//! Messenger messages and ratings arrive together.
//!
//! A delivery is verified (signature over the exact bytes, constant-time; events not older than
//! `connectors.webhook_max_age_secs`), parsed to check its shape, then stored with its processing
//! job in one transaction before the 200 goes back. Anything refused gets a 4xx and is logged;
//! nothing of it is stored.

mod intake;
mod process;
mod retention;
pub mod unmatched;

pub(crate) use intake::take_batch;
pub use intake::{Accepted, Intake, IntakeError, ProcessEvents};
pub use retention::{PurgeDeliveries, schedules};

use std::collections::BTreeMap;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tidings_connectors::messenger::meta_object_platform;
use tidings_connectors::{MessagingChannel, Platform, WebhookError, WebhookHeaders};
use tidings_core::time::now_millis;
use tidings_store::queue::{Queue, Registry};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::channels::accounts::ChannelContext;
use crate::http::error::ErrorBody;
use crate::http::{ApiError, Envelope};

/// Registers the handlers of webhook processing and of the deliveries' retention.
pub fn register(registry: &mut Registry, context: ChannelContext, queue: Queue, intake: Intake) {
    retention::register(registry, context.db.clone());
    process::register(registry, context, queue, intake);
}

/// The webhook endpoints, at the root (platforms are configured with these URLs).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(challenge, deliver)).routes(routes!(unmatched::list_unmatched))
}

/// What a stored delivery reports.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryOut {
    /// The stored event, absent for a repeat.
    pub event_id: Option<String>,
    /// True when this exact delivery had been received before; nothing new was stored.
    pub duplicate: bool,
}

/// Answers a platform's verification request: Meta's `hub.challenge` (echoed when
/// `hub.verify_token` matches) or X's CRC (`crc_token` → `{"response_token": "sha256=…"}`).
#[utoipa::path(get, path = "/webhooks/{platform}", tag = "webhooks",
    params(("platform" = String, Path, description = "facebook, messenger, instagram, whatsapp or x")),
    responses((status = 200, description = "The challenge answer"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn challenge(
    State(state): State<AppState>,
    Path(platform): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let (platform, channel) = channel_for(&state, &platform)?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.as_deref().unwrap_or_default())
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.to_string()))?;
    let answer = channel.answer_challenge(&pairs).map_err(|error| refused(platform, error))?;
    Ok(([(header::CONTENT_TYPE, answer.content_type)], answer.body).into_response())
}

/// Receives a signed delivery. 200 means it is stored durably and will be processed; a repeat of
/// the same delivery is answered 200 with `duplicate: true` and changes nothing.
#[utoipa::path(post, path = "/webhooks/{platform}", tag = "webhooks",
    params(("platform" = String, Path, description = "facebook (alias messenger), instagram, whatsapp or x; \
        the Meta paths take any Meta object and file it by its `object`")),
    request_body(content = String, content_type = "application/json", description = "The platform's payload, signed"),
    responses((status = 200, body = Envelope<DeliveryOut>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn deliver(
    State(state): State<AppState>,
    Path(platform): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let (platform, channel) = channel_for(&state, &platform)?;
    let headers = WebhookHeaders(
        headers
            .iter()
            .filter_map(|(name, value)| Some((name.as_str().to_ascii_lowercase(), value.to_str().ok()?.to_owned())))
            .collect::<BTreeMap<_, _>>(),
    );
    channel.verify_signature(&headers, &body).map_err(|error| refused(platform, error))?;
    // Every Meta path takes every Meta object (one app, one secret): the notification's
    // `object` names the channel it is stored and processed under, whichever URL it came to.
    let (platform, channel) = match platform.meta_object() {
        Some(_) => {
            channel_for(&state, meta_object_platform(&body).map_err(|error| refused(platform, error))?.as_str())?
        }
        None => (platform, channel),
    };
    channel.parse_webhook(&body, now_millis()).map_err(|error| refused(platform, error))?;
    let text = String::from_utf8(body.to_vec())
        .map_err(|_| refused(platform, WebhookError::Malformed("the body is not UTF-8".into())))?;
    let accepted = state.intake.accept(platform.as_str(), text).await.map_err(|error| {
        tracing::error!(%error, %platform, "webhook not stored");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the delivery could not be stored; retry")
    })?;
    let outcome = match &accepted {
        Accepted::New(_) => "accepted",
        Accepted::Duplicate => "duplicate",
    };
    metrics::counter!("tidings_webhook_deliveries_total", "platform" => platform.as_str(), "outcome" => outcome)
        .increment(1);
    metrics::histogram!("tidings_webhook_ack_seconds", "platform" => platform.as_str())
        .record(started.elapsed().as_secs_f64());
    let out = match accepted {
        Accepted::New(id) => DeliveryOut { event_id: Some(id.to_string()), duplicate: false },
        Accepted::Duplicate => DeliveryOut { event_id: None, duplicate: true },
    };
    Ok(Envelope::new(out).into_response())
}

fn channel_for(state: &AppState, name: &str) -> Result<(Platform, Box<dyn MessagingChannel>), ApiError> {
    let not_found = || ApiError::not_found("webhook endpoint");
    let platform = Platform::parse(name).ok_or_else(not_found)?;
    let channel = state.platforms.channel(platform).ok_or_else(not_found)?;
    Ok((platform, channel))
}

/// The 4xx for a refused delivery, logged with its reason.
fn refused(platform: Platform, error: WebhookError) -> ApiError {
    tracing::warn!(%platform, %error, "webhook delivery refused");
    let outcome = match &error {
        WebhookError::MissingSignature { .. } | WebhookError::BadSignature => "bad_signature",
        WebhookError::Stale { .. } => "stale",
        WebhookError::Malformed(_) => "malformed",
        WebhookError::ChallengeFailed(_) => "challenge_failed",
        WebhookError::NotConfigured(_) => "not_configured",
    };
    metrics::counter!("tidings_webhook_deliveries_total", "platform" => platform.as_str(), "outcome" => outcome)
        .increment(1);
    let message = error.to_string();
    match error {
        WebhookError::MissingSignature { .. } | WebhookError::BadSignature => {
            ApiError::new(StatusCode::UNAUTHORIZED, "invalid_signature", message)
        }
        WebhookError::Stale { .. } => ApiError::new(StatusCode::BAD_REQUEST, "stale_delivery", message),
        WebhookError::Malformed(_) => ApiError::new(StatusCode::BAD_REQUEST, "invalid_payload", message),
        WebhookError::ChallengeFailed(_) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", message),
        WebhookError::NotConfigured(_) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_configured", message),
    }
}
