//! Locations, connected accounts and the OAuth connect flow, over HTTP like a client would, with
//! the platforms played by a local mock server.

use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use tidings_core::{Config, ConnectionId, WorkspaceId};
use tidings_server::audit::dto::AuditListOut;
use tidings_server::channels::credentials;
use tidings_server::channels::dto::{
    ConnectionOut, LocationOut, PlatformKind, ReplySupportOut, SyncRequestedOut, WebhookSubscriptionOut,
};
use tidings_server::channels::model::ConnectionStatus;
use tidings_server::identity::dto::NewApiKeyOut;
use tidings_store::with_reader;
use wiremock::matchers::{body_string_contains, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::client::{expect_data, expect_status, send};
use crate::helpers::{Engine, Session, TestApp};

/// Tokens distinctive enough that finding one anywhere means it leaked.
const YELP_KEY: &str = "yelp-api-key-canary-3c9e1f";
const GOOGLE_ACCESS: &str = "ya29.google-access-canary-71d2";
const GOOGLE_REFRESH: &str = "1//google-refresh-canary-a4b8";
const PAGE_TOKEN: &str = "EAAPage-token-canary-55e0";

/// An API key of `role` in the session's workspace.
async fn key_with_role(app: &TestApp, owner: &Session, role: &str) -> String {
    let created: NewApiKeyOut = app
        .client(&owner.access)
        .post_data("/api/v1/api-keys", &json!({ "name": role, "role": role }), StatusCode::CREATED)
        .await;
    created.key
}

async fn create_location(app: &TestApp, token: &str, name: &str) -> String {
    let location: LocationOut = app
        .client(token)
        .post_data(
            "/api/v1/locations",
            &json!({ "name": name, "city": "Lisbon", "website": "https://example.com", "timezone": "Europe/Lisbon" }),
            StatusCode::CREATED,
        )
        .await;
    location.id.into()
}

/// The actions recorded in the workspace's audit log (`query` narrows it).
async fn audited_actions(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let log: AuditListOut = app.client(token).get_data(&format!("/api/v1/audit-logs{query}"), StatusCode::OK).await;
    log.entries.into_iter().map(|entry| entry.action).collect()
}

async fn connect_yelp(app: &TestApp, token: &str, business: &str) -> (StatusCode, Value) {
    send(app.as_member(token, Method::POST, "/api/v1/connections").json(&json!({
        "platform": "yelp",
        "externalAccountId": business,
        "displayName": "Ana's Bakery on Yelp",
        "credentials": { "accessToken": YELP_KEY },
    })))
    .await
}

/// Connects a Yelp account that is not connected yet, and returns it as the API shows it.
async fn connected_yelp(app: &TestApp, token: &str, business: &str) -> ConnectionOut {
    let (status, body) = connect_yelp(app, token, business).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    serde_json::from_value(body["data"].clone()).expect("a connection")
}

async fn stored_credentials_secret(app: &TestApp, id: &str) -> Option<String> {
    with_reader!(&app.state.db, |pool| sqlx::query_scalar(
        "SELECT credentials_secret FROM channel_connections WHERE id = $1"
    )
    .bind(id)
    .fetch_one(pool)
    .await)
    .expect("connection row")
}

async fn access_token_in_vault(app: &TestApp, workspace: &str, connection: &str) -> Option<String> {
    let workspace = WorkspaceId::parse(workspace).expect("workspace id");
    let id = ConnectionId::parse(connection).expect("connection id");
    let creds = credentials::load(&app.state.vault, &workspace, &id).await.expect("vault answers");
    creds.access_token.map(|t| t.expose_secret().to_owned())
}

/// A conversation written directly (the inbox is tested on its own).
async fn insert_conversation(app: &TestApp, workspace: &str, location: &str, n: u32, kind: &str, rating: Option<i64>) {
    let mut tx = app.state.db.begin().await.expect("begin");
    tidings_store::with_tx!(tx, |conn| sqlx::query(
        "INSERT INTO conversations (id, workspace_id, location_id, platform, kind, external_thread_id, status, rating, \
         last_message_at, activity_key, created_at, updated_at) \
         VALUES ($1, $2, $3, 'google', $4, $5, 'open', $6, 0, $7, 0, 0)"
    )
    .bind(format!("cnv_{n:032x}"))
    .bind(workspace)
    .bind(location)
    .bind(kind)
    .bind(format!("thread-{n}"))
    .bind(rating)
    .bind(i64::from(n))
    .execute(&mut **conn)
    .await
    .map(|_| ()))
    .expect("conversation inserted");
    tx.commit().await.expect("commit");
}

async fn locations_are_created_listed_changed_and_removed(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let ana = app.signup("ana@example.com").await;
    let location: LocationOut = app.client(&ana.access).post_data("/api/v1/locations", &json!({ "name": " Baixa ", "address": "Rua Augusta 1", "city": "Lisbon", "country": "PT", "phone": "+351 21 000 0000", "website": "https://bakery.example/baixa" }), StatusCode::CREATED).await;
    let id = location.id.clone();
    assert!(id.as_str().starts_with("loc_"));
    assert_eq!(location.name, "Baixa", "trimmed");
    assert_eq!(location.timezone, "UTC", "the default time zone");
    assert_eq!(location.connection_count, 0);
    assert_eq!(location.review_count, 0);
    assert_eq!(location.average_rating, None);

    // A connection attached to it is counted.
    app.client(&ana.access).post::<_, Value>("/api/v1/connections", &json!({ "platform": "tripadvisor", "externalAccountId": "d123456", "displayName": "Baixa on TripAdvisor", "locationId": id, "credentials": { "accessToken": "ta-key" } }), StatusCode::CREATED).await;
    // Two rated reviews and a message thread at this location.
    for (n, kind, rating) in [(1, "review", Some(5)), (2, "review", Some(4)), (3, "thread", None)] {
        insert_conversation(&app, &ana.workspace_id, id.as_str(), n, kind, rating).await;
    }
    let list: Vec<LocationOut> = app.client(&ana.access).get_data("/api/v1/locations", StatusCode::OK).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].connection_count, 1);
    assert_eq!(list[0].review_count, 2, "reviews only, not message threads");
    assert_eq!(list[0].average_rating, Some(4.5));

    let location: LocationOut = app
        .client(&ana.access)
        .put_data(
            &format!("/api/v1/locations/{id}"),
            &json!({ "name": "Baixa-Chiado", "timezone": "Europe/Lisbon" }),
            StatusCode::OK,
        )
        .await;
    assert_eq!(location.name, "Baixa-Chiado");
    assert_eq!(location.timezone, "Europe/Lisbon");
    assert_eq!(location.city, None, "PUT replaces every field");

    let location: LocationOut =
        app.client(&ana.access).get_data(&format!("/api/v1/locations/{id}"), StatusCode::OK).await;
    assert_eq!(location.name, "Baixa-Chiado");

    app.client(&ana.access).delete::<Value>(&format!("/api/v1/locations/{id}"), StatusCode::OK).await;
    let body: Value = app.client(&ana.access).get(&format!("/api/v1/locations/{id}"), StatusCode::NOT_FOUND).await;
    assert_eq!(body["error"]["code"], "not_found");
    let connections: Vec<ConnectionOut> = app.client(&ana.access).get_data("/api/v1/connections", StatusCode::OK).await;
    assert_eq!(connections[0].location_id, None, "the connection stays, detached");

    let actions = audited_actions(&app, &ana.access, "").await;
    for action in ["location.created", "location.updated", "location.deleted", "connection.created"] {
        assert!(actions.iter().any(|a| a == action), "{action} in the audit log: {actions:?}");
    }
}

