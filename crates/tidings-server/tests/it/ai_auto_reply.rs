//! Auto-reply per channel connection (issue 14): an analysed pricing question is answered
//! through the outbound queue, a request for a person hands the conversation over with the
//! holding message, and a connection without auto-reply is left alone; settings by role and
//! workspace.

use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use tidings_core::ConversationId;
use tidings_nlp::sentiment::Sentiment;
use tidings_server::events::DomainEvent;
use tidings_server::pipeline::replies::dto::{AutoReplyLogOut, AutoReplyOut};

use crate::helpers::Engine;
use crate::inbox_fixtures::{MINUTE, Shop, api_key, assert_handed_to_sender, connection, ingest_message, location};

#[derive(Deserialize)]
struct Data<T> {
    data: T,
}

/// Announces that the pipeline analysed the newest message of `conversation`, as the analysis job does.
async fn analysed(shop: &Shop, conversation: &str, handoff_reason: Option<&str>) -> String {
    let id = ConversationId::parse(conversation).expect("conversation id");
    let messages =
        tidings_server::inbox::store::messages(&shop.app.state.db, &shop.workspace, &id).await.expect("messages");
    let message = messages.last().expect("a message").id.clone();
    let event = DomainEvent::ItemAnalysed {
        conversation: id,
        message: message.clone(),
        sentiment: Sentiment::Neutral,
        lead_tag: None,
        handoff_reason: handoff_reason.map(str::to_owned),
        auto_reply: true,
    };
    let mut tx = shop.app.state.db.begin_for_tenant(&shop.workspace).await.expect("tx");
    shop.app.state.events.publish_in(&mut tx, &shop.workspace, &[event]).await.expect("published");
    tx.commit().await.expect("commit");
    message.to_string()
}

