//! The automations pages as a browser uses them (cookies, CSRF forms): a destination added and
//! tested, the rule editor's validation messages and backtest, a rule saved and test-sent, the
//! delivery log with its filters and retry, the bell; and Tidings' own events (a negative review)
//! reaching a rule through the domain-event subscriber.

use std::time::Duration;

use reqwest::{Client, StatusCode};
use serde_json::json;
use tidings_core::{ConversationId, MessageId, WorkspaceId};
use tidings_nlp::sentiment::Sentiment;
use tidings_server::events::DomainEvent;
use tidings_store::with_reader;

use crate::automations::{chat_destination, chat_ok, mock_chat, spawn, wait_for_requests};
use crate::dashboard_identity::{browser, location, page, submit};
use crate::helpers::{Engine, Session, TestApp};
use crate::inbox_fixtures::{Review, ingest_review};

crate::on_both_engines!(
    a_rule_is_written_backtested_saved_and_test_sent_from_the_dashboard,
    a_negative_review_reaches_google_chat_through_the_domain_events,
);

async fn member(app: &TestApp, email: &str) -> (Session, Client) {
    let session = app.signup(email).await;
    let client = browser();
    let fields = [("email", email), ("password", "correct horse battery")];
    let response = submit(&client, app, "/sign-in", "/sign-in", &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "sign-in of {email}");
    (session, client)
}