async fn location_input_is_validated_field_by_field(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let ana = app.signup("ana@example.com").await;
    let long = "x".repeat(201);
    for (body, field) in [
        (json!({ "name": " " }), "name"),
        (json!({ "name": long }), "name"),
        (json!({ "name": "Shop", "website": "ftp://example.com" }), "website"),
        (json!({ "name": "Shop", "website": "not a url" }), "website"),
        (json!({ "name": "Shop", "timezone": "Mars/Olympus_Mons" }), "timezone"),
        (json!({ "name": "Shop", "timezone": "+02:00" }), "timezone"),
    ] {
        let (status, answer) = send(app.as_member(&ana.access, Method::POST, "/api/v1/locations").json(&body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body} → {answer}");
        assert_eq!(answer["error"]["code"], "validation_failed");
        assert_eq!(answer["error"]["details"]["field"], field, "{body}");
    }
    let id = create_location(&app, &ana.access, "Shop").await;
    let answer: Value = app
        .client(&ana.access)
        .put(&format!("/api/v1/locations/{id}"), &json!({ "name": "" }), StatusCode::UNPROCESSABLE_ENTITY)
        .await;
    assert_eq!(answer["error"]["details"]["field"], "name");
}

async fn a_connection_shows_its_health_and_never_its_credentials(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let ana = app.signup("ana@example.com").await;
    let (status, body) = connect_yelp(&app, &ana.access, "ana-bakery-lisboa").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let connection: ConnectionOut = serde_json::from_value(body["data"].clone()).expect("a connection");
    let id = connection.id.clone();
    assert!(id.as_str().starts_with("con_"));
    assert_eq!(connection.platform, "yelp");
    assert_eq!(connection.platform_label, "Yelp");
    assert_eq!(connection.kind, PlatformKind::Reviews);
    assert_eq!(connection.reply_support, ReplySupportOut::Manual, "Yelp replies are posted by hand");
    assert_eq!(connection.status, ConnectionStatus::Active);
    assert_eq!(connection.consecutive_failures, 0);
    assert_eq!(connection.cost_cents, 0.0);
    assert_eq!(connection.sync_interval_secs, 900);
    assert!(connection.next_sync_at.is_some(), "due for its first sync");
    assert_eq!(
        (connection.last_synced_at, connection.last_error, connection.last_error_at, connection.token_expires_at),
        (None, None, None, None)
    );

    let list: Value = app.client(&ana.access).get("/api/v1/connections", StatusCode::OK).await;
    assert_eq!(list["data"].as_array().expect("list").len(), 1);
    let one: Value = app.client(&ana.access).get(&format!("/api/v1/connections/{id}"), StatusCode::OK).await;
    for shown in [body.to_string(), list.to_string(), one.to_string()] {
        assert!(!shown.contains(YELP_KEY), "the API key is never returned: {shown}");
        assert!(!shown.to_lowercase().contains("credential"), "nor any credentials field: {shown}");
    }

    // In the vault, encrypted; the row only names the vault entry.
    assert_eq!(access_token_in_vault(&app, &ana.workspace_id, id.as_str()).await.as_deref(), Some(YELP_KEY));
    let secret = stored_credentials_secret(&app, id.as_str()).await.expect("the vault entry is named");
    assert!(!secret.contains(YELP_KEY));

    // The sync interval has a floor, and credentials are checked per platform.
    for (body, field) in [
        (
            json!({ "platform": "yelp", "externalAccountId": "x", "displayName": "X", "credentials": { "accessToken": "k" }, "syncIntervalSecs": 60 }),
            "syncIntervalSecs",
        ),
        (
            json!({ "platform": "yelp", "externalAccountId": "x", "displayName": "X", "credentials": {} }),
            "credentials.accessToken",
        ),
        (
            json!({ "platform": "dataforseo", "externalAccountId": "x", "displayName": "X", "credentials": { "login": "me" } }),
            "credentials.secret",
        ),
        (
            json!({ "platform": "whatsapp", "externalAccountId": "x", "displayName": "X", "credentials": { "secret": "s" } }),
            "credentials.accessToken",
        ),
        (json!({ "platform": "myspace", "externalAccountId": "x", "displayName": "X", "credentials": {} }), "platform"),
        (
            json!({ "platform": "yelp", "externalAccountId": " ", "displayName": "X", "credentials": { "accessToken": "k" } }),
            "externalAccountId",
        ),
        (
            json!({ "platform": "yelp", "externalAccountId": "x", "displayName": "X", "locationId": "loc_00000000000000000000000000000000", "credentials": { "accessToken": "k" } }),
            "locationId",
        ),
    ] {
        let (status, answer) = send(app.as_member(&ana.access, Method::POST, "/api/v1/connections").json(&body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body} → {answer}");
        assert_eq!(answer["error"]["details"]["field"], field, "{body}");
    }
    let body: Value = app.client(&ana.access).post("/api/v1/connections", &json!({ "platform": "dataforseo", "externalAccountId": "ChIJ-place", "displayName": "Via DataForSEO", "credentials": { "login": "me@example.com", "secret": "api-password" }, "syncIntervalSecs": 3600 }), StatusCode::CREATED).await;
    assert!(!body.to_string().contains("api-password"));
    let connection: ConnectionOut = serde_json::from_value(body["data"].clone()).expect("a connection");
    assert_eq!(connection.sync_interval_secs, 3600);
}

async fn an_account_is_connected_once_across_workspaces(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let ana = app.signup("ana@example.com").await;
    let ben = app.signup("ben@example.com").await;
    let (status, _) = connect_yelp(&app, &ana.access, "shared-business").await;
    assert_eq!(status, StatusCode::CREATED);

    let (status, same) = connect_yelp(&app, &ana.access, "shared-business").await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(same["error"]["code"], "already_connected");

    let (status, other) = connect_yelp(&app, &ben.access, "shared-business").await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(other["error"]["code"], "already_connected");
    assert_eq!(other, same, "the answer does not tell whose workspace has it");
    let shown = other.to_string();
    assert!(!shown.contains(&ana.workspace_id) && !shown.contains("ana@"), "{shown}");
    let list: Vec<ConnectionOut> = app.client(&ben.access).get_data("/api/v1/connections", StatusCode::OK).await;
    assert!(list.is_empty(), "nothing half-created");
}

async fn a_connection_is_paused_resumed_synced_and_removed_with_its_credentials(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let ana = app.signup("ana@example.com").await;
    let location = create_location(&app, &ana.access, "Alfama").await;
    let id = connected_yelp(&app, &ana.access, "ana-alfama").await.id;
    let path = format!("/api/v1/connections/{id}");

    let connection: ConnectionOut = app.client(&ana.access).patch_data(&path, &json!({ "paused": true, "displayName": "Alfama on Yelp", "locationId": location, "syncIntervalSecs": 1800 }), StatusCode::OK).await;
    assert_eq!(connection.status, ConnectionStatus::Paused);
    assert_eq!(connection.display_name, "Alfama on Yelp");
    assert_eq!(connection.location_id.as_ref().map(|id| id.as_str()), Some(location.as_str()));
    assert_eq!(connection.sync_interval_secs, 1800);

    let (status, body) = send(app.as_member(&ana.access, Method::POST, &format!("{path}/sync"))).await;
    assert_eq!(status, StatusCode::CONFLICT, "a paused connection is not synced: {body}");

    let connection: ConnectionOut =
        app.client(&ana.access).patch_data(&path, &json!({ "paused": false }), StatusCode::OK).await;
    assert_eq!(connection.status, ConnectionStatus::Active);
    assert_eq!(connection.display_name, "Alfama on Yelp", "fields left out stay");

    let connection: ConnectionOut =
        app.client(&ana.access).patch_data(&path, &json!({ "locationId": null }), StatusCode::OK).await;
    assert_eq!(connection.location_id, None, "null detaches");
    let body: Value = app
        .client(&ana.access)
        .patch(&path, &json!({ "syncIntervalSecs": 10 }), StatusCode::UNPROCESSABLE_ENTITY)
        .await;
    assert_eq!(body["error"]["details"]["field"], "syncIntervalSecs");

    let sync: SyncRequestedOut =
        expect_data(app.as_member(&ana.access, Method::POST, &format!("{path}/sync")), StatusCode::ACCEPTED).await;
    assert_eq!(sync.connection_id, id);
    assert!(!sync.next_sync_at.is_empty());

    assert!(access_token_in_vault(&app, &ana.workspace_id, id.as_str()).await.is_some());
    app.client(&ana.access).delete::<Value>(&path, StatusCode::OK).await;
    app.client(&ana.access).get::<Value>(&path, StatusCode::NOT_FOUND).await;
    assert_eq!(
        access_token_in_vault(&app, &ana.workspace_id, id.as_str()).await,
        None,
        "the credentials are forgotten"
    );
    let (status, _) = connect_yelp(&app, &ana.access, "ana-alfama").await;
    assert_eq!(status, StatusCode::CREATED, "and the account can be connected again");

    let actions = audited_actions(&app, &ana.access, "?resourceType=connection").await;
    for action in ["connection.created", "connection.updated", "connection.removed"] {
        assert!(actions.iter().any(|a| a == action), "{action} in the audit log: {actions:?}");
    }
}

async fn roles_decide_who_connects_and_who_only_looks(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let ana = app.signup("ana@example.com").await;
    let location = create_location(&app, &ana.access, "Baixa").await;
    let connection = connected_yelp(&app, &ana.access, "ana-baixa").await.id;
    let viewer = key_with_role(&app, &ana, "viewer").await;
    let agent = key_with_role(&app, &ana, "agent").await;
    let manager = key_with_role(&app, &ana, "manager").await;

    for token in [&viewer, &agent] {
        for (method, path, body) in [
            (Method::POST, "/api/v1/locations".to_owned(), json!({ "name": "New" })),
            (Method::PUT, format!("/api/v1/locations/{location}"), json!({ "name": "New" })),
            (Method::DELETE, format!("/api/v1/locations/{location}"), json!({})),
            (
                Method::POST,
                "/api/v1/connections".to_owned(),
                json!({ "platform": "yelp", "externalAccountId": "other", "displayName": "O", "credentials": { "accessToken": "k" } }),
            ),
            (Method::PATCH, format!("/api/v1/connections/{connection}"), json!({ "paused": true })),
            (Method::DELETE, format!("/api/v1/connections/{connection}"), json!({})),
            (Method::POST, format!("/api/v1/connections/{connection}/sync"), json!({})),
        ] {
            let answer: Value =
                expect_status(app.as_member(token, method.clone(), &path).json(&body), StatusCode::FORBIDDEN).await;
            assert_eq!(answer["error"]["code"], "forbidden");
        }
        for path in [
            "/api/v1/locations".to_owned(),
            format!("/api/v1/locations/{location}"),
            "/api/v1/connections".to_owned(),
            format!("/api/v1/connections/{connection}"),
            "/api/v1/platforms".to_owned(),
        ] {
            let (status, answer) = send(app.as_member(token, Method::GET, &path)).await;
            assert_eq!(status, StatusCode::OK, "{path} can be read: {answer}");
        }
    }
    let (status, body) =
        send(app.as_member(&manager, Method::POST, "/api/v1/locations").json(&json!({ "name": "Managed" }))).await;
    assert_eq!(status, StatusCode::CREATED, "managers run locations: {body}");

    // The verify token Meta needs is shown to those who may connect channels only.
    let (_, platforms) = send(app.as_member(&viewer, Method::GET, "/api/v1/platforms")).await;
    let whatsapp = platform(&platforms, "whatsapp");
    assert_eq!(whatsapp["verifyToken"], Value::Null);
    assert!(whatsapp["webhookUrl"].as_str().expect("url").ends_with("/webhooks/whatsapp"));
    let (_, platforms) = send(app.as_member(&ana.access, Method::GET, "/api/v1/platforms")).await;
    let whatsapp = platform(&platforms, "whatsapp");
    let expected = app.state.platforms.secrets().meta_verify_token.expose_secret().to_owned();
    assert_eq!(whatsapp["verifyToken"], expected.as_str());
    assert_eq!(platform(&platforms, "x")["verifyToken"], Value::Null, "X has no verify token");
    assert_eq!(platform(&platforms, "yelp")["webhookUrl"], Value::Null, "Yelp is polled");
    assert_eq!(platform(&platforms, "yelp")["connectMethod"], "token");
    assert_eq!(platform(&platforms, "google")["connectMethod"], "oauth");
    assert_eq!(platform(&platforms, "google")["oauthConfigured"], false, "no client id configured here");
    assert_eq!(platform(&platforms, "dataforseo")["requiredCredentials"], json!(["login", "secret"]));
    assert_eq!(platform(&platforms, "tripadvisor")["replySupport"], "manual");
    assert_eq!(platform(&platforms, "messenger")["kind"], "messages");
    let shown = platforms.to_string();
    assert!(!shown.contains(app.state.platforms.secrets().meta_app_secret.expose_secret()), "never the app secret");

    // OAuth needs a person: an API key cannot start it.
    app.client(&manager).get::<Value>("/api/v1/connections/oauth/google/start", StatusCode::FORBIDDEN).await;
}

fn platform<'a>(list: &'a Value, name: &str) -> &'a Value {
    list["data"].as_array().expect("list").iter().find(|p| p["platform"] == name).expect("listed")
}

