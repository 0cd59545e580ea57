//! The demo: a first start finds a believable business in its inbox, the owner can sign in, a
//! second seed changes nothing, and the simulator keeps feeding it through the real webhooks.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tidings_core::WorkspaceId;
use tidings_core::time::now_millis;
use tidings_server::channels::model::ConnectionStatus;
use tidings_server::channels::store as channel_store;
use tidings_server::demo::seed::{self, Progress, Seeded};
use tidings_server::inbox::store::{self as inbox_store, ConversationFilter, PageStart};
use tidings_store::{Db, with_reader};

use crate::helpers::{Engine, TestApp, json};
use crate::on_both_engines;

async fn scalar(db: &Db, sql: &'static str, workspace: &WorkspaceId) -> i64 {
    with_reader!(db, |pool| sqlx::query_scalar::<_, i64>(sql).bind(workspace.as_str()).fetch_one(pool).await)
        .expect(sql)
}

async fn strings(db: &Db, sql: &'static str, workspace: &WorkspaceId) -> BTreeSet<String> {
    let rows: Vec<String> =
        with_reader!(db, |pool| sqlx::query_scalar(sql).bind(workspace.as_str()).fetch_all(pool).await).expect(sql);
    rows.into_iter().collect()
}

/// Every count a second seed must leave alone.
async fn census(db: &Db, workspace: &WorkspaceId) -> Vec<i64> {
    let mut counts = Vec::new();
    for sql in [
        "SELECT COUNT(*) FROM messages WHERE workspace_id = $1",
        "SELECT COUNT(*) FROM conversations WHERE workspace_id = $1",
        "SELECT COUNT(*) FROM contacts WHERE workspace_id = $1",
        "SELECT COUNT(*) FROM locations WHERE workspace_id = $1",
        "SELECT COUNT(*) FROM channel_connections WHERE workspace_id = $1",
        "SELECT COUNT(*) FROM memberships WHERE workspace_id = $1",
        "SELECT COUNT(*) FROM audit_logs WHERE workspace_id = $1",
    ] {
        counts.push(scalar(db, sql, workspace).await);
    }
    counts
}

async fn seeded_demo(app: &TestApp) -> (WorkspaceId, String) {
    let mut seen = Vec::<Progress>::new();
    let seeded =
        seed::seed(&app.state.db, &app.state.config, &app.state.events, |p| seen.push(p)).await.expect("seeded");
    let last = seen.last().expect("progress was reported");
    assert_eq!(last.done, last.total, "progress reaches its total");
    assert!(seen.windows(2).all(|w| w[0].done < w[1].done), "progress only moves forward");
    match seeded {
        Seeded::Created { workspace_id, email, password, summary } => {
            assert_eq!(email, "demo@tidings.local");
            assert_eq!(summary.locations, 3);
            assert!(summary.reviews >= 150 && summary.threads >= 20, "{summary:?}");
            (workspace_id, password)
        }
        Seeded::Exists { .. } => panic!("a fresh database has no demo"),
    }
}

