//! Messaging windows: Messenger, Instagram and WhatsApp take free text only within 24 hours of
//! the customer's last message. Outside it free text is refused before anything is stored or
//! sent, and what the platform still allows (HUMAN_AGENT on Messenger within 7 days, approved
//! templates on WhatsApp) is sent as such — by the API and from the thread page alike.

use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{Value, json};
use tidings_connectors::{Credentials, InboundMessage, Platform};
use tidings_core::{ConversationId, ResponseId, WorkspaceId};
use tidings_server::channels::credentials;
use tidings_server::inbox::ingest::{self, Ingested, Source};
use tidings_server::inbox::model::ResponseStatus;
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::dashboard_identity::{browser, page, submit};
use crate::helpers::{Engine, Session, TestApp};
use crate::on_both_engines;
use crate::outbound::{spawn_with_graph, wait_status};
use crate::webhooks::connect;

on_both_engines!(
    a_reply_inside_the_window_is_sent_as_a_response,
    a_three_day_old_messenger_thread_takes_a_human_agent_reply_and_its_retry_too,
    an_eight_day_old_messenger_thread_takes_no_reply,
    a_two_day_old_whatsapp_thread_takes_an_approved_template,
    the_thread_page_shows_the_window_and_offers_what_it_allows
);

const HOUR_MS: i64 = 3_600_000;
const PAGE_ID: &str = "104729585";
const PHONE_NUMBER_ID: &str = "106540352242922";
const PASSWORD: &str = "correct horse battery";

/// A thread of `platform` on a connected account (its token stored) whose customer last wrote
/// `hours_ago` hours ago.
async fn thread_written(
    app: &TestApp,
    workspace: &WorkspaceId,
    platform: Platform,
    account: &str,
    hours_ago: i64,
) -> ConversationId {
    let connection = connect(app, workspace, platform, account).await;
    let creds = Credentials { access_token: Some(SecretString::from("EAAG-page-token")), ..Credentials::default() };
    credentials::save(&app.state.vault, workspace, &connection, &creds).await.expect("credentials");
    let sender = if platform == Platform::Whatsapp { whatsapp_sender(account) } else { "psid-77".to_owned() };
    let message = InboundMessage {
        account_id: account.to_owned(),
        external_id: format!("m_in_{account}"),
        thread_id: sender.clone(),
        sender_id: sender.clone(),
        sender_name: Some("Ana".to_owned()),
        sender_phone: (platform == Platform::Whatsapp).then(|| sender.clone()),
        text: "Is the terrace open?".to_owned(),
        sent_at_ms: tidings_core::time::now_millis() - hours_ago * HOUR_MS,
        is_echo: false,
        raw: json!({}),
    };
    let source = Source {
        workspace_id: workspace.clone(),
        platform: platform.as_str().to_owned(),
        connection_id: Some(connection),
        location_id: None,
    };
    let mut tx = app.state.db.begin_for_tenant(workspace).await.expect("tx");
    let Ingested::New { conversation_id, .. } = ingest::message(&mut tx, &source, &message).await.expect("ingest")
    else {
        panic!("a new message");
    };
    tx.commit().await.expect("commit");
    conversation_id
}

/// The customer's phone number in a WhatsApp thread of `account` (one customer per account).
fn whatsapp_sender(account: &str) -> String {
    format!("1650555{}", &account[account.len() - 4..])
}

fn workspace(session: &Session) -> WorkspaceId {
    WorkspaceId::parse(&session.workspace_id).expect("workspace id")
}

/// Sends `body` as a reply in the conversation through the API and expects `status`.
async fn reply(app: &TestApp, session: &Session, id: &ConversationId, body: Value, status: StatusCode) -> Value {
    app.client(&session.access).post(&format!("/api/v1/conversations/{id}/messages"), &body, status).await
}

async fn conversation(app: &TestApp, session: &Session, id: &ConversationId) -> Value {
    let detail: Value = app.client(&session.access).get(&format!("/api/v1/conversations/{id}"), StatusCode::OK).await;
    detail["data"].clone()
}

fn response_id(answer: &Value) -> ResponseId {
    ResponseId::parse(answer["data"]["id"].as_str().expect("response id")).expect("id")
}

