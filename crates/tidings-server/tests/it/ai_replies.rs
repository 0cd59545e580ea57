//! Reply generation over the real app (issue 14): drafts from the offline composer and from a
//! mock OpenAI-compatible model (success, malformed answer, timeouts opening the breaker, 429
//! with Retry-After), the cache, budgets, the knowledge base, templates, settings, roles and
//! tenant isolation.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use tidings_core::config::ModelConfig;
use tidings_core::{Config, WorkspaceId};
use tidings_server::pipeline::replies::dto::{GeneratedOut, KnowledgeOut, SettingsOut, TemplateOut, UsageReportOut};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::client::expect_status;
use crate::helpers::{Engine, TestApp};
use crate::inbox_fixtures::{MINUTE, Shop, api_key, ingest_message};

/// The `data` of a success envelope.
#[derive(Deserialize)]
struct Data<T> {
    data: T,
}

const PRO_FAQ: &str = "The Pro plan costs $49 per month and includes 5 seats.";

/// A shop whose app runs with `adjust`ed configuration, with a Pro-plan FAQ entry.
pub(crate) async fn shop_with(engine: Engine, adjust: impl FnOnce(&mut Config)) -> Option<Shop> {
    let app = TestApp::spawn_on(engine, adjust).await?;
    let owner = app.signup("owner@example.com").await;
    let workspace = WorkspaceId::parse(&owner.workspace_id).expect("workspace id");
    let shop = Shop { app, owner, workspace };
    let faq = json!({"kind": "faq", "title": "What does the Pro plan cost?", "body": PRO_FAQ});
    let _: Value = shop.client().post("/api/v1/ai/knowledge", &faq, StatusCode::CREATED).await;
    Some(shop)
}

pub(crate) async fn question(shop: &Shop, thread: &str, text: &str) -> String {
    let at = tidings_core::time::now_millis() - MINUTE;
    ingest_message(&shop.app, &shop.workspace, "messenger", None, thread, text, at).await
}

pub(crate) async fn generate(shop: &Shop, conversation: &str, extra: Value) -> GeneratedOut {
    let mut body = json!({"conversationId": conversation});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let out: Data<GeneratedOut> = shop.client().post("/api/v1/ai/generate-response", &body, StatusCode::OK).await;
    out.data
}

pub(crate) fn mock_model(server: &MockServer, timeout_secs: u64) -> impl FnOnce(&mut Config) {
    let base_url = format!("{}/v1", server.uri());
    move |config: &mut Config| {
        config.ai.model = Some(ModelConfig { base_url, model: "test-model".into(), api_key: None, timeout_secs });
        config.ai.prices.insert(
            "test-model".into(),
            tidings_core::config::ModelPrice { input_per_1k: 0.001, output_per_1k: 0.002 },
        );
        config.ai.breaker_open_secs = 1;
    }
}

pub(crate) fn completion(content: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "id": "chatcmpl-1", "object": "chat.completion", "model": "test-model",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 400, "completion_tokens": 100, "total_tokens": 500}
    }))
}

pub(crate) const MODEL_ANSWER: &str = r#"{"replies": [
    {"tone": "professional", "text": "Hello Maria, the Pro plan costs $49 per month and includes 5 seats.", "confidence": 0.92},
    {"tone": "friendly", "text": "Hi Maria! Pro is $49 per month with 5 seats included.", "confidence": 0.88},
    {"tone": "empathetic", "text": "Hi Maria, Pro is just $19 per month!", "confidence": 0.9}
], "requires_human": false}"#;

