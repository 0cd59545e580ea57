//! Pipedrive: the API client (token check, webhook registration, names of pipelines, stages and
//! users) and the intake of deal webhooks, payload v1 and v2.
//!
//! **Authentication to Pipedrive.** An API token, sent in the `x-api-token` header, which
//! Pipedrive documents for every request
//! (<https://pipedrive.readme.io/docs/core-api-concepts-authentication>). The older `api_token`
//! query parameter works too, but would put the token in every proxy and access log on the way.
//!
//! **Authentication of Pipedrive's webhooks.** Pipedrive does not sign webhooks: there is no HMAC
//! header, whatever the pipedrive-google-chat seed says. What it supports is HTTP Basic auth
//! credentials given when the webhook is created (`http_auth_user`, `http_auth_password` of
//! `POST /v1/webhooks`), which it then sends with every delivery. Tidings generates a pair per
//! connection ([`WebhookCredentials::generate`]), registers it, and checks it on intake in
//! constant time ([`verify_basic_auth`]); the intake URL carries an unguessable connection id as
//! well. See `docs/adr/0016-pipedrive-webhooks-basic-auth.md`.
//!
//! **Payloads.** v1 (`meta`, `current`, `previous` as the whole previous object, `retry`) and v2
//! (`meta` with `version: "2.0"`, `data`, `previous` holding **only the fields that changed**)
//! become one [`DealEvent`]. A change is read from `previous` holding the field with another value
//! than now, which is right for both: in v1 unchanged fields are equal, in v2 they are absent.
//!
//! Docs: <https://pipedrive.readme.io/docs/guide-for-webhooks>,
//! <https://pipedrive.readme.io/docs/guide-for-webhooks-v2>,
//! <https://pipedrive.readme.io/docs/webhooks-v2-migration-guide>,
//! <https://developers.pipedrive.com/docs/api/v1/Webhooks>.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rand::Rng as _;
use rand::distr::Alphanumeric;
use reqwest::{RequestBuilder, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::money::Money;
use crate::{ConnectorError, WebhookError, http};

/// Pipedrive's API host; a company's own `https://{company}.pipedrive.com/api` works as well.
pub const DEFAULT_BASE_URL: &str = "https://api.pipedrive.com";
/// The header Pipedrive reads the API token from.
pub const TOKEN_HEADER: &str = "x-api-token";
/// The header Pipedrive sends webhook credentials in.
pub const AUTHORIZATION_HEADER: &str = "Authorization";

pub(crate) const PLATFORM: &str = "pipedrive";
/// The most items Pipedrive's v1 list endpoints return per page.
const PAGE_LIMIT: u32 = 500;

/// A Pipedrive API client acting with one user's API token.
#[derive(Clone)]
pub struct PipedriveClient {
    base_url: String,
    http: reqwest::Client,
    api_token: SecretString,
}

/// The v1 answer envelope: `{"success": true, "data": …, "additional_data": …}`.
#[derive(Deserialize)]
struct Envelope<T> {
    data: Option<T>,
    #[serde(default)]
    additional_data: Option<AdditionalData>,
}

#[derive(Deserialize)]
struct AdditionalData {
    #[serde(default)]
    pagination: Option<Pagination>,
}

#[derive(Deserialize)]
struct Pagination {
    #[serde(default)]
    more_items_in_collection: bool,
    #[serde(default)]
    next_start: Option<u32>,
}

/// The user an API token belongs to (`GET /v1/users/me`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PipedriveUser {
    /// The user's id.
    pub id: i64,
    /// The user's name.
    pub name: String,
    /// The user's email.
    #[serde(default)]
    pub email: Option<String>,
    /// The company the token acts in.
    #[serde(default)]
    pub company_id: Option<i64>,
    /// The company's name.
    #[serde(default)]
    pub company_name: Option<String>,
    /// The company's subdomain (`{company_domain}.pipedrive.com`), for links to deals.
    #[serde(default)]
    pub company_domain: Option<String>,
}

/// Which payload format Pipedrive sends to a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookVersion {
    /// The original format: `current`, whole `previous`, top-level `retry`.
    V1,
    /// `data`, `previous` with only the changed fields, `meta.attempt`.
    V2,
}