/// A refusal of the window: 422 `messaging_window_closed`, and nothing stored.
async fn assert_refused(app: &TestApp, session: &Session, id: &ConversationId, body: Value) -> String {
    let answer = reply(app, session, id, body, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(answer["error"]["code"], "messaging_window_closed", "{answer}");
    assert_eq!(conversation(app, session, id).await["responses"], json!([]), "nothing was stored");
    answer["error"]["message"].as_str().expect("message").to_owned()
}

async fn a_reply_inside_the_window_is_sent_as_a_response(engine: Engine) {
    let graph = MockServer::start().await;
    let Some(app) = spawn_with_graph(engine, &graph).await else { return };
    let session = app.signup("owner@example.com").await;
    let workspace = workspace(&session);
    let thread = thread_written(&app, &workspace, Platform::Messenger, PAGE_ID, 2).await;
    Mock::given(method("POST"))
        .and(path(format!("/v21.0/{PAGE_ID}/messages")))
        .and(body_partial_json(json!({"messaging_type": "RESPONSE", "message": {"text": "Yes, until 11pm!"}})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"recipient_id": "psid-77", "message_id": "m1"})))
        .expect(1)
        .mount(&graph)
        .await;

    let window = &conversation(&app, &session, &thread).await["messagingWindow"];
    assert_eq!(window["state"], "open", "{window}");
    assert_eq!(window["allows"], json!(["text", "human_agent"]), "{window}");
    assert!(
        window["closesAt"].is_string()
            && window["description"].as_str().unwrap_or("").contains("Replies allowed until")
    );

    let answer = reply(&app, &session, &thread, json!({"text": "Yes, until 11pm!"}), StatusCode::ACCEPTED).await;
    let posted = wait_status(&app, &workspace, &response_id(&answer), ResponseStatus::Posted).await;
    assert_eq!(posted.kind.as_str(), "text");
}

async fn a_three_day_old_messenger_thread_takes_a_human_agent_reply_and_its_retry_too(engine: Engine) {
    let graph = MockServer::start().await;
    let Some(app) = spawn_with_graph(engine, &graph).await else { return };
    let session = app.signup("owner@example.com").await;
    let workspace = workspace(&session);
    let thread = thread_written(&app, &workspace, Platform::Messenger, PAGE_ID, 3 * 24).await;
    let tagged =
        json!({"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT", "message": {"text": "Sorry for the wait!"}});
    // The first attempt meets an outage; the retry must send the same tagged message.
    Mock::given(method("POST"))
        .and(path(format!("/v21.0/{PAGE_ID}/messages")))
        .and(body_partial_json(tagged.clone()))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .expect(1)
        .mount(&graph)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/v21.0/{PAGE_ID}/messages")))
        .and(body_partial_json(tagged))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"recipient_id": "psid-77", "message_id": "m2"})))
        .expect(1)
        .mount(&graph)
        .await;

    let window = &conversation(&app, &session, &thread).await["messagingWindow"];
    assert_eq!(window["state"], "human_agent_only", "{window}");
    assert_eq!(window["allows"], json!(["human_agent"]));

    let refusal = assert_refused(&app, &session, &thread, json!({"text": "Sorry for the wait!"})).await;
    assert!(refusal.contains("human agent") && refusal.contains("Human Agent permission"), "{refusal}");

    let answer = reply(
        &app,
        &session,
        &thread,
        json!({"text": "Sorry for the wait!", "tag": "HUMAN_AGENT"}),
        StatusCode::ACCEPTED,
    )
    .await;
    assert_eq!(answer["data"]["kind"], "human_agent");
    let posted = wait_status(&app, &workspace, &response_id(&answer), ResponseStatus::Posted).await;
    assert_eq!(posted.attempts, 2, "one failed attempt, one success");
    assert_eq!(posted.external_id.as_deref(), Some("m2"));
}

async fn an_eight_day_old_messenger_thread_takes_no_reply(engine: Engine) {
    let graph = MockServer::start().await;
    let Some(app) = spawn_with_graph(engine, &graph).await else { return };
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).expect(0).mount(&graph).await;
    let session = app.signup("owner@example.com").await;
    let workspace = workspace(&session);
    let thread = thread_written(&app, &workspace, Platform::Messenger, PAGE_ID, 8 * 24).await;

    assert_eq!(conversation(&app, &session, &thread).await["messagingWindow"]["state"], "closed");
    let refusal = assert_refused(&app, &session, &thread, json!({"text": "Hello again"})).await;
    assert!(refusal.contains("more than 7 days"), "{refusal}");
    assert_refused(&app, &session, &thread, json!({"text": "Hello again", "tag": "HUMAN_AGENT"})).await;
}

