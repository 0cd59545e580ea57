//! Accounts, sessions, workspaces, team and API keys, driven over HTTP like a client would.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tidings_server::audit::dto::{AuditListOut, ChainOut};
use tidings_server::identity::Role;
use tidings_server::identity::dto::{ApiKeyOut, MeOut, MyWorkspaceOut, NewApiKeyOut, TeamOut, TokensOut, WorkspaceOut};

use crate::client::{expect_status, send};
use crate::helpers::{Engine, Session, TestApp};

async fn app(engine: Engine) -> Option<TestApp> {
    TestApp::spawn_on(engine, |_| {}).await
}

async fn sign_up_then_sign_in_and_see_yourself(engine: Engine) {
    let Some(app) = app(engine).await else { return };
    let session = app.signup("ana@example.com").await;
    assert!(session.workspace_id.starts_with("ws_"));

    let me: MeOut = app.client(&session.access).get_data("/api/v1/me", StatusCode::OK).await;
    assert_eq!(me.user.email, "ana@example.com");
    assert!(!me.user.email_verified);
    assert_eq!(me.role, Role::Owner);
    assert_eq!(me.workspace.slug, "ana-example-com-s-shop");
    assert!(me.permissions.iter().any(|p| p == "manage:billing"));

    let body: Value = app
        .anonymous()
        .post(
            "/api/v1/auth/register",
            &json!({
                "email": "ANA@example.com", "password": "another long one", "name": "Ana", "workspaceName": "Again"
            }),
            StatusCode::CONFLICT,
        )
        .await;
    assert_eq!(body["error"]["code"], "email_taken");

    let body: Value = app
        .anonymous()
        .post(
            "/api/v1/auth/login",
            &json!({
                "email": "ana@example.com", "password": "wrong password!"
            }),
            StatusCode::UNAUTHORIZED,
        )
        .await;
    assert_eq!(body["error"]["code"], "invalid_credentials");
    let unknown: Value = app
        .anonymous()
        .post(
            "/api/v1/auth/login",
            &json!({
                "email": "nobody@example.com", "password": "wrong password!"
            }),
            StatusCode::UNAUTHORIZED,
        )
        .await;
    assert_eq!(unknown, body, "an unknown address answers exactly like a wrong password");

    let tokens: TokensOut = app
        .anonymous()
        .post_data(
            "/api/v1/auth/login",
            &json!({
                "email": " Ana@Example.com ", "password": "correct horse battery"
            }),
            StatusCode::OK,
        )
        .await;
    assert_eq!(tokens.token_type, "Bearer");
    assert_eq!(tokens.expires_in, 3600);
    assert_eq!(tokens.workspace_id.as_str(), session.workspace_id);
}

