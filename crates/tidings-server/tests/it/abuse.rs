//! What an attacker, a careless client or a busy team does to the limits and the security
//! headers (issue 11): lockouts belong to real addresses, `Retry-After` is a wait that works,
//! the bearer scheme is case-insensitive, dashboard use never spends the API quota, and every
//! dashboard page is served with a strict Content-Security-Policy.

use reqwest::header::{ACCEPT, CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, REFERRER_POLICY};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Engine, Session, TestApp, json};

crate::on_both_engines!(
    an_empty_address_locks_no_one_out_of_sign_up_reset_or_the_second_step,
    a_malformed_address_is_a_validation_error_on_the_sign_in_page,
    retry_after_on_the_per_ip_limit_is_long_enough,
    the_bearer_scheme_is_case_insensitive,
    dashboard_use_does_not_spend_the_api_quota,
    a_dashboard_session_has_its_own_abuse_limit,
    unknown_paths_get_an_html_page_with_the_signed_in_header_and_json_under_the_api,
    dashboard_pages_carry_a_strict_content_security_policy,
);

/// Sends a request from `ip` (the app trusts `X-Forwarded-For`).
fn from(app: &TestApp, ip: &str, method: Method, path: &str) -> reqwest::RequestBuilder {
    app.client.request(method, app.url(path)).header("x-forwarded-for", ip)
}

async fn status_of(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.expect("sent");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A signed-in member's dashboard request: the session cookie, no `Authorization` header.
fn in_dashboard(app: &TestApp, session: &Session, path: &str) -> reqwest::RequestBuilder {
    app.client.get(app.url(path)).header(COOKIE, format!("tidings_access={}", session.access))
}

async fn an_empty_address_locks_no_one_out_of_sign_up_reset_or_the_second_step(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |config| config.http.trust_forwarded_for = true).await else { return };
    // The attack: failed sign-ins with an empty address, more than enough to lock one.
    for _ in 0..6 {
        let login = from(&app, "198.51.100.1", Method::POST, "/api/v1/auth/login");
        let (status, body) = status_of(login.json(&json!({ "email": "", "password": "x" }))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "an empty address is invalid input: {body}");
        assert_eq!(body["error"]["details"]["field"], "email", "{body}");
    }
    let other = "203.0.113.7";
    let register = from(&app, other, Method::POST, "/api/v1/auth/register").json(&json!({
        "email": "new@example.com", "password": "correct horse battery", "name": "New", "workspaceName": "Shop"
    }));
    assert_eq!(status_of(register).await.0, StatusCode::CREATED, "sign-up still works");
    let forgot =
        from(&app, other, Method::POST, "/api/v1/auth/forgot-password").json(&json!({ "email": "new@example.com" }));
    assert_eq!(status_of(forgot).await.0, StatusCode::ACCEPTED, "a reset can still be asked for");
    let reset = from(&app, other, Method::POST, "/api/v1/auth/reset-password")
        .json(&json!({ "token": "tde_not_a_token", "password": "another long password" }));
    let (status, body) = status_of(reset).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the token is checked, nothing is locked: {body}");
    let second_step = from(&app, other, Method::POST, "/api/v1/auth/login/two-factor")
        .json(&json!({ "challengeToken": "tdc_not_a_challenge", "code": "123456" }));
    let (status, body) = status_of(second_step).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the challenge is checked, nothing is locked: {body}");
    // The dashboard's second step shares the same limits.
    let page = from(&app, other, Method::GET, "/sign-in").send().await.expect("sent");
    let csrf_cookie = crate::dashboard_identity::set_cookie(page.headers(), "tidings_csrf").expect("a CSRF cookie");
    let csrf = crate::dashboard_identity::csrf_field(&page.text().await.expect("html"));
    let cookie = csrf_cookie.split(';').next().expect("name=value").to_owned();
    let response = from(&app, other, Method::POST, "/sign-in/two-factor")
        .header(COOKIE, cookie)
        .header("origin", app.url(""))
        .form(&[("challenge", "tdc_not_a_challenge"), ("code", "123456"), ("csrf", &csrf)])
        .send()
        .await
        .expect("sent");
    assert_ne!(response.status(), StatusCode::TOO_MANY_REQUESTS);
}