impl WebhookVersion {
    /// The `version` value `POST /v1/webhooks` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookVersion::V1 => "1.0",
            WebhookVersion::V2 => "2.0",
        }
    }
}

/// A webhook to register in Pipedrive.
pub struct NewWebhook<'a> {
    /// Where Pipedrive posts: the connection's intake URL.
    pub subscription_url: &'a str,
    /// `create`, `change`, `delete` or `*` (v2); `added`, `updated`, `deleted`, `merged` or `*` (v1).
    pub event_action: &'a str,
    /// `deal`, `person`, … or `*`.
    pub event_object: &'a str,
    /// The Basic auth credentials Pipedrive will send with every delivery.
    pub credentials: &'a WebhookCredentials,
    /// The payload format.
    pub version: WebhookVersion,
}

/// A webhook as Pipedrive stored it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RegisteredWebhook {
    /// Pipedrive's id, needed to delete it.
    pub id: i64,
    /// The URL it posts to.
    #[serde(default)]
    pub subscription_url: String,
    /// The action it fires on.
    #[serde(default)]
    pub event_action: String,
    /// The object it fires on.
    #[serde(default)]
    pub event_object: String,
}

/// Names Pipedrive messages are written with: ids alone read badly in a chat.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names {
    /// Pipeline id → name.
    pub pipelines: BTreeMap<i64, String>,
    /// Stage id → name.
    pub stages: BTreeMap<i64, String>,
    /// User id → name.
    pub users: BTreeMap<i64, String>,
}

#[derive(Deserialize)]
struct Named {
    id: i64,
    name: String,
}

impl PipedriveClient {
    /// A client calling `base_url` (normally [`DEFAULT_BASE_URL`]) with `api_token`.
    pub fn new(http: reqwest::Client, base_url: impl Into<String>, api_token: SecretString) -> Self {
        Self { base_url: base_url.into().trim_end_matches('/').to_owned(), http, api_token }
    }