async fn drafts_without_a_model_come_from_the_offline_composer(engine: Engine) {
    let Some(shop) = shop_with(engine, |_| {}).await else { return };
    let conversation = question(&shop, "t-1", "Hi, what's the price of your Pro plan?").await;
    let out = generate(&shop, &conversation, json!({})).await;
    assert_eq!((out.source.as_str(), out.fallback_reason.as_deref()), ("template", Some("no_model")));
    assert_eq!(out.responses.len(), 3);
    let tones: Vec<&str> = out.responses.iter().map(|d| d.tone.as_str()).collect();
    assert_eq!(tones, ["professional", "friendly", "empathetic"], "the brand voice's tone first");
    for (i, draft) in out.responses.iter().enumerate() {
        assert_eq!(draft.id, format!("ai_resp_{}", i + 1));
        assert!(draft.text.contains(PRO_FAQ), "{draft:?}");
        assert!(draft.passed && draft.violations.is_empty(), "{draft:?}");
        assert_eq!(draft.source, "template");
        assert!(draft.template.as_deref().is_some_and(|t| t.starts_with("builtin:")));
        assert!(draft.confidence > 0.6);
    }
    assert_eq!(out.analysis.topic, "pricing");
    assert_eq!(out.knowledge[0].title, "What does the Pro plan cost?");
    assert_eq!((out.usage.tokens, out.usage.cost), (0, 0.0));

    // Thanks alone: answered without a model, counted as a short-circuit.
    let thanks = question(&shop, "t-2", "Thanks a lot!").await;
    let out = generate(&shop, &thanks, json!({"tone": "friendly", "variants": 1})).await;
    assert_eq!(out.source, "short_circuit");
    assert!(out.responses[0].text.contains("You are welcome"), "{:?}", out.responses);

    let usage: Data<UsageReportOut> = shop.client().get("/api/v1/ai/usage", StatusCode::OK).await;
    let today = usage.data.days.last().expect("today");
    assert_eq!((today.offline_drafts, today.short_circuits, today.calls), (1, 1, 0));
    assert_eq!(usage.data.days.len(), 30);

    // Roles and tenancy.
    let viewer = api_key(&shop, "viewer").await;
    let body = json!({"conversationId": conversation});
    let _: Value = shop.app.client(&viewer).post("/api/v1/ai/generate-response", &body, StatusCode::FORBIDDEN).await;
    let agent = api_key(&shop, "agent").await;
    let _: Value = shop.app.client(&agent).post("/api/v1/ai/generate-response", &body, StatusCode::OK).await;
    let stranger = shop.app.signup("stranger@example.com").await;
    let other = shop.app.client(&stranger.access);
    let _: Value = other.post("/api/v1/ai/generate-response", &body, StatusCode::NOT_FOUND).await;
    let unknown = json!({"conversationId": "cnv_0193a0b4c2d87f2e9a1b2c3d4e5f6a7b"});
    let _: Value = shop.client().post("/api/v1/ai/generate-response", &unknown, StatusCode::NOT_FOUND).await;
    let bad_tone = json!({"conversationId": conversation, "tones": ["rude"]});
    let error: Value =
        shop.client().post("/api/v1/ai/generate-response", &bad_tone, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(error["error"]["details"]["field"], "tones");
}

async fn model_drafts_carry_usage_and_cost_and_repeat_questions_hit_the_cache(engine: Engine) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(completion(MODEL_ANSWER))
        .mount(&server)
        .await;
    let Some(shop) = shop_with(engine, mock_model(&server, 5)).await else { return };
    let conversation = question(&shop, "t-1", "Hi, what's the price of your Pro plan?").await;
    let out = generate(&shop, &conversation, json!({})).await;
    assert_eq!(out.source, "model");
    assert_eq!(out.fallback_reason, None);
    assert_eq!(out.responses.len(), 2, "the $19 draft states a price the knowledge base does not");
    assert_eq!(out.responses[0].confidence, 0.92);
    assert_eq!(out.dropped.len(), 1);
    assert_eq!(out.dropped[0].tone, "empathetic");
    assert_eq!(out.usage.model.as_deref(), Some("test-model"));
    assert_eq!((out.usage.prompt_tokens, out.usage.completion_tokens, out.usage.tokens), (400, 100, 500));
    assert!((out.usage.cost - 0.0006).abs() < 1e-9, "{:?}", out.usage);

    // The same question in another thread: answered from the workspace's cache, no call.
    let again = question(&shop, "t-2", "hi,  what's the price of your pro plan?").await;
    let cached = generate(&shop, &again, json!({})).await;
    assert_eq!(cached.source, "cache");
    assert_eq!(cached.responses.len(), 2);
    assert_eq!(cached.usage.tokens, 0);

    let usage: Data<UsageReportOut> = shop.client().get("/api/v1/ai/usage", StatusCode::OK).await;
    let today = usage.data.days.last().expect("today");
    assert_eq!((today.calls, today.cache_hits, today.tokens), (1, 1, 500));
    assert!((usage.data.total_cost - 0.0006).abs() < 1e-9);
    assert_eq!(server.received_requests().await.map(|r| r.len()), Some(1));
}

