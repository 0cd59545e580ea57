//! What every Meta Graph API client shares (Facebook ratings, Messenger, Instagram, WhatsApp,
//! Meta OAuth): sending a request and reading Graph's error codes, which say more than the
//! HTTP status (Graph reports most failures, throttling included, as a 400 or 403).

use std::time::Duration;

use reqwest::{RequestBuilder, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::{ConnectorError, http};

#[derive(Deserialize)]
struct GraphErrorBody {
    error: GraphError,
}

#[derive(Deserialize)]
struct GraphError {
    #[serde(default)]
    message: String,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    error_subcode: Option<i64>,
    #[serde(default)]
    fbtrace_id: Option<String>,
}

/// Sends a Graph request and decodes the answer, mapping failures with [`error`].
pub(crate) async fn send<T: DeserializeOwned>(
    platform: &'static str,
    request: RequestBuilder,
) -> Result<T, ConnectorError> {
    let response =
        request.send().await.map_err(|e| ConnectorError::Unavailable { platform, message: e.to_string() })?;
    let status = response.status();
    let retry_after = http::retry_after(&response);
    let body = response.bytes().await.map_err(|e| ConnectorError::Unavailable { platform, message: e.to_string() })?;
    if !status.is_success() {
        return Err(error(platform, status, retry_after, &String::from_utf8_lossy(&body)));
    }
    serde_json::from_slice(&body).map_err(|e| ConnectorError::Malformed { platform, message: e.to_string() })
}

/// Maps a failed Graph call by its error code first, its status second:
/// * 190, 102 (token expired, revoked or session invalid), 10 and 200–299 (missing permission)
///   → `Unauthorized`, except 10/2018278 (outside Messenger's messaging window) → `Rejected`;
/// * 4, 17, 32, 613, 80001–80014 (app, user, Page and business-use-case limits), 130429 and
///   131056 (WhatsApp throughput and pair limits) → `RateLimited`;
/// * 1, 2 and 1200 (documented as temporary) → `Unavailable`;
/// * 131047 (WhatsApp's 24-hour window closed), 551 and subcodes 2018108/1545041 (recipient not
///   available) → `Rejected` saying so;
/// * anything else by HTTP status, with Graph's readable message.
pub(crate) fn error(
    platform: &'static str,
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &str,
) -> ConnectorError {
    let Ok(GraphErrorBody { error }) = serde_json::from_str::<GraphErrorBody>(body) else {
        return http::error_for_status(platform, status, retry_after, body);
    };
    let message = describe(&error);
    let rejected = |message: String| ConnectorError::Rejected { platform, status: status.as_u16(), message };
    match (error.code, error.error_subcode) {
        (Some(10), Some(2018278)) => rejected(format!("outside the 24-hour messaging window ({message})")),
        (Some(190 | 102 | 10 | 200..=299), _) => ConnectorError::Unauthorized { platform, message },
        (Some(4 | 17 | 32 | 613 | 80001..=80014 | 130429 | 131056), _) => {
            ConnectorError::RateLimited { platform, retry_after }
        }
        (Some(1 | 2 | 1200), _) => ConnectorError::Unavailable { platform, message },
        (Some(131047), _) => rejected(format!(
            "the 24-hour customer service window has closed; an approved template message is required ({message})"
        )),
        (Some(551), _) | (_, Some(2018108 | 1545041)) => {
            rejected(format!("the recipient is not available ({message})"))
        }
        _ => match http::error_for_status(platform, status, retry_after, body) {
            ConnectorError::Rejected { status, .. } => ConnectorError::Rejected { platform, status, message },
            other => other,
        },
    }
}

/// `{"success": true}`, what Graph answers to an edge write such as `subscribed_apps`.
#[derive(Deserialize)]
struct Success {
    #[serde(default)]
    success: bool,
}

/// Installs the app on a node (a Page, an Instagram account, a WhatsApp Business Account) so its
/// webhook events reach us: `POST {url}` (`…/{node}/subscribed_apps`) with `subscribed_fields`
/// when the node takes them. Docs:
/// <https://developers.facebook.com/docs/graph-api/reference/page/subscribed_apps/>.
pub(crate) async fn subscribe_app(
    platform: &'static str,
    http: &reqwest::Client,
    url: &str,
    fields: Option<&str>,
    token: &str,
) -> Result<(), ConnectorError> {
    let mut request = http.post(url).bearer_auth(token);
    if let Some(fields) = fields {
        request = request.query(&[("subscribed_fields", fields)]);
    }
    confirmed(platform, send(platform, request).await?)
}

/// Removes the app from a node: `DELETE {url}` (`…/{node}/subscribed_apps`).
pub(crate) async fn unsubscribe_app(
    platform: &'static str,
    http: &reqwest::Client,
    url: &str,
    token: &str,
) -> Result<(), ConnectorError> {
    confirmed(platform, send(platform, http.delete(url).bearer_auth(token)).await?)
}

fn confirmed(platform: &'static str, answer: Success) -> Result<(), ConnectorError> {
    if answer.success {
        Ok(())
    } else {
        Err(ConnectorError::Malformed { platform, message: "Graph did not answer success: true".into() })
    }
}

fn describe(error: &GraphError) -> String {
    let mut message = error.message.clone();
    if let Some(kind) = &error.kind {
        message.push_str(&format!(" ({kind}"));
        if let Some(code) = error.code {
            message.push_str(&format!(" {code}"));
        }
        if let Some(sub) = error.error_subcode {
            message.push_str(&format!("/{sub}"));
        }
        message.push(')');
    }
    if let Some(trace) = &error.fbtrace_id {
        message.push_str(&format!(" [fbtrace_id {trace}]"));
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_codes_win_over_status() {
        let body = |code: i64| format!(r#"{{"error":{{"message":"m","type":"OAuthException","code":{code}}}}}"#);
        let bad = StatusCode::BAD_REQUEST;
        assert!(matches!(error("facebook", bad, None, &body(190)), ConnectorError::Unauthorized { .. }));
        for code in [4, 17, 32, 613, 80001, 130429] {
            assert!(matches!(error("facebook", bad, None, &body(code)), ConnectorError::RateLimited { .. }));
        }
        assert!(matches!(error("facebook", bad, None, &body(100)), ConnectorError::Rejected { status: 400, .. }));
        assert!(matches!(error("facebook", bad, None, "not json"), ConnectorError::Rejected { .. }));
        let window = r#"{"error":{"message":"m","code":10,"error_subcode":2018278}}"#;
        assert!(matches!(error("messenger", bad, None, window), ConnectorError::Rejected { .. }));
    }
}
