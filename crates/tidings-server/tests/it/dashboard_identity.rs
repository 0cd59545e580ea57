//! The identity pages as a browser uses them: HTML forms with a CSRF token, session cookies,
//! redirects, and the messages a person reads when something is wrong.

use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use reqwest::{Client, Response, StatusCode};
use tidings_core::{UserId, WorkspaceId};
use tidings_server::identity::{Role, store};

use crate::helpers::{Engine, TestApp};

async fn app(engine: Engine) -> Option<TestApp> {
    TestApp::spawn_on(engine, |_| {}).await
}

crate::on_both_engines!(
    sign_up_sets_the_session_cookies_and_lands_on_the_dashboard,
    a_post_without_a_valid_csrf_token_or_from_another_origin_is_refused,
    invalid_sign_up_input_is_shown_next_to_each_field_and_kept,
    a_wrong_password_is_reported_and_the_right_one_signs_in_to_next,
    pages_for_members_send_visitors_to_sign_in_and_come_back,
    a_viewer_sees_the_team_but_may_not_manage_it_or_read_the_audit_log,
    an_owner_invites_and_the_invitee_creates_an_account_from_the_link,
    an_expired_access_cookie_is_refreshed_and_a_dead_refresh_cookie_signs_out,
    signing_out_ends_the_session,
    api_keys_are_shown_once_and_the_audit_log_records_them,
    the_links_in_emails_confirm_the_address_and_reset_the_password,
    the_profile_changes_name_and_password,
    an_owner_changes_roles_removes_members_and_withdraws_invitations,
    two_factor_members_finish_signing_in_with_a_code
);