async fn another_workspace_sees_none_of_it(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let ana = app.signup("ana@example.com").await;
    let ben = app.signup("ben@example.com").await;
    let location = create_location(&app, &ana.access, "Baixa").await;
    let connection = connected_yelp(&app, &ana.access, "ana-baixa").await.id;

    for (method, path, body) in [
        (Method::GET, format!("/api/v1/locations/{location}"), json!({})),
        (Method::PUT, format!("/api/v1/locations/{location}"), json!({ "name": "Mine now" })),
        (Method::DELETE, format!("/api/v1/locations/{location}"), json!({})),
        (Method::GET, format!("/api/v1/connections/{connection}"), json!({})),
        (Method::PATCH, format!("/api/v1/connections/{connection}"), json!({ "paused": true })),
        (Method::DELETE, format!("/api/v1/connections/{connection}"), json!({})),
        (Method::POST, format!("/api/v1/connections/{connection}/sync"), json!({})),
    ] {
        let answer: Value =
            expect_status(app.as_member(&ben.access, method.clone(), &path).json(&body), StatusCode::NOT_FOUND).await;
        assert_eq!(answer["error"]["code"], "not_found");
    }
    let locations: Vec<LocationOut> = app.client(&ben.access).get_data("/api/v1/locations", StatusCode::OK).await;
    assert!(locations.is_empty());
    let connections: Vec<ConnectionOut> = app.client(&ben.access).get_data("/api/v1/connections", StatusCode::OK).await;
    assert!(connections.is_empty());

    // Another workspace's location cannot be attached either.
    let mine = connected_yelp(&app, &ben.access, "ben-shop").await.id;
    let answer: Value = app
        .client(&ben.access)
        .patch(
            &format!("/api/v1/connections/{mine}"),
            &json!({ "locationId": location }),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    assert_eq!(answer["error"]["details"]["field"], "locationId");

    // Ana's things are untouched.
    let theirs: ConnectionOut =
        app.client(&ana.access).get_data(&format!("/api/v1/connections/{connection}"), StatusCode::OK).await;
    assert_eq!(theirs.status, ConnectionStatus::Active);
    let theirs: LocationOut =
        app.client(&ana.access).get_data(&format!("/api/v1/locations/{location}"), StatusCode::OK).await;
    assert_eq!(theirs.name, "Baixa");
}

// ----- OAuth -----

fn with_oauth(mock: &MockServer) -> impl FnOnce(&mut Config) {
    let uri = mock.uri();
    move |cfg: &mut Config| {
        cfg.public_url = Some("https://tidings.example".to_owned());
        cfg.connectors.google.client_id = Some("google-client-id".to_owned());
        cfg.connectors.google.client_secret = Some(SecretString::from("google-client-secret"));
        cfg.connectors.google.base_url = uri.clone();
        cfg.connectors.google.token_url = format!("{uri}/token");
        cfg.connectors.meta.app_id = Some("meta-app-id".to_owned());
        cfg.connectors.meta.app_secret = Some(SecretString::from("meta-app-secret"));
        cfg.connectors.meta.graph_base_url = uri;
    }
}

/// Starts the flow and returns (authorizeUrl, state).
async fn start(app: &TestApp, token: &str, platform: &str, query: &str) -> (String, String) {
    let body: Value =
        app.client(token).get(&format!("/api/v1/connections/oauth/{platform}/start{query}"), StatusCode::OK).await;
    let url = reqwest::Url::parse(body["data"]["authorizeUrl"].as_str().expect("authorizeUrl")).expect("a URL");
    let state = url.query_pairs().find(|(k, _)| k == "state").map(|(_, v)| v.into_owned()).expect("a state");
    (url.to_string(), state)
}

async fn callback(app: &TestApp, token: &str, platform: &str, code: &str, state: &str) -> reqwest::Response {
    app.as_member(token, Method::GET, &format!("/oauth/callback/{platform}"))
        .query(&[("code", code), ("state", state)])
        .send()
        .await
        .expect("sent")
}

async fn mock_google(mock: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=authorization_code"))
        .and(body_string_contains("code=google-code"))
        .and(body_string_contains("client_id=google-client-id"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": GOOGLE_ACCESS,
            "expires_in": 3599,
            "refresh_token": GOOGLE_REFRESH,
            "scope": "https://www.googleapis.com/auth/business.manage",
            "token_type": "Bearer"
        })))
        .mount(mock)
        .await;
    // Account Management API `accounts.list`, as documented.
    Mock::given(method("GET"))
        .and(path("/v1/accounts"))
        .and(header("authorization", format!("Bearer {GOOGLE_ACCESS}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "accounts": [{
                "name": "accounts/1001",
                "accountName": "Ana's Bakery",
                "type": "PERSONAL",
                "verificationState": "VERIFIED",
                "vettedState": "NOT_VETTED"
            }]
        })))
        .mount(mock)
        .await;
    // Business Information API `accounts.locations.list` with `readMask=name,title`, two pages.
    Mock::given(method("GET"))
        .and(path("/v1/accounts/1001/locations"))
        .and(query_param("readMask", "name,title"))
        .and(query_param("pageToken", "page-2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "locations": [{ "name": "locations/2002", "title": "Ana's Bakery Alfama" }]
        })))
        .with_priority(1)
        .mount(mock)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/accounts/1001/locations"))
        .and(query_param("readMask", "name,title"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "locations": [{ "name": "locations/2001", "title": "Ana's Bakery Baixa" }],
            "nextPageToken": "page-2"
        })))
        .with_priority(2)
        .mount(mock)
        .await;
}

