//! The answer for a path no route matches: the JSON envelope for machines, the dashboard's HTML
//! "not found" page for people. It lives with the dashboard, which may use http's envelope; the
//! plumbing below knows no pages.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::page::PageError;
use crate::http::ApiError;

/// Paths machines call: an unknown one there is answered in the JSON envelope.
const MACHINE_PATHS: [&str; 2] = ["/api/", "/webhooks/"];

/// The answer for any path no route matches: the JSON envelope under the API (and for clients
/// that ask for JSON), the dashboard's HTML "not found" page for people anywhere else.
pub async fn route_not_found(request: Request<Body>) -> Response {
    let path = request.uri().path();
    let wants_json = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("application/json") && !accept.contains("text/html"));
    if wants_json || MACHINE_PATHS.iter().any(|prefix| path.starts_with(prefix)) {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "route_not_found",
            format!("no route for {} {path}", request.method()),
        )
        .into_response();
    }
    PageError::not_found("There is no page at this address. It may have moved, or the link may be mistyped.")
        .into_response()
}
