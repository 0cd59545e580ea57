//! The AI pipeline over the real app: a signed webhook message is analysed within moments (the
//! analysis with its reasons in the inbox API, a HOT lead, a hand-off when a person is asked
//! for), the inbox's sentiment and lead filters, the leads API with its roles and tenancy, lead
//! rules, and replay.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use tidings_connectors::Platform;
use tidings_server::demo::deliveries::{self, Incoming};
use tidings_server::inbox::analysis::MessageAnalysisOut;
use tidings_server::pipeline::dto::{LeadOut, LeadRulesOut, LeadStatsOut};
use tidings_server::pipeline::replay::replay;
use tidings_server::pipeline::{Pipeline, Report};

use crate::client::send;
use crate::helpers::Engine;
use crate::inbox_fixtures::{Shop, api_key, finished_task, import, text};
use crate::on_both_engines;
use crate::webhooks::{connect, post};

const PAGE_ID: &str = "104729585";
const PATIENCE: Duration = Duration::from_secs(30);
const PRICING: &str = "Hi! What's the price of the Pro plan, and is it available today? I need it asap.";
const HUMAN: &str = "This is the third time I write. I want to talk to a real person now.";

#[derive(Deserialize)]
struct Data<T> {
    data: T,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LeadList {
    leads: Vec<LeadOut>,
}

/// Posts a signed Messenger message from `sender` and returns its conversation's id once the
/// pipeline has analysed it, with the analysis.
async fn message(shop: &Shop, sender: &str, id: &str, body: &str) -> (String, MessageAnalysisOut) {
    let secrets = shop.app.state.platforms.secrets();
    let incoming = Incoming {
        account_id: PAGE_ID,
        sender_id: sender,
        sender_name: "Ana",
        message_id: id,
        text: body,
        sent_at_ms: tidings_core::time::now_millis(),
    };
    let delivery = deliveries::message(Platform::Messenger, secrets, &incoming).expect("delivery");
    assert_eq!(post(&shop.app, &delivery).await.status(), StatusCode::OK);
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        let list: Value = shop.client().get("/api/v1/conversations?kind=thread&limit=100", StatusCode::OK).await;
        for conversation in list["data"]["conversations"].as_array().expect("conversations") {
            let id = text(&conversation["id"]);
            let thread: Value = shop.client().get(&format!("/api/v1/conversations/{id}"), StatusCode::OK).await;
            let mine =
                thread["data"]["messages"].as_array().expect("messages").iter().find(|m| m["body"] == body).cloned();
            if let Some(analysis) = mine.map(|m| m["analysis"].clone()).filter(|a| !a.is_null()) {
                return (id, serde_json::from_value(analysis).expect("an analysis"));
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{body:?} was not analysed within {PATIENCE:?}");
}

async fn shop_with_page(engine: Engine) -> Option<Shop> {
    let shop = Shop::open(engine).await?;
    connect(&shop.app, &shop.workspace, Platform::Messenger, PAGE_ID).await;
    Some(shop)
}

async fn conversation(shop: &Shop, id: &str) -> Value {
    let body: Value = shop.client().get(&format!("/api/v1/conversations/{id}"), StatusCode::OK).await;
    body["data"].clone()
}

async fn a_pricing_question_by_webhook_becomes_a_hot_lead_with_its_reasons(engine: Engine) {
    let Some(shop) = shop_with_page(engine).await else { return };
    let (id, analysis) = message(&shop, "psid-ana", "m_price", PRICING).await;

    // The analysis, every score with its reasons, on the message in the inbox API.
    assert_eq!(analysis.language.as_deref(), Some("en"));
    assert_eq!(analysis.topic, "pricing");
    assert!(analysis.is_question);
    let lead = analysis.lead.as_ref().expect("a message is scored as a lead");
    assert_eq!(lead.tag, "HOT", "{lead:?}");
    let reasons: Vec<&str> = lead.reasons.iter().map(|r| r.text.as_str()).collect();
    assert!(reasons.contains(&"+30 pricing question ('price')"), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.starts_with("+20 asks about availability")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.starts_with("+15 urgency language")), "{reasons:?}");
    assert_eq!(i64::from(lead.score), lead.reasons.iter().map(|r| r.weight as i64).sum::<i64>().clamp(0, 100));
    assert_eq!(analysis.decision.action, "draft");
    assert!(analysis.flags.is_empty(), "{:?}", analysis.flags);

    // The conversation carries its sentiment, language and lead tag; it was not handed off.
    let thread = conversation(&shop, &id).await;
    assert_eq!(thread["leadTag"], "HOT");
    assert_eq!(thread["language"], "en");
    assert_eq!(thread["sentiment"], analysis.overall_sentiment().label.as_str());
    assert_eq!(thread["status"], "open");
    assert_eq!(thread["messages"][0]["sentiment"], thread["sentiment"]);

    // The inbox's lead and sentiment filters find it; the others do not.
    let listed = |query: &'static str| {
        let shop = &shop;
        async move {
            let body: Value = shop.client().get(&format!("/api/v1/conversations?{query}"), StatusCode::OK).await;
            crate::inbox_fixtures::conversation_ids(&body)
        }
    };
    assert_eq!(listed("leadTag=hot").await, std::slice::from_ref(&id));
    assert!(listed("leadTag=COLD").await.is_empty());
    let sentiment = analysis.overall_sentiment().label.clone();
    let other = if sentiment == "negative" { "positive" } else { "negative" };
    let body: Value = shop.client().get(&format!("/api/v1/conversations?sentiment={sentiment}"), StatusCode::OK).await;
    assert_eq!(crate::inbox_fixtures::conversation_ids(&body), std::slice::from_ref(&id));
    let body: Value = shop.client().get(&format!("/api/v1/conversations?sentiment={other}"), StatusCode::OK).await;
    assert!(crate::inbox_fixtures::conversation_ids(&body).is_empty());
    let (status, _) = send(shop.client().request(Method::GET, "/api/v1/conversations?leadTag=tepid")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // The leads API lists it with the same reasons.
    let hot: Data<LeadList> = shop.client().get("/api/v1/leads?tag=HOT", StatusCode::OK).await;
    assert_eq!(hot.data.leads.len(), 1);
    assert_eq!(hot.data.leads[0].id.as_str(), id);
    assert!(hot.data.leads[0].reasons.iter().any(|r| r.text == "+30 pricing question ('price')"));
    let cold: Data<LeadList> = shop.client().get("/api/v1/leads?tag=cold", StatusCode::OK).await;
    assert!(cold.data.leads.is_empty());
}

async fn products_of_the_knowledge_base_are_recognised_and_scored_as_product_questions(engine: Engine) {
    let Some(shop) = shop_with_page(engine).await else { return };
    let products_in = |analysis: &MessageAnalysisOut| -> Vec<String> {
        analysis.entities.iter().filter(|e| e.kind == "product").map(|e| e.value.clone()).collect()
    };
    // Analysed before the product exists: the names this process keeps for the workspace are
    // read now, and must be read again after the knowledge base changes.
    let (_, before) = message(&shop, "psid-eli", "m_before", "Is the harbour hamper still on sale?").await;
    assert!(products_in(&before).is_empty(), "{:?}", before.entities);

    let product = json!({ "kind": "product", "title": "Harbour Hamper", "body": "A picnic basket for two, 45 EUR." });
    let added: Value = shop.client().post("/api/v1/ai/knowledge", &product, StatusCode::CREATED).await;
    assert_eq!(added["data"]["kind"], "product");
    let wrong = json!({ "kind": "recipe", "title": "Soup", "body": "Hot." });
    let refused: Value = shop.client().post("/api/v1/ai/knowledge", &wrong, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(refused.to_string().contains("must be faq, document or product"), "{refused}");

    let (_, analysis) = message(&shop, "psid-eli", "m_hamper", "Do you still have the harbour hamper?").await;
    let products: Vec<&str> =
        analysis.entities.iter().filter(|e| e.kind == "product").map(|e| e.value.as_str()).collect();
    assert_eq!(products, ["Harbour Hamper"], "{:?}", analysis.entities);
    let lead = analysis.lead.as_ref().expect("a lead");
    let reasons: Vec<&str> = lead.reasons.iter().map(|r| r.text.as_str()).collect();
    assert!(reasons.contains(&"+20 product inquiry ('Harbour Hamper')"), "{reasons:?}");

    // Removed from the knowledge base: the next message no longer names it.
    let path = format!("/api/v1/ai/knowledge/{}", text(&added["data"]["id"]));
    let _: Value = shop.client().delete(&path, StatusCode::OK).await;
    let (_, after) = message(&shop, "psid-eli", "m_after", "One more harbour hamper, please.").await;
    assert!(products_in(&after).is_empty(), "{:?}", after.entities);
}

async fn a_request_for_a_person_hands_the_conversation_off_with_the_reason(engine: Engine) {
    let Some(shop) = shop_with_page(engine).await else { return };
    let (id, analysis) = message(&shop, "psid-ben", "m_human", HUMAN).await;
    assert_eq!(analysis.decision.action, "handoff");
    assert!(analysis.decision.reasons.contains(&"asks for a person ('real person')".to_owned()), "{analysis:?}");
    let thread = conversation(&shop, &id).await;
    assert_eq!(thread["status"], "needs_human");
    assert_eq!(thread["handoffReason"], "asks for a person ('real person')");
    let body: Value = shop.client().get("/api/v1/conversations?status=needs_human", StatusCode::OK).await;
    assert_eq!(crate::inbox_fixtures::conversation_ids(&body), [id]);
}

async fn imported_reviews_are_analysed_and_filtered_by_sentiment(engine: Engine) {
    let Some(shop) = Shop::open(engine).await else { return };
    let file = "platform,external_id,location,author,rating,title,text,date\n\
        google,g-1,,Ana,5,,\"Wonderful staff, delicious food, we loved it!\",2026-01-02\n\
        google,g-2,,Ben,1,,\"Terrible service, cold food and a rude waiter. Never again.\",2026-01-03\n";
    let (status, accepted) = import(&shop, file).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    finished_task(&shop, &text(&accepted["data"]["taskId"])).await;
    let ids = |sentiment: &'static str| {
        let shop = &shop;
        async move { shop.review_ids(&[("sentiment", sentiment)]).await }
    };
    let deadline = Instant::now() + PATIENCE;
    while ids("positive").await.len() + ids("negative").await.len() < 2 {
        assert!(Instant::now() < deadline, "the imported reviews were not analysed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let all = shop.review_ids(&[]).await;
    let positive = ids("positive").await;
    let negative = ids("negative").await;
    assert_eq!((positive.len(), negative.len()), (1, 1));
    let review: Value = shop.client().get(&format!("/api/v1/reviews/{}", negative[0]), StatusCode::OK).await;
    let analysis: MessageAnalysisOut =
        serde_json::from_value(review["data"]["messages"][0]["analysis"].clone()).expect("analysis");
    assert_eq!(analysis.sentiment.label, "negative");
    assert!(analysis.sentiment.reasons.iter().any(|r| r.text.contains("'Terrible'")), "{:?}", analysis.sentiment);
    assert!(analysis.lead.is_none(), "reviews are not leads");
    assert!(analysis.sentiment_with_stars.is_some());
    assert_eq!(review["data"]["sentiment"], "negative");
    assert!(all.contains(&positive[0]) && all.contains(&negative[0]));

    // The author edits the negative review on the platform: it is analysed again.
    let edited = "platform,external_id,location,author,rating,title,text,date\n\
        google,g-2,,Ben,5,,\"Update: the manager called, apologised and invited us back. Wonderful evening!\",2026-01-03\n";
    let (status, accepted) = import(&shop, edited).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    finished_task(&shop, &text(&accepted["data"]["taskId"])).await;
    while !ids("positive").await.contains(&negative[0]) {
        assert!(Instant::now() < deadline, "the edited review was not analysed again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let review: Value = shop.client().get(&format!("/api/v1/reviews/{}", negative[0]), StatusCode::OK).await;
    let analysis: MessageAnalysisOut =
        serde_json::from_value(review["data"]["messages"][0]["analysis"].clone()).expect("analysis");
    assert_eq!(analysis.sentiment.label, "positive", "{:?}", analysis.sentiment);
    assert!(analysis.sentiment.reasons.iter().any(|r| r.text.contains("'Wonderful'")), "{:?}", analysis.sentiment);
    assert!(ids("negative").await.is_empty(), "no review is negative any more");
}

async fn leads_endpoints_check_roles_workspaces_and_keep_a_tag_set_by_hand(engine: Engine) {
    let Some(shop) = shop_with_page(engine).await else { return };
    let (id, _) = message(&shop, "psid-cy", "m_lead", PRICING).await;
    let viewer = api_key(&shop, "viewer").await;
    let agent = api_key(&shop, "agent").await;
    let path = format!("/api/v1/leads/{id}/tag");

    // Viewers read leads and stats, and may not change a tag; agents may.
    let stats: Data<LeadStatsOut> = shop.app.client(&viewer).get("/api/v1/leads/stats", StatusCode::OK).await;
    assert_eq!((stats.data.total, stats.data.hot, stats.data.manual), (1, 1, 0));
    let _: Value = shop.app.client(&viewer).patch(&path, &json!({ "tag": "COLD" }), StatusCode::FORBIDDEN).await;
    let _: Value =
        shop.app.client(&agent).patch(&path, &json!({ "tag": "tepid" }), StatusCode::UNPROCESSABLE_ENTITY).await;
    let set: Data<LeadOut> = shop.app.client(&agent).patch(&path, &json!({ "tag": "cold" }), StatusCode::OK).await;
    assert_eq!((set.data.tag.as_deref(), set.data.manual), (Some("COLD"), true));
    let stats: Data<LeadStatsOut> = shop.client().get("/api/v1/leads/stats", StatusCode::OK).await;
    assert_eq!((stats.data.hot, stats.data.cold, stats.data.manual), (0, 1, 1));

    // Audited, with the tag before and after.
    let log: Value = shop.client().get("/api/v1/audit-logs?action=lead.tag_overridden", StatusCode::OK).await;
    let entry = &log["data"]["entries"][0];
    assert_eq!(entry["metadata"]["from"], "HOT", "{log}");
    assert_eq!(entry["metadata"]["to"], "COLD");

    // A replay keeps the tag set by hand.
    let report = replay(&Pipeline::of(&shop.app.state), Some(&shop.workspace), 0, |_, _| {}).await.expect("replay");
    assert_eq!(report.analysed, 1);
    assert_eq!(conversation(&shop, &id).await["leadTag"], "COLD");

    // Given back to the pipeline, the latest score's tag applies again.
    let back: Data<LeadOut> = shop.app.client(&agent).patch(&path, &json!({ "tag": null }), StatusCode::OK).await;
    assert_eq!((back.data.tag.as_deref(), back.data.manual), (Some("HOT"), false));

    // Another workspace: 404 for the lead, nothing in its lists; a review is not a lead.
    let other = shop.app.signup("other@example.com").await;
    let _: Value = shop.app.client(&other.access).patch(&path, &json!({ "tag": "HOT" }), StatusCode::NOT_FOUND).await;
    let theirs: Data<LeadList> = shop.app.client(&other.access).get("/api/v1/leads", StatusCode::OK).await;
    assert!(theirs.data.leads.is_empty());
    let stats: Data<LeadStatsOut> = shop.app.client(&other.access).get("/api/v1/leads/stats", StatusCode::OK).await;
    assert_eq!(stats.data.total, 0);
    let _: Value =
        shop.client().patch("/api/v1/leads/cnv_nonsense/tag", &json!({ "tag": "HOT" }), StatusCode::NOT_FOUND).await;
    let (status, _) = send(shop.app.anonymous().request(Method::GET, "/api/v1/leads")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn lead_rules_are_per_workspace_validated_and_replay_reports_the_change(engine: Engine) {
    let Some(shop) = shop_with_page(engine).await else { return };
    let (id, _) = message(&shop, "psid-di", "m_rules", PRICING).await;
    let agent = api_key(&shop, "agent").await;
    let manager = api_key(&shop, "manager").await;

    let rules: Data<LeadRulesOut> = shop.app.client(&agent).get("/api/v1/ai/lead-rules", StatusCode::OK).await;
    assert!(!rules.data.custom);
    assert_eq!((rules.data.rules.hot_from, rules.data.rules.pricing.points), (70, 30));
    // A pricing question no longer counts: the message falls below HOT.
    let mut changed = rules.data.rules.clone();
    changed.pricing.points = -100;
    changed.hot_from = 95;
    let _: Value = shop.app.client(&agent).put("/api/v1/ai/lead-rules", &changed, StatusCode::FORBIDDEN).await;
    let bad: Value = shop
        .app
        .client(&manager)
        .put("/api/v1/ai/lead-rules", &json!({ "hotFrom": 30, "warmFrom": 40 }), StatusCode::UNPROCESSABLE_ENTITY)
        .await;
    assert_eq!(bad["error"]["details"]["field"], "hotFrom", "{bad}");
    let saved: Data<LeadRulesOut> =
        shop.app.client(&manager).put("/api/v1/ai/lead-rules", &changed, StatusCode::OK).await;
    assert!(saved.data.custom);
    assert_eq!(saved.data.rules.hot_from, 95);

    // Another workspace still has the defaults.
    let other = shop.app.signup("other@example.com").await;
    let theirs: Data<LeadRulesOut> = shop.app.client(&other.access).get("/api/v1/ai/lead-rules", StatusCode::OK).await;
    assert_eq!((theirs.data.custom, theirs.data.rules.hot_from), (false, 70));

    // Replay re-scores the stored message with the new rules and says what changed.
    let mut seen = Vec::new();
    let report: Report = replay(&Pipeline::of(&shop.app.state), Some(&shop.workspace), 0, |done, total| {
        seen.push((done, total));
    })
    .await
    .expect("replay");
    assert_eq!((report.analysed, report.lead_tag_changed, report.sentiment_changed, report.handoffs), (1, 1, 0, 0));
    let (change, count) = report.lead_tag_transitions.iter().next().expect("a transition");
    let after = change.strip_prefix("HOT → ").unwrap_or_else(|| panic!("from HOT: {report:?}"));
    assert_eq!((count, after == "HOT"), (&1, false));
    assert_eq!(seen.last(), Some(&(1, 1)));
    assert_eq!(conversation(&shop, &id).await["leadTag"], after);

    // Back to the defaults (audited).
    let reset: Data<LeadRulesOut> = shop.app.client(&manager).delete("/api/v1/ai/lead-rules", StatusCode::OK).await;
    assert!(!reset.data.custom);
    let log: Value = shop.client().get("/api/v1/audit-logs?resourceType=lead_rules", StatusCode::OK).await;
    let actions: Vec<&str> =
        log["data"]["entries"].as_array().expect("entries").iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions, ["ai.lead_rules_reset", "ai.lead_rules_updated"]);
}

async fn the_thread_page_shows_the_analysis_with_its_reasons_and_the_list_its_badges(engine: Engine) {
    let Some(shop) = shop_with_page(engine).await else { return };
    let (id, analysis) = message(&shop, "psid-eve", "m_page", PRICING).await;
    let browser = crate::dashboard_identity::browser();
    let fields = [("email", "owner@example.com"), ("password", "correct horse battery")];
    let signed_in = crate::dashboard_identity::submit(&browser, &shop.app, "/sign-in", "/sign-in", &fields).await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let (status, list) = crate::dashboard_identity::page(&browser, &shop.app, "/inbox").await;
    assert_eq!(status, StatusCode::OK);
    assert!(list.contains(r#"class="badge lead lead-hot""#), "a HOT badge in the list: {list}");
    let sentiment = &analysis.overall_sentiment().label;
    assert!(list.contains(&format!("sentiment-{sentiment}")), "a sentiment badge in the list");
    let (status, thread) = crate::dashboard_identity::page(&browser, &shop.app, &format!("/inbox/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(thread.contains(r#"<details class="analysis""#) && thread.contains(r#"data-lead-tag="HOT""#), "{thread}");
    // Every reason, as the API gives it (HTML-escaped).
    for reason in analysis.lead.iter().flat_map(|l| &l.reasons) {
        assert!(thread.contains(&reason.text.replace('\'', "&#39;")), "{} in the panel: {thread}", reason.text);
    }
    assert!(thread.contains(&analysis.summary.replace('\'', "&#39;")), "the summary");
}

on_both_engines!(
    a_pricing_question_by_webhook_becomes_a_hot_lead_with_its_reasons,
    a_request_for_a_person_hands_the_conversation_off_with_the_reason,
    products_of_the_knowledge_base_are_recognised_and_scored_as_product_questions,
    imported_reviews_are_analysed_and_filtered_by_sentiment,
    leads_endpoints_check_roles_workspaces_and_keep_a_tag_set_by_hand,
    lead_rules_are_per_workspace_validated_and_replay_reports_the_change,
    the_thread_page_shows_the_analysis_with_its_reasons_and_the_list_its_badges,
);
