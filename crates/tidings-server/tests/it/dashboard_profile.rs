//! The profile page as a browser uses it: two-factor sign-in from setup to sign-in to turning it
//! off, sending the address confirmation again, and creating another workspace.

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use totp_rs::Totp;

use crate::authenticator::{authenticator, code_at, now_secs, wrong_code};

use crate::dashboard_identity::{browser, csrf_field, location, page, set_cookie, sign_up, submit};
use crate::helpers::{Engine, TestApp, json};

const PASSWORD: &str = "correct horse battery";

crate::on_both_engines!(
    two_factor_is_set_up_on_the_profile_and_asked_for_at_sign_in,
    a_member_who_owes_two_factor_turns_it_on_from_the_profile,
    another_workspace_is_created_from_the_form_and_selected,
    the_confirmation_email_is_sent_again_until_the_address_is_confirmed,
    sending_the_confirmation_again_is_rate_limited,
);

/// The text of the element with `id` (up to the next tag).
fn text_of(html: &str, id: &str) -> String {
    let marker = format!(r#"id="{id}""#);
    let start = html.find(&marker).unwrap_or_else(|| panic!("#{id} in {html}"));
    let after = &html[start..];
    let open_end = after.find('>').expect("end of the tag") + 1;
    after[open_end..].chars().take_while(|c| *c != '<').collect()
}

/// The recovery codes of the highlighted box.
fn recovery_codes(html: &str) -> Vec<String> {
    let start = html.find(r#"id="recovery-codes""#).unwrap_or_else(|| panic!("the recovery codes in {html}"));
    let end = start + html[start..].find("</ol>").expect("the end of the list");
    html[start..end].split("<li><code>").skip(1).map(|item| item.chars().take_while(|c| *c != '<').collect()).collect()
}

/// Sets up two-factor sign-in from the profile page and turns it on with the code of `at`.
async fn turn_on_two_factor(client: &Client, app: &TestApp, at: u64) -> (Totp, Vec<String>) {
    let response = submit(client, app, "/settings/profile", "/settings/profile/two-factor/setup", &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.expect("html");
    let totp = authenticator(&text_of(&html, "two-factor-secret"));
    let code = code_at(&totp, at);
    let response =
        submit(client, app, "/settings/profile", "/settings/profile/two-factor/enable", &[("code", &code)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let codes = recovery_codes(&response.text().await.expect("html"));
    (totp, codes)
}

async fn two_factor_is_set_up_on_the_profile_and_asked_for_at_sign_in(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let client = browser();
    sign_up(&client, &app, "Rae", "rae@example.com").await;

    let (status, html) = page(&client, &app, "/settings/profile").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"id="two-factor-status" data-enabled="false""#), "{html}");
    assert!(
        html.contains(r#"action="/settings/profile/two-factor/setup""#) && html.contains("Set up two-factor sign-in")
    );
    assert!(!html.contains(r#"id="two-factor-required""#), "nobody asks it of Rae");

    let forged = client.post(app.url("/settings/profile/two-factor/setup")).form(&[("csrf", "forged")]).send().await;
    assert_eq!(forged.expect("sent").status(), StatusCode::FORBIDDEN, "the setup button is CSRF-protected");

    // Setting up shows the secret to type in and the otpauth:// link, never cached.
    let response = submit(&client, &app, "/settings/profile", "/settings/profile/two-factor/setup", &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let html = response.text().await.expect("html");
    let secret = text_of(&html, "two-factor-secret");
    assert_eq!(secret.len(), 32, "160 bits in base32: {secret}");
    // `&` is escaped in the HTML as `&#38;`.
    let url = format!("otpauth://totp/Tidings:rae%40example.com?secret={secret}&#38;issuer=Tidings");
    assert!(html.contains(&format!(r#"<a id="otpauth-link" href="{url}">"#)), "the URL as a link: {html}");
    assert!(html.contains(&format!(r#"<code id="otpauth-url" class="wrap">{url}</code>"#)), "and as text");
    // And as a QR code drawn on the server: the modules of exactly this link, inline, no image request.
    let link = format!("otpauth://totp/Tidings:rae%40example.com?secret={secret}&issuer=Tidings");
    let expected = qrcode::QrCode::new(link.as_bytes())
        .expect("a QR code")
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .build();
    let modules = &expected[expected.find(" d=\"").expect("path data")..];
    assert!(html.contains(r#"<svg id="two-factor-qr" role="img" aria-label="QR code of the set-up link""#), "{html}");
    assert!(html.contains(modules), "the QR code encodes the set-up link");
    assert!(!html.contains("<img") && !html.contains("<?xml"), "inline SVG, no image or XML prologue");
    let totp = authenticator(&secret);

    // A wrong code is reported next to the field, with the same secret still on the page.
    let t0 = now_secs();
    let wrong = wrong_code(&totp, t0);
    let response =
        submit(&client, &app, "/settings/profile", "/settings/profile/two-factor/enable", &[("code", &wrong)]).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.expect("html");
    assert!(html.contains(r#"<p class="field-error" id="enable-code-error">Code is wrong or expired"#), "{html}");
    assert!(html.contains(r#"id="enable-code" name="code""#) && html.contains(r#"aria-invalid="true""#));
    assert_eq!(text_of(&html, "two-factor-secret"), secret, "the pending setup is shown again");

    // The right code turns it on and shows ten recovery codes, once.
    let code = code_at(&totp, t0);
    let response =
        submit(&client, &app, "/settings/profile", "/settings/profile/two-factor/enable", &[("code", &code)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let html = response.text().await.expect("html");
    assert!(html.contains("Store these recovery codes now"), "{html}");
    assert!(
        html.contains(r#"id="two-factor-status" data-enabled="true""#) && html.contains("Two-factor sign-in is on")
    );
    let codes = recovery_codes(&html);
    assert_eq!(codes.len(), 10, "{codes:?}");
    assert!(codes.iter().all(|c| c.len() == 11 && c.as_bytes()[5] == b'-'), "{codes:?}");
    let (_, html) = page(&client, &app, "/settings/profile").await;
    assert!(!html.contains(&codes[0]) && !html.contains(r#"id="recovery-codes""#), "never shown again");
    assert!(html.contains(r#"id="two-factor-disable-form""#) && !html.contains(&secret));

    // Signed out, the password alone no longer signs in: the code is asked for next.
    let response = submit(&client, &app, "/settings/profile", "/sign-out", &[]).await;
    assert_eq!(location(&response), "/sign-in?done=signed-out");
    let fields = [("email", "rae@example.com"), ("password", PASSWORD), ("next", "/settings/profile")];
    let response = submit(&client, &app, "/sign-in", "/sign-in", &fields).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(set_cookie(response.headers(), "tidings_access").is_none(), "no session before the code");
    let html = response.text().await.expect("html");
    let marker = r#"name="challenge" value=""#;
    let start = html.find(marker).expect("the two-factor step") + marker.len();
    let challenge: String = html[start..].chars().take_while(|c| *c != '"').collect();
    let csrf = csrf_field(&html);
    let next_code = code_at(&totp, t0 + 30);
    let answer =
        [("csrf", csrf.as_str()), ("challenge", &challenge), ("code", &next_code), ("next", "/settings/profile")];
    let response = client.post(app.url("/sign-in/two-factor")).form(&answer).send().await.expect("sent");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/settings/profile");

    // Turning it off needs the password and a code; each mistake shows at its field.
    let disable = "/settings/profile/two-factor/disable";
    let response = submit(&client, &app, "/settings/profile", disable, &[("password", ""), ("code", "")]).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.expect("html");
    assert!(html.contains(r#"id="disable-password-error">Enter your password."#), "{html}");
    assert!(html.contains(r#"id="disable-code-error">Enter the code"#), "{html}");
    let response =
        submit(&client, &app, "/settings/profile", disable, &[("password", "not my password"), ("code", &codes[0])])
            .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.expect("html");
    assert!(html.contains(r#"id="disable-password-error">Password is not your current password."#), "{html}");
    let response =
        submit(&client, &app, "/settings/profile", disable, &[("password", PASSWORD), ("code", &next_code)]).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "a code already used");
    assert!(
        response
            .text()
            .await
            .expect("html")
            .contains(r#"id="disable-code-error">Code is wrong, expired or already used."#)
    );
    let response =
        submit(&client, &app, "/settings/profile", disable, &[("password", PASSWORD), ("code", &codes[0])]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/settings/profile?done=two-factor-off");
    let (_, html) = page(&client, &app, "/settings/profile?done=two-factor-off").await;
    assert!(html.contains("Two-factor sign-in is off.") && html.contains(r#"id="two-factor-setup-form""#), "{html}");

    // A second tab still showing the disable form learns it is already off.
    let response =
        submit(&client, &app, "/settings/profile", disable, &[("password", PASSWORD), ("code", &codes[1])]).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert!(response.text().await.expect("html").contains("Two-factor sign-in is already off."));

    submit(&client, &app, "/settings/profile", "/sign-out", &[]).await;
    let fields = [("email", "rae@example.com"), ("password", PASSWORD)];
    let response = submit(&client, &app, "/sign-in", "/sign-in", &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "the password alone signs in again");
}

async fn a_member_who_owes_two_factor_turns_it_on_from_the_profile(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    // An owner with two-factor sign-in requires it of the workspace, from the dashboard.
    let owner = browser();
    sign_up(&owner, &app, "Sol", "sol@example.com").await;
    let t0 = now_secs();
    turn_on_two_factor(&owner, &app, t0).await;
    // Requiring it is the API's to do; the access cookie of the dashboard session is its token.
    let workspace: Value = json(owner.get(app.url("/api/v1/workspace")).send().await.expect("sent")).await;
    let workspace_id = workspace["data"]["id"].as_str().expect("workspace id").to_owned();
    let response = owner
        .patch(app.url("/api/v1/workspace"))
        .json(&json!({ "requireTwoFactor": true }))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);

    // Tom joins as an admin, without two-factor sign-in.
    let tom = app.signup("tom@example.com").await;
    let mut tx = app.state.db.begin().await.expect("begin");
    tidings_store::with_tx!(tx, |conn| sqlx::query(
        "INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, 'admin', 0)"
    )
    .bind(&workspace_id)
    .bind(&tom.user_id)
    .execute(&mut **conn)
    .await
    .map(|_| ()))
    .expect("membership");
    tx.commit().await.expect("commit");

    let client = browser();
    let fields = [("email", "tom@example.com"), ("password", PASSWORD)];
    submit(&client, &app, "/sign-in", "/sign-in", &fields).await;
    let switch = [("workspace_id", workspace_id.as_str()), ("next", "/settings/team")];
    let response = submit(&client, &app, "/status", "/workspaces/switch", &switch).await;
    assert_eq!(location(&response), "/settings/team");

    // Every other page sends him to the profile, which works for him.
    let (status, html) = page(&client, &app, "/settings/team").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains(r#"id="error-link" href="/settings/profile#two-factor""#), "{html}");
    let (status, _) = page(&client, &app, "/workspaces/new").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "as in the API, not before the second factor");
    let (status, html) = page(&client, &app, "/settings/profile").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"id="two-factor-required""#), "{html}");
    assert!(!html.contains(r#"id="new-workspace-button""#), "no way to a page that would refuse him");

    let (_, codes) = turn_on_two_factor(&client, &app, t0).await;
    assert_eq!(codes.len(), 10);
    let (_, html) = page(&client, &app, "/settings/profile").await;
    assert!(!html.contains(r#"id="two-factor-required""#), "paid: {html}");
    let (status, html) = page(&client, &app, "/settings/team").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains(r#"data-member="tom@example.com""#));
}

async fn another_workspace_is_created_from_the_form_and_selected(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let client = browser();
    let response = sign_up(&client, &app, "Uma", "uma@example.com").await;
    let first_access = set_cookie(response.headers(), "tidings_access").expect("cookie");
    let first_access = first_access.split(';').next().and_then(|p| p.split_once('=')).expect("pair").1.to_owned();

    let (_, html) = page(&client, &app, "/status").await;
    assert!(html.contains(r#"id="new-workspace-link" href="/workspaces/new""#), "from the switcher: {html}");
    let (_, html) = page(&client, &app, "/settings/profile").await;
    assert!(html.contains(r#"id="new-workspace-button" href="/workspaces/new""#), "and from the profile: {html}");
    let (status, html) = page(&client, &app, "/workspaces/new").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"id="new-workspace-form""#));

    let response = submit(&client, &app, "/workspaces/new", "/workspaces/new", &[("name", "   ")]).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        response.text().await.expect("html").contains(r#"id="workspace-name-error">Name must be between 1 and 120"#)
    );
    let forged = client.post(app.url("/workspaces/new")).form(&[("name", "Sneaky"), ("csrf", "forged")]).send().await;
    assert_eq!(forged.expect("sent").status(), StatusCode::FORBIDDEN);

    let response = submit(&client, &app, "/workspaces/new", "/workspaces/new", &[("name", "Uma's Second Shop")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/inbox");
    assert!(set_cookie(response.headers(), "tidings_access").is_some(), "a session in the new workspace");
    assert!(set_cookie(response.headers(), "tidings_refresh").is_some());

    let (_, html) = page(&client, &app, "/status").await;
    let switcher =
        html.split(r#"id="workspace-switcher""#).nth(1).and_then(|s| s.split("</select>").next()).expect("switcher");
    assert!(switcher.contains("Ana&#39;s Bakery"), "{switcher}");
    let selected = switcher.split("<option").find(|o| o.contains(" selected")).expect("a selected workspace");
    assert!(selected.contains("Uma&#39;s Second Shop"), "{switcher}");
    let (_, html) = page(&client, &app, "/settings/team").await;
    assert!(html.contains("Uma&#39;s Second Shop") && html.contains(r#"data-member="uma@example.com""#), "{html}");
    let row = html.split(r#"data-member="uma@example.com""#).nth(1).expect("Uma's row");
    assert!(row.contains(r#"<option value="owner" selected>"#), "Uma owns it: {row}");

    let me = app.as_member(&first_access, Method::GET, "/api/v1/me").send().await.expect("sent");
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED, "the session it replaced ended, as switching does");
}

/// The confirmation mails to `to`, newest first, once there are at least `count`.
async fn confirmation_mails(app: &TestApp, to: &str, count: usize) -> Vec<String> {
    let dir = app.state.config.data_dir.join("mail");
    for _ in 0..400 {
        let mails: Vec<String> = tidings_server::mail::dev::list(&dir)
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|mail| mail.to.contains(to) && mail.subject.contains("Confirm your email"))
            .map(|mail| {
                let start = mail.text.find("token=").expect("a link with a token") + "token=".len();
                mail.text[start..].chars().take_while(|c| !c.is_whitespace()).collect()
            })
            .collect();
        if mails.len() >= count {
            return mails;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("fewer than {count} confirmation mails to {to}");
}

async fn the_confirmation_email_is_sent_again_until_the_address_is_confirmed(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let client = browser();
    sign_up(&client, &app, "Vic", "vic@example.com").await;
    let first = app.mail_token("vic@example.com", "Confirm your email").await;

    let (_, html) = page(&client, &app, "/settings/profile").await;
    assert!(html.contains("Your address is not confirmed."), "{html}");
    assert!(
        html.contains(r#"action="/settings/profile/verify-email""#)
            && html.contains("Send the confirmation email again")
    );
    let response = submit(&client, &app, "/settings/profile", "/settings/profile/verify-email", &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/settings/profile?done=verification-sent");
    let (_, html) = page(&client, &app, "/settings/profile?done=verification-sent").await;
    assert!(html.contains("The confirmation email is on its way again."), "{html}");

    let tokens = confirmation_mails(&app, "vic@example.com", 2).await;
    assert_eq!(tokens.len(), 2, "{tokens:?}");
    assert!(tokens.contains(&first) && tokens[0] != tokens[1], "a second mail with a new link");
    let newest = &tokens[0];
    let (status, _) = page(&client, &app, &format!("/verify-email?token={newest}")).await;
    assert_eq!(status, StatusCode::OK, "the new link confirms the address");

    let (_, html) = page(&client, &app, "/settings/profile").await;
    assert!(
        html.contains(r#"<span class="badge ok">confirmed</span>"#) && !html.contains(r#"id="unverified""#),
        "{html}"
    );
    let response = submit(&client, &app, "/settings/profile", "/settings/profile/verify-email", &[]).await;
    assert_eq!(location(&response), "/settings/profile?done=already-verified", "an old tab's button");
    assert_eq!(confirmation_mails(&app, "vic@example.com", 2).await.len(), 2, "no mail once confirmed");

    // The API does the same.
    let wes = app.signup("wes@example.com").await;
    let resend = || app.as_member(&wes.access, Method::POST, "/api/v1/me/verify-email");
    let response = resend().send().await.expect("sent");
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(json(response).await["data"]["done"], true);
    let tokens = confirmation_mails(&app, "wes@example.com", 2).await;
    let verified = app
        .client
        .post(app.url("/api/v1/auth/verify-email"))
        .json(&json!({ "token": tokens[0] }))
        .send()
        .await
        .expect("sent");
    assert_eq!(verified.status(), StatusCode::OK);
    let response = resend().send().await.expect("sent");
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(json(response).await["error"]["code"], "already_verified");

    let created = app
        .as_member(&wes.access, Method::POST, "/api/v1/api-keys")
        .json(&json!({ "name": "script", "role": "viewer" }))
        .send()
        .await
        .expect("sent");
    let key = json(created).await["data"]["key"].as_str().expect("key").to_owned();
    let response = app.as_member(&key, Method::POST, "/api/v1/me/verify-email").send().await.expect("sent");
    assert_eq!(response.status(), StatusCode::FORBIDDEN, "an API key is nobody's address");
}

async fn sending_the_confirmation_again_is_rate_limited(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let client = browser();
    sign_up(&client, &app, "Xia", "xia@example.com").await;
    let yan = app.signup("yan@example.com").await;
    let response = submit(&client, &app, "/settings/profile", "/settings/profile/verify-email", &[]).await;
    assert_eq!(location(&response), "/settings/profile?done=verification-sent");
    // Counted with the sign-in attempts from this address (at most 20 a minute).
    let mut refused = None;
    for _ in 0..25 {
        let response = submit(&client, &app, "/settings/profile", "/settings/profile/verify-email", &[]).await;
        if response.status() != StatusCode::SEE_OTHER {
            refused = Some(response);
            break;
        }
    }
    let response = refused.expect("refused within the minute's attempts");
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let html = response.text().await.expect("html");
    assert!(html.contains(r#"id="profile-error">Too many attempts for now."#), "{html}");

    let response = app.as_member(&yan.access, Method::POST, "/api/v1/me/verify-email").send().await.expect("sent");
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(json(response).await["error"]["code"], "rate_limited");
}