    /// A request to `{base}{path}` carrying the token.
    pub(crate) fn request(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base_url))
            .header(TOKEN_HEADER, self.api_token.expose_secret())
    }

    /// Checks the token by asking who it belongs to: a refused token is `Unauthorized`.
    pub async fn me(&self) -> Result<PipedriveUser, ConnectorError> {
        data(self.request(reqwest::Method::GET, "/v1/users/me")).await
    }

    /// Registers a webhook with its Basic auth credentials.
    pub async fn register_webhook(&self, webhook: &NewWebhook<'_>) -> Result<RegisteredWebhook, ConnectorError> {
        #[derive(Serialize)]
        struct Body<'a> {
            subscription_url: &'a str,
            event_action: &'a str,
            event_object: &'a str,
            http_auth_user: &'a str,
            http_auth_password: &'a str,
            version: &'a str,
        }
        let body = Body {
            subscription_url: webhook.subscription_url,
            event_action: webhook.event_action,
            event_object: webhook.event_object,
            http_auth_user: &webhook.credentials.user,
            http_auth_password: webhook.credentials.password.expose_secret(),
            version: webhook.version.as_str(),
        };
        data(self.request(reqwest::Method::POST, "/v1/webhooks").json(&body)).await
    }

    /// Deletes a webhook. One already gone (404) counts as deleted, so disconnecting twice is harmless.
    pub async fn delete_webhook(&self, id: i64) -> Result<(), ConnectorError> {
        match send(self.request(reqwest::Method::DELETE, &format!("/v1/webhooks/{id}"))).await {
            Ok(_) | Err(ConnectorError::Rejected { status: 404, .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Every pipeline, stage and user name of the company.
    pub async fn names(&self) -> Result<Names, ConnectorError> {
        let (pipelines, stages, users) = tokio::try_join!(
            self.list_all::<Named>("/v1/pipelines"),
            self.list_all::<Named>("/v1/stages"),
            self.list_all::<Named>("/v1/users"),
        )?;
        let map = |items: Vec<Named>| items.into_iter().map(|n| (n.id, n.name)).collect();
        Ok(Names { pipelines: map(pipelines), stages: map(stages), users: map(users) })
    }

    /// Every item of a v1 list, following `additional_data.pagination.next_start`.
    async fn list_all<T: DeserializeOwned>(&self, path: &str) -> Result<Vec<T>, ConnectorError> {
        let mut items = Vec::new();
        let mut start = 0;
        loop {
            let request = self.request(reqwest::Method::GET, path).query(&[("start", start), ("limit", PAGE_LIMIT)]);
            let page: Envelope<Vec<T>> = send_json(request).await?;
            items.extend(page.data.unwrap_or_default());
            match page.additional_data.and_then(|a| a.pagination) {
                Some(Pagination { more_items_in_collection: true, next_start: Some(next) }) if next > start => {
                    start = next;
                }
                _ => return Ok(items),
            }
        }
    }
}

/// Sends a v1 request and returns its `data`, which must be present.
pub(crate) async fn data<T: DeserializeOwned>(request: RequestBuilder) -> Result<T, ConnectorError> {
    let envelope: Envelope<T> = send_json(request).await?;
    envelope
        .data
        .ok_or_else(|| ConnectorError::Malformed { platform: PLATFORM, message: "no data in the answer".into() })
}

async fn send_json<T: DeserializeOwned>(request: RequestBuilder) -> Result<T, ConnectorError> {
    let response = send(request).await?;
    let body = response
        .bytes()
        .await
        .map_err(|e| ConnectorError::Unavailable { platform: PLATFORM, message: e.to_string() })?;
    serde_json::from_slice(&body).map_err(|e| ConnectorError::Malformed { platform: PLATFORM, message: e.to_string() })
}

/// [`http::send`], except that a 429 without `Retry-After` waits for `x-ratelimit-reset`
/// (seconds until the window resets), which is how Pipedrive's rate limits announce the wait.
pub(crate) async fn send(request: RequestBuilder) -> Result<reqwest::Response, ConnectorError> {
    let response = request.send().await.map_err(|e| http::request_error(PLATFORM, &e))?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let retry_after = http::retry_after(&response).or_else(|| {
        let reset = response.headers().get("x-ratelimit-reset")?.to_str().ok()?.trim().parse::<u64>().ok()?;
        Some(Duration::from_secs(reset).min(http::MAX_RETRY_AFTER))
    });
    let body = response.text().await.unwrap_or_default();
    let retry_after = if status == StatusCode::TOO_MANY_REQUESTS { retry_after } else { None };
    Err(http::error_for_status(PLATFORM, status, retry_after, &body))
}

// ---------------------------------------------------------------------------------------------
// Webhook credentials.
// ---------------------------------------------------------------------------------------------

/// The Basic auth pair Pipedrive sends with each delivery to one connection.
#[derive(Clone)]
pub struct WebhookCredentials {
    /// The user name (not secret on its own, but compared in constant time all the same).
    pub user: String,
    /// The password.
    pub password: SecretString,
}

impl WebhookCredentials {
    /// A fresh pair: a 16-character user and a 40-character password (about 238 bits) from the
    /// operating system's random source.
    pub fn generate() -> Self {
        let token = |len: usize| rand::rng().sample_iter(Alphanumeric).take(len).map(char::from).collect::<String>();
        Self { user: format!("tidings-{}", token(16)), password: SecretString::from(token(40)) }
    }
}

/// Checks a delivery's `Authorization: Basic …` header against the connection's credentials.
///
/// Both halves are compared as SHA-256 digests in constant time, so neither their content nor
/// their length shows in how long a refusal takes.
pub fn verify_basic_auth(expected: &WebhookCredentials, authorization: Option<&str>) -> Result<(), WebhookError> {
    let header = authorization.map(str::trim).filter(|v| !v.is_empty());
    let header = header.ok_or(WebhookError::MissingSignature { header: AUTHORIZATION_HEADER })?;
    let (scheme, encoded) = header.split_once(' ').ok_or(WebhookError::BadSignature)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(WebhookError::BadSignature);
    }
    let decoded = BASE64.decode(encoded.trim()).map_err(|_| WebhookError::BadSignature)?;
    let colon = decoded.iter().position(|&b| b == b':').ok_or(WebhookError::BadSignature)?;
    let (user, password) = (&decoded[..colon], &decoded[colon + 1..]);
    let same = |a: &[u8], b: &[u8]| Sha256::digest(a).ct_eq(&Sha256::digest(b));
    let user_ok = same(user, expected.user.as_bytes());
    let password_ok = same(password, expected.password.expose_secret().as_bytes());
    if bool::from(user_ok & password_ok) && !expected.password.expose_secret().is_empty() {
        Ok(())
    } else {
        Err(WebhookError::BadSignature)
    }
}

// ---------------------------------------------------------------------------------------------
// Webhook intake.
// ---------------------------------------------------------------------------------------------

/// What happened to a deal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DealEventKind {
    /// A new deal.
    Added,
    /// The deal's status became `won`.
    Won,
    /// The deal's status became `lost`.
    Lost,
    /// The deal moved from one stage to another.
    StageChanged {
        /// The stage it left.
        from: i64,
        /// The stage it is in now.
        to: i64,
    },
    /// Any other change (title, value, owner, a reopened deal…).
    Updated,
}

/// A deal as a webhook describes it after the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deal {
    /// Pipedrive's deal id.
    pub id: i64,
    /// The deal's title.
    pub title: String,
    /// Its value in minor units with its currency; `None` when the deal has no value.
    pub value: Option<Money>,
    /// The pipeline it is in.
    pub pipeline_id: Option<i64>,
    /// The stage it is in.
    pub stage_id: Option<i64>,
    /// The user who owns it (v1 `user_id`, v2 `owner_id`).
    pub owner_id: Option<i64>,
    /// `open`, `won`, `lost` or `deleted`.
    pub status: String,
}

