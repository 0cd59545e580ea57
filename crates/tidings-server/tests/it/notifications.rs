//! Each member's notifications over HTTP (ADR 0024): the remaining triggers (response needed
//! after N hours, a failing connection, a budget threshold) reaching rules once, the bell per
//! member with their choices and quiet hours, "the team" email, digests counting seeded reviews
//! once even when two runs race, and every new endpoint scoped to its workspace and role.
//! Time is driven by the `now` the scans take and by back-dated rows, never by sleeping.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tidings_core::time::now_millis;
use tidings_core::{UserId, WorkspaceId};
use tidings_server::automations::dto::{DestinationOut, RuleOut};
use tidings_server::automations::dto_notifications::{DigestOut, NotificationsOut, PreferencesIo};
use tidings_server::automations::members::NotificationKind;
use tidings_server::identity::{Role, store as identity_store};
use tidings_store::with_writer;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::automations::data;
use crate::client::send;
use crate::helpers::{Engine, Session, TestApp};
use crate::inbox_fixtures::{Review, ingest_review, location};

crate::on_both_engines!(
    response_needed_fires_once_per_item_and_not_before_its_hours,
    a_failing_connection_reaches_its_rule_once_per_turn,
    a_budget_threshold_reaches_its_rule_once_per_threshold,
    the_bell_is_per_member_and_follows_their_choices_and_quiet_hours,
    a_digest_counts_the_seeded_reviews_and_goes_out_once_when_two_runs_race,
    every_new_endpoint_is_tenant_scoped_and_role_checked
);

const HOUR: i64 = 3_600_000;

fn workspace(session: &Session) -> WorkspaceId {
    WorkspaceId::parse(&session.workspace_id).expect("workspace id")
}

pub(crate) async fn in_app_destination(app: &TestApp, token: &str) -> DestinationOut {
    let body = json!({ "kind": "in_app", "name": "Bell" });
    data(app.as_member(token, Method::POST, "/api/v1/destinations").json(&body), StatusCode::CREATED).await
}

pub(crate) async fn rule(
    app: &TestApp,
    token: &str,
    trigger: &str,
    conditions: Value,
    destinations: &[&str],
) -> RuleOut {
    let actions: Vec<Value> =
        destinations.iter().map(|d| json!({ "type": "notify", "destinationId": d, "template": "detailed" })).collect();
    let body =
        json!({ "name": format!("On {trigger}"), "trigger": trigger, "conditions": conditions, "actions": actions });
    data(app.as_member(token, Method::POST, "/api/v1/rules").json(&body), StatusCode::CREATED).await
}

pub(crate) async fn bell(app: &TestApp, token: &str) -> NotificationsOut {
    data(app.as_member(token, Method::GET, "/api/v1/notifications"), StatusCode::OK).await
}

