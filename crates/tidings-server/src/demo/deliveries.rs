//! Webhook deliveries shaped and signed exactly as the platforms send them. The demo simulator
//! feeds them through the real `/webhooks/{platform}` path, and tests and the load generator use
//! them too.

use secrecy::ExposeSecret;
use serde_json::json;
use tidings_connectors::Platform;
use tidings_connectors::signature::{HUB_SIGNATURE_HEADER, X_SIGNATURE_HEADER, sign_hub, sign_x};

use crate::channels::platforms::WebhookSecrets;

/// A delivery ready to post: body and the signature header.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The platform (the path segment of `/webhooks/{platform}`).
    pub platform: Platform,
    /// The exact bytes to post.
    pub body: String,
    /// The signature header's name.
    pub header: &'static str,
    /// Its value.
    pub signature: String,
}

/// One message a contact sends.
#[derive(Debug, Clone)]
pub struct Incoming<'a> {
    /// The business account (Page id, IG account id, phone-number id, X user id).
    pub account_id: &'a str,
    /// The sender's platform id (PSID, IGSID, wa_id, X user id).
    pub sender_id: &'a str,
    /// The sender's name (WhatsApp and X carry it).
    pub sender_name: &'a str,
    /// The platform's message id.
    pub message_id: &'a str,
    /// The text.
    pub text: &'a str,
    /// When it was sent (unix milliseconds).
    pub sent_at_ms: i64,
}

/// A signed delivery of one message on `platform` (Messenger, Instagram, WhatsApp or X).
pub fn message(platform: Platform, secrets: &WebhookSecrets, m: &Incoming<'_>) -> Option<Delivery> {
    let body = match platform {
        Platform::Messenger | Platform::Instagram => {
            let object = if platform == Platform::Messenger { "page" } else { "instagram" };
            json!({"object": object, "entry": [{"id": m.account_id, "time": m.sent_at_ms, "messaging": [{
                "sender": {"id": m.sender_id}, "recipient": {"id": m.account_id}, "timestamp": m.sent_at_ms,
                "message": {"mid": m.message_id, "text": m.text}}]}]})
        }
        Platform::Whatsapp => json!({"object": "whatsapp_business_account", "entry": [{"id": "waba", "changes": [{
            "field": "messages", "value": {"messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550000000", "phone_number_id": m.account_id},
            "contacts": [{"profile": {"name": m.sender_name}, "wa_id": m.sender_id}],
            "messages": [{"from": m.sender_id, "id": m.message_id, "timestamp": (m.sent_at_ms / 1000).to_string(),
                "type": "text", "text": {"body": m.text}}]}}]}]}),
        Platform::X => json!({"for_user_id": m.account_id, "direct_message_events": [{"type": "message_create",
            "id": m.message_id, "created_timestamp": m.sent_at_ms.to_string(), "message_create": {
            "target": {"recipient_id": m.account_id}, "sender_id": m.sender_id,
            "message_data": {"text": m.text, "entities": {"hashtags": [], "symbols": [], "user_mentions": [], "urls": []}}}}],
            "users": {m.sender_id: {"id": m.sender_id, "name": m.sender_name, "screen_name": m.sender_name.replace(' ', "_")}}}),
        _ => return None,
    };
    Some(sign(platform, secrets, body.to_string()))
}

/// A signed Page `ratings` change: a Facebook review or recommendation arriving by webhook.
pub fn facebook_rating(
    secrets: &WebhookSecrets,
    page_id: &str,
    story_id: &str,
    reviewer: &str,
    rating: u8,
    text: &str,
    created_at_ms: i64,
) -> Delivery {
    let recommendation = if rating >= 3 { "positive" } else { "negative" };
    let body = json!({"object": "page", "entry": [{"id": page_id, "time": created_at_ms, "changes": [{
        "field": "ratings", "value": {"reviewer_id": format!("r-{story_id}"), "reviewer_name": reviewer,
        "rating": rating, "review_text": text, "recommendation_type": recommendation,
        "created_time": created_at_ms / 1000, "open_graph_story_id": story_id, "item": "rating", "verb": "add"}}]}]});
    sign(Platform::Messenger, secrets, body.to_string())
}

/// Signs `body` as `platform` does.
pub fn sign(platform: Platform, secrets: &WebhookSecrets, body: String) -> Delivery {
    match platform {
        Platform::X => Delivery {
            platform,
            signature: sign_x(secrets.x_consumer_secret.expose_secret().as_bytes(), body.as_bytes()),
            header: X_SIGNATURE_HEADER,
            body,
        },
        _ => Delivery {
            platform,
            signature: sign_hub(secrets.meta_app_secret.expose_secret().as_bytes(), body.as_bytes()),
            header: HUB_SIGNATURE_HEADER,
            body,
        },
    }
}