async fn google_connects_every_location_through_oauth(engine: Engine) {
    let mock = MockServer::start().await;
    mock_google(&mock).await;
    let Some(app) = TestApp::spawn_on(engine, with_oauth(&mock)).await else { return };
    let ana = app.signup("ana@example.com").await;
    let location = create_location(&app, &ana.access, "Lisbon").await;

    let (authorize, state) = start(&app, &ana.access, "google", &format!("?locationId={location}")).await;
    assert!(authorize.starts_with("https://accounts.google.com/o/oauth2/v2/auth?"), "{authorize}");
    let url = reqwest::Url::parse(&authorize).expect("url");
    let param = |key: &str| url.query_pairs().find(|(k, _)| k == key).map(|(_, v)| v.into_owned());
    assert_eq!(param("client_id").as_deref(), Some("google-client-id"));
    assert_eq!(param("redirect_uri").as_deref(), Some("https://tidings.example/oauth/callback/google"));
    assert_eq!(param("access_type").as_deref(), Some("offline"));
    assert!(param("scope").expect("scope").contains("business.manage"));
    assert!(state.len() >= 43, "a 32-byte random state");
    let stored: i64 = with_reader!(&app.state.db, |pool| sqlx::query_scalar(
        "SELECT COUNT(*) FROM oauth_states WHERE state_hash = $1"
    )
    .bind(state.as_str())
    .fetch_one(pool)
    .await)
    .expect("count");
    assert_eq!(stored, 0, "the state itself is never stored, only its hash");

    let response = callback(&app, &ana.access, "google", "google-code", &state).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{:?}", response.text().await);
    let location_header = response.headers()["location"].to_str().expect("location").to_owned();
    assert!(location_header.starts_with("/settings/channels?"), "{location_header}");
    assert!(location_header.contains("connected=2"), "{location_header}");

    let list: Value = app.client(&ana.access).get("/api/v1/connections", StatusCode::OK).await;
    let connections: Vec<ConnectionOut> = serde_json::from_value(list["data"].clone()).expect("connections");
    let mut ids: Vec<&str> = connections.iter().map(|c| c.external_account_id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["accounts/1001/locations/2001", "accounts/1001/locations/2002"]);
    for connection in &connections {
        assert_eq!(connection.platform, "google");
        assert_eq!(connection.location_id.as_ref().map(|id| id.as_str()), Some(location.as_str()));
        assert!(connection.token_expires_at.is_some(), "the token expiry is shown");
        let id = connection.id.as_str();
        assert_eq!(access_token_in_vault(&app, &ana.workspace_id, id).await.as_deref(), Some(GOOGLE_ACCESS));
        let creds = credentials::load(
            &app.state.vault,
            &WorkspaceId::parse(&ana.workspace_id).expect("workspace id"),
            &ConnectionId::parse(id).expect("id"),
        )
        .await
        .expect("vault");
        assert_eq!(creds.refresh_token.as_ref().map(|t| t.expose_secret()), Some(GOOGLE_REFRESH));
        let secret = stored_credentials_secret(&app, id).await.unwrap_or_default();
        assert!(!secret.contains(GOOGLE_ACCESS) && !secret.contains(GOOGLE_REFRESH));
    }
    let shown = list.to_string();
    assert!(!shown.contains(GOOGLE_ACCESS) && !shown.contains(GOOGLE_REFRESH));
    let names: Vec<&str> = connections.iter().map(|c| c.display_name.as_str()).collect();
    assert!(names.contains(&"Ana's Bakery Baixa"), "{names:?}");

    // The same state again is refused, and nothing is exchanged a second time.
    let replay = callback(&app, &ana.access, "google", "google-code", &state).await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    assert_eq!(replay.json::<Value>().await.expect("json")["error"]["code"], "invalid_state");
    let exchanges =
        mock.received_requests().await.unwrap_or_default().iter().filter(|r| r.url.path() == "/token").count();
    assert_eq!(exchanges, 1);

    // Connecting again refreshes the same connections instead of duplicating them.
    let (_, state) = start(&app, &ana.access, "google", "").await;
    let response = callback(&app, &ana.access, "google", "google-code", &state).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let again = response.headers()["location"].to_str().expect("location").to_owned();
    assert!(again.contains("connected=0") && again.contains("reconnected=2"), "{again}");
}

