//! Two-factor sign-in (TOTP and recovery codes) and workspaces that require it, driven over HTTP
//! with codes computed the way an authenticator app computes them.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use totp_rs::Totp;

use crate::authenticator::{authenticator, code_at, now_secs, wrong_code};

use crate::client::{expect_status, send};
use crate::helpers::{Engine, Session, TestApp};

const PASSWORD: &str = "correct horse battery";

async fn login(app: &TestApp, email: &str, workspace: Option<&str>) -> (StatusCode, Value) {
    let mut body = json!({ "email": email, "password": PASSWORD });
    if let Some(workspace) = workspace {
        body["workspaceId"] = json!(workspace);
    }
    send(app.client.post(app.url("/api/v1/auth/login")).json(&body)).await
}

async fn challenge(app: &TestApp, email: &str) -> String {
    let (status, body) = login(app, email, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["twoFactorRequired"], true, "{body}");
    assert!(body["data"]["accessToken"].is_null(), "no tokens before the second factor: {body}");
    body["data"]["challengeToken"].as_str().expect("challenge token").to_owned()
}

async fn answer(app: &TestApp, challenge: &str, code: &str) -> (StatusCode, Value) {
    send(
        app.client
            .post(app.url("/api/v1/auth/login/two-factor"))
            .json(&json!({ "challengeToken": challenge, "code": code })),
    )
    .await
}

/// Sets up and enables two-factor sign-in with the code of `at`; the app and the recovery codes.
async fn enable_two_factor(app: &TestApp, token: &str, at: u64) -> (Totp, Vec<String>) {
    let setup: Value =
        expect_status(app.as_member(token, Method::POST, "/api/v1/me/two-factor/setup"), StatusCode::OK).await;
    let totp = authenticator(setup["data"]["secret"].as_str().expect("secret"));
    let enabled: Value = app
        .client(token)
        .post("/api/v1/me/two-factor/enable", &json!({ "code": code_at(&totp, at) }), StatusCode::OK)
        .await;
    let codes = enabled["data"]["recoveryCodes"].as_array().expect("recovery codes");
    (totp, codes.iter().map(|c| c.as_str().expect("code").to_owned()).collect())
}

async fn me(app: &TestApp, token: &str) -> Value {
    let me: Value = app.client(token).get("/api/v1/me", StatusCode::OK).await;
    me["data"].clone()
}