/// Identifies one delivery, so a repeat of it is recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryId {
    /// The webhook that sent it.
    pub webhook_id: Option<String>,
    /// v2's unique event id (`meta.id`); v1 has none.
    pub event_id: Option<String>,
    /// Which attempt this is, from 1 (v1 `retry` + 1, v2 `meta.attempt`).
    pub attempt: u32,
    /// One string for a unique index: v2 `v2:{meta.id}`; v1
    /// `v1:{webhook_id}:{object}:{id}:{timestamp_micro}`, which Pipedrive's retries repeat.
    pub dedup_key: String,
}

/// One deal webhook, whichever version sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DealEvent {
    /// What happened.
    pub kind: DealEventKind,
    /// The deal after it happened.
    pub deal: Deal,
    /// The delivery's identifiers.
    pub delivery: DeliveryId,
    /// The payload format.
    pub version: WebhookVersion,
    /// When Pipedrive says it happened (unix ms), if it says.
    pub occurred_at_ms: Option<i64>,
    /// The user whose action caused it.
    pub actor_user_id: Option<i64>,
    /// The company's host (`company.pipedrive.com`), for a link to the deal.
    pub host: Option<String>,
}

impl DealEvent {
    /// A link to the deal in Pipedrive, when the delivery named the company's host.
    pub fn deal_url(&self) -> Option<String> {
        self.host.as_ref().map(|host| format!("https://{host}/deal/{}", self.deal.id))
    }
}

/// What a delivery turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PipedriveEvent {
    /// A deal was added or changed.
    Deal(Box<DealEvent>),
    /// Something Tidings does not act on (another object, a deletion, a merge), and why.
    Ignored {
        /// Why.
        reason: String,
    },
}