async fn an_oauth_state_works_once_for_its_member_and_platform_only(engine: Engine) {
    let mock = MockServer::start().await;
    mock_google(&mock).await;
    let Some(app) = TestApp::spawn_on(engine, with_oauth(&mock)).await else { return };
    let ana = app.signup("ana@example.com").await;
    let ben = app.signup("ben@example.com").await;

    let (_, state) = start(&app, &ana.access, "google", "").await;
    // Someone else, signed in to their own workspace, brings Ana's state: refused.
    let stolen = callback(&app, &ben.access, "google", "google-code", &state).await;
    assert_eq!(stolen.status(), StatusCode::BAD_REQUEST);
    assert_eq!(stolen.json::<Value>().await.expect("json")["error"]["code"], "invalid_state");
    // A state for Google used on Facebook's callback: refused.
    let crossed = callback(&app, &ana.access, "facebook", "google-code", &state).await;
    assert_eq!(crossed.status(), StatusCode::BAD_REQUEST);
    // Made-up and missing states: refused.
    let made_up = callback(&app, &ana.access, "google", "google-code", "ost_made_up").await;
    assert_eq!(made_up.status(), StatusCode::BAD_REQUEST);
    let missing = app
        .as_member(&ana.access, Method::GET, "/oauth/callback/google")
        .query(&[("code", "google-code")])
        .send()
        .await
        .expect("sent");
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    // Not signed in at all: refused.
    let anonymous = app
        .client
        .get(app.url("/oauth/callback/google"))
        .query(&[("code", "google-code"), ("state", state.as_str())])
        .send()
        .await
        .expect("sent");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let list: Vec<ConnectionOut> = app.client(&ben.access).get_data("/api/v1/connections", StatusCode::OK).await;
    assert!(list.is_empty(), "nothing was connected to Ben's workspace");
    assert!(
        mock.received_requests().await.unwrap_or_default().iter().all(|r| r.url.path() != "/token"),
        "no code was exchanged for a refused state"
    );

    // Ana herself still can, once.
    let response = callback(&app, &ana.access, "google", "google-code", &state).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    // An expired state is refused.
    let (_, state) = start(&app, &ana.access, "google", "").await;
    let mut tx = app.state.db.begin().await.expect("begin");
    tidings_store::with_tx!(tx, |conn| sqlx::query("UPDATE oauth_states SET expires_at = 0 WHERE used_at IS NULL")
        .execute(&mut **conn)
        .await
        .map(|_| ()))
    .expect("expire");
    tx.commit().await.expect("commit");
    let expired = callback(&app, &ana.access, "google", "google-code", &state).await;
    assert_eq!(expired.status(), StatusCode::BAD_REQUEST);

    // A browser gets a page rather than JSON.
    let page = app
        .as_member(&ana.access, Method::GET, "/oauth/callback/google")
        .header("accept", "text/html")
        .query(&[("code", "google-code"), ("state", "ost_made_up")])
        .send()
        .await
        .expect("sent");
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    assert!(page.headers()["content-type"].to_str().unwrap_or_default().starts_with("text/html"));

    // A declined consent goes back to the connections page, saying so.
    let declined = app
        .as_member(&ana.access, Method::GET, "/oauth/callback/google")
        .query(&[("error", "access_denied"), ("state", state.as_str())])
        .send()
        .await
        .expect("sent");
    assert_eq!(declined.status(), StatusCode::SEE_OTHER);
    assert!(declined.headers()["location"].to_str().unwrap_or_default().contains("error=access_denied"));
}