async fn a_malformed_answer_falls_back_to_the_offline_composer(engine: Engine) {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(completion("Sure! The Pro plan is great.")).mount(&server).await;
    let Some(shop) = shop_with(engine, mock_model(&server, 5)).await else { return };
    let conversation = question(&shop, "t-1", "What does the Pro plan cost?").await;
    let out = generate(&shop, &conversation, json!({"variants": 2})).await;
    assert_eq!((out.source.as_str(), out.fallback_reason.as_deref()), ("template", Some("malformed_answer")));
    assert_eq!(out.responses.len(), 2);
    assert!(out.responses[0].text.contains(PRO_FAQ));
    assert_eq!(out.usage.tokens, 500, "the call was made and is paid for");
}

async fn timeouts_open_the_breaker_which_half_opens_later(engine: Engine) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(completion(MODEL_ANSWER).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let Some(shop) = shop_with(engine, mock_model(&server, 1)).await else { return };
    let conversation = question(&shop, "t-1", "What does the Pro plan cost?").await;
    for _ in 0..5 {
        let out = generate(&shop, &conversation, json!({"variants": 1})).await;
        assert_eq!(out.fallback_reason.as_deref(), Some("model_unavailable"));
        assert!(out.responses[0].text.contains(PRO_FAQ));
    }
    let out = generate(&shop, &conversation, json!({"variants": 1})).await;
    assert_eq!(out.fallback_reason.as_deref(), Some("breaker_open"));
    assert_eq!(server.received_requests().await.map(|r| r.len()), Some(5), "an open breaker calls nobody");
    // After breaker_open_secs (1 s here, 30 s by default) one trial call goes through.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let out = generate(&shop, &conversation, json!({"variants": 1})).await;
    assert_eq!(out.fallback_reason.as_deref(), Some("model_unavailable"));
    assert_eq!(server.received_requests().await.map(|r| r.len()), Some(6));
    let out = generate(&shop, &conversation, json!({"variants": 1})).await;
    assert_eq!(out.fallback_reason.as_deref(), Some("breaker_open"), "the failed trial reopened it");
    let usage: Data<UsageReportOut> = shop.client().get("/api/v1/ai/usage", StatusCode::OK).await;
    assert_eq!(usage.data.days.last().map(|d| d.failures), Some(6));
}

async fn a_rate_limit_pauses_model_calls_for_its_retry_after(engine: Engine) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "2"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST")).respond_with(completion(MODEL_ANSWER)).mount(&server).await;
    let Some(shop) = shop_with(engine, mock_model(&server, 5)).await else { return };
    let conversation = question(&shop, "t-1", "What does the Pro plan cost?").await;
    let out = generate(&shop, &conversation, json!({})).await;
    assert_eq!(out.fallback_reason.as_deref(), Some("rate_limited"));
    let out = generate(&shop, &conversation, json!({})).await;
    assert_eq!(out.fallback_reason.as_deref(), Some("breaker_open"), "paused for the Retry-After");
    assert_eq!(server.received_requests().await.map(|r| r.len()), Some(1));
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let out = generate(&shop, &conversation, json!({})).await;
    assert_eq!(out.source, "model");
}