async fn sign_up_input_is_validated_field_by_field(engine: Engine) {
    let Some(app) = app(engine).await else { return };
    for (body, field) in [
        (json!({"email": "not-an-email", "password": "long enough pass", "name": "A", "workspaceName": "W"}), "email"),
        (json!({"email": "a@example.com", "password": "short", "name": "A", "workspaceName": "W"}), "password"),
        (json!({"email": "a@example.com", "password": "long enough pass", "name": " ", "workspaceName": "W"}), "name"),
    ] {
        let answer: Value =
            app.anonymous().post("/api/v1/auth/register", &body, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(answer["error"]["details"]["field"], field);
    }
    let (status, _) =
        send(app.client.post(app.url("/api/v1/auth/register")).json(&json!({"email": "a@example.com"}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "missing fields are refused");
}

async fn refresh_tokens_rotate_and_a_reused_one_revokes_the_family(engine: Engine) {
    let Some(app) = app(engine).await else { return };
    let first = app.signup("ben@example.com").await;
    let refresh =
        |token: &str| app.client.post(app.url("/api/v1/auth/refresh")).json(&json!({ "refreshToken": token }));

    let body: Value = expect_status(refresh(&first.refresh), StatusCode::OK).await;
    let second = Session::from_tokens(&body);
    assert_ne!(second.refresh, first.refresh, "a new refresh token every time");
    app.client(&second.access).get::<Value>("/api/v1/me", StatusCode::OK).await;

    // Someone replays the spent token: the whole family is signed out, the thief and the owner alike.
    let body: Value = expect_status(refresh(&first.refresh), StatusCode::UNAUTHORIZED).await;
    assert_eq!(body["error"]["code"], "refresh_token_reused");
    let (status, body) = send(refresh(&second.refresh)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the live token of the family is revoked too");
    assert_eq!(body["error"]["code"], "invalid_refresh_token");
    let (status, _) = send(app.as_member(&second.access, Method::GET, "/api/v1/me")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "and so are its access tokens");

    expect_status::<Value>(refresh("tdr_made_up"), StatusCode::UNAUTHORIZED).await;
}

async fn an_expired_refresh_token_is_refused(engine: Engine) {
    let Some(app) = app(engine).await else { return };
    let session = app.signup("expired@example.com").await;
    let mut tx = app.state.db.begin().await.expect("begin");
    tidings_store::with_tx!(tx, |conn| sqlx::query("UPDATE refresh_tokens SET expires_at = 0")
        .execute(&mut **conn)
        .await
        .map(|_| ()))
    .expect("expire");
    tx.commit().await.expect("commit");
    let body: Value = app
        .anonymous()
        .post("/api/v1/auth/refresh", &json!({ "refreshToken": session.refresh }), StatusCode::UNAUTHORIZED)
        .await;
    assert_eq!(body["error"]["code"], "invalid_refresh_token");
}

async fn logging_out_ends_the_session(engine: Engine) {
    let Some(app) = app(engine).await else { return };
    let session = app.signup("cy@example.com").await;
    app.anonymous()
        .post::<_, Value>("/api/v1/auth/logout", &json!({ "refreshToken": session.refresh }), StatusCode::OK)
        .await;
    app.client(&session.access).get::<Value>("/api/v1/me", StatusCode::UNAUTHORIZED).await;
    app.anonymous()
        .post::<_, Value>("/api/v1/auth/refresh", &json!({ "refreshToken": session.refresh }), StatusCode::UNAUTHORIZED)
        .await;
}

async fn an_owner_runs_several_workspaces_and_switches_between_them(engine: Engine) {
    let Some(app) = app(engine).await else { return };
    let session = app.signup("agency@example.com").await;
    let body: Value = app
        .client(&session.access)
        .post("/api/v1/workspaces", &json!({ "name": "Client Two" }), StatusCode::CREATED)
        .await;
    let second = Session::from_tokens(&body);
    assert_ne!(second.workspace_id, session.workspace_id);

    let list: Vec<MyWorkspaceOut> = app.client(&second.access).get_data("/api/v1/workspaces", StatusCode::OK).await;
    assert_eq!(list.len(), 2);
    assert!(list.iter().any(|w| w.id.as_str() == second.workspace_id && w.current && w.role == Role::Owner));

    let body: Value = app
        .client(&second.access)
        .post("/api/v1/auth/switch-workspace", &json!({ "workspaceId": session.workspace_id }), StatusCode::OK)
        .await;
    let back = Session::from_tokens(&body);
    let me: MeOut = app.client(&back.access).get_data("/api/v1/me", StatusCode::OK).await;
    assert_eq!(me.workspace.id.as_str(), session.workspace_id);

    let stranger = app.signup("stranger@example.com").await;
    let (status, _) = send(
        app.as_member(&back.access, Method::POST, "/api/v1/auth/switch-workspace")
            .json(&json!({ "workspaceId": stranger.workspace_id })),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "cannot switch into someone else's workspace");
}

async fn api_keys_are_shown_once_work_with_their_role_and_can_be_revoked(engine: Engine) {
    let Some(app) = app(engine).await else { return };
    let owner = app.signup("keys@example.com").await;
    let created: NewApiKeyOut = app
        .client(&owner.access)
        .post_data("/api/v1/api-keys", &json!({ "name": "Zapier", "role": "agent" }), StatusCode::CREATED)
        .await;
    let key = created.key;
    assert!(key.starts_with("tdk_"));
    assert_eq!(created.api_key.prefix, key[..12]);
    let key_id = created.api_key.id;

    let (_, listed) = send(app.as_member(&owner.access, Method::GET, "/api/v1/api-keys")).await;
    assert!(!listed.to_string().contains(&key), "the secret is never listed");

    let workspace: WorkspaceOut = app.client(&key).get_data("/api/v1/workspace", StatusCode::OK).await;
    assert_eq!(workspace.id.as_str(), owner.workspace_id);
    let (status, denied) = send(app.as_member(&key, Method::GET, "/api/v1/team").json(&json!({}))).await;
    assert_eq!(status, StatusCode::OK, "agents may see the team: {denied}");
    let (status, denied) = send(
        app.as_member(&key, Method::POST, "/api/v1/team/invites")
            .json(&json!({ "email": "x@example.com", "role": "viewer" })),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "an agent key cannot manage the team");
    assert_eq!(denied["error"]["code"], "forbidden");

    let listed: Vec<ApiKeyOut> = app.client(&owner.access).get_data("/api/v1/api-keys", StatusCode::OK).await;
    assert!(listed[0].last_used_at.is_some(), "last use is recorded");

    app.client(&owner.access).delete::<Value>(&format!("/api/v1/api-keys/{key_id}"), StatusCode::OK).await;
    let (status, _) = send(app.as_member(&key, Method::GET, "/api/v1/workspace")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a revoked key stops working at once");

    app.client(&owner.access)
        .post::<_, Value>(
            "/api/v1/api-keys",
            &json!({ "name": "x", "role": "superuser" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
}

async fn the_last_owner_cannot_leave_or_be_demoted(engine: Engine) {
    let Some(app) = app(engine).await else { return };
    let owner = app.signup("solo@example.com").await;
    let body: Value =
        app.client(&owner.access).delete(&format!("/api/v1/team/{}", owner.user_id), StatusCode::CONFLICT).await;
    assert_eq!(body["error"]["code"], "last_owner");
    let body: Value = app
        .client(&owner.access)
        .put(&format!("/api/v1/team/{}/role", owner.user_id), &json!({ "role": "admin" }), StatusCode::CONFLICT)
        .await;
    assert_eq!(body["error"]["code"], "last_owner");
}

async fn the_audit_log_records_sensitive_actions_and_detects_tampering(engine: Engine) {
    let Some(app) = app(engine).await else { return };
    let owner = app.signup("audit@example.com").await;
    let created: NewApiKeyOut = app
        .client(&owner.access)
        .post_data("/api/v1/api-keys", &json!({ "name": "CI", "role": "viewer" }), StatusCode::CREATED)
        .await;
    let key_id = created.api_key.id;
    send(app.as_member(&owner.access, Method::DELETE, &format!("/api/v1/api-keys/{key_id}"))).await;

    let log: AuditListOut = app.client(&owner.access).get_data("/api/v1/audit-logs", StatusCode::OK).await;
    let actions: Vec<&str> = log.entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["api_key.revoked", "api_key.created", "workspace.created"]);
    let revoked = &log.entries[0];
    assert_eq!(revoked.actor.kind, "user");
    assert_eq!(revoked.actor.id.as_deref(), Some(owner.user_id.as_str()));
    assert_eq!(revoked.resource.id.as_deref(), Some(key_id.as_str()));
    assert!(revoked.actor.ip.as_deref().is_some_and(|ip| ip.starts_with("127.")));

    let filtered: AuditListOut =
        app.client(&owner.access).get_data("/api/v1/audit-logs?action=api_key.created", StatusCode::OK).await;
    assert_eq!(filtered.pagination.total, 1);

    let verified: ChainOut = app.client(&owner.access).get_data("/api/v1/audit-logs/verify", StatusCode::OK).await;
    assert!(verified.valid);
    assert_eq!(verified.entries, 3);
    assert_eq!((verified.broken_at_sequence, verified.problem), (None, None));

    // Someone with database access rewrites history.
    let mut tx = app.state.db.begin().await.expect("begin");
    tidings_store::with_tx!(tx, |conn| sqlx::query(
        "UPDATE audit_logs SET metadata = '{\"name\":\"innocent\"}' WHERE seq = 2"
    )
    .execute(&mut **conn)
    .await
    .map(|_| ()))
    .expect("tamper");
    tx.commit().await.expect("commit");
    let verified: ChainOut = app.client(&owner.access).get_data("/api/v1/audit-logs/verify", StatusCode::OK).await;
    assert!(!verified.valid);
    assert_eq!(verified.broken_at_sequence, Some(2));

    let viewer_key: NewApiKeyOut = app
        .client(&owner.access)
        .post_data("/api/v1/api-keys", &json!({ "name": "ro", "role": "viewer" }), StatusCode::CREATED)
        .await;
    let viewer_key = viewer_key.key;
    let (status, _) = send(app.as_member(&viewer_key, Method::GET, "/api/v1/audit-logs")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "viewers do not read the audit log");
}

/// Every tenant-scoped endpoint, called with another workspace's credentials, answers 404 for
/// resources that belong elsewhere, and lists nothing of theirs.
async fn another_workspace_gets_404_everywhere(engine: Engine) {
    let Some(app) = app(engine).await else { return };
    let victim = app.signup("victim@example.com").await;
    let intruder = app.signup("intruder@example.com").await;

    let created: NewApiKeyOut = app
        .client(&victim.access)
        .post_data("/api/v1/api-keys", &json!({ "name": "secret", "role": "viewer" }), StatusCode::CREATED)
        .await;
    let victim_key = created.api_key.id;

    let cases: Vec<(Method, String, Value)> = vec![
        (Method::DELETE, format!("/api/v1/api-keys/{victim_key}"), Value::Null),
        (Method::PUT, format!("/api/v1/team/{}/role", victim.user_id), json!({ "role": "viewer" })),
        (Method::DELETE, format!("/api/v1/team/{}", victim.user_id), Value::Null),
        (Method::DELETE, "/api/v1/team/invites/inv_0193a0b4c2d87f2e9a1b2c3d4e5f6a7b".to_owned(), Value::Null),
        (Method::POST, "/api/v1/auth/switch-workspace".to_owned(), json!({ "workspaceId": victim.workspace_id })),
    ];
    for (method, path, body) in cases {
        let mut request = app.as_member(&intruder.access, method.clone(), &path);
        if !body.is_null() {
            request = request.json(&body);
        }
        let answer: Value = expect_status(request, StatusCode::NOT_FOUND).await;
        assert_eq!(answer["error"]["code"], "not_found");
    }
    for path in ["/api/v1/team", "/api/v1/api-keys", "/api/v1/audit-logs", "/api/v1/workspace", "/api/v1/workspaces"] {
        let (status, answer) = send(app.as_member(&intruder.access, Method::GET, path)).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        let text = answer.to_string();
        assert!(!text.contains(&victim.workspace_id) && !text.contains("victim@example.com"), "{path} leaks: {text}");
    }
    // The victim's key is still there.
    let keys: Vec<ApiKeyOut> = app.client(&victim.access).get_data("/api/v1/api-keys", StatusCode::OK).await;
    assert!(keys[0].revoked_at.is_none());
}

async fn requests_without_valid_credentials_are_refused(engine: Engine) {
    let Some(app) = app(engine).await else { return };
    for token in [None, Some("garbage"), Some("tdk_not_a_key")] {
        let mut request = app.client.get(app.url("/api/v1/me"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let (status, body) = send(request).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{token:?}");
        assert_eq!(body["error"]["code"], "unauthorized");
    }
}

async fn repeated_wrong_passwords_lock_the_address(engine: Engine) {
    let Some(app) = app(engine).await else { return };
    app.signup("target@example.com").await;
    let attempt = |password: &str| {
        app.client
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({ "email": "target@example.com", "password": password }))
    };
    for _ in 0..5 {
        expect_status::<Value>(attempt("wrong password!"), StatusCode::UNAUTHORIZED).await;
    }
    let locked = attempt("correct horse battery").send().await.expect("sent");
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS, "even the right password waits out the lock");
    let retry_after: u64 = locked.headers()["retry-after"].to_str().expect("ascii").parse().expect("seconds");
    assert!((1..=30).contains(&retry_after), "{retry_after}");
    let body: Value = locked.json().await.expect("json");
    assert_eq!(body["error"]["code"], "rate_limited");
}

async fn a_workspace_gets_its_plans_quota_with_rate_limit_headers(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |config| {
        config.rate_limits.api_per_minute.insert("free".into(), 3);
    })
    .await
    else {
        return;
    };
    let session = app.signup("busy@example.com").await;
    for remaining in ["2", "1", "0"] {
        let response = app.as_member(&session.access, Method::GET, "/api/v1/me").send().await.expect("sent");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["ratelimit-limit"], "3");
        assert_eq!(response.headers()["ratelimit-remaining"], remaining);
    }
    let refused = app.as_member(&session.access, Method::GET, "/api/v1/me").send().await.expect("sent");
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(refused.headers()["ratelimit-remaining"], "0");
    let other = app.signup("calm@example.com").await;
    let response = app.as_member(&other.access, Method::GET, "/api/v1/me").send().await.expect("sent");
    assert_eq!(response.status(), StatusCode::OK, "another workspace has its own quota");
}

/// The audit log records the socket's peer unless the operator trusts a proxy's X-Forwarded-For.
async fn client_addresses_come_from_the_socket_unless_a_proxy_is_trusted(engine: Engine) {
    for (trusted, expected) in [(false, "127.0.0.1"), (true, "203.0.113.9")] {
        let Some(app) = TestApp::spawn_on(engine, |config| config.http.trust_forwarded_for = trusted).await else {
            return;
        };
        let owner = app.signup("ip@example.com").await;
        expect_status::<Value>(
            app.as_member(&owner.access, Method::POST, "/api/v1/api-keys")
                .header("x-forwarded-for", "203.0.113.9, 10.0.0.1")
                .json(&json!({ "name": "k", "role": "viewer" })),
            StatusCode::CREATED,
        )
        .await;
        let log: AuditListOut =
            app.client(&owner.access).get_data("/api/v1/audit-logs?action=api_key.created", StatusCode::OK).await;
        assert_eq!(log.entries[0].actor.ip.as_deref(), Some(expected), "trust_forwarded_for = {trusted}");
    }
}

async fn withdrawing_an_invitation_is_audited(engine: Engine) {
    let Some(app) = app(engine).await else { return };
    let owner = app.signup("withdraw@example.com").await;
    let (status, _) = send(
        app.as_member(&owner.access, Method::POST, "/api/v1/team/invites")
            .json(&json!({ "email": "later@example.com", "role": "agent" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let team: TeamOut = app.client(&owner.access).get_data("/api/v1/team", StatusCode::OK).await;
    let invite_id = team.invites.first().expect("a pending invite").id.clone();

    let path = format!("/api/v1/team/invites/{invite_id}");
    let (status, _) = send(app.as_member(&owner.access, Method::DELETE, &path)).await;
    assert_eq!(status, StatusCode::OK);
    let team: TeamOut = app.client(&owner.access).get_data("/api/v1/team", StatusCode::OK).await;
    assert!(team.invites.is_empty(), "the invitation is no longer pending");
    let (status, body) = send(app.as_member(&owner.access, Method::DELETE, &path)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "withdrawn once only: {body}");

    let log: AuditListOut =
        app.client(&owner.access).get_data("/api/v1/audit-logs?action=invite.revoked", StatusCode::OK).await;
    assert_eq!(log.pagination.total, 1);
    let revoked = &log.entries[0];
    assert_eq!(revoked.actor.id.as_deref(), Some(owner.user_id.as_str()));
    assert_eq!(revoked.resource.kind, "invite");
    assert_eq!(revoked.resource.id.as_deref(), Some(invite_id.as_str()));
}

async fn names_of_members_and_workspaces_are_1_to_120_characters(engine: Engine) {
    let Some(app) = app(engine).await else { return };
    let owner = app.signup("names@example.com").await;
    for path in ["/api/v1/me", "/api/v1/workspace"] {
        for bad in ["   ".to_owned(), "x".repeat(121)] {
            let (status, body) =
                send(app.as_member(&owner.access, Method::PATCH, path).json(&json!({ "name": bad }))).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {body}");
            assert_eq!(body["error"]["code"], "validation_failed");
            assert_eq!(body["error"]["details"]["field"], "name");
        }
        let longest = "y".repeat(120);
        let (status, body) =
            send(app.as_member(&owner.access, Method::PATCH, path).json(&json!({ "name": format!(" {longest} ") })))
                .await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    let me: MeOut = app.client(&owner.access).get_data("/api/v1/me", StatusCode::OK).await;
    assert_eq!(me.user.name, "y".repeat(120), "stored trimmed");
    let workspace: WorkspaceOut = app.client(&owner.access).get_data("/api/v1/workspace", StatusCode::OK).await;
    assert_eq!(workspace.name, "y".repeat(120), "stored trimmed");
}

crate::on_both_engines!(
    an_expired_refresh_token_is_refused,
    client_addresses_come_from_the_socket_unless_a_proxy_is_trusted,
    repeated_wrong_passwords_lock_the_address,
    a_workspace_gets_its_plans_quota_with_rate_limit_headers,
    sign_up_then_sign_in_and_see_yourself,
    sign_up_input_is_validated_field_by_field,
    refresh_tokens_rotate_and_a_reused_one_revokes_the_family,
    logging_out_ends_the_session,
    an_owner_runs_several_workspaces_and_switches_between_them,
    api_keys_are_shown_once_work_with_their_role_and_can_be_revoked,
    the_last_owner_cannot_leave_or_be_demoted,
    the_audit_log_records_sensitive_actions_and_detects_tampering,
    withdrawing_an_invitation_is_audited,
    names_of_members_and_workspaces_are_1_to_120_characters,
    another_workspace_gets_404_everywhere,
    requests_without_valid_credentials_are_refused,
);