async fn facebook_pages_are_connected_with_their_page_tokens(engine: Engine) {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v21.0/oauth/access_token"))
        .and(query_param("grant_type", "authorization_code"))
        .and(query_param("code", "fb-code"))
        .and(query_param("redirect_uri", "https://tidings.example/oauth/callback/messenger"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "short-lived-user-token", "token_type": "bearer", "expires_in": 5183944
        })))
        .mount(&mock)
        .await;
    Mock::given(method("GET"))
        .and(path("/v21.0/oauth/access_token"))
        .and(query_param("grant_type", "fb_exchange_token"))
        .and(query_param("fb_exchange_token", "short-lived-user-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "long-lived-user-token", "token_type": "bearer", "expires_in": 5183944
        })))
        .mount(&mock)
        .await;
    // Graph `GET /me/accounts`, as documented: Pages with their own access tokens.
    Mock::given(method("GET"))
        .and(path("/v21.0/me/accounts"))
        .and(header("authorization", "Bearer long-lived-user-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [
                {
                    "access_token": PAGE_TOKEN,
                    "category": "Bakery",
                    "category_list": [{ "id": "197871390225897", "name": "Bakery" }],
                    "name": "Ana's Bakery",
                    "id": "101112131415",
                    "tasks": ["ANALYZE", "ADVERTISE", "MODERATE", "CREATE_CONTENT", "MANAGE"]
                }
            ],
            "paging": { "cursors": { "before": "QVFIUmx", "after": "QVFIUmx" } }
        })))
        .mount(&mock)
        .await;
    let Some(app) = TestApp::spawn_on(engine, with_oauth(&mock)).await else { return };
    let ana = app.signup("ana@example.com").await;
    let (authorize, state) = start(&app, &ana.access, "messenger", "").await;
    assert!(authorize.contains("client_id=meta-app-id"), "{authorize}");
    assert!(authorize.contains("pages_messaging"), "{authorize}");

    let response = callback(&app, &ana.access, "messenger", "fb-code", &state).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{:?}", response.text().await);
    let list: Value = app.client(&ana.access).get("/api/v1/connections", StatusCode::OK).await;
    assert!(!list.to_string().contains(PAGE_TOKEN));
    let connections: Vec<ConnectionOut> = serde_json::from_value(list["data"].clone()).expect("connections");
    let connection = &connections[0];
    assert_eq!(connection.platform, "messenger");
    assert_eq!(connection.external_account_id, "101112131415");
    assert_eq!(connection.display_name, "Ana's Bakery");
    assert_eq!(connection.kind, PlatformKind::Messages);
    assert_eq!(
        access_token_in_vault(&app, &ana.workspace_id, connection.id.as_str()).await.as_deref(),
        Some(PAGE_TOKEN),
        "the Page's token, not the member's"
    );

    // The same Page cannot be taken by another workspace through OAuth either.
    let ben = app.signup("ben@example.com").await;
    let (_, state) = start(&app, &ben.access, "messenger", "").await;
    let response = callback(&app, &ben.access, "messenger", "fb-code", &state).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()["location"].to_str().expect("location").to_owned();
    assert!(location.contains("connected=0") && location.contains("skipped=1"), "{location}");
    let connections: Vec<ConnectionOut> = app.client(&ben.access).get_data("/api/v1/connections", StatusCode::OK).await;
    assert!(connections.is_empty());
}