async fn a_spent_budget_stops_model_calls_and_nothing_else(engine: Engine) {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(completion(MODEL_ANSWER)).mount(&server).await;
    let Some(shop) = shop_with(engine, |config| {
        mock_model(&server, 5)(config);
        config.ai.cache_ttl_secs = 0;
    })
    .await
    else {
        return;
    };
    let settings = json!({"dailyTokenBudget": 600, "hardStop": true});
    let saved: Data<SettingsOut> = shop.client().put("/api/v1/ai/settings", &settings, StatusCode::OK).await;
    assert_eq!(saved.data.effective_model, "server");
    let conversation = question(&shop, "t-1", "What does the Pro plan cost?").await;
    let out = generate(&shop, &conversation, json!({})).await;
    assert_eq!(out.source, "model");
    assert_eq!(out.budget.state, tidings_server::pipeline::replies::model::BudgetState::Warning, "500 of 600 tokens");
    let out = generate(&shop, &conversation, json!({})).await;
    assert_eq!(out.source, "model", "still under the budget");
    let out = generate(&shop, &conversation, json!({})).await;
    assert_eq!((out.source.as_str(), out.fallback_reason.as_deref()), ("template", Some("budget_exhausted")));
    assert!(out.responses[0].text.contains(PRO_FAQ), "the offline composer goes on");
    assert_eq!(out.budget.used_today, 1000);
    assert_eq!(server.received_requests().await.map(|r| r.len()), Some(2), "the third request called nobody");
}