async fn audit_actions(app: &TestApp, token: &str) -> Vec<String> {
    let log: Value = app.client(token).get("/api/v1/audit-logs?limit=100", StatusCode::OK).await;
    log["data"]["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .map(str::to_owned)
        .collect()
}

async fn sign_in_with_a_code_from_setup_to_disable(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let ana = app.signup("ana@example.com").await;
    assert_eq!(me(&app, &ana.access).await["user"]["twoFactorEnabled"], false);
    let (status, body) = send(
        app.as_member(&ana.access, Method::POST, "/api/v1/me/two-factor/enable").json(&json!({ "code": "123456" })),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "enable needs a setup first: {body}");
    assert_eq!(body["error"]["code"], "two_factor_not_set_up");

    let setup: Value =
        expect_status(app.as_member(&ana.access, Method::POST, "/api/v1/me/two-factor/setup"), StatusCode::OK).await;
    let secret = setup["data"]["secret"].as_str().expect("secret").to_owned();
    let url = setup["data"]["otpauthUrl"].as_str().expect("otpauth URL");
    assert_eq!(url, format!("otpauth://totp/Tidings:ana%40example.com?secret={secret}&issuer=Tidings"));
    let totp = authenticator(&secret);

    // The secret is stored encrypted (nonce, ciphertext, tag), never as it was shown.
    let mut tx = app.state.db.begin().await.expect("begin");
    let stored: Option<Vec<u8>> =
        tidings_store::with_tx!(tx, |conn| sqlx::query_scalar("SELECT totp_secret FROM users WHERE id = $1")
            .bind(&ana.user_id)
            .fetch_one(&mut **conn)
            .await)
        .expect("read secret");
    drop(tx);
    let stored = stored.expect("a pending secret is stored");
    assert_eq!(stored.len(), 12 + 20 + 16);
    assert!(!stored.windows(20).any(|w| w == totp.secret().as_ref()), "not in plaintext");

    let t0 = now_secs();
    let body: Value = app
        .client(&ana.access)
        .post(
            "/api/v1/me/two-factor/enable",
            &json!({ "code": wrong_code(&totp, t0) }),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    assert_eq!(body["error"]["details"]["field"], "code");
    let enabled: Value = app
        .client(&ana.access)
        .post("/api/v1/me/two-factor/enable", &json!({ "code": code_at(&totp, t0) }), StatusCode::OK)
        .await;
    let recovery: Vec<String> = enabled["data"]["recoveryCodes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("code").to_owned())
        .collect();
    assert_eq!(recovery.len(), 10);
    assert_eq!(me(&app, &ana.access).await["user"]["twoFactorEnabled"], true);
    let (status, body) = send(app.as_member(&ana.access, Method::POST, "/api/v1/me/two-factor/setup")).await;
    assert_eq!(status, StatusCode::CONFLICT, "a second setup cannot replace a secret in use: {body}");
    assert_eq!(body["error"]["code"], "two_factor_already_enabled");

    // Email and password alone no longer sign in.
    let first = challenge(&app, "ana@example.com").await;
    let (status, body) = answer(&app, &first, &wrong_code(&totp, t0)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "invalid_two_factor_code");
    // The next step's code (the app's clock may run a little ahead) signs in.
    let next = code_at(&totp, t0 + 30);
    let (status, body) = answer(&app, &first, &next).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let session = Session::from_tokens(&body);
    assert_eq!(session.workspace_id, ana.workspace_id);
    assert_eq!(me(&app, &session.access).await["user"]["email"], "ana@example.com");
    let (status, body) = answer(&app, &first, &next).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a challenge is single-use: {body}");
    assert_eq!(body["error"]["code"], "invalid_challenge");

    // A code is accepted once, and an older one not at all.
    let second = challenge(&app, "ana@example.com").await;
    for replayed in [&next, &code_at(&totp, t0)] {
        let (status, body) = answer(&app, &second, replayed).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["error"]["code"], "invalid_two_factor_code");
    }
    // A recovery code works, typed sloppily, once.
    let sloppy = format!(" {} ", recovery[0].to_uppercase());
    let (status, body) = answer(&app, &second, &sloppy).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let third = challenge(&app, "ana@example.com").await;
    let (status, body) = answer(&app, &third, &recovery[0]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a spent recovery code: {body}");
    // Five wrong codes end a challenge, even for a right one after them.
    for _ in 0..4 {
        let (status, _) = answer(&app, &third, "000000-made-up").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, body) = answer(&app, &third, &recovery[1]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "invalid_challenge");

    // Turning it off takes the password and a code; a replayed code does not do.
    let disable = |password: &str, code: &str| {
        app.as_member(&ana.access, Method::POST, "/api/v1/me/two-factor/disable")
            .json(&json!({ "password": password, "code": code }))
    };
    let body: Value = expect_status(disable("wrong password!", &recovery[1]), StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(body["error"]["details"]["field"], "password");
    let body: Value = expect_status(disable(PASSWORD, &next), StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(body["error"]["details"]["field"], "code");
    expect_status::<Value>(disable(PASSWORD, &recovery[1]), StatusCode::OK).await;
    assert_eq!(me(&app, &ana.access).await["user"]["twoFactorEnabled"], false);
    let body: Value = expect_status(disable(PASSWORD, &recovery[2]), StatusCode::CONFLICT).await;
    assert_eq!(body["error"]["code"], "two_factor_not_enabled");

    let (status, body) = login(&app, "ana@example.com", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["tokenType"], "Bearer", "password alone signs in again: {body}");

    let actions = audit_actions(&app, &ana.access).await;
    for action in ["user.two_factor_enabled", "user.two_factor_disabled", "session.two_factor_failed"] {
        assert!(actions.iter().any(|a| a == action), "{action} in {actions:?}");
    }
}

async fn a_workspace_can_require_two_factor_of_its_members(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let owner = app.signup("boss@example.com").await;
    let require = |token: &str, required: bool| {
        app.as_member(token, Method::PATCH, "/api/v1/workspace").json(&json!({ "requireTwoFactor": required }))
    };
    let (status, body) = send(require(&owner.access, true)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "an owner without two-factor cannot require it: {body}");
    assert_eq!(body["error"]["details"]["field"], "requireTwoFactor");

    let t0 = now_secs();
    enable_two_factor(&app, &owner.access, t0).await;
    let body: Value = expect_status(require(&owner.access, true), StatusCode::OK).await;
    assert_eq!(body["data"]["requireTwoFactor"], true);

    // A member without two-factor sign-in joins as an admin.
    let staff = app.signup("staff@example.com").await;
    let mut tx = app.state.db.begin().await.expect("begin");
    tidings_store::with_tx!(tx, |conn| sqlx::query(
        "INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, 'admin', 0)"
    )
    .bind(&owner.workspace_id)
    .bind(&staff.user_id)
    .execute(&mut **conn)
    .await
    .map(|_| ()))
    .expect("membership");
    tx.commit().await.expect("commit");

    let (status, body) = login(&app, "staff@example.com", Some(&owner.workspace_id)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let member = Session::from_tokens(&body);
    let about = me(&app, &member.access).await;
    assert_eq!(about["twoFactorSetupRequired"], true);
    assert_eq!(about["workspace"]["id"], owner.workspace_id);
    for (method, path) in [(Method::GET, "/api/v1/team"), (Method::GET, "/api/v1/workspace")] {
        let (status, body) = send(app.as_member(&member.access, method, path)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        assert_eq!(body["error"]["code"], "two_factor_required");
    }
    // Their own workspace does not require it.
    assert_eq!(me(&app, &staff.access).await["twoFactorSetupRequired"], false);

    enable_two_factor(&app, &member.access, t0).await;
    assert_eq!(me(&app, &member.access).await["twoFactorSetupRequired"], false);
    app.client(&member.access).get::<Value>("/api/v1/team", StatusCode::OK).await;

    // Admins manage the workspace, but only owners change the requirement.
    let body: Value = expect_status(require(&member.access, false), StatusCode::FORBIDDEN).await;
    assert_eq!(body["error"]["code"], "forbidden");
    let (status, body) = send(
        app.as_member(&member.access, Method::PATCH, "/api/v1/workspace")
            .json(&json!({ "name": "Renamed", "requireTwoFactor": true })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "leaving it as it is is fine: {body}");
    assert_eq!(body["data"]["name"], "Renamed");

    // API keys act for no person and are not held to it.
    let (_, created) = send(
        app.as_member(&owner.access, Method::POST, "/api/v1/api-keys")
            .json(&json!({ "name": "script", "role": "viewer" })),
    )
    .await;
    let key = created["data"]["key"].as_str().expect("key").to_owned();
    app.client(&key).get::<Value>("/api/v1/team", StatusCode::OK).await;

    let body: Value = expect_status(require(&owner.access, false), StatusCode::OK).await;
    assert_eq!(body["data"]["requireTwoFactor"], false);
    let changes = audit_actions(&app, &owner.access).await.into_iter().filter(|a| a == "workspace.two_factor_required");
    assert_eq!(changes.count(), 2, "turning it on and off is audited");
}

const KEY_A: &str = "oaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaE=";
const KEY_B: &str = "srKysrKysrKysrKysrKysrKysrKysrKysrKysrKysrI=";

fn keys(config: &mut tidings_core::Config, current: &str, previous: &[&str]) {
    config.master_key = Some(secrecy::SecretString::from(current));
    config.previous_master_keys = previous.iter().map(|key| secrecy::SecretString::from(*key)).collect();
}

/// Signs in with the code of `at`, forgetting the replay guard first so one code can be shown twice.
async fn sign_in_with_code(app: &TestApp, email: &str, totp: &Totp, at: u64) -> StatusCode {
    let mut tx = app.state.db.begin().await.expect("begin");
    tidings_store::with_tx!(tx, |conn| sqlx::query("UPDATE users SET totp_last_step = NULL")
        .execute(&mut **conn)
        .await
        .map(|_| ()))
    .expect("reset");
    tx.commit().await.expect("commit");
    let challenge = challenge(app, email).await;
    answer(app, &challenge, &code_at(totp, at)).await.0
}

async fn two_factor_survives_a_master_key_rotation(engine: Engine) {
    let Some(first) = TestApp::spawn_on(engine, |config| keys(config, KEY_A, &[])).await else { return };
    let ana = first.signup("rotating@example.com").await;
    let t0 = now_secs();
    let (totp, _) = enable_two_factor(&first, &ana.access, t0).await;
    let url = first.state.config.database_url();
    let spawn_with = |current: &'static str, previous: &'static [&'static str]| {
        let url = url.clone();
        TestApp::spawn_on(engine, move |config| {
            config.database_url = Some(url);
            keys(config, current, previous);
        })
    };
    let during = spawn_with(KEY_B, &[KEY_A]).await.expect("same engine");
    assert_eq!(
        sign_in_with_code(&during, "rotating@example.com", &totp, t0).await,
        StatusCode::OK,
        "a previous key still opens it"
    );
    assert_eq!(during.state.identity.reseal_totp_secrets().await.expect("resealed"), 1);
    let after = spawn_with(KEY_B, &[]).await.expect("same engine");
    assert_eq!(
        sign_in_with_code(&after, "rotating@example.com", &totp, t0).await,
        StatusCode::OK,
        "re-sealed under the new key"
    );
}

crate::on_both_engines!(
    sign_in_with_a_code_from_setup_to_disable,
    a_workspace_can_require_two_factor_of_its_members,
    two_factor_survives_a_master_key_rotation,
);