/// Parses a delivery's body, v1 or v2 (told apart by `meta.version` / `meta.v`).
pub fn parse_webhook(body: &[u8]) -> Result<PipedriveEvent, WebhookError> {
    let payload: Payload = serde_json::from_slice(body).map_err(|e| WebhookError::Malformed(e.to_string()))?;
    let meta = payload.meta;
    let is_v2 = meta.version.as_ref().and_then(text).is_some_and(|v| v.starts_with('2'));
    let (version, object, action, current) = if is_v2 {
        (WebhookVersion::V2, meta.entity.clone(), meta.action.clone(), payload.data)
    } else {
        (WebhookVersion::V1, meta.object.clone(), meta.action.clone(), payload.current)
    };
    let object = object.unwrap_or_default();
    let action = action.unwrap_or_default();
    if object != "deal" {
        return Ok(PipedriveEvent::Ignored { reason: format!("{action} {object}") });
    }
    let added = match action.as_str() {
        "added" | "create" => true,
        "updated" | "change" => false,
        other => return Ok(PipedriveEvent::Ignored { reason: format!("{other} deal") }),
    };
    let current = current.filter(Value::is_object).ok_or_else(|| {
        WebhookError::Malformed(format!("a deal {action} without {}", if is_v2 { "data" } else { "current" }))
    })?;
    let previous = payload.previous.filter(Value::is_object).unwrap_or(Value::Null);
    let deal = deal(&current)?;
    let kind = if added { DealEventKind::Added } else { change_kind(&deal, &current, &previous) };
    let delivery = delivery_id(version, &meta, &object, &deal, payload.retry);
    let occurred_at_ms = meta.timestamp_micro.as_ref().and_then(integer).map(|us| us / 1000).or_else(|| {
        meta.timestamp
            .as_ref()
            .and_then(|t| integer(t).map(|secs| secs * 1000).or_else(|| text(t).and_then(|s| parse_rfc3339_ms(&s))))
    });
    Ok(PipedriveEvent::Deal(Box::new(DealEvent {
        kind,
        deal,
        delivery,
        version,
        occurred_at_ms,
        actor_user_id: meta.user_id.as_ref().and_then(integer),
        host: meta.host.filter(|h| !h.is_empty()),
    })))
}

#[derive(Deserialize)]
struct Payload {
    meta: Meta,
    #[serde(default)]
    current: Option<Value>,
    #[serde(default)]
    data: Option<Value>,
    #[serde(default)]
    previous: Option<Value>,
    #[serde(default)]
    retry: Option<Value>,
}

/// `meta` of both versions; ids and times are read leniently because Pipedrive sends some as
/// numbers in one version and strings in the other.
#[derive(Deserialize)]
struct Meta {
    #[serde(default)]
    action: Option<String>,
    /// v1's object type.
    #[serde(default)]
    object: Option<String>,
    /// v2's object type.
    #[serde(default)]
    entity: Option<String>,
    /// v2: `"2.0"`.
    #[serde(default)]
    version: Option<Value>,
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    entity_id: Option<Value>,
    #[serde(default)]
    user_id: Option<Value>,
    #[serde(default)]
    webhook_id: Option<Value>,
    #[serde(default)]
    attempt: Option<Value>,
    #[serde(default)]
    timestamp: Option<Value>,
    #[serde(default)]
    timestamp_micro: Option<Value>,
    #[serde(default)]
    host: Option<String>,
}

/// The deal fields Tidings reads, from v1 `current` or v2 `data`.
fn deal(current: &Value) -> Result<Deal, WebhookError> {
    let id = current.get("id").and_then(integer).ok_or_else(|| WebhookError::Malformed("a deal without id".into()))?;
    let currency = current.get("currency").and_then(Value::as_str).unwrap_or_default();
    let value = match current.get("value") {
        Some(Value::Number(n)) if !currency.is_empty() => Money::from_json(n, currency),
        Some(Value::String(s)) if !currency.is_empty() && !s.is_empty() => Money::from_decimal(s, currency),
        _ => None,
    };
    Ok(Deal {
        id,
        title: current.get("title").and_then(Value::as_str).unwrap_or_default().to_owned(),
        value,
        pipeline_id: current.get("pipeline_id").and_then(integer),
        stage_id: current.get("stage_id").and_then(integer),
        owner_id: current.get("owner_id").or_else(|| current.get("user_id")).and_then(integer),
        status: current.get("status").and_then(Value::as_str).unwrap_or("open").to_owned(),
    })
}

/// What a change did, from the fields `previous` holds with another value than `current`.
/// Won and lost outrank a stage change made in the same edit: that is what people want to hear.
fn change_kind(deal: &Deal, current: &Value, previous: &Value) -> DealEventKind {
    let changed = |field: &str| previous.get(field).is_some_and(|before| Some(before) != current.get(field));
    if changed("status") {
        match deal.status.as_str() {
            "won" => return DealEventKind::Won,
            "lost" => return DealEventKind::Lost,
            _ => {}
        }
    }
    if changed("stage_id")
        && let (Some(from), Some(to)) = (previous.get("stage_id").and_then(integer), deal.stage_id)
    {
        return DealEventKind::StageChanged { from, to };
    }
    DealEventKind::Updated
}

