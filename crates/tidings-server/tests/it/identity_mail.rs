//! Flows that go through the mailbox: verification, password reset and invitations.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tidings_server::identity::Role;
use tidings_server::identity::dto::{MeOut, MyWorkspaceOut, TeamOut, TokensOut};

use crate::client::{expect_status, send};
use crate::helpers::{Engine, Session, TestApp};

async fn an_address_is_verified_from_the_emailed_link_once(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let session = app.signup("verify@example.com").await;
    let token = app.mail_token("verify@example.com", "Confirm your email").await;
    let verify = || app.client.post(app.url("/api/v1/auth/verify-email")).json(&json!({ "token": token }));
    expect_status::<Value>(verify(), StatusCode::OK).await;
    let me: MeOut = app.client(&session.access).get_data("/api/v1/me", StatusCode::OK).await;
    assert!(me.user.email_verified);
    let (status, body) = send(verify()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a link works once");
    assert_eq!(body["error"]["code"], "invalid_token");
}

async fn a_forgotten_password_is_reset_by_email_and_old_sessions_end(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let old = app.signup("forgetful@example.com").await;
    app.anonymous()
        .post::<_, Value>(
            "/api/v1/auth/forgot-password",
            &json!({ "email": "forgetful@example.com" }),
            StatusCode::ACCEPTED,
        )
        .await;
    let (status, _) =
        send(app.client.post(app.url("/api/v1/auth/forgot-password")).json(&json!({ "email": "nobody@example.com" })))
            .await;
    assert_eq!(status, StatusCode::ACCEPTED, "unknown addresses get the same answer");
    let token = app.mail_token("forgetful@example.com", "Reset your").await;

    app.anonymous()
        .post::<_, Value>(
            "/api/v1/auth/reset-password",
            &json!({ "token": token, "password": "short" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    expect_status::<Value>(
        app.client
            .post(app.url("/api/v1/auth/reset-password"))
            .json(&json!({ "token": token, "password": "a brand new passphrase" })),
        StatusCode::OK,
    )
    .await;
    let (status, _) = send(app.as_member(&old.access, Method::GET, "/api/v1/me")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "sessions from before the reset end");
    app.anonymous()
        .post::<_, Value>(
            "/api/v1/auth/login",
            &json!({
                "email": "forgetful@example.com", "password": "a brand new passphrase"
            }),
            StatusCode::OK,
        )
        .await;
}

async fn an_expired_reset_link_is_refused(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    app.signup("late@example.com").await;
    send(app.client.post(app.url("/api/v1/auth/forgot-password")).json(&json!({ "email": "late@example.com" }))).await;
    let token = app.mail_token("late@example.com", "Reset your").await;
    let mut tx = app.state.db.begin().await.expect("begin");
    tidings_store::with_tx!(tx, |conn| sqlx::query(
        "UPDATE email_tokens SET expires_at = 0 WHERE purpose = 'reset_password'"
    )
    .execute(&mut **conn)
    .await
    .map(|_| ()))
    .expect("expire");
    tx.commit().await.expect("commit");
    let body: Value = expect_status(
        app.client
            .post(app.url("/api/v1/auth/reset-password"))
            .json(&json!({ "token": token, "password": "a brand new passphrase" })),
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(body["error"]["code"], "invalid_token");
}

async fn a_teammate_is_invited_joins_and_is_managed(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let owner = app.signup("boss@example.com").await;
    app.client(&owner.access)
        .post::<_, Value>(
            "/api/v1/team/invites",
            &json!({ "email": "new@example.com", "role": "viewer" }),
            StatusCode::CREATED,
        )
        .await;
    let team: TeamOut = app.client(&owner.access).get_data("/api/v1/team", StatusCode::OK).await;
    assert_eq!(team.invites[0].email, "new@example.com");

    let token = app.mail_token("new@example.com", "invited you").await;
    let (status, body) =
        send(app.client.post(app.url("/api/v1/invites/accept")).json(&json!({ "token": token }))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a new address needs a name and password: {body}");
    let body: Value = app
        .anonymous()
        .post(
            "/api/v1/invites/accept",
            &json!({
                "token": token, "name": "New Person", "password": "a good long password"
            }),
            StatusCode::OK,
        )
        .await;
    let viewer = Session::from_tokens(&body);
    assert_eq!(viewer.workspace_id, owner.workspace_id);
    let tokens: TokensOut = serde_json::from_value(body["data"].clone()).expect("tokens");
    assert_eq!(tokens.role, Role::Viewer);

    let (status, body) = send(
        app.as_member(&viewer.access, Method::POST, "/api/v1/team/invites")
            .json(&json!({ "email": "x@example.com", "role": "agent" })),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a viewer cannot invite: {body}");

    app.client(&owner.access)
        .put::<_, Value>(&format!("/api/v1/team/{}/role", viewer.user_id), &json!({ "role": "agent" }), StatusCode::OK)
        .await;
    let me: MeOut = app.client(&viewer.access).get_data("/api/v1/me", StatusCode::OK).await;
    assert_eq!(me.role, Role::Agent, "the new role applies at once");

    app.client(&owner.access).delete::<Value>(&format!("/api/v1/team/{}", viewer.user_id), StatusCode::OK).await;
    let (status, _) = send(app.as_member(&viewer.access, Method::GET, "/api/v1/me")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a removed member is signed out of the workspace");

    let (status, body) = send(app.client.post(app.url("/api/v1/invites/accept")).json(&json!({
        "token": token, "name": "Again", "password": "a good long password"
    })))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "an invitation works once: {body}");
}

async fn an_existing_user_accepts_an_invitation_signed_in(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let owner = app.signup("host@example.com").await;
    let guest = app.signup("guest@example.com").await;
    app.client(&owner.access)
        .post::<_, Value>(
            "/api/v1/team/invites",
            &json!({ "email": "guest@example.com", "role": "admin" }),
            StatusCode::CREATED,
        )
        .await;
    let (status, _) = send(
        app.as_member(&owner.access, Method::POST, "/api/v1/team/invites")
            .json(&json!({ "email": "host@example.com", "role": "admin" })),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "members are not invited again");
    let token = app.mail_token("guest@example.com", "invited you").await;
    let (status, _) = send(app.client.post(app.url("/api/v1/invites/accept")).json(&json!({ "token": token }))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "an existing account must be signed in to accept");
    app.client(&guest.access)
        .post::<_, Value>("/api/v1/invites/accept", &json!({ "token": token }), StatusCode::OK)
        .await;
    let workspaces: Vec<MyWorkspaceOut> =
        app.client(&guest.access).get_data("/api/v1/workspaces", StatusCode::OK).await;
    assert_eq!(workspaces.len(), 2, "the guest now belongs to both workspaces");
}

crate::on_both_engines!(
    an_address_is_verified_from_the_emailed_link_once,
    a_forgotten_password_is_reset_by_email_and_old_sessions_end,
    an_expired_reset_link_is_refused,
    a_teammate_is_invited_joins_and_is_managed,
    an_existing_user_accepts_an_invitation_signed_in,
);