async fn seeding_builds_a_believable_business_the_owner_can_sign_into(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |cfg| cfg.demo.simulate = false).await else { return };
    let db = &app.state.db;
    assert!(seed::is_empty(db).await.expect("empty?"));
    let (workspace, password) = seeded_demo(&app).await;
    assert_eq!(seed::demo_workspace(db).await.expect("found"), Some(workspace.clone()));

    let locations = channel_store::locations(db, &workspace).await.expect("locations");
    let cities: BTreeSet<_> = locations.iter().filter_map(|l| l.city.clone()).collect();
    assert_eq!(cities, ["Austin", "Berlin", "Lisbon"].map(String::from).into());
    let connections = channel_store::connections(db, &workspace).await.expect("connections");
    let platforms: BTreeSet<_> = connections.iter().map(|c| c.platform.as_str()).collect();
    for platform in ["google", "yelp", "facebook", "tripadvisor", "messenger", "instagram", "whatsapp", "x"] {
        assert!(platforms.contains(platform), "{platform} is connected: {platforms:?}");
    }
    assert!(
        connections
            .iter()
            .all(|c| { c.location_id.is_some() && c.status == ConnectionStatus::Active && c.next_sync_at.is_none() })
    );
    assert!(connections.iter().all(|c| c.demo), "the outbound sender knows the demo's accounts by their row");
    let due = channel_store::due_connections(db, now_millis() + 86_400_000, 500).await.expect("due");
    assert!(due.iter().all(|c| c.workspace_id != workspace), "the scheduler never syncs demo connections");

    let reviews =
        scalar(db, "SELECT COUNT(*) FROM messages WHERE workspace_id = $1 AND kind = 'review'", &workspace).await;
    assert!(reviews >= 150, "{reviews} reviews");
    let languages =
        strings(db, "SELECT DISTINCT language FROM messages WHERE workspace_id = $1 AND kind = 'review'", &workspace)
            .await;
    assert!(languages.len() >= 4, "{languages:?}");
    let review_platforms = strings(
        db,
        "SELECT DISTINCT platform FROM conversations WHERE workspace_id = $1 AND kind = 'review'",
        &workspace,
    )
    .await;
    assert_eq!(review_platforms.len(), 4, "{review_platforms:?}");
    let all_platforms =
        strings(db, "SELECT DISTINCT platform FROM conversations WHERE workspace_id = $1", &workspace).await;
    assert!(all_platforms.len() >= 5, "{all_platforms:?}");
    let ratings = strings(
        db,
        "SELECT DISTINCT CAST(rating AS TEXT) FROM conversations WHERE workspace_id = $1 AND rating IS NOT NULL",
        &workspace,
    )
    .await;
    assert_eq!(ratings.len(), 5, "every star rating occurs: {ratings:?}");
    let titled =
        scalar(db, "SELECT COUNT(*) FROM messages WHERE workspace_id = $1 AND platform = 'tripadvisor' AND title IS NULL AND kind = 'review'", &workspace)
            .await;
    assert_eq!(titled, 0, "TripAdvisor reviews have titles");
    let threads =
        scalar(db, "SELECT COUNT(*) FROM conversations WHERE workspace_id = $1 AND kind = 'thread'", &workspace).await;
    assert!(threads >= 20, "{threads} threads");
    let answered = scalar(
        db,
        "SELECT COUNT(*) FROM conversations WHERE workspace_id = $1 AND kind = 'review' AND responded",
        &workspace,
    )
    .await;
    assert!(answered >= 30 && answered < reviews, "{answered} of {reviews} reviews answered");
    let replies =
        scalar(db, "SELECT COUNT(*) FROM messages WHERE workspace_id = $1 AND kind = 'reply'", &workspace).await;
    assert_eq!(replies, answered, "each answered review carries its reply");
    for (status, sql) in [
        ("closed", "SELECT COUNT(*) FROM conversations WHERE workspace_id = $1 AND status = 'closed'"),
        ("assigned", "SELECT COUNT(*) FROM conversations WHERE workspace_id = $1 AND assignee_id IS NOT NULL"),
        ("open", "SELECT COUNT(*) FROM conversations WHERE workspace_id = $1 AND status = 'open'"),
    ] {
        assert!(scalar(db, sql, &workspace).await > 0, "some conversations are {status}");
    }

    // The owner signs in over the API with the printed password, into the demo workspace.
    let response = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({ "email": "demo@tidings.local", "password": password }))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    let body = json(response).await;
    assert_eq!(body["data"]["workspaceId"], workspace.as_str(), "{body}");
    let (page, total) =
        inbox_store::list_conversations(db, &workspace, &ConversationFilter::default(), &PageStart::Offset(0), 25)
            .await
            .expect("listed");
    assert_eq!(page.len(), 25);
    assert!(total >= 170, "{total} conversations");
    assert!(page.windows(2).all(|w| w[0].last_message_at >= w[1].last_message_at), "newest first");

    // A second seed finds the demo and writes nothing.
    let before = census(db, &workspace).await;
    let again = seed::seed(db, &app.state.config, &app.state.events, |_| {}).await.expect("second seed");
    assert!(matches!(again, Seeded::Exists { ref workspace_id, .. } if *workspace_id == workspace), "{again:?}");
    assert_eq!(census(db, &workspace).await, before, "nothing was duplicated");
    assert!(seed::seed_if_empty(db, &app.state.config, &app.state.events, |_| {}).await.expect("checked").is_none());

    // A new password can be set, and the old one stops working.
    let fresh = seed::reset_password(db, &app.state.config).await.expect("reset").expect("a demo exists");
    for (candidate, expected) in [(&password, StatusCode::UNAUTHORIZED), (&fresh, StatusCode::OK)] {
        let status = app
            .client
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({ "email": "demo@tidings.local", "password": candidate }))
            .send()
            .await
            .expect("sent")
            .status();
        assert_eq!(status, expected);
    }
}

async fn raw_events(db: &Db) -> (i64, i64) {
    with_reader!(db, |pool| sqlx::query_as::<_, (i64, i64)>(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN status = 'processed' THEN 1 ELSE 0 END), 0) FROM raw_events"
    )
    .fetch_one(pool)
    .await)
    .expect("raw events")
}

async fn inbox_messages(db: &Db, workspace: &WorkspaceId) -> i64 {
    scalar(db, "SELECT COALESCE(SUM(message_count), 0) FROM conversations WHERE workspace_id = $1", workspace).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_feeds_the_demo_inbox_through_the_real_webhooks() {
    let app = TestApp::spawn_on(Engine::Sqlite, |cfg| cfg.demo.simulate_every_secs = 1).await.expect("sqlite");
    let db = &app.state.db;
    let (workspace, _) = seeded_demo(&app).await;
    let seeded_messages = inbox_messages(db, &workspace).await;
    assert_eq!(raw_events(db).await.0, 0, "seeding writes rows directly, not webhooks");
    for _ in 0..200 {
        let (events, processed) = raw_events(db).await;
        if processed >= 3 && inbox_messages(db, &workspace).await >= seeded_messages + 3 {
            assert!(events >= processed);
            let failed: i64 =
                with_reader!(db, |pool| sqlx::query_scalar("SELECT COUNT(*) FROM raw_events WHERE status = 'failed'")
                    .fetch_one(pool)
                    .await)
                .expect("failed");
            assert_eq!(failed, 0, "every simulated delivery is valid");
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the simulator delivered {:?} events, inbox at {}",
        raw_events(db).await,
        inbox_messages(db, &workspace).await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_stays_quiet_when_off_or_without_a_demo() {
    let off = TestApp::spawn_on(Engine::Sqlite, |cfg| {
        cfg.demo.simulate = false;
        cfg.demo.simulate_every_secs = 1;
    })
    .await
    .expect("sqlite");
    seeded_demo(&off).await;
    let other = TestApp::spawn_on(Engine::Sqlite, |cfg| cfg.demo.simulate_every_secs = 1).await.expect("sqlite");
    other.signup("owner@example.com").await;
    assert!(seed::demo_workspace(&other.state.db).await.expect("looked").is_none());
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(raw_events(&off.state.db).await.0, 0, "demo.simulate = false");
    assert_eq!(raw_events(&other.state.db).await.0, 0, "no demo workspace, nothing simulated");
}

on_both_engines!(seeding_builds_a_believable_business_the_owner_can_sign_into);