/// Waits until the member's bell satisfies `done`.
pub(crate) async fn wait_bell(
    app: &TestApp,
    token: &str,
    done: impl Fn(&NotificationsOut) -> bool,
) -> NotificationsOut {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let out = bell(app, token).await;
        if done(&out) {
            return out;
        }
        assert!(Instant::now() < deadline, "the bell never got there: {out:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A review of `at` (unix ms), optionally answered on the platform.
async fn review(app: &TestApp, ws: &WorkspaceId, id: &str, rating: u8, at: i64, place: Option<&str>, reply: bool) {
    let review = Review {
        platform: "google",
        location: place,
        id,
        author: "Maria",
        rating,
        text: "The soup was cold",
        at,
        owner_reply: reply.then_some("Sorry about that!"),
        ..Review::default()
    };
    ingest_review(app, ws, review).await;
}

async fn response_needed_fires_once_per_item_and_not_before_its_hours(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let owner = app.signup("owner@example.com").await;
    let ws = workspace(&owner);
    let destination = in_app_destination(&app, &owner.access).await;
    let wait = json!([{ "type": "unansweredFor", "hours": 4 }]);
    rule(&app, &owner.access, "response_needed", wait, &[destination.id.as_str()]).await;
    let now = now_millis();
    review(&app, &ws, "waiting-5h", 2, now - 5 * HOUR, None, false).await;
    review(&app, &ws, "waiting-3h", 3, now - 3 * HOUR, None, false).await;
    review(&app, &ws, "answered", 1, now - 5 * HOUR, None, true).await;

    let automations = &app.state.automations;
    assert_eq!(automations.scan_unanswered(now).await.expect("scan"), 1, "only the review waiting 5 h of 4");
    assert_eq!(automations.scan_unanswered(now + 60_000).await.expect("scan"), 0, "fired once per item");
    let out = wait_bell(&app, &owner.access, |b| b.unread == 1).await;
    assert_eq!(out.items[0].kind, NotificationKind::ResponseNeeded);
    assert!(out.items[0].title.starts_with("Response needed"), "{}", out.items[0].title);
    assert!(out.items[0].body.contains("The soup was cold"), "{}", out.items[0].body);

    assert_eq!(automations.scan_unanswered(now + HOUR + HOUR / 2).await.expect("scan"), 1, "the 3 h one reached 4 h");
    wait_bell(&app, &owner.access, |b| b.unread == 2).await;

    // The rule explains itself on an event of another wait, and the backtest reads the events.
    let backtest: Value = data(
        app.as_member(&owner.access, Method::POST, "/api/v1/rules/backtest").json(&json!({
            "rule": { "name": "After a day", "trigger": "response_needed",
                      "conditions": [{ "type": "unansweredFor", "hours": 24 }],
                      "actions": [{ "type": "notify", "destinationId": destination.id }] }
        })),
        StatusCode::OK,
    )
    .await;
    assert_eq!(backtest["matched"], 0, "a 24 h rule matches none of the 4 h events: {backtest}");
    assert_eq!(backtest["events"], 2, "{backtest}");
}

/// A Google connection whose review listing refuses the credentials.
async fn a_failing_connection_reaches_its_rule_once_per_turn(engine: Engine) {
    let google = MockServer::start().await;
    let Some(app) = crate::sync::spawn_with_google(engine, &google).await else { return };
    let owner = app.signup("owner@example.com").await;
    let ws = workspace(&owner);
    crate::sync::google_connection(&app, &ws, false).await;
    let destination = in_app_destination(&app, &owner.access).await;
    rule(
        &app,
        &owner.access,
        "connection_failing",
        json!([{ "type": "platform", "values": ["google"] }]),
        &[destination.id.as_str()],
    )
    .await;
    Mock::given(method("GET"))
        .and(path(format!("/v4/{}/reviews", crate::sync::LOCATION)))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"error": {"code": 401, "message": "Request had invalid authentication credentials.", "status": "UNAUTHENTICATED"}}),
        ))
        .mount(&google)
        .await;

    let task = crate::sync::start_sync(&app, &owner.access).await;
    crate::sync::wait_task(&app, &ws, &task).await;
    let out = wait_bell(&app, &owner.access, |b| b.unread == 1).await;
    assert_eq!(out.items[0].kind, NotificationKind::ConnectionFailing);
    assert_eq!(out.items[0].title, "google connection needs connecting again");
    assert!(out.items[0].body.contains("refused the credentials"), "{}", out.items[0].body);

    // Failing again is the same turn: nothing new.
    let task = crate::sync::start_sync(&app, &owner.access).await;
    crate::sync::wait_task(&app, &ws, &task).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(bell(&app, &owner.access).await.unread, 1, "announced once per turn");
}

async fn a_budget_threshold_reaches_its_rule_once_per_threshold(engine: Engine) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(crate::ai_replies::completion(crate::ai_replies::MODEL_ANSWER))
        .mount(&server)
        .await;
    let Some(shop) = crate::ai_replies::shop_with(engine, |config| {
        crate::ai_replies::mock_model(&server, 5)(config);
        config.ai.cache_ttl_secs = 0;
    })
    .await
    else {
        return;
    };
    let (app, owner) = (&shop.app, &shop.owner);
    let _: Value = shop.client().put("/api/v1/ai/settings", &json!({"dailyTokenBudget": 1200}), StatusCode::OK).await;
    let destination = in_app_destination(app, &owner.access).await;
    rule(
        app,
        &owner.access,
        "budget_threshold",
        json!([{ "type": "threshold", "percent": 100 }]),
        &[destination.id.as_str()],
    )
    .await;
    let conversation = crate::ai_replies::question(&shop, "t-1", "What does the Pro plan cost?").await;
    // Each generation uses 500 tokens: 500, 1000 (83 %: the 80 % event), 1500 (125 %: the 100 %
    // event), 2000 (nothing new).
    for _ in 0..4 {
        crate::ai_replies::generate(&shop, &conversation, json!({})).await;
    }
    let out = wait_bell(app, &owner.access, |b| b.unread >= 1).await;
    assert_eq!(out.items[0].kind, NotificationKind::Budget);
    assert_eq!(out.items[0].title, "AI budget: 100 % of the day's tokens used");
    assert!(out.items[0].body.starts_with("1500 of 1200 tokens used (day "), "{}", out.items[0].body);
    // The 80 % event was evaluated too, and the rule said why it did not match.
    let log: Value = data(app.as_member(&owner.access, Method::POST, "/api/v1/rules/backtest").json(&json!({
        "rule": { "name": "At 80", "trigger": "budget_threshold", "conditions": [{ "type": "threshold", "percent": 80 }],
                  "actions": [{ "type": "notify", "destinationId": destination.id }] }
    })), StatusCode::OK)
    .await;
    assert_eq!((log["events"].as_i64(), log["matched"].as_i64()), (Some(2), Some(2)), "one event per threshold: {log}");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(bell(app, &owner.access).await.unread, 1, "the 100 % rule fired once");
}