async fn oauth_needs_a_configured_app_and_an_oauth_platform(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let ana = app.signup("ana@example.com").await;
    let body: Value = app.client(&ana.access).get("/api/v1/connections/oauth/google/start", StatusCode::CONFLICT).await;
    assert_eq!(body["error"]["code"], "not_configured");
    let (status, _) = send(app.as_member(&ana.access, Method::GET, "/api/v1/connections/oauth/yelp/start")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "Yelp connects with an API key");
    let viewer = key_with_role(&app, &ana, "viewer").await;
    app.client(&viewer).get::<Value>("/api/v1/connections/oauth/google/start", StatusCode::FORBIDDEN).await;
}

async fn oauth_start_refuses_another_workspaces_location(engine: Engine) {
    let mock = MockServer::start().await;
    let Some(app) = TestApp::spawn_on(engine, with_oauth(&mock)).await else { return };
    let ana = app.signup("ana@example.com").await;
    let ben = app.signup("ben@example.com").await;
    let location = create_location(&app, &ana.access, "Baixa").await;
    let body: Value = app
        .client(&ben.access)
        .get(&format!("/api/v1/connections/oauth/google/start?locationId={location}"), StatusCode::UNPROCESSABLE_ENTITY)
        .await;
    assert_eq!(body["error"]["details"]["field"], "locationId");
}

