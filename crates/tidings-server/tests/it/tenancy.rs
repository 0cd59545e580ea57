//! Row-level security on PostgreSQL: the second wall between workspaces.

use reqwest::Method;
use serde_json::json;
use tidings_core::WorkspaceId;

use crate::helpers::{Engine, TestApp};

/// Inside a transaction confined to workspace A, even a query with no `WHERE` at all sees and
/// changes only A's rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_level_security_confines_a_tenant_transaction_to_its_workspace() {
    let Some(app) = TestApp::spawn_on(Engine::Postgres, |_| {}).await else { return };
    let mut workspaces = Vec::new();
    for email in ["a@example.com", "b@example.com"] {
        let session = app.signup(email).await;
        let created = app
            .as_member(&session.access, Method::POST, "/api/v1/api-keys")
            .json(&json!({ "name": format!("key of {email}"), "role": "viewer" }))
            .send()
            .await
            .expect("sent");
        assert!(created.status().is_success());
        workspaces.push(WorkspaceId::parse(&session.workspace_id).expect("id"));
    }
    let (a, b) = (&workspaces[0], &workspaces[1]);

    let mut tx = app.state.db.begin_for_tenant(a).await.expect("tenant transaction");
    let visible: Vec<String> =
        tidings_store::with_tx!(tx, |conn| sqlx::query_scalar("SELECT workspace_id FROM api_keys")
            .fetch_all(&mut **conn)
            .await)
        .expect("select");
    assert_eq!(visible, vec![a.to_string()], "only workspace A's keys are visible");
    let changed = tidings_store::with_tx!(tx, |conn| sqlx::query("UPDATE api_keys SET name = 'renamed'")
        .execute(&mut **conn)
        .await
        .map(|r| r.rows_affected()))
    .expect("update");
    assert_eq!(changed, 1, "an unscoped UPDATE touches only A's rows");
    let members: i64 = tidings_store::with_tx!(tx, |conn| sqlx::query_scalar("SELECT COUNT(*) FROM memberships")
        .fetch_one(&mut **conn)
        .await)
    .expect("count");
    assert_eq!(members, 1);
    let smuggled = tidings_store::with_tx!(tx, |conn| {
        sqlx::query(
        "INSERT INTO memberships (workspace_id, user_id, role, created_at) SELECT $1, user_id, 'owner', 0 FROM memberships"
    )
    .bind(b.as_str())
    .execute(&mut **conn)
    .await
    .map(|_| ())
    });
    assert!(smuggled.is_err(), "writing a row into another workspace is refused by the policy");
    drop(tx);

    let b_keys: Vec<String> = tidings_store::with_reader!(app.state.db, |pool| sqlx::query_scalar(
        "SELECT name FROM api_keys WHERE workspace_id = $1"
    )
    .bind(b.as_str())
    .fetch_all(pool)
    .await)
    .expect("select");
    assert_eq!(b_keys, vec!["key of b@example.com".to_owned()], "B's key was untouched");
}
