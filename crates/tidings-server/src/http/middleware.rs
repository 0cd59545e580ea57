//! Middleware applied to every route: the error-envelope backstop, security headers and HTTP
//! metrics.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;

use super::ApiError;

/// The longest plain-text error body kept as the envelope's message.
const MAX_MESSAGE_BYTES: usize = 4 * 1024;

/// Rewrites error responses that layers or the router produced without the envelope
/// (timeouts, body limits, unknown methods, panics) into the envelope, keeping their message.
pub async fn error_envelope(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let content_type = response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let is_json = content_type.is_some_and(|v| v.starts_with("application/json"));
    // Dashboard pages answer errors (403, invalid forms) with a page of their own, for people.
    let is_page = content_type.is_some_and(|v| v.starts_with("text/html"));
    if !(status.is_client_error() || status.is_server_error()) || is_json || is_page {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = match http_body_util::Limited::new(body, MAX_MESSAGE_BYTES).collect().await {
        Ok(collected) => String::from_utf8_lossy(&collected.to_bytes()).trim().to_owned(),
        Err(_) => String::new(),
    };
    let message = if text.is_empty() { default_message(status) } else { text };
    let enveloped = ApiError::new(status, ApiError::code_for(status), message).into_response();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let (_, body) = enveloped.into_parts();
    Response::from_parts(parts, body)
}

fn default_message(status: StatusCode) -> String {
    match status {
        StatusCode::METHOD_NOT_ALLOWED => "this route does not accept that method".to_owned(),
        StatusCode::REQUEST_TIMEOUT => "the request took too long and was abandoned".to_owned(),
        StatusCode::PAYLOAD_TOO_LARGE => "the request body is larger than this server accepts".to_owned(),
        other => other.canonical_reason().unwrap_or("error").to_lowercase(),
    }
}

/// The dashboard's Content-Security-Policy. Every script, style sheet and image is one of the
/// embedded assets, and no template has inline scripts, styles or event handlers, so nothing
/// inline is allowed: injected markup cannot run or restyle anything. Frames of the dashboard
/// on other sites are refused (clickjacking).
const DASHBOARD_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// The policy of pages whose markup is not ours: the Swagger UI under `/docs` (React sets
/// inline styles; its icons are `data:` images) and the development mailbox under `/dev/mail`
/// (emails carry their styles inline). Scripts stay limited to files served from here.
const STYLED_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// Adds the security headers: `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY` and
/// `Referrer-Policy: same-origin` on every response, and a Content-Security-Policy on HTML
/// ones. A header a handler set itself is kept.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let styled = ["/docs", "/dev/mail"].iter().any(|prefix| request.uri().path().starts_with(prefix));
    let mut response = next.run(request).await;
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let headers = response.headers_mut();
    headers.entry(header::X_CONTENT_TYPE_OPTIONS).or_insert(HeaderValue::from_static("nosniff"));
    headers.entry(header::X_FRAME_OPTIONS).or_insert(HeaderValue::from_static("DENY"));
    headers.entry(header::REFERRER_POLICY).or_insert(HeaderValue::from_static("same-origin"));
    if is_html {
        let policy = if styled { STYLED_CSP } else { DASHBOARD_CSP };
        headers.entry(header::CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static(policy));
    }
    response
}

/// Records `tidings_http_request_duration_seconds` by method, route template and status.
pub async fn track_metrics(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let response = next.run(request).await;
    metrics::histogram!(
        "tidings_http_request_duration_seconds",
        "method" => method,
        "route" => route,
        "status" => response.status().as_u16().to_string(),
    )
    .record(started.elapsed().as_secs_f64());
    response
}