async fn a_two_day_old_whatsapp_thread_takes_an_approved_template(engine: Engine) {
    let graph = MockServer::start().await;
    let Some(app) = spawn_with_graph(engine, &graph).await else { return };
    let session = app.signup("owner@example.com").await;
    let workspace = workspace(&session);
    let thread = thread_written(&app, &workspace, Platform::Whatsapp, PHONE_NUMBER_ID, 2 * 24).await;
    Mock::given(method("POST"))
        .and(path(format!("/v21.0/{PHONE_NUMBER_ID}/messages")))
        .and(body_partial_json(json!({
            "messaging_product": "whatsapp",
            "to": whatsapp_sender(PHONE_NUMBER_ID),
            "type": "template",
            "template": {
                "name": "table_ready",
                "language": {"code": "en_US"},
                "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "8pm"}]}]
            }
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"messages": [{"id": "wamid.T1"}]})))
        .expect(1)
        .mount(&graph)
        .await;

    let window = &conversation(&app, &session, &thread).await["messagingWindow"];
    assert_eq!(window["state"], "template_only", "{window}");
    assert_eq!(window["closesAt"], Value::Null);

    let refusal = assert_refused(&app, &session, &thread, json!({"text": "Your table is ready"})).await;
    assert!(refusal.contains("approved template"), "{refusal}");
    let answer =
        reply(&app, &session, &thread, json!({"tag": "HUMAN_AGENT", "text": "Hi"}), StatusCode::UNPROCESSABLE_ENTITY)
            .await;
    assert_eq!(answer["error"]["code"], "validation_failed");

    let template = json!({"name": "table_ready", "language": "en_US", "bodyParameters": ["Ana", "8pm"]});
    let answer = reply(&app, &session, &thread, json!({"template": template}), StatusCode::ACCEPTED).await;
    assert_eq!(answer["data"]["kind"], "template");
    let posted = wait_status(&app, &workspace, &response_id(&answer), ResponseStatus::Posted).await;
    assert_eq!(posted.external_id.as_deref(), Some("wamid.T1"));
    assert_eq!(posted.body, "Template \u{201c}table_ready\u{201d} (en_US): Ana · 8pm");
}

async fn the_thread_page_shows_the_window_and_offers_what_it_allows(engine: Engine) {
    let graph = MockServer::start().await;
    let Some(app) = spawn_with_graph(engine, &graph).await else { return };
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"recipient_id": "psid-77", "message_id": "m3"})))
        .mount(&graph)
        .await;
    let session = app.signup("owner@example.com").await;
    let workspace = workspace(&session);
    let client = browser();
    let signed_in =
        submit(&client, &app, "/sign-in", "/sign-in", &[("email", "owner@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);

    let messenger = thread_written(&app, &workspace, Platform::Messenger, PAGE_ID, 3 * 24).await;
    let thread = format!("/inbox/{messenger}");
    let (_, html) = page(&client, &app, &thread).await;
    assert!(html.contains("The 24-hour window closed"), "{html}");
    assert!(html.contains("you can still reply as a human agent"), "{html}");
    assert!(html.contains(r#"name="human_agent" value="1" checked"#), "HUMAN_AGENT is offered, ticked: {html}");

    // Free text is refused with the message inline, and the draft kept.
    let response = submit(&client, &app, &thread, &format!("{thread}/reply"), &[("text", "Still there?")]).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.expect("html");
    assert!(html.contains(r#"role="alert">Free text is no longer accepted."#), "{html}");
    assert!(html.contains("Still there?</textarea>"), "{html}");
    let fields = [("text", "Still there?"), ("human_agent", "1")];
    let response = submit(&client, &app, &thread, &format!("{thread}/reply"), &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    let whatsapp = thread_written(&app, &workspace, Platform::Whatsapp, PHONE_NUMBER_ID, 2 * 24).await;
    let (_, html) = page(&client, &app, &format!("/inbox/{whatsapp}")).await;
    assert!(html.contains("send an approved template"), "{html}");
    assert!(html.contains(r#"name="template_name""#) && !html.contains(r#"id="reply-text""#), "{html}");
    assert!(html.contains("Body values, one a line ({{1}}, {{2}}…)"), "{html}");
    let chat = format!("/inbox/{whatsapp}");
    let fields = [("template_name", "table_ready"), ("template_language", "English"), ("template_parameters", "Ana")];
    let response = submit(&client, &app, &chat, &format!("{chat}/reply"), &fields).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.expect("html");
    assert!(html.contains("The template language must be the template&#39;s language code"), "{html}");
    assert!(html.contains(r#"value="table_ready""#), "the template is kept: {html}");
    let fields = [("template_name", "table_ready"), ("template_language", "en_US"), ("template_parameters", "Ana")];
    let response = submit(&client, &app, &chat, &format!("{chat}/reply"), &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    let closed = thread_written(&app, &workspace, Platform::Instagram, "17841405822304914", 8 * 24).await;
    let (_, html) = page(&client, &app, &format!("/inbox/{closed}")).await;
    assert!(html.contains("accepts no reply") && !html.contains(">Send</button>"), "{html}");

    let open = thread_written(&app, &workspace, Platform::Whatsapp, "106540352242999", 1).await;
    let (_, html) = page(&client, &app, &format!("/inbox/{open}")).await;
    assert!(html.contains("Replies allowed until"), "{html}");
    assert!(html.contains(r#"id="reply-text""#) && html.contains("Or send an approved template"), "{html}");
}