async fn a_rule_is_written_backtested_saved_and_test_sent_from_the_dashboard(engine: Engine) {
    let Some(app) = spawn(engine, "http://127.0.0.1:9", |_| {}).await else { return };
    let (_owner, client) = member(&app, "owner@example.com").await;
    let chat = mock_chat(chat_ok()).await;

    let (status, html) = page(&client, &app, "/automations").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("No destinations yet") && html.contains(r#"id="pipedrive-form""#), "{html}");
    assert!(html.contains(r#"href="/automations""#), "in the navigation");

    // A refused URL says why; a good one is added.
    let bad = [("kind", "google_chat"), ("name", "#sales-wins"), ("url", "https://10.0.0.8/hook")];
    let response = submit(&client, &app, "/automations", "/automations/destinations", &bad).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.expect("html");
    assert!(html.contains(r#"id="destination-error""#) && html.contains("private"), "{html}");
    let url = format!("{}/v1/spaces/AAA/messages?key=k&token=t", chat.uri());
    let good = [("kind", "google_chat"), ("name", "#sales-wins"), ("url", url.as_str())];
    let response = submit(&client, &app, "/automations", "/automations/destinations", &good).await;
    assert_eq!(location(&response), "/automations?done=destination-added");
    let (_, html) = page(&client, &app, "/automations").await;
    assert!(html.contains(r##"data-destination="#sales-wins""##), "{html}");
    assert!(!html.contains("token=t"), "the secret URL is never shown");
    let destination: String =
        with_reader!(app.state.db, |pool| sqlx::query_scalar("SELECT id FROM automation_destinations")
            .fetch_one(pool)
            .await)
        .expect("destination");

    // The editor names the bad field, and backtests before saving.
    let rule = |conditions: &'static str, intent: &'static str| {
        vec![
            ("name", "Big wins".to_owned()),
            ("trigger", "deal_won".to_owned()),
            ("match", "all".to_owned()),
            ("conditions", conditions.to_owned()),
            ("destination_id", destination.clone()),
            ("template", "detailed".to_owned()),
            ("title", "{{deal.title}} won".to_owned()),
            ("intent", intent.to_owned()),
        ]
    };
    let fields = rule(r#"[{"type": "minValue", "amount": "lots", "currency": "EUR"}]"#, "save");
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let response = submit(&client, &app, "/automations", "/automations/rules", &fields).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.expect("html");
    assert!(html.contains(r#"id="rule-error""#) && html.contains("conditions[0].amount"), "{html}");
    assert!(html.contains("value=\"Big wins\""), "the editor keeps what was typed");

    let fields = rule(r#"[{"type": "minValue", "amount": "10000", "currency": "EUR"}]"#, "backtest");
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let response = submit(&client, &app, "/automations", "/automations/rules", &fields).await;
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.expect("html");
    assert!(html.contains(r#"id="backtest""#) && html.contains("of 0 events"), "{html}");

    let fields = rule(r#"[{"type": "minValue", "amount": "10000", "currency": "EUR"}]"#, "save");
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let response = submit(&client, &app, "/automations", "/automations/rules", &fields).await;
    assert_eq!(location(&response), "/automations?done=rule-saved");
    let (_, html) = page(&client, &app, "/automations").await;
    assert!(html.contains(r#"data-rule="Big wins""#) && html.contains("minValue → 1 action(s)"), "{html}");
    let rule_id: String =
        with_reader!(app.state.db, |pool| sqlx::query_scalar("SELECT id FROM automation_rules").fetch_one(pool).await)
            .expect("rule");

    // "Send test" posts a sample and the log shows it.
    let response = submit(&client, &app, "/automations", &format!("/automations/rules/{rule_id}/test"), &[]).await;
    assert_eq!(location(&response), "/automations/log?done=test-queued");
    let requests = wait_for_requests(&chat, 1, Duration::from_secs(5)).await;
    let card: serde_json::Value = serde_json::from_slice(&requests[0].body).expect("json");
    assert_eq!(card["cardsV2"][0]["card"]["header"]["title"], "[Test] Sample deal: 20 licences for Northwind won");
    let mut html = String::new();
    for _ in 0..50 {
        html = page(&client, &app, "/automations/log?status=delivered").await.1;
        if html.contains(r#"data-status="delivered""#) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(html.contains("Big wins") && html.contains("HTTP 200") && html.contains(">test<"), "{html}");
    let (_, failed) = page(&client, &app, "/automations/log?status=failed").await;
    assert!(failed.contains("No deliveries."), "the filter narrows");
    let (status, bad_filter) = page(&client, &app, "/automations/log?from=yesterday").await;
    assert_eq!(status, StatusCode::OK);
    assert!(bad_filter.contains(r#"id="filter-error""#), "{bad_filter}");
    let (status, bell) = page(&client, &app, "/notifications").await;
    assert_eq!(status, StatusCode::OK);
    assert!(bell.contains("Nothing yet."), "{bell}");

    // Another workspace's member cannot act on this rule.
    let (_, intruder) = member(&app, "intruder@example.com").await;
    let response = submit(&intruder, &app, "/automations", &format!("/automations/rules/{rule_id}/toggle"), &[]).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

async fn a_negative_review_reaches_google_chat_through_the_domain_events(engine: Engine) {
    let Some(app) = spawn(engine, "http://127.0.0.1:9", |_| {}).await else { return };
    let ana = app.signup("ana@example.com").await;
    let workspace = WorkspaceId::parse(&ana.workspace_id).expect("workspace");
    let chat = mock_chat(chat_ok()).await;
    let destination = chat_destination(&app, &ana.access, &chat).await;
    let (status, body) =
        crate::client::send(app.as_member(&ana.access, reqwest::Method::POST, "/api/v1/rules").json(&json!({
            "name": "Unhappy guests",
            "trigger": "negative_review",
            "conditions": [{ "type": "rating", "max": 2 }, { "type": "keywords", "any": ["cold"] }],
            "actions": [{ "type": "notify", "destinationId": destination.id, "template": "detailed",
                         "title": "{{item.rating}}★ from {{item.author}}" }],
        })))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let review = Review {
        platform: "google",
        id: "g-1",
        author: "Maria",
        rating: 2,
        text: "The soup was cold.",
        at: 1,
        ..Default::default()
    };
    let conversation = ingest_review(&app, &workspace, review).await;
    let conversation = ConversationId::parse(&conversation).expect("id");
    let message: String =
        with_reader!(app.state.db, |pool| sqlx::query_scalar("SELECT id FROM messages WHERE conversation_id = $1")
            .bind(conversation.as_str())
            .fetch_one(pool)
            .await)
        .expect("message");
    let message = MessageId::parse(&message).expect("id");
    let events = [
        DomainEvent::ItemStored { conversation: conversation.clone(), message: message.clone() },
        DomainEvent::ItemAnalysed {
            conversation: conversation.clone(),
            message: message.clone(),
            sentiment: Sentiment::Negative,
            lead_tag: None,
            handoff_reason: None,
            auto_reply: false,
        },
    ];
    for _ in 0..2 {
        // Announced twice (an analysis replayed): it notifies once.
        let mut tx = app.state.db.begin_for_tenant(&workspace).await.expect("tx");
        app.state.events.publish_in(&mut tx, &workspace, &events).await.expect("published");
        tx.commit().await.expect("commit");
    }
    let requests = wait_for_requests(&chat, 1, Duration::from_secs(5)).await;
    assert_eq!(requests.len(), 1);
    let text: serde_json::Value = serde_json::from_slice(&requests[0].body).expect("json");
    let text = text["text"].as_str().expect("a text message");
    assert!(text.starts_with("*2★ from Maria*\nMaria: The soup was cold."), "{text}");
    assert!(text.contains(&format!("/inbox/{conversation}|Open>")), "{text}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(chat.received_requests().await.expect("recorded").len(), 1, "replayed events notify once");
    let triggers: Vec<String> = with_reader!(app.state.db, |pool| sqlx::query_scalar(
        "SELECT trigger_kind FROM automation_events ORDER BY trigger_kind"
    )
    .fetch_all(pool)
    .await)
    .expect("events");
    assert_eq!(triggers, vec!["negative_review".to_owned(), "review_received".to_owned()]);
}