/// A colleague joins the owner's workspace and signs in there.
async fn colleague(app: &TestApp, owner: &Session, email: &str, role: Role) -> Session {
    let own = app.signup(email).await;
    let id = UserId::parse(&own.user_id).expect("user id");
    let mut tx = app.state.db.begin().await.expect("begin");
    assert!(identity_store::insert_membership(&mut tx, &workspace(owner), &id, role).await.expect("insert"));
    tx.commit().await.expect("commit");
    let (status, body) = send(
        app.as_member(&own.access, Method::POST, "/api/v1/auth/switch-workspace")
            .json(&json!({ "workspaceId": owner.workspace_id })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    Session::from_tokens(&body)
}

fn clock(minutes: i64) -> String {
    let minutes = minutes.rem_euclid(1440);
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// The "response needed" emails `to` received (sign-up sent them others).
async fn mails_to(app: &TestApp, to: &str) -> Vec<tidings_server::mail::dev::StoredMail> {
    let dir = app.state.config.data_dir.join("mail");
    let mails = tidings_server::mail::dev::list(&dir).await.unwrap_or_default();
    mails.into_iter().filter(|m| m.to.contains(to) && m.subject.starts_with("Response needed")).collect()
}

async fn the_bell_is_per_member_and_follows_their_choices_and_quiet_hours(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let owner = app.signup("owner@example.com").await;
    let agent = colleague(&app, &owner, "agent@example.com", Role::Agent).await;
    let ws = workspace(&owner);
    let in_app = in_app_destination(&app, &owner.access).await;
    let team: DestinationOut = data(
        app.as_member(&owner.access, Method::POST, "/api/v1/destinations")
            .json(&json!({ "kind": "email", "name": "The team", "team": true })),
        StatusCode::CREATED,
    )
    .await;
    rule(
        &app,
        &owner.access,
        "response_needed",
        json!([{ "type": "unansweredFor", "hours": 1 }]),
        &[in_app.id.as_str(), team.id.as_str()],
    )
    .await;

    // The owner wants it by email too, but is in quiet hours now; the agent wants it nowhere.
    let now_minute = (now_millis() / 60_000) % 1440;
    let owner_choice = json!({
        "kinds": [{ "kind": "response_needed", "inApp": true, "email": true }],
        "quietHours": { "start": clock(now_minute - 60), "end": clock(now_minute + 60), "timeZone": "UTC" }
    });
    let saved: PreferencesIo = data(
        app.as_member(&owner.access, Method::PUT, "/api/v1/notification-preferences").json(&owner_choice),
        StatusCode::OK,
    )
    .await;
    assert_eq!(saved.quiet_hours.as_ref().map(|q| q.time_zone.as_str()), Some("UTC"));
    let agent_choice = json!({ "kinds": [{ "kind": "response_needed", "inApp": false, "email": false }] });
    let _: PreferencesIo = data(
        app.as_member(&agent.access, Method::PUT, "/api/v1/notification-preferences").json(&agent_choice),
        StatusCode::OK,
    )
    .await;
    let bad = json!({ "quietHours": { "start": "25:00", "end": "07:00", "timeZone": "UTC" } });
    let (status, body) =
        send(app.as_member(&agent.access, Method::PUT, "/api/v1/notification-preferences").json(&bad)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["details"]["field"], "quietHours.start", "{body}");

    review(&app, &ws, "late", 2, now_millis() - 2 * HOUR, None, false).await;
    assert_eq!(app.state.automations.scan_unanswered(now_millis()).await.expect("scan"), 1);
    let out = wait_bell(&app, &owner.access, |b| b.unread == 1).await;
    assert!(out.items[0].quiet, "stored silently during quiet hours");
    assert_eq!(bell(&app, &agent.access).await.unread, 0, "the agent turned response-needed off");

    // The owner's email is held in the queue until the quiet hours end, then sent.
    let held = Instant::now() + Duration::from_secs(3);
    while Instant::now() < held {
        assert!(mails_to(&app, "owner@example.com").await.is_empty(), "no email during quiet hours");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let run_at: i64 = with_writer!(app.state.db, |pool| sqlx::query_scalar(
        "SELECT run_at FROM jobs WHERE kind = 'mail.send' AND payload LIKE '%Response needed%'"
    )
    .fetch_one(pool)
    .await)
    .expect("the held email");
    let expected_end = (now_millis() / 60_000 + 60) * 60_000;
    assert!((run_at - expected_end).abs() <= 120_000, "held until the quiet hours end: {run_at} vs {expected_end}");
    // Time passes: the quiet hours end.
    with_writer!(app.state.db, |pool| sqlx::query(
        "UPDATE jobs SET run_at = $1 WHERE kind = 'mail.send' AND payload LIKE '%Response needed%'"
    )
    .bind(now_millis())
    .execute(pool)
    .await
    .map(|_| ()))
    .expect("the quiet hours end");
    let deadline = Instant::now() + Duration::from_secs(15);
    while mails_to(&app, "owner@example.com").await.is_empty() {
        assert!(Instant::now() < deadline, "the held email was never sent");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(mails_to(&app, "agent@example.com").await.is_empty(), "the agent chose no email");

    // Mark one read, then all.
    let id = out.items[0].id.clone();
    let read: NotificationsOut =
        data(app.as_member(&owner.access, Method::POST, &format!("/api/v1/notifications/{id}/read")), StatusCode::OK)
            .await;
    assert_eq!((read.unread, read.items[0].read), (0, true));
    let (status, _) =
        send(app.as_member(&agent.access, Method::POST, &format!("/api/v1/notifications/{id}/read"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another member's notification");
    let all: NotificationsOut =
        data(app.as_member(&owner.access, Method::POST, "/api/v1/notifications/read"), StatusCode::OK).await;
    assert_eq!(all.unread, 0);
}

async fn a_digest_counts_the_seeded_reviews_and_goes_out_once_when_two_runs_race(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let owner = app.signup("owner@example.com").await;
    let ws = workspace(&owner);
    let terrace = location(&app, &ws, "Terrace").await;
    let harbour = location(&app, &ws, "Harbour").await;
    let now = now_millis();
    let today = now - now.rem_euclid(24 * HOUR);
    let yesterday = today - 24 * HOUR;
    // Yesterday at the terrace: 5, 4 (answered) and 1 stars.
    review(&app, &ws, "t-5", 5, yesterday + HOUR, Some(&terrace), false).await;
    review(&app, &ws, "t-4", 4, yesterday + 10 * HOUR, Some(&terrace), true).await;
    review(&app, &ws, "t-1", 1, today - 1, Some(&terrace), false).await;
    // Not counted: another location, the day before, today.
    review(&app, &ws, "h-2", 2, yesterday + HOUR, Some(&harbour), false).await;
    review(&app, &ws, "t-old", 1, yesterday - 1, Some(&terrace), false).await;
    review(&app, &ws, "t-today", 1, today, Some(&terrace), false).await;

    let destination = in_app_destination(&app, &owner.access).await;
    let digest: DigestOut = data(
        app.as_member(&owner.access, Method::POST, "/api/v1/digests").json(&json!({
            "name": "Daily digest", "frequency": "daily", "hour": 0, "timeZone": "UTC",
            "locationId": terrace, "destinationIds": [destination.id]
        })),
        StatusCode::CREATED,
    )
    .await;
    assert_eq!((digest.frequency.as_str(), digest.last_period.as_deref()), ("daily", None));

    let (a, b) = (app.state.automations.clone(), app.state.automations.clone());
    let (first, second) = tokio::join!(a.send_due_digests(now), b.send_due_digests(now));
    assert_eq!(first.expect("run") + second.expect("run"), 1, "two racing runs send it once");
    assert_eq!(a.send_due_digests(now + 60_000).await.expect("run"), 0, "once per period");

    let out = wait_bell(&app, &owner.access, |b| b.unread == 1).await;
    assert_eq!(out.items[0].kind, NotificationKind::Digest);
    assert!(out.items[0].title.starts_with("Daily digest: Terrace, "), "{}", out.items[0].title);
    let numbers = "New reviews: 3\nAverage rating: 3.3 ★\nUnanswered: 2\nNegative: 1\n";
    assert!(out.items[0].body.starts_with(numbers), "{}", out.items[0].body);
    let listed: Vec<DigestOut> =
        data(app.as_member(&owner.access, Method::GET, "/api/v1/digests"), StatusCode::OK).await;
    let key = chrono::DateTime::from_timestamp_millis(now).expect("now").format("%Y-%m-%d").to_string();
    assert_eq!(listed[0].last_period.as_deref(), Some(key.as_str()));

    let (status, body) = send(app.as_member(&owner.access, Method::POST, "/api/v1/digests").json(&json!({
        "name": "Weekly", "frequency": "weekly", "hour": 9, "destinationIds": [destination.id]
    })))
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["details"]["field"], "weekday", "{body}");
}

async fn every_new_endpoint_is_tenant_scoped_and_role_checked(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let owner = app.signup("owner@example.com").await;
    let viewer = colleague(&app, &owner, "viewer@example.com", Role::Viewer).await;
    let stranger = app.signup("stranger@example.com").await;
    let destination = in_app_destination(&app, &owner.access).await;
    let digest: DigestOut = data(
        app.as_member(&owner.access, Method::POST, "/api/v1/digests").json(&json!({
            "name": "Weekly", "frequency": "weekly", "weekday": 1, "hour": 9, "destinationIds": [destination.id]
        })),
        StatusCode::CREATED,
    )
    .await;
    // A notification of the owner's, through a test-send to the bell.
    let rule = rule(&app, &owner.access, "negative_review", json!([]), &[destination.id.as_str()]).await;
    let _: Value = data(
        app.as_member(&owner.access, Method::POST, "/api/v1/test").json(&json!({ "ruleId": rule.id })),
        StatusCode::ACCEPTED,
    )
    .await;
    let notification = wait_bell(&app, &owner.access, |b| b.unread == 1).await.items[0].id.clone();

    for (method, path) in [
        (Method::GET, format!("/api/v1/digests/{}", digest.id)),
        (Method::DELETE, format!("/api/v1/digests/{}", digest.id)),
        (Method::POST, format!("/api/v1/notifications/{notification}/read")),
    ] {
        let (status, body) = send(app.as_member(&stranger.access, method.clone(), &path)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
        assert_eq!(body["error"]["code"], "not_found");
    }
    let theirs: Vec<DigestOut> =
        data(app.as_member(&stranger.access, Method::GET, "/api/v1/digests"), StatusCode::OK).await;
    assert!(theirs.is_empty(), "another workspace's digests are not listed");
    assert_eq!(bell(&app, &stranger.access).await.unread, 0);

    // A viewer reads digests and keeps their own preferences, but may not change digests.
    let _: Vec<DigestOut> = data(app.as_member(&viewer.access, Method::GET, "/api/v1/digests"), StatusCode::OK).await;
    let _: PreferencesIo =
        data(app.as_member(&viewer.access, Method::GET, "/api/v1/notification-preferences"), StatusCode::OK).await;
    let new = json!({ "name": "Mine", "frequency": "daily", "hour": 9, "destinationIds": [destination.id] });
    for (method, path, body) in [
        (Method::POST, "/api/v1/digests".to_owned(), new),
        (Method::DELETE, format!("/api/v1/digests/{}", digest.id), json!({})),
    ] {
        let (status, answer) = send(app.as_member(&viewer.access, method, &path).json(&body)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {answer}");
    }
    // An API key is nobody: it has no bell.
    let (_, key) = send(
        app.as_member(&owner.access, Method::POST, "/api/v1/api-keys")
            .json(&json!({ "name": "script", "role": "admin" })),
    )
    .await;
    let key = key["data"]["key"].as_str().expect("a key").to_owned();
    for path in ["/api/v1/notifications", "/api/v1/notification-preferences"] {
        let (status, body) = send(app.as_member(&key, Method::GET, path)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
    }
    let _: Value =
        data(app.as_member(&owner.access, Method::DELETE, &format!("/api/v1/digests/{}", digest.id)), StatusCode::OK)
            .await;
}