/// Waits until auto-reply has recorded an outcome for `conversation`.
async fn outcome(shop: &Shop, conversation: &str) -> AutoReplyLogOut {
    let path = format!("/api/v1/ai/auto-replies?conversationId={conversation}");
    for _ in 0..200 {
        let log: Data<Vec<AutoReplyLogOut>> = shop.client().get(&path, StatusCode::OK).await;
        if let Some(entry) = log.data.into_iter().find(|e| e.action != "pending") {
            return entry;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no auto-reply outcome for {conversation}");
}

async fn replies_of(shop: &Shop, conversation: &str) -> Vec<tidings_server::inbox::store::ResponseRow> {
    let id = ConversationId::parse(conversation).expect("conversation id");
    tidings_server::inbox::store::responses(&shop.app.state.db, &shop.workspace, &id).await.expect("responses")
}

async fn auto_replies_answer_hand_off_or_stay_out(engine: Engine) {
    let Some(shop) = Shop::open(engine).await else { return };
    let owner = shop.client();
    let faq =
        json!({"kind": "faq", "title": "What does the Pro plan cost?", "body": "The Pro plan costs $49 per month."});
    let _: Value = owner.post("/api/v1/ai/knowledge", &faq, StatusCode::CREATED).await;
    let holding = json!({"holdingMessage": "Thanks for your patience, a colleague will answer shortly."});
    let _: Value = owner.put("/api/v1/ai/settings", &holding, StatusCode::OK).await;
    let madrid = location(&shop.app, &shop.workspace, "Madrid").await;
    let on = connection(&shop.app, &shop.workspace, "messenger", Some(&madrid)).await;
    let off = connection(&shop.app, &shop.workspace, "messenger", None).await;
    let path = format!("/api/v1/ai/auto-reply/{on}");
    let before: Data<AutoReplyOut> = owner.get(&path, StatusCode::OK).await;
    assert!(!before.data.enabled);
    let saved: Data<AutoReplyOut> = owner.put(&path, &json!({"enabled": true, "threshold": 0.5}), StatusCode::OK).await;
    assert_eq!((saved.data.enabled, saved.data.threshold, saved.data.time_zone.as_str()), (true, 0.5, "UTC"));
    let at = tidings_core::time::now_millis() - MINUTE;

    // A pricing question the knowledge base answers: sent automatically through the outbound queue.
    let pricing = ingest_message(
        &shop.app,
        &shop.workspace,
        "messenger",
        Some(&on),
        "t-1",
        "Hi, what's the price of your Pro plan?",
        at,
    )
    .await;
    let message = analysed(&shop, &pricing, None).await;
    let done = outcome(&shop, &pricing).await;
    assert_eq!(done.action, "auto_sent", "{done:?}");
    assert_eq!(done.message_id.as_str(), message);
    assert_eq!(done.source.as_deref(), Some("template"));
    let replies = replies_of(&shop, &pricing).await;
    assert_eq!(replies.len(), 1);
    assert_eq!(Some(replies[0].id.as_str()), done.response_id.as_ref().map(|id| id.as_str()));
    assert!(replies[0].body.contains("The Pro plan costs $49 per month."));
    assert_handed_to_sender(&json!(replies[0].status));
    // The same event again (a replay) sends nothing twice.
    analysed(&shop, &pricing, None).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(replies_of(&shop, &pricing).await.len(), 1);

    // Asking for a person: handed over with the holding message, no answer.
    let human = ingest_message(
        &shop.app,
        &shop.workspace,
        "messenger",
        Some(&on),
        "t-2",
        "I want to talk to a real person please",
        at,
    )
    .await;
    analysed(&shop, &human, None).await;
    let done = outcome(&shop, &human).await;
    assert_eq!(done.action, "handed_off", "{done:?}");
    assert!(done.reasons.as_array().is_some_and(|r| r.iter().any(|r| r["trigger"] == "asks_for_human")), "{done:?}");
    let replies = replies_of(&shop, &human).await;
    assert_eq!(replies.len(), 1);
    assert_eq!(Some(replies[0].id.as_str()), done.holding_response_id.as_ref().map(|id| id.as_str()));
    assert!(replies[0].body.starts_with("Thanks for your patience"));
    let conversation: Value = owner.get(&format!("/api/v1/conversations/{human}"), StatusCode::OK).await;
    assert_eq!(conversation["data"]["status"], "needs_human", "{conversation}");

    // A connection without auto-reply: nothing happens.
    let quiet =
        ingest_message(&shop.app, &shop.workspace, "messenger", Some(&off), "t-3", "What does the Pro plan cost?", at)
            .await;
    analysed(&shop, &quiet, None).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let log: Data<Vec<AutoReplyLogOut>> =
        owner.get(&format!("/api/v1/ai/auto-replies?conversationId={quiet}"), StatusCode::OK).await;
    assert!(log.data.is_empty());
    assert!(replies_of(&shop, &quiet).await.is_empty());

    // Settings by role and workspace.
    let agent = api_key(&shop, "agent").await;
    let _: Value = shop.app.client(&agent).get(&path, StatusCode::OK).await;
    let _: Value = shop.app.client(&agent).put(&path, &json!({"enabled": false}), StatusCode::FORBIDDEN).await;
    let error: Value =
        owner.put(&path, &json!({"enabled": true, "threshold": 2}), StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(error["error"]["details"]["field"], "threshold");
    let hours =
        json!({"enabled": true, "businessHours": {"periods": [{"day": "monday", "open": "09:00", "close": "18:00"}]}});
    let _: Value = owner.put(&path, &hours, StatusCode::UNPROCESSABLE_ENTITY).await;
    let stranger = shop.app.signup("stranger@example.com").await;
    let other = shop.app.client(&stranger.access);
    let _: Value = other.get(&path, StatusCode::NOT_FOUND).await;
    let _: Value = other.put(&path, &json!({"enabled": false}), StatusCode::NOT_FOUND).await;
    let theirs: Data<Vec<AutoReplyLogOut>> = other.get("/api/v1/ai/auto-replies", StatusCode::OK).await;
    assert!(theirs.data.is_empty());
}

crate::on_both_engines!(auto_replies_answer_hand_off_or_stay_out);