async fn knowledge_templates_and_settings_are_managed_by_role_and_workspace(engine: Engine) {
    let Some(shop) = shop_with(engine, |_| {}).await else { return };
    let owner = shop.client();
    let knowledge: Data<Vec<KnowledgeOut>> = owner.get("/api/v1/ai/knowledge", StatusCode::OK).await;
    assert_eq!(knowledge.data.len(), 1);
    let faq = &knowledge.data[0];

    let upload = owner
        .request(Method::POST, "/api/v1/ai/knowledge/documents")
        .header("content-type", "text/markdown; charset=utf-8")
        .body("# Opening hours\n\nWe are open Monday to Saturday, 9:00 to 18:00.");
    let document: Data<KnowledgeOut> = expect_status(upload, StatusCode::CREATED).await;
    assert_eq!((document.data.kind.as_ref(), document.data.title.as_str()), ("document", "Opening hours"));
    let json_upload = owner.request(Method::POST, "/api/v1/ai/knowledge/documents").json(&json!({"a": 1}));
    let _: Value = expect_status(json_upload, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    let patched: Data<KnowledgeOut> = owner
        .patch(&format!("/api/v1/ai/knowledge/{}", faq.id), &json!({"body": "Pro is $59 per month."}), StatusCode::OK)
        .await;
    assert_eq!(patched.data.body, "Pro is $59 per month.");
    let _: Value = owner
        .post(
            "/api/v1/ai/knowledge",
            &json!({"kind": "wiki", "title": "x", "body": "y"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;

    let template =
        json!({"name": "Pricing", "tone": "friendly", "topic": "pricing", "body": "Hey {{name}}! {{answer}}"});
    let created: Data<TemplateOut> = owner.post("/api/v1/ai/response-templates", &template, StatusCode::CREATED).await;
    let _: Value = owner.post("/api/v1/ai/response-templates", &template, StatusCode::CONFLICT).await;
    let bad = json!({"name": "x", "topic": "weather", "body": "y"});
    let error: Value = owner.post("/api/v1/ai/response-templates", &bad, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(error["error"]["details"]["field"], "topic");
    let template_path = format!("/api/v1/ai/response-templates/{}", created.data.id);
    let renamed = json!({"name": "Prices", "tone": "friendly", "topic": "pricing", "body": "Hey {{name}}! {{answer}}"});
    let updated: Data<TemplateOut> = owner.put(&template_path, &renamed, StatusCode::OK).await;
    assert_eq!(updated.data.name, "Prices");

    // The workspace template answers pricing questions in the friendly tone.
    let conversation = question(&shop, "t-1", "How much is the Pro plan?").await;
    let out = generate(&shop, &conversation, json!({"tones": ["friendly"]})).await;
    assert_eq!(out.responses[0].text, "Hey Maria! Pro is $59 per month.");
    assert_eq!(out.responses[0].template.as_deref(), Some("workspace:Prices"));

    let voice = json!({"businessName": "Harbour & Vine", "tone": "casual", "emojiAllowed": true, "maxLength": 300,
                       "style": "warm", "holdingMessage": "A colleague will answer shortly."});
    let saved: Data<SettingsOut> = owner.put("/api/v1/ai/settings", &voice, StatusCode::OK).await;
    assert_eq!((saved.data.tone.as_str(), saved.data.effective_model.as_str()), ("casual", "none"));
    let with_key = json!({"apiKey": "sk-local-test", "dailyTokenBudget": 5000});
    let _: Data<SettingsOut> = owner.put("/api/v1/ai/settings", &with_key, StatusCode::OK).await;
    // Audited: who changed where messages go and what may be spent, never the key itself.
    let log: Value = owner.get("/api/v1/audit-logs?action=ai.settings_changed", StatusCode::OK).await;
    let entries = log["data"]["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 2, "{log}");
    assert_eq!(
        (entries[0]["metadata"]["apiKey"].as_str(), entries[0]["metadata"]["dailyTokenBudget"].as_i64()),
        (Some("replaced"), Some(5000))
    );
    assert_eq!(entries[1]["metadata"]["apiKey"], "unchanged");
    assert!(!log.to_string().contains("sk-local-test"), "the key is not in the audit log: {log}");
    let error: Value =
        owner.put("/api/v1/ai/settings", &json!({"maxLength": 10}), StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(error["error"]["details"]["field"], "maxLength");
    let private = json!({"modelBaseUrl": "http://127.0.0.1:9/v1", "modelName": "m"});
    let error: Value = owner.put("/api/v1/ai/settings", &private, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(error["error"]["details"]["field"], "modelBaseUrl", "a workspace may not point at the server's network");

    // Roles: viewers and agents read, managers change.
    let viewer = api_key(&shop, "viewer").await;
    let agent = api_key(&shop, "agent").await;
    let manager = api_key(&shop, "manager").await;
    for token in [&viewer, &agent] {
        let client = shop.app.client(token);
        let _: Value = client.get("/api/v1/ai/response-templates", StatusCode::OK).await;
        let _: Value = client.get("/api/v1/ai/knowledge", StatusCode::OK).await;
        let _: Value = client.put(&template_path, &renamed, StatusCode::FORBIDDEN).await;
        let _: Value = client.put("/api/v1/ai/settings", &voice, StatusCode::FORBIDDEN).await;
        let _: Value = client
            .post("/api/v1/ai/knowledge", &json!({"kind": "faq", "title": "q", "body": "a"}), StatusCode::FORBIDDEN)
            .await;
    }
    let _: Value = shop.app.client(&manager).delete(&template_path, StatusCode::OK).await;
    let _: Value = owner.get(&template_path, StatusCode::NOT_FOUND).await;

    // Another workspace sees none of it.
    let stranger = shop.app.signup("stranger@example.com").await;
    let other = shop.app.client(&stranger.access);
    let knowledge_path = format!("/api/v1/ai/knowledge/{}", faq.id);
    let _: Value = other.get(&knowledge_path, StatusCode::NOT_FOUND).await;
    let _: Value = other.patch(&knowledge_path, &json!({"title": "mine"}), StatusCode::NOT_FOUND).await;
    let _: Value = other.delete(&knowledge_path, StatusCode::NOT_FOUND).await;
    let theirs: Data<Vec<KnowledgeOut>> = other.get("/api/v1/ai/knowledge", StatusCode::OK).await;
    assert!(theirs.data.is_empty());
    let settings: Data<SettingsOut> = other.get("/api/v1/ai/settings", StatusCode::OK).await;
    assert_eq!(settings.data.business_name, None);
    let _: Value = owner.delete(&knowledge_path, StatusCode::OK).await;
    let _: Value = owner.get(&knowledge_path, StatusCode::NOT_FOUND).await;
}

crate::on_both_engines!(
    drafts_without_a_model_come_from_the_offline_composer,
    model_drafts_carry_usage_and_cost_and_repeat_questions_hit_the_cache,
    a_malformed_answer_falls_back_to_the_offline_composer,
    timeouts_open_the_breaker_which_half_opens_later,
    a_rate_limit_pauses_model_calls_for_its_retry_after,
    a_spent_budget_stops_model_calls_and_nothing_else,
    knowledge_templates_and_settings_are_managed_by_role_and_workspace,
);