/// A Page delivers nothing until it installs the app: connecting subscribes it with its Page
/// token (OAuth or by hand), a refusal is shown with its reason and can be retried, and removal
/// unsubscribes it.
async fn a_connected_page_is_subscribed_to_webhooks_and_unsubscribed_on_removal(engine: Engine) {
    let mock = MockServer::start().await;
    let graph = mock.uri();
    let Some(app) = TestApp::spawn_on(engine, move |cfg| cfg.connectors.meta.graph_base_url = graph).await else {
        return;
    };
    let ana = app.signup("ana@example.com").await;
    let subscribed_apps = "/v21.0/101112131415/subscribed_apps";
    // The first attempt is refused for a missing permission, the second succeeds.
    Mock::given(method("POST"))
        .and(path(subscribed_apps))
        .and(header("authorization", format!("Bearer {PAGE_TOKEN}").as_str()))
        .and(query_param("subscribed_fields", "messages,messaging_postbacks,message_echoes,feed,ratings"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"error": {
            "message": "(#200) pages_messaging is needed", "type": "OAuthException", "code": 200}})))
        .up_to_n_times(1)
        .expect(1)
        .mount(&mock)
        .await;
    let connect = json!({ "platform": "messenger", "externalAccountId": "101112131415", "displayName": "Ana's Bakery",
        "credentials": { "accessToken": PAGE_TOKEN } });
    let connection: ConnectionOut =
        app.client(&ana.access).post_data("/api/v1/connections", &connect, StatusCode::CREATED).await;
    assert_eq!(connection.webhook_subscription, WebhookSubscriptionOut::Failed);
    let why = connection.webhook_subscription_error.expect("why");
    assert!(why.contains("pages_messaging"), "{why}");

    Mock::given(method("POST"))
        .and(path(subscribed_apps))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"success": true})))
        .expect(1)
        .mount(&mock)
        .await;
    let retry = format!("/api/v1/connections/{}/webhook-subscription", connection.id);
    let connection: ConnectionOut = expect_data(app.as_member(&ana.access, Method::POST, &retry), StatusCode::OK).await;
    assert_eq!(connection.webhook_subscription, WebhookSubscriptionOut::Subscribed);
    assert_eq!(connection.webhook_subscription_error, None);
    let listed: Vec<ConnectionOut> = app.client(&ana.access).get_data("/api/v1/connections", StatusCode::OK).await;
    assert_eq!(listed[0].webhook_subscription, WebhookSubscriptionOut::Subscribed);

    // A review platform without webhooks needs none.
    let yelp = json!({ "platform": "yelp", "externalAccountId": "ana-bakery", "displayName": "Ana on Yelp",
        "credentials": { "accessToken": YELP_KEY } });
    let on_yelp: ConnectionOut =
        app.client(&ana.access).post_data("/api/v1/connections", &yelp, StatusCode::CREATED).await;
    assert_eq!(on_yelp.webhook_subscription, WebhookSubscriptionOut::NotApplicable);

    Mock::given(method("DELETE"))
        .and(path(subscribed_apps))
        .and(header("authorization", format!("Bearer {PAGE_TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"success": true})))
        .expect(1)
        .mount(&mock)
        .await;
    app.client(&ana.access).delete::<Value>(&format!("/api/v1/connections/{}", connection.id), StatusCode::OK).await;
    mock.verify().await;
}

crate::on_both_engines!(
    a_connected_page_is_subscribed_to_webhooks_and_unsubscribed_on_removal,
    locations_are_created_listed_changed_and_removed,
    location_input_is_validated_field_by_field,
    a_connection_shows_its_health_and_never_its_credentials,
    an_account_is_connected_once_across_workspaces,
    a_connection_is_paused_resumed_synced_and_removed_with_its_credentials,
    roles_decide_who_connects_and_who_only_looks,
    another_workspace_sees_none_of_it,
    google_connects_every_location_through_oauth,
    an_oauth_state_works_once_for_its_member_and_platform_only,
    facebook_pages_are_connected_with_their_page_tokens,
    oauth_needs_a_configured_app_and_an_oauth_platform,
    oauth_start_refuses_another_workspaces_location,
);
