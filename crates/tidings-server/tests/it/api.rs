//! The HTTP surface as a client sees it: probes, the error envelope, the operator API, OpenAPI.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tidings_store::queue::NewJob;

use crate::client::expect_status;
use crate::helpers::{Engine, TestApp, json};

async fn app_on(engine: Engine) -> Option<TestApp> {
    TestApp::spawn_on(engine, |_| {}).await
}

async fn health_ready_and_metrics_answer(engine: Engine) {
    let Some(app) = app_on(engine).await else { return };
    let health = app.get("/health").await;
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(json(health).await, json!({ "status": "ok" }));

    let ready = app.get("/ready").await;
    assert_eq!(ready.status(), StatusCode::OK);
    let body = json(ready).await;
    assert_eq!(body["status"], "ready");
    let checks: Vec<&str> =
        body["checks"].as_array().expect("checks").iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(checks, ["database", "migrations", "queue"]);

    let metrics = app.get("/metrics").await;
    assert_eq!(metrics.status(), StatusCode::OK);
    assert!(metrics.headers()["content-type"].to_str().expect("ascii").starts_with("text/plain"));
    let text = metrics.text().await.expect("text");
    assert!(text.contains("tidings_http_request_duration_seconds_bucket"), "HTTP latency histogram");
    assert!(text.contains(r#"route="/ready""#), "labelled by route template");
    assert!(text.contains(r#"tidings_queue_depth{queue="outbound",state="ready"}"#), "queue depth per queue and state");
    assert!(text.contains("tidings_queue_oldest_ready_age_seconds"));
    assert!(text.contains(r#"tidings_db_pool_connections{state="open"}"#));
}

async fn errors_use_the_envelope(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |config| config.http.max_body_bytes = 1024).await else { return };

    let unknown = app.get("/api/v1/nothing-here").await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let body = json(unknown).await;
    assert_eq!(body["error"]["code"], "route_not_found");
    assert_eq!(body["error"]["message"], "no route for GET /api/v1/nothing-here");

    let wrong_method = app.client.put(app.url("/health")).send().await.expect("sent");
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(wrong_method.headers().contains_key("allow"));
    assert_eq!(json(wrong_method).await["error"]["code"], "method_not_allowed");

    let retry_all = "/api/v1/admin/dead-letters/retry";
    let bad_json = app
        .as_operator(Method::POST, retry_all)
        .header("content-type", "application/json")
        .body("{queue:")
        .send()
        .await;
    let bad_json = bad_json.expect("sent");
    assert_eq!(bad_json.status(), StatusCode::BAD_REQUEST);
    let body = json(bad_json).await;
    assert_eq!(body["error"]["code"], "invalid_json");
    assert!(body["error"]["message"].as_str().expect("message").contains("line 1"));

    let no_content_type: Value =
        expect_status(app.operator().request(Method::POST, retry_all).body("{}"), StatusCode::UNSUPPORTED_MEDIA_TYPE)
            .await;
    assert_eq!(no_content_type["error"]["code"], "unsupported_media_type");

    let wrong_shape: Value =
        app.operator().post(retry_all, &json!({ "queue": 5 }), StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(wrong_shape["error"]["code"], "validation_failed");

    let body: Value =
        app.operator().post(retry_all, &json!({ "queue": "nowhere" }), StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(body["error"]["details"]["field"], "queue");

    let too_large = app
        .as_operator(Method::POST, retry_all)
        .header("content-type", "application/json")
        .body(format!(r#"{{"queue":"{}"}}"#, "x".repeat(4096)))
        .send()
        .await
        .expect("sent");
    assert_eq!(too_large.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(json(too_large).await["error"]["code"], "payload_too_large");

    let anonymous = app.get("/api/v1/admin/queues").await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json(anonymous).await["error"]["code"], "unauthorized");
    let wrong_token = app.client.get(app.url("/api/v1/admin/queues")).bearer_auth("tdadm_wrong").send().await;
    assert_eq!(wrong_token.expect("sent").status(), StatusCode::UNAUTHORIZED);
}

async fn ready_fails_while_a_migration_is_pending(engine: Engine) {
    let Some(app) = app_on(engine).await else { return };
    let mut tx = app.state.db.begin().await.expect("begin");
    tidings_store::with_tx!(tx, |conn| sqlx::query("DELETE FROM _sqlx_migrations")
        .execute(&mut **conn)
        .await
        .map(|_| ()))
    .expect("forget migrations");
    tx.commit().await.expect("commit");
    let ready = app.get("/ready").await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = json(ready).await;
    assert_eq!(body["status"], "not_ready");
    let migrations = body["checks"].as_array().expect("checks").iter().find(|c| c["name"] == "migrations").cloned();
    let migrations = migrations.expect("migrations check");
    assert_eq!(migrations["ok"], false);
    assert!(migrations["detail"].as_str().expect("detail").contains("tidings migrate"));
}

async fn a_request_that_outlasts_the_timeout_gets_408(engine: Engine) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Some(app) = TestApp::spawn_on(engine, |config| config.http.request_timeout_secs = 1).await else { return };
    // Announce a body and never send it: the handler waits for it until the timeout answers.
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.expect("connect");
    let head = format!(
        "POST /api/v1/admin/dead-letters/retry HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{{",
        app.operator_token
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut answer))
        .await
        .expect("answered within the timeout and a margin")
        .expect("read");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""code":"request_timeout""#), "{answer}");
}

async fn cors_follows_configuration_and_responses_are_compressed(engine: Engine) {
    let Some(app) =
        TestApp::spawn_on(engine, |config| config.http.cors_allowed_origins = vec!["https://app.example".into()]).await
    else {
        return;
    };
    let preflight = app
        .client
        .request(Method::OPTIONS, app.url("/api/v1/admin/queues"))
        .header("origin", "https://app.example")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .expect("sent");
    assert_eq!(preflight.headers()["access-control-allow-origin"], "https://app.example");
    let foreign =
        app.client.get(app.url("/health")).header("origin", "https://evil.example").send().await.expect("sent");
    assert!(!foreign.headers().contains_key("access-control-allow-origin"), "other origins get no CORS grant");

    let compressed = app.client.get(app.url("/api/v1/openapi.json")).header("accept-encoding", "gzip").send().await;
    assert_eq!(compressed.expect("sent").headers()["content-encoding"], "gzip");
}

async fn request_ids_are_echoed_or_generated(engine: Engine) {
    let Some(app) = app_on(engine).await else { return };
    let echoed = app.client.get(app.url("/health")).header("x-request-id", "trace-me-42").send().await.expect("sent");
    assert_eq!(echoed.headers()["x-request-id"], "trace-me-42");
    let generated = app.get("/health").await;
    let id = generated.headers()["x-request-id"].to_str().expect("ascii").to_owned();
    assert_eq!(id.len(), 36, "a UUID is assigned: {id}");
}

async fn dead_letters_can_be_listed_inspected_retried_and_discarded(engine: Engine) {
    let Some(app) = app_on(engine).await else { return };
    // No handler knows this kind, so its only attempt fails and it is dead-lettered.
    let job = NewJob::raw("outbound", "test.unknown_kind", r#"{"reviewId":"rev_1"}"#.into()).max_attempts(1);
    let id = app.state.queue.enqueue(job).await.expect("enqueue").id().to_string();

    let mut listed = Value::Null;
    for _ in 0..400 {
        listed =
            json(app.as_operator(Method::GET, "/api/v1/admin/dead-letters?queue=outbound").send().await.expect("sent"))
                .await;
        // The page and its total are read one after the other: wait until both show it.
        if listed["data"]["pagination"]["total"] == 1
            && listed["data"]["deadLetters"].as_array().is_some_and(|l| l.len() == 1)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(listed["success"], true);
    assert_eq!(listed["data"]["pagination"], json!({ "total": 1, "limit": 50, "offset": 0, "hasMore": false }));
    let dead = &listed["data"]["deadLetters"][0];
    assert_eq!(dead["id"], id, "{listed:#}");
    assert_eq!(dead["kind"], "test.unknown_kind");
    assert_eq!(dead["payload"]["reviewId"], "rev_1");
    assert_eq!(dead["attempts"], 1);
    assert!(dead["lastError"].as_str().expect("error").contains("no handler registered"));
    assert!(dead["deadAt"].as_str().expect("time").ends_with('Z'));

    let one: Value = app.operator().get(&format!("/api/v1/admin/dead-letters/{id}"), StatusCode::OK).await;
    assert_eq!(one["data"]["id"], id);

    let queues: Value = app.operator().get("/api/v1/admin/queues", StatusCode::OK).await;
    let outbound = queues["data"].as_array().expect("list").iter().find(|q| q["queue"] == "outbound").cloned();
    assert_eq!(outbound.expect("outbound listed")["dead"], 1);

    let retried = app.as_operator(Method::POST, &format!("/api/v1/admin/dead-letters/{id}/retry")).send().await;
    assert_eq!(json(retried.expect("sent")).await["data"]["affected"], 1);
    // It fails again (still no handler) and comes back as a dead letter, which we then discard.
    let mut back = false;
    for _ in 0..400 {
        let response = app.as_operator(Method::GET, &format!("/api/v1/admin/dead-letters/{id}")).send().await;
        if response.expect("sent").status() == StatusCode::OK {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(back, "the retried job ran again and died again");
    let discarded = app.as_operator(Method::DELETE, &format!("/api/v1/admin/dead-letters/{id}")).send().await;
    assert_eq!(discarded.expect("sent").status(), StatusCode::OK);
    let gone: Value = app.operator().get(&format!("/api/v1/admin/dead-letters/{id}"), StatusCode::NOT_FOUND).await;
    assert_eq!(gone["error"]["code"], "not_found");

    let malformed = app.as_operator(Method::POST, "/api/v1/admin/dead-letters/not-an-id/retry").send().await;
    assert_eq!(malformed.expect("sent").status(), StatusCode::NOT_FOUND);
    let bad_limit: Value =
        app.operator().get("/api/v1/admin/dead-letters?limit=0", StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(bad_limit["error"]["details"]["field"], "limit");
}

/// Every operation in the document answers at its path and method (no `route_not_found`, no 405).
async fn every_documented_operation_is_routed(engine: Engine) {
    let Some(app) = app_on(engine).await else { return };
    let response = app.get("/api/v1/openapi.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    let document = json(response).await;
    assert_eq!(document["openapi"], "3.1.0");
    let paths = document["paths"].as_object().expect("paths");
    assert!(paths.len() >= 8, "all operations are documented: {:?}", paths.keys().collect::<Vec<_>>());
    for (path, operations) in paths {
        for (method, operation) in operations.as_object().expect("operations") {
            assert!(
                operation["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{method} {path} documents responses"
            );
            let concrete = path.replace("{id}", "job_00000000000000000000000000000000");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let response = app.as_operator(method.clone(), &concrete).json(&json!({})).send().await.expect("sent");
            assert_ne!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{method} {path} is routed");
            if response.status() == StatusCode::NOT_FOUND {
                assert_ne!(json(response).await["error"]["code"], "route_not_found", "{method} {path} is routed");
            }
        }
    }
    let docs = app.get("/docs/").await;
    assert_eq!(docs.status(), StatusCode::OK);
    let html = docs.text().await.expect("html");
    assert!(html.contains("swagger-ui"), "the interactive reference is served");
    assert!(!html.contains("cdn.") && !html.contains("unpkg.com"), "and loads nothing from a CDN");
}

/// What every operation can answer because of the shared layers is in the document: an
/// operation that answers 401 without a token documents it (so it declares its security), each
/// bearer operation documents 401 and 429, each body 415 and 400, each query 400.
async fn the_document_lists_the_answers_of_the_shared_layers(engine: Engine) {
    let Some(app) = app_on(engine).await else { return };
    let document = json(app.get("/api/v1/openapi.json").await).await;
    let error_body = json!({ "$ref": "#/components/schemas/ErrorBody" });
    let documents = |operation: &Value, status: &str| operation["responses"][status].is_object();
    for (path, operations) in document["paths"].as_object().expect("paths") {
        let concrete: String =
            path.split('/').map(|s| if s.starts_with('{') { "x" } else { s }).collect::<Vec<_>>().join("/");
        for (method, operation) in operations.as_object().expect("operations") {
            let verb = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let answer = app.client.request(verb, app.url(&concrete)).send().await.expect("sent");
            if answer.status() == StatusCode::UNAUTHORIZED {
                assert!(documents(operation, "401"), "{method} {path} answers 401 without a token but does not say so");
            }
            let bearer = operation["security"].as_array().is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some()));
            if bearer {
                for status in ["401", "429"] {
                    assert_eq!(
                        operation["responses"][status]["content"]["application/json"]["schema"], error_body,
                        "{method} {path} {status}"
                    );
                }
            }
            if operation.get("requestBody").is_some() {
                let body_answers = ["400", "415", "422"];
                assert!(body_answers.iter().all(|s| documents(operation, s)), "{method} {path} has a body");
            }
            let has_query = operation["parameters"].as_array().is_some_and(|p| p.iter().any(|p| p["in"] == "query"));
            if has_query {
                assert!(documents(operation, "400"), "{method} {path} has a query");
            }
        }
    }
    let sync = &document["paths"]["/api/v1/reviews/sync"]["post"];
    assert_eq!(sync["security"], json!([{ "bearer": [] }]), "a sync needs a token");
    let parameters = document["paths"]["/api/v1/conversations"]["get"]["parameters"].as_array().expect("parameters");
    let q = parameters.iter().find(|p| p["name"] == "q").expect("q");
    assert_eq!(q["schema"]["maxLength"], 200, "{q}");
}

/// Browsers ask for `/favicon.ico` on their own; pages link the same icon.
async fn the_favicon_is_served_and_linked_from_the_pages(engine: Engine) {
    let Some(app) = app_on(engine).await else { return };
    let icon = app.get("/favicon.ico").await;
    assert_eq!(icon.status(), StatusCode::OK);
    assert_eq!(icon.headers()["content-type"], "image/svg+xml");
    assert!(icon.text().await.expect("body").starts_with("<svg"), "the embedded SVG icon");
    let page = app.get("/sign-in").await.text().await.expect("html");
    assert!(page.contains(r#"<link rel="icon" type="image/svg+xml" href="/favicon.ico">"#), "{page}");
}

crate::on_both_engines!(
    health_ready_and_metrics_answer,
    errors_use_the_envelope,
    request_ids_are_echoed_or_generated,
    cors_follows_configuration_and_responses_are_compressed,
    ready_fails_while_a_migration_is_pending,
    a_request_that_outlasts_the_timeout_gets_408,
    dead_letters_can_be_listed_inspected_retried_and_discarded,
    every_documented_operation_is_routed,
    the_document_lists_the_answers_of_the_shared_layers,
    the_favicon_is_served_and_linked_from_the_pages,
);

/// The document is built from the same registrations as the router (`utoipa_axum::routes!`), so
/// a route can only escape it by being added with a plain `.route(…)`: only pages may be.
#[test]
fn no_api_route_bypasses_the_openapi_router() {
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    let mut offenders = Vec::new();
    let mut stack = vec![std::path::PathBuf::from(src)];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read file");
            for (line_no, line) in text.lines().enumerate() {
                if let Some(rest) = line.split(".route(\"").nth(1) {
                    let route = rest.split('"').next().unwrap_or_default();
                    // Pages may use plain routes; the API and the platform endpoints must be documented.
                    let is_api = ["/api/", "/webhooks", "/oauth/"].iter().any(|prefix| route.starts_with(prefix));
                    if is_api {
                        offenders.push(format!("{}:{}: {route}", path.display(), line_no + 1));
                    }
                }
            }
        }
    }
    assert!(offenders.is_empty(), "register API routes with `routes!` so they are documented: {offenders:#?}");
}