/// A browser: keeps cookies, does not follow redirects (so tests see them).
pub(crate) fn browser() -> Client {
    Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

/// The `Set-Cookie` header for `name`, if the response sets it.
pub(crate) fn set_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

pub(crate) fn location(response: &Response) -> String {
    response.headers().get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

/// The value of the first hidden `csrf` field of a page.
pub(crate) fn csrf_field(html: &str) -> String {
    let marker = r#"name="csrf" value=""#;
    let start = html.find(marker).unwrap_or_else(|| panic!("a csrf field in {html}")) + marker.len();
    html[start..].chars().take_while(|c| *c != '"').collect()
}

/// GETs a page and returns its status and HTML.
pub(crate) async fn page(client: &Client, app: &TestApp, path: &str) -> (StatusCode, String) {
    let response = client.get(app.url(path)).send().await.expect("sent");
    let status = response.status();
    (status, response.text().await.expect("html"))
}

/// Loads `form_page` for its CSRF token, then posts `fields` (and the token) to `action`.
pub(crate) async fn submit(
    client: &Client,
    app: &TestApp,
    form_page: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> Response {
    let (status, html) = page(client, app, form_page).await;
    assert_eq!(status, StatusCode::OK, "{form_page}: {html}");
    let token = csrf_field(&html);
    let mut form: Vec<(&str, &str)> = fields.to_vec();
    form.push(("csrf", &token));
    client.post(app.url(action)).form(&form).send().await.expect("sent")
}

/// Signs up through the form; the browser then holds the session.
pub(crate) async fn sign_up(client: &Client, app: &TestApp, name: &str, email: &str) -> Response {
    let fields =
        [("name", name), ("email", email), ("password", "correct horse battery"), ("workspace_name", "Ana's Bakery")];
    submit(client, app, "/sign-up", "/sign-up", &fields).await
}

async fn sign_up_sets_the_session_cookies_and_lands_on_the_dashboard(engine: Engine) {
    let Some(app) = app(engine).await else { return };
    let client = browser();

    let form = client.get(app.url("/sign-up")).send().await.expect("sent");
    assert_eq!(form.status(), StatusCode::OK);
    let csrf_cookie = set_cookie(form.headers(), "tidings_csrf").expect("a CSRF cookie for the form");
    assert!(csrf_cookie.contains("HttpOnly") && csrf_cookie.contains("SameSite=Strict"), "{csrf_cookie}");
    let html = form.text().await.expect("html");
    for needle in
        [r#"id="sign-up-form""#, r#"name="email""#, r#"name="password""#, r#"name="name""#, r#"name="workspace_name""#]
    {
        assert!(html.contains(needle), "the sign-up form has {needle}");
    }

    let response = sign_up(&client, &app, "Ana Baker", "ana@example.com").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/inbox");
    let access = set_cookie(response.headers(), "tidings_access").expect("the access cookie");
    let refresh = set_cookie(response.headers(), "tidings_refresh").expect("the refresh cookie");
    for cookie in [&access, &refresh] {
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"),
            "{cookie}"
        );
        assert!(!cookie.contains("Secure"), "plain HTTP: no Secure flag: {cookie}");
    }
    assert!(access.contains("Max-Age=3600"), "the access cookie lives as long as the token: {access}");
    assert!(refresh.contains(&format!("Max-Age={}", 7 * 86_400)), "{refresh}");

    // The status page, still public, now shows who is signed in and the workspace switcher.
    let (status, html) = page(&client, &app, "/status").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"<span id="user-name">Ana Baker</span>"#), "{html}");
    assert!(html.contains(r#"id="workspace-switcher""#) && html.contains("Ana&#39;s Bakery"), "{html}");
    assert!(html.contains(r#"id="version""#) && html.contains(r#"id="queue-panel""#), "status markup is unchanged");
    assert!(html.contains(r#"href="/settings/team""#), "Settings links in the navigation");

    let (status, html) = page(&client, &app, "/settings/team").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"data-member="ana@example.com""#), "{html}");
    assert!(html.contains(r#"id="invite-form""#), "an owner may invite");
    for role in tidings_server::identity::Role::ALL {
        let described = format!("<dt>{}</dt><dd>{}</dd>", role.as_str(), role.description());
        assert!(html.contains(&described), "the team page says what {} may do", role.as_str());
    }

    // Behind a TLS-terminating proxy the cookies are Secure.
    let https = browser();
    let form = https.get(app.url("/sign-in")).header("x-forwarded-proto", "https").send().await.expect("sent");
    let csrf_cookie = set_cookie(form.headers(), "tidings_csrf").expect("cookie");
    assert!(csrf_cookie.contains("; Secure"), "{csrf_cookie}");
}

async fn a_post_without_a_valid_csrf_token_or_from_another_origin_is_refused(engine: Engine) {
    let Some(app) = app(engine).await else { return };
    app.signup("ben@example.com").await;
    let client = browser();
    let (_, html) = page(&client, &app, "/sign-in").await;
    let token = csrf_field(&html);
    let credentials = [("email", "ben@example.com"), ("password", "correct horse battery")];

    let missing = client.post(app.url("/sign-in")).form(&credentials).send().await.expect("sent");
    assert_eq!(missing.status(), StatusCode::FORBIDDEN);
    assert!(missing.headers()["content-type"].to_str().expect("ascii").starts_with("text/html"));
    assert!(set_cookie(missing.headers(), "tidings_access").is_none());
    assert!(missing.text().await.expect("html").contains("security token"), "a page that says why");

    let mut wrong = credentials.to_vec();
    wrong.push(("csrf", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    let response = client.post(app.url("/sign-in")).form(&wrong).send().await.expect("sent");
    assert_eq!(response.status(), StatusCode::FORBIDDEN, "a token that is not the cookie's");

    let mut good = credentials.to_vec();
    good.push(("csrf", &token));
    let response = client
        .post(app.url("/sign-in"))
        .header("origin", "https://evil.example")
        .form(&good)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::FORBIDDEN, "another site's form, even with the right token");

    let stranger = browser();
    let response = stranger.post(app.url("/sign-in")).form(&good).send().await.expect("sent");
    assert_eq!(response.status(), StatusCode::FORBIDDEN, "the field without the cookie");

    let response = client
        .post(app.url("/sign-in"))
        .header("origin", format!("http://{}", app.addr))
        .form(&good)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "our own origin and token: signed in");
    assert!(set_cookie(response.headers(), "tidings_access").is_some());
}

async fn invalid_sign_up_input_is_shown_next_to_each_field_and_kept(engine: Engine) {
    let Some(app) = app(engine).await else { return };
    let client = browser();
    let fields = [("name", "Cleo"), ("email", "cleo-at-example"), ("password", "short"), ("workspace_name", "")];
    let response = submit(&client, &app, "/sign-up", "/sign-up", &fields).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(set_cookie(response.headers(), "tidings_access").is_none());
    let html = response.text().await.expect("html");
    assert!(html.contains(r#"id="email-error">Email is not a valid email address.</p>"#), "{html}");
    assert!(html.contains(r#"id="password-error">Password must be at least 10 characters.</p>"#), "{html}");
    assert!(html.contains(r#"id="workspace_name-error">Workspace name must be between 1 and 120 characters.</p>"#));
    assert!(html.contains(r#"value="cleo-at-example""#), "the email is kept");
    assert!(html.contains(r#"value="Cleo""#), "the name is kept");
    assert!(!html.contains(r#"value="short""#), "the password is not sent back");
    assert!(html.contains(r#"aria-invalid="true""#));

    app.signup("dora@example.com").await;
    let fields =
        [("name", "Dora"), ("email", "dora@example.com"), ("password", "long enough pass"), ("workspace_name", "W")];
    let response = submit(&client, &app, "/sign-up", "/sign-up", &fields).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.expect("html");
    assert!(html.contains("An account with this email address already exists"), "{html}");
}

async fn a_wrong_password_is_reported_and_the_right_one_signs_in_to_next(engine: Engine) {
    let Some(app) = app(engine).await else { return };
    app.signup("eve@example.com").await;
    let client = browser();
    let fields = [("email", "eve@example.com"), ("password", "not my password"), ("next", "/settings/team")];
    let response = submit(&client, &app, "/sign-in?next=/settings/team", "/sign-in", &fields).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(set_cookie(response.headers(), "tidings_access").is_none());
    let html = response.text().await.expect("html");
    assert!(html.contains("Email or password is incorrect."), "{html}");
    assert!(html.contains(r#"value="eve@example.com""#), "the email is kept");
    assert!(html.contains(r#"name="next" value="/settings/team""#), "where to go after is kept");

    let fields = [("email", "eve@example.com"), ("password", "correct horse battery"), ("next", "/settings/team")];
    let response = submit(&client, &app, "/sign-in", "/sign-in", &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/settings/team");

    // Somewhere else is never a place to go after signing in.
    let other = browser();
    let fields = [("email", "eve@example.com"), ("password", "correct horse battery"), ("next", "//evil.example/")];
    let response = submit(&other, &app, "/sign-in", "/sign-in", &fields).await;
    assert_eq!(location(&response), "/inbox");
}

async fn pages_for_members_send_visitors_to_sign_in_and_come_back(engine: Engine) {
    let Some(app) = app(engine).await else { return };
    let response = browser().get(app.url("/settings/team")).send().await.expect("sent");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/sign-in?next=/settings/team");
    let (status, _) = page(&browser(), &app, "/status").await;
    assert_eq!(status, StatusCode::OK, "the status page is public");
}

async fn a_viewer_sees_the_team_but_may_not_manage_it_or_read_the_audit_log(engine: Engine) {
    let Some(app) = app(engine).await else { return };
    let owner = app.signup("owner@example.com").await;
    let viewer = app.signup("viewer@example.com").await;
    let workspace = WorkspaceId::parse(&owner.workspace_id).expect("workspace id");
    let viewer_id = UserId::parse(&viewer.user_id).expect("user id");
    let mut tx = app.state.db.begin().await.expect("begin");
    assert!(store::insert_membership(&mut tx, &workspace, &viewer_id, Role::Viewer).await.expect("insert"));
    tx.commit().await.expect("commit");

    let client = browser();
    let fields = [("email", "viewer@example.com"), ("password", "correct horse battery")];
    let response = submit(&client, &app, "/sign-in", "/sign-in", &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    // Signed in to their own workspace first; the switcher moves them to the owner's.
    let (_, html) = page(&client, &app, "/status").await;
    assert!(html.contains(&format!(r#"<option value="{}""#, owner.workspace_id)), "both workspaces in the switcher");
    let fields = [("workspace_id", owner.workspace_id.as_str()), ("next", "/settings/team")];
    let response = submit(&client, &app, "/status", "/workspaces/switch", &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/settings/team");
    assert!(set_cookie(response.headers(), "tidings_access").is_some(), "a session in the other workspace");

    let (status, html) = page(&client, &app, "/settings/team").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(r#"data-member="owner@example.com""#) && html.contains(r#"data-member="viewer@example.com""#)
    );
    assert!(!html.contains(r#"id="invite-form""#), "no invite form for a viewer");
    assert!(!html.contains(r#"href="/settings/audit-log""#), "no audit-log link for a viewer");

    let fields = [("email", "friend@example.com"), ("role", "admin")];
    let response = submit(&client, &app, "/settings/team", "/settings/team/invite", &fields).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.text().await.expect("html").contains("Your role in this workspace (viewer)"));

    for path in ["/settings/audit-log", "/settings/api-keys"] {
        let (status, html) = page(&client, &app, path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert!(html.contains(r#"id="error-page""#), "{path} answers with a page: {html}");
    }
}

async fn an_owner_invites_and_the_invitee_creates_an_account_from_the_link(engine: Engine) {
    let Some(app) = app(engine).await else { return };
    let owner = browser();
    sign_up(&owner, &app, "Fay Owner", "fay@example.com").await;

    let fields = [("email", "not an address"), ("role", "agent")];
    let response = submit(&owner, &app, "/settings/team", "/settings/team/invite", &fields).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.expect("html");
    assert!(html.contains(r#"id="invite-email-error">Email is not a valid email address.</p>"#), "{html}");
    assert!(html.contains(r#"value="not an address""#), "{html}");

    let fields = [("email", "gil@example.com"), ("role", "agent")];
    let response = submit(&owner, &app, "/settings/team", "/settings/team/invite", &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/settings/team?done=invited");
    let (_, html) = page(&owner, &app, "/settings/team?done=invited").await;
    assert!(html.contains("Invitation sent.") && html.contains(r#"data-invite="gil@example.com""#), "{html}");

    let token = app.mail_token("gil@example.com", "invited you").await;
    let invitee = browser();
    let (status, html) = page(&invitee, &app, &format!("/invite?token={token}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Join Ana&#39;s Bakery") && html.contains(r#"id="accept-invite-form""#), "{html}");
    let fields = [("token", token.as_str()), ("name", "Gil"), ("password", "gil's long password")];
    let response = submit(&invitee, &app, &format!("/invite?token={token}"), "/invite", &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{:?}", response.text().await);
    let (_, html) = page(&invitee, &app, "/settings/team").await;
    assert!(html.contains(r#"data-member="gil@example.com""#) && html.contains(r#"data-member="fay@example.com""#));

    let (status, html) = page(&browser(), &app, &format!("/invite?token={token}")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "an invitation works once");
    assert!(html.contains(r#"id="invite-invalid""#));
}

async fn an_expired_access_cookie_is_refreshed_and_a_dead_refresh_cookie_signs_out(engine: Engine) {
    let Some(app) = app(engine).await else { return };
    let session = app.signup("hana@example.com").await;
    let plain = Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");

    let response = plain
        .get(app.url("/settings/profile"))
        .header("cookie", format!("tidings_access=expired.or.forged; tidings_refresh={}", session.refresh))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK, "refreshed on the way in");
    let access = set_cookie(response.headers(), "tidings_access").expect("a new access cookie");
    let refresh = set_cookie(response.headers(), "tidings_refresh").expect("a new refresh cookie");
    assert!(!refresh.contains(&session.refresh), "the refresh token rotated");
    assert!(response.text().await.expect("html").contains("hana@example.com"));

    // The new access cookie works on its own.
    let access_value = access.split(';').next().expect("pair").to_owned();
    let response = plain.get(app.url("/settings/profile")).header("cookie", &access_value).send().await.expect("sent");
    assert_eq!(response.status(), StatusCode::OK);

    let response = plain
        .get(app.url("/settings/profile"))
        .header("cookie", "tidings_refresh=tdr_not_a_real_token")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/sign-in?next=/settings/profile");
    let cleared = set_cookie(response.headers(), "tidings_refresh").expect("cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
}

async fn signing_out_ends_the_session(engine: Engine) {
    let Some(app) = app(engine).await else { return };
    let client = browser();
    let response = sign_up(&client, &app, "Ida", "ida@example.com").await;
    let access = set_cookie(response.headers(), "tidings_access").expect("cookie");
    let access = access.split(';').next().and_then(|pair| pair.split_once('=')).expect("pair").1.to_owned();

    let response = submit(&client, &app, "/settings/profile", "/sign-out", &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/sign-in?done=signed-out");
    assert!(set_cookie(response.headers(), "tidings_access").expect("cleared").contains("Max-Age=0"));
    let (_, html) = page(&client, &app, "/sign-in?done=signed-out").await;
    assert!(html.contains("You are signed out."));

    let me = app.as_member(&access, reqwest::Method::GET, "/api/v1/me").send().await.expect("sent");
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED, "the old access token died with the session");
}

async fn api_keys_are_shown_once_and_the_audit_log_records_them(engine: Engine) {
    let Some(app) = app(engine).await else { return };
    let client = browser();
    sign_up(&client, &app, "Jo", "jo@example.com").await;

    let response =
        submit(&client, &app, "/settings/api-keys", "/settings/api-keys", &[("name", ""), ("role", "agent")]).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response.text().await.expect("html").contains(r#"id="key-name-error">Name must be"#));

    let fields = [("name", "CRM sync"), ("role", "agent")];
    let response = submit(&client, &app, "/settings/api-keys", "/settings/api-keys", &fields).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let html = response.text().await.expect("html");
    let marker = r#"<code class="key" id="new-api-key-value">"#;
    let start = html.find(marker).expect("the new key, highlighted") + marker.len();
    let key: String = html[start..].chars().take_while(|c| *c != '<').collect();
    assert!(key.starts_with("tdk_"), "{key}");
    assert!(
        html.contains(r#"<button type="button" class="copy" data-copy="new-api-key-value">Copy key</button>"#),
        "a button copies the new key"
    );
    let team = app.as_member(&key, reqwest::Method::GET, "/api/v1/team").send().await.expect("sent");
    assert_eq!(team.status(), StatusCode::OK, "the key works");

    let (_, html) = page(&client, &app, "/settings/api-keys").await;
    assert!(!html.contains(&key), "never shown again");
    assert!(html.contains("CRM sync"));

    let (status, html) = page(&client, &app, "/settings/audit-log?action=api_key.created").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"data-action="api_key.created""#), "{html}");
    assert!(!html.contains(r#"data-action="workspace.created""#), "filtered by action");
    let (_, html) = page(&client, &app, "/settings/audit-log?verify=1").await;
    assert!(html.contains(r#"id="chain-result" data-valid="true""#), "{html}");
    let (status, html) = page(&client, &app, "/settings/audit-log?from=yesterday").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains(r#"id="from-error""#));
}

async fn the_links_in_emails_confirm_the_address_and_reset_the_password(engine: Engine) {
    let Some(app) = app(engine).await else { return };
    let client = browser();
    sign_up(&client, &app, "Kim", "kim@example.com").await;

    let token = app.mail_token("kim@example.com", "Confirm your email").await;
    let (status, html) = page(&client, &app, &format!("/verify-email?token={token}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"id="verify-result" data-verified="true""#), "{html}");
    let (status, html) = page(&client, &app, &format!("/verify-email?token={token}")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a link works once");
    assert!(html.contains(r#"data-verified="false""#) && html.contains("invalid, has expired"));
    let (_, html) = page(&client, &app, "/settings/profile").await;
    assert!(html.contains(r#"<span class="badge ok">confirmed</span>"#), "{html}");

    let stranger = browser();
    let response = submit(&stranger, &app, "/forgot-password", "/forgot-password", &[("email", "kim@")]).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response.text().await.expect("html").contains(r#"id="email-error""#));
    for email in ["kim@example.com", "nobody@example.com"] {
        let response = submit(&stranger, &app, "/forgot-password", "/forgot-password", &[("email", email)]).await;
        assert_eq!(response.status(), StatusCode::OK, "the same answer for {email}");
        assert!(response.text().await.expect("html").contains(r#"id="reset-sent""#));
    }
    let token = app.mail_token("kim@example.com", "Reset your").await;
    let reset_page = format!("/reset-password?token={token}");
    let fields = [("token", token.as_str()), ("password", "short")];
    let response = submit(&stranger, &app, &reset_page, "/reset-password", &fields).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response.text().await.expect("html").contains("Password must be at least 10 characters."));
    let fields = [("token", token.as_str()), ("password", "a brand new password")];
    let response = submit(&stranger, &app, &reset_page, "/reset-password", &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/sign-in?done=reset");

    // Every session ended, this one's too; the new password signs in.
    let response = client.get(app.url("/settings/profile")).send().await.expect("sent");
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "the old session is over");
    let fields = [("email", "kim@example.com"), ("password", "a brand new password")];
    let response = submit(&client, &app, "/sign-in", "/sign-in", &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (status, html) = page(&browser(), &app, &reset_page).await;
    assert_eq!(status, StatusCode::OK, "the form shows; the token is checked on submit");
    assert!(html.contains(r#"id="reset-password-form""#));
    let (status, html) = page(&browser(), &app, "/reset-password").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains(r#"id="link-invalid""#));
}

async fn the_profile_changes_name_and_password(engine: Engine) {
    let Some(app) = app(engine).await else { return };
    let client = browser();
    sign_up(&client, &app, "Lou", "lou@example.com").await;

    let response = submit(&client, &app, "/settings/profile", "/settings/profile", &[("name", "  ")]).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response.text().await.expect("html").contains(r#"id="name-error">Name must be between"#));
    let response = submit(&client, &app, "/settings/profile", "/settings/profile", &[("name", "Louise")]).await;
    assert_eq!(location(&response), "/settings/profile?done=name");
    let (_, html) = page(&client, &app, "/settings/profile?done=name").await;
    assert!(html.contains("Your name was saved.") && html.contains(r#"<span id="user-name">Louise</span>"#));

    let fields = [("current_password", "not it at all"), ("new_password", "another long password")];
    let response = submit(&client, &app, "/settings/profile", "/settings/profile/password", &fields).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.expect("html");
    assert!(html.contains(r#"id="current_password-error">This is not your current password.</p>"#), "{html}");
    assert!(!html.contains("another long password"), "passwords are never sent back");
    let fields = [("current_password", "correct horse battery"), ("new_password", "another long password")];
    let response = submit(&client, &app, "/settings/profile", "/settings/profile/password", &fields).await;
    assert_eq!(location(&response), "/settings/profile?done=password");
    let (status, _) = page(&client, &app, "/settings/profile").await;
    assert_eq!(status, StatusCode::OK, "this session stays signed in");
}

async fn an_owner_changes_roles_removes_members_and_withdraws_invitations(engine: Engine) {
    let Some(app) = app(engine).await else { return };
    let owner = app.signup("max@example.com").await;
    let other = app.signup("ned@example.com").await;
    let workspace = WorkspaceId::parse(&owner.workspace_id).expect("workspace id");
    let mut tx = app.state.db.begin().await.expect("begin");
    let ned = UserId::parse(&other.user_id).expect("user id");
    assert!(store::insert_membership(&mut tx, &workspace, &ned, Role::Agent).await.expect("insert"));
    tx.commit().await.expect("commit");

    let client = browser();
    let fields = [("email", "max@example.com"), ("password", "correct horse battery")];
    submit(&client, &app, "/sign-in", "/sign-in", &fields).await;

    let role_action = format!("/settings/team/members/{}/role", other.user_id);
    let response = submit(&client, &app, "/settings/team", &role_action, &[("role", "manager")]).await;
    assert_eq!(location(&response), "/settings/team?done=role");
    let (_, html) = page(&client, &app, "/settings/team").await;
    let row = html.split(r#"data-member="ned@example.com""#).nth(1).expect("ned's row");
    assert!(row.contains(r#"<option value="manager" selected>"#), "{row}");

    let own_role = format!("/settings/team/members/{}/role", owner.user_id);
    let response = submit(&client, &app, "/settings/team", &own_role, &[("role", "admin")]).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert!(response.text().await.expect("html").contains("A workspace must keep at least one owner"));

    let fields = [("email", "olga@example.com"), ("role", "viewer")];
    submit(&client, &app, "/settings/team", "/settings/team/invite", &fields).await;
    let (_, html) = page(&client, &app, "/settings/team").await;
    let start = html.find("/settings/team/invites/").expect("a revoke form");
    let action: String = html[start..].chars().take_while(|c| *c != '"').collect();
    let response = submit(&client, &app, "/settings/team", &action, &[]).await;
    assert_eq!(location(&response), "/settings/team?done=revoked");
    let (_, html) = page(&client, &app, "/settings/team?done=revoked").await;
    assert!(!html.contains(r#"data-invite="olga@example.com""#) && html.contains("Invitation withdrawn."));

    let remove = format!("/settings/team/members/{}/remove", other.user_id);
    let response = client.post(app.url(&remove)).form(&[("csrf", "forged")]).send().await.expect("sent");
    assert_eq!(response.status(), StatusCode::FORBIDDEN, "settings forms are CSRF-protected too");
    let response = submit(&client, &app, "/settings/team", &remove, &[]).await;
    assert_eq!(location(&response), "/settings/team?done=removed");
    let (_, html) = page(&client, &app, "/settings/team").await;
    assert!(!html.contains(r#"data-member="ned@example.com""#));
}

async fn two_factor_members_finish_signing_in_with_a_code(engine: Engine) {
    let Some(app) = app(engine).await else { return };
    let session = app.signup("pia@example.com").await;
    let setup: serde_json::Value = app
        .as_member(&session.access, reqwest::Method::POST, "/api/v1/me/two-factor/setup")
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let secret = totp_rs::Secret::try_from_base32(setup["data"]["secret"].as_str().expect("secret")).expect("base32");
    let totp = totp_rs::Builder::new().with_secret(secret).build().expect("totp");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    let enabled: serde_json::Value = app
        .as_member(&session.access, reqwest::Method::POST, "/api/v1/me/two-factor/enable")
        .json(&serde_json::json!({ "code": totp.generate(now).to_string() }))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let recovery = enabled["data"]["recoveryCodes"][0].as_str().expect("a recovery code").to_owned();

    let client = browser();
    let fields = [("email", "pia@example.com"), ("password", "correct horse battery"), ("next", "/settings/profile")];
    let response = submit(&client, &app, "/sign-in", "/sign-in", &fields).await;
    assert_eq!(response.status(), StatusCode::OK, "the password step asks for a code");
    assert!(set_cookie(response.headers(), "tidings_access").is_none(), "no session before the code");
    let html = response.text().await.expect("html");
    assert!(html.contains(r#"id="two-factor-form""#), "{html}");
    let marker = r#"name="challenge" value=""#;
    let start = html.find(marker).expect("the challenge") + marker.len();
    let challenge: String = html[start..].chars().take_while(|c| *c != '"').collect();
    let token = csrf_field(&html);

    let near: Vec<String> = (0..5).map(|i| totp.generate(now + i * 30 - 60).to_string()).collect();
    let wrong_code = ["000000", "111111"].into_iter().find(|c| !near.iter().any(|n| n == c)).expect("a wrong code");
    let wrong =
        [("csrf", token.as_str()), ("challenge", &challenge), ("code", wrong_code), ("next", "/settings/profile")];
    let response = client.post(app.url("/sign-in/two-factor")).form(&wrong).send().await.expect("sent");
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response.text().await.expect("html").contains(r#"id="code-error""#));

    let right =
        [("csrf", token.as_str()), ("challenge", &challenge), ("code", &recovery), ("next", "/settings/profile")];
    let response = client.post(app.url("/sign-in/two-factor")).form(&right).send().await.expect("sent");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/settings/profile");
    assert!(set_cookie(response.headers(), "tidings_access").is_some());
}