fn delivery_id(version: WebhookVersion, meta: &Meta, object: &str, deal: &Deal, retry: Option<Value>) -> DeliveryId {
    let webhook_id = meta.webhook_id.as_ref().and_then(text);
    match version {
        WebhookVersion::V2 => {
            let event_id = meta.id.as_ref().and_then(text);
            let attempt = meta.attempt.as_ref().and_then(integer).unwrap_or(1).max(1);
            let entity_id = meta.entity_id.as_ref().and_then(text).unwrap_or_else(|| deal.id.to_string());
            let timestamp = meta.timestamp.as_ref().and_then(text).unwrap_or_default();
            // meta.id is unique per event; without it, the webhook, entity and time identify it.
            let dedup_key = match &event_id {
                Some(id) => format!("v2:{id}"),
                None => format!("v2:{}:{object}:{entity_id}:{timestamp}", webhook_id.clone().unwrap_or_default()),
            };
            DeliveryId { webhook_id, event_id, attempt: u32::try_from(attempt).unwrap_or(u32::MAX), dedup_key }
        }
        WebhookVersion::V1 => {
            let retry = retry.as_ref().and_then(integer).unwrap_or(0).max(0);
            let time = meta.timestamp_micro.as_ref().or(meta.timestamp.as_ref()).and_then(text).unwrap_or_default();
            let object_id = meta.id.as_ref().and_then(text).unwrap_or_else(|| deal.id.to_string());
            let dedup_key = format!("v1:{}:{object}:{object_id}:{time}", webhook_id.clone().unwrap_or_default());
            DeliveryId { webhook_id, event_id: None, attempt: u32::try_from(retry + 1).unwrap_or(u32::MAX), dedup_key }
        }
    }
}

/// An id or count sent as a number, a numeric string, or (v1 API style) an object with `id`/`value`.
fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        Value::Object(fields) => fields.get("id").or_else(|| fields.get("value")).and_then(integer),
        _ => None,
    }
}

/// A string or number as text.
fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn parse_rfc3339_ms(value: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(value).ok().map(|t| t.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user: &str, password: &str) -> String {
        format!("Basic {}", BASE64.encode(format!("{user}:{password}")))
    }

    #[test]
    fn basic_auth_accepts_only_the_exact_pair() {
        let expected = WebhookCredentials { user: "hook".into(), password: SecretString::from("s3cret:with:colons") };
        assert_eq!(verify_basic_auth(&expected, Some(&basic("hook", "s3cret:with:colons"))), Ok(()));
        assert_eq!(verify_basic_auth(&expected, Some(&basic("hook", "s3cret"))), Err(WebhookError::BadSignature));
        assert_eq!(
            verify_basic_auth(&expected, Some(&basic("other", "s3cret:with:colons"))),
            Err(WebhookError::BadSignature)
        );
        assert_eq!(verify_basic_auth(&expected, Some("Bearer abc")), Err(WebhookError::BadSignature));
        assert_eq!(verify_basic_auth(&expected, Some("Basic !!!")), Err(WebhookError::BadSignature));
        assert_eq!(
            verify_basic_auth(&expected, None),
            Err(WebhookError::MissingSignature { header: AUTHORIZATION_HEADER })
        );
        let unset = WebhookCredentials { user: String::new(), password: SecretString::from("") };
        assert_eq!(verify_basic_auth(&unset, Some(&basic("", ""))), Err(WebhookError::BadSignature));
    }

    #[test]
    fn generated_credentials_differ_and_verify() {
        let (a, b) = (WebhookCredentials::generate(), WebhookCredentials::generate());
        assert_ne!(a.password.expose_secret(), b.password.expose_secret());
        assert_eq!(a.password.expose_secret().len(), 40);
        assert_eq!(verify_basic_auth(&a, Some(&basic(&a.user, a.password.expose_secret()))), Ok(()));
    }
}