async fn a_malformed_address_is_a_validation_error_on_the_sign_in_page(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let client = crate::dashboard_identity::browser();
    for email in ["", "not-an-address"] {
        let fields = [("email", email), ("password", "x")];
        let response = crate::dashboard_identity::submit(&client, &app, "/sign-in", "/sign-in", &fields).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{email:?}");
        let html = response.text().await.expect("html");
        assert!(html.contains("email address"), "the field says what is wrong: {html}");
    }
    let (status, _) =
        status_of(app.client.post(app.url("/api/v1/auth/login")).json(&json!({ "email": "nobody", "password": "x" })))
            .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn retry_after_on_the_per_ip_limit_is_long_enough(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |config| config.rate_limits.auth_attempts_per_minute_per_ip = 2).await
    else {
        return;
    };
    let ask = || app.client.post(app.url("/api/v1/auth/forgot-password")).json(&json!({ "email": "a@example.com" }));
    for _ in 0..2 {
        assert_eq!(status_of(ask()).await.0, StatusCode::ACCEPTED);
    }
    let refused = ask().send().await.expect("sent");
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = refused.headers()["retry-after"].to_str().expect("ascii").parse().expect("seconds");
    // Three attempts this minute still weigh two thirds of a minute into the next one: the end
    // of this minute (at most 60 s away) is too early to try again.
    assert!((95..=100).contains(&retry_after), "{retry_after}");
    assert_eq!(json(refused).await["error"]["details"]["retryAfterSecs"], retry_after);
}

async fn the_bearer_scheme_is_case_insensitive(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let session = app.signup("scheme@example.com").await;
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let me = app.client.get(app.url("/api/v1/me")).header("authorization", format!("{scheme} {}", session.access));
        assert_eq!(status_of(me).await.0, StatusCode::OK, "{scheme}");
        let queues = app
            .client
            .get(app.url("/api/v1/admin/queues"))
            .header("authorization", format!("{scheme} {}", app.operator_token));
        assert_eq!(status_of(queues).await.0, StatusCode::OK, "operator, {scheme}");
    }
    let basic = app.client.get(app.url("/api/v1/me")).header("authorization", format!("Basic {}", session.access));
    assert_eq!(status_of(basic).await.0, StatusCode::UNAUTHORIZED);
}

async fn dashboard_use_does_not_spend_the_api_quota(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let session = app.signup("busy-team@example.com").await;
    for view in 0..150 {
        let response = in_dashboard(&app, &session, "/settings/profile").send().await.expect("sent");
        assert_eq!(response.status(), StatusCode::OK, "page view {view}");
        assert!(!response.headers().contains_key("ratelimit-remaining"), "no API quota is reported to pages");
    }
    let api = app.as_member(&session.access, Method::GET, "/api/v1/me").send().await.expect("sent");
    assert_eq!(api.status(), StatusCode::OK);
    assert_eq!(api.headers()["ratelimit-limit"], "100");
    assert_eq!(api.headers()["ratelimit-remaining"], "99", "only this API call counted");
}

async fn a_dashboard_session_has_its_own_abuse_limit(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |config| config.rate_limits.dashboard_per_minute_per_session = 3).await
    else {
        return;
    };
    let session = app.signup("abuser@example.com").await;
    for _ in 0..3 {
        assert_eq!(
            in_dashboard(&app, &session, "/settings/profile").send().await.expect("sent").status(),
            StatusCode::OK
        );
    }
    let refused = in_dashboard(&app, &session, "/settings/profile").send().await.expect("sent");
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers()[CONTENT_TYPE].to_str().expect("ascii").starts_with("text/html"));
    let other = app.signup("calm-teammate@example.com").await;
    let fine = in_dashboard(&app, &other, "/settings/profile").send().await.expect("sent");
    assert_eq!(fine.status(), StatusCode::OK, "another session has its own limit");
    let api = app.as_member(&session.access, Method::GET, "/api/v1/me").send().await.expect("sent");
    assert_eq!(api.status(), StatusCode::OK, "the API quota is separate");
}

async fn unknown_paths_get_an_html_page_with_the_signed_in_header_and_json_under_the_api(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let session = app.signup("lost@example.com").await;
    let response = in_dashboard(&app, &session, "/foo").send().await.expect("sent");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(response.headers()[CONTENT_TYPE].to_str().expect("ascii").starts_with("text/html"));
    let html = response.text().await.expect("html");
    assert!(html.contains(r#"id="error-page""#), "{html}");
    assert!(html.contains(r#"<span id="user-name">Test Person</span>"#), "the signed-in header: {html}");
    assert!(html.contains(r#"action="/sign-out""#), "{html}");

    let signed_out = app.get("/foo").await;
    assert_eq!(signed_out.status(), StatusCode::NOT_FOUND);
    let html = signed_out.text().await.expect("html");
    assert!(html.contains(r#"id="error-page""#) && html.contains(r#"href="/sign-up""#), "{html}");

    for request in [
        in_dashboard(&app, &session, "/api/v1/nope"),
        app.client.get(app.url("/foo")).header(ACCEPT, "application/json"),
    ] {
        let response = request.send().await.expect("sent");
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(json(response).await["error"]["code"], "route_not_found");
    }
}

/// The directives of a policy, by name.
fn directive<'a>(policy: &'a str, name: &str) -> Option<&'a str> {
    policy.split(';').map(str::trim).find_map(|d| d.strip_prefix(name).filter(|rest| rest.starts_with(' ')))
}

async fn dashboard_pages_carry_a_strict_content_security_policy(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let session = app.signup("csp@example.com").await;
    let pages =
        ["/inbox", "/reviews", "/settings/profile", "/settings/team", "/settings/api-keys", "/settings/channels"];
    for path in pages {
        let response = in_dashboard(&app, &session, path).send().await.expect("sent");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers().clone();
        let policy = headers[CONTENT_SECURITY_POLICY].to_str().expect("ascii").to_owned();
        assert_eq!(directive(&policy, "script-src"), Some(" 'self'"), "{path}: {policy}");
        assert_eq!(directive(&policy, "style-src"), Some(" 'self'"), "{path}: {policy}");
        assert_eq!(directive(&policy, "frame-ancestors"), Some(" 'none'"), "{path}: {policy}");
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers[REFERRER_POLICY], "same-origin");
        // What the policy would block must not be in the page: inline scripts, inline event
        // handlers and style attributes.
        let html = response.text().await.expect("html").to_lowercase();
        assert!(!html.contains("<script>") && !html.contains("<script type"), "{path}: an inline script");
        assert!(!html.contains("<style"), "{path}: an inline style sheet");
        for attribute in [" onclick=", " onsubmit=", " onchange=", " onload=", " oninput=", " style="] {
            assert!(!html.contains(attribute), "{path}: {attribute}");
        }
    }
    let api = app.get("/api/v1/openapi.json").await;
    assert_eq!(api.headers()["x-content-type-options"], "nosniff", "on every answer");
    assert!(!api.headers().contains_key(CONTENT_SECURITY_POLICY), "a policy is for documents");
    let docs = app.get("/docs/").await;
    assert_eq!(docs.status(), StatusCode::OK);
    let policy = docs.headers()[CONTENT_SECURITY_POLICY].to_str().expect("ascii").to_owned();
    assert_eq!(directive(&policy, "script-src"), Some(" 'self'"), "Swagger UI's scripts are files: {policy}");
    assert_eq!(directive(&policy, "frame-ancestors"), Some(" 'none'"), "{policy}");
}
