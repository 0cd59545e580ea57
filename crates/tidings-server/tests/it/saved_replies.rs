//! Saved replies: the API (`/api/v1/saved-replies`: create, list, read, change, delete; role
//! checks; another workspace's are not found), the settings page, and the thread offering them
//! with the conversation's variables filled in.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tidings_server::inbox::saved_replies::dto::SavedReplyOut;

use crate::dashboard_identity::{page, submit};
use crate::dashboard_inbox::{member, seed_review, workspace};
use crate::helpers::{Engine, Session, TestApp};

crate::on_both_engines!(
    saved_replies_are_managed_over_the_api_with_role_checks,
    saved_replies_are_managed_on_their_page_and_offered_in_the_thread
);

/// An API key of `role` in the session's workspace.
async fn key_with_role(app: &TestApp, owner: &Session, role: &str) -> String {
    let body: Value = app
        .client(&owner.access)
        .post("/api/v1/api-keys", &json!({ "name": role, "role": role }), StatusCode::CREATED)
        .await;
    body["data"]["key"].as_str().expect("key").to_owned()
}

#[derive(serde::Deserialize)]
struct One {
    data: SavedReplyOut,
}

#[derive(serde::Deserialize)]
struct Many {
    data: Vec<SavedReplyOut>,
}

async fn saved_replies_are_managed_over_the_api_with_role_checks(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let owner = app.signup("owner@example.com").await;
    let api = app.client(&owner.access);

    let created: One = api
        .post(
            "/api/v1/saved-replies",
            &json!({ "shortcut": " /Thanks ", "body": "Thank you, {{first_name}}! See you at {{location}}." }),
            StatusCode::CREATED,
        )
        .await;
    let thanks = created.data;
    assert!(thanks.id.as_str().starts_with("srp_"), "{}", thanks.id);
    assert_eq!(thanks.shortcut, "thanks", "trimmed, without the slash, lower case");
    assert_eq!(thanks.created_by.as_ref().map(|id| id.as_str()), Some(owner.user_id.as_str()));

    // The same shortcut twice is a conflict; bad input names its field.
    let conflict: Value = api
        .post("/api/v1/saved-replies", &json!({ "shortcut": "thanks", "body": "Again" }), StatusCode::CONFLICT)
        .await;
    assert_eq!(conflict["error"]["code"], "conflict");
    let invalid: Value = api
        .post(
            "/api/v1/saved-replies",
            &json!({ "shortcut": "two words", "body": "x" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    assert_eq!(invalid["error"]["code"], "validation_failed", "{invalid}");
    assert!(invalid.to_string().contains("shortcut"), "{invalid}");
    let unknown: Value = api
        .post(
            "/api/v1/saved-replies",
            &json!({ "shortcut": "hi", "body": "Hi {{nickname}}" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    assert!(unknown.to_string().contains("{{nickname}}"), "the unknown variable is named: {unknown}");

    // Listed, read, changed.
    api.post::<_, Value>(
        "/api/v1/saved-replies",
        &json!({ "shortcut": "allergens", "body": "Ask us." }),
        StatusCode::CREATED,
    )
    .await;
    let list: Many = api.get("/api/v1/saved-replies", StatusCode::OK).await;
    let shortcuts: Vec<&str> = list.data.iter().map(|r| r.shortcut.as_str()).collect();
    assert_eq!(shortcuts, ["allergens", "thanks"], "by shortcut");
    let path = format!("/api/v1/saved-replies/{}", thanks.id);
    let changed: One = api.patch(&path, &json!({ "body": "Many thanks, {{customer_name}}." }), StatusCode::OK).await;
    assert_eq!(
        (changed.data.shortcut.as_str(), changed.data.body.as_str()),
        ("thanks", "Many thanks, {{customer_name}}.")
    );
    let taken: Value = api.patch(&path, &json!({ "shortcut": "allergens" }), StatusCode::CONFLICT).await;
    assert_eq!(taken["error"]["code"], "conflict");
    let read: One = api.get(&path, StatusCode::OK).await;
    assert_eq!(read.data.body, "Many thanks, {{customer_name}}.");

    // A viewer reads them but may not change them; an agent may.
    let viewer = key_with_role(&app, &owner, "viewer").await;
    app.client(&viewer).get::<Many>("/api/v1/saved-replies", StatusCode::OK).await;
    let refused: Value = app
        .client(&viewer)
        .post("/api/v1/saved-replies", &json!({ "shortcut": "v", "body": "v" }), StatusCode::FORBIDDEN)
        .await;
    assert_eq!(refused["error"]["code"], "forbidden");
    app.client(&viewer).delete::<Value>(&path, StatusCode::FORBIDDEN).await;
    let agent = key_with_role(&app, &owner, "agent").await;
    app.client(&agent)
        .post::<_, Value>(
            "/api/v1/saved-replies",
            &json!({ "shortcut": "agent", "body": "From an agent" }),
            StatusCode::CREATED,
        )
        .await;

    // Another workspace sees none of them: every address is a 404.
    let stranger = app.signup("stranger@example.com").await;
    let other = app.client(&stranger.access);
    let theirs: Many = other.get("/api/v1/saved-replies", StatusCode::OK).await;
    assert!(theirs.data.is_empty());
    for (status, body) in [
        (other.request(reqwest::Method::GET, &path).send().await.expect("sent").status(), "get"),
        (
            other
                .request(reqwest::Method::PATCH, &path)
                .json(&json!({ "body": "mine" }))
                .send()
                .await
                .expect("sent")
                .status(),
            "patch",
        ),
        (other.request(reqwest::Method::DELETE, &path).send().await.expect("sent").status(), "delete"),
    ] {
        assert_eq!(status, StatusCode::NOT_FOUND, "{body} of another workspace's saved reply");
    }
    other.get::<Value>("/api/v1/saved-replies/srp_nonsense", StatusCode::NOT_FOUND).await;

    // Deleted.
    api.delete::<Value>(&path, StatusCode::NO_CONTENT).await;
    api.get::<Value>(&path, StatusCode::NOT_FOUND).await;
}

async fn saved_replies_are_managed_on_their_page_and_offered_in_the_thread(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let (owner, client) = member(&app, "owner@example.com").await;
    let review = seed_review(&app, &workspace(&owner), "yelp", "y-1", "Ben Cole", 2, "The soup was cold").await;
    let page_path = "/settings/saved-replies";

    let (status, html) = page(&client, &app, page_path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("No saved replies yet") && html.contains("{{customer_name}}"), "{html}");

    let fields = [("shortcut", "sorry"), ("body", "We are sorry, {{first_name}}. Please write to us.")];
    let response = submit(&client, &app, page_path, page_path, &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&client, &app, &format!("{page_path}?done=added")).await;
    assert!(html.contains("Saved reply added.") && html.contains("/sorry"), "{html}");

    // A taken shortcut comes back with its message next to the field.
    let response = submit(&client, &app, page_path, page_path, &[("shortcut", "Sorry"), ("body", "Twice")]).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.expect("html");
    assert!(html.contains("already") && html.contains(r#"id="saved-shortcut-error""#), "{html}");

    // The thread offers it with the customer's name filled in; Yelp replies are posted by hand,
    // so there is no "post to Yelp" box.
    let (_, html) = page(&client, &app, &format!("/inbox/{review}")).await;
    assert!(
        html.contains(r#"data-shortcut="sorry" data-text="We are sorry, Ben. Please write to us.""#),
        "the saved reply is offered, filled in: {html}"
    );
    assert!(!html.contains("post to Yelp") && html.contains("Save reply"), "{html}");

    // Changed and deleted from the page.
    let list: Value = app.client(&owner.access).get("/api/v1/saved-replies", StatusCode::OK).await;
    let id = list["data"][0]["id"].as_str().expect("id").to_owned();
    let fields = [("shortcut", "apology"), ("body", "Sorry, {{customer_name}}.")];
    let response = submit(&client, &app, page_path, &format!("{page_path}/{id}"), &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&client, &app, page_path).await;
    assert!(html.contains("/apology") && !html.contains("/sorry"), "{html}");
    let response = submit(&client, &app, page_path, &format!("{page_path}/{id}/delete"), &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&client, &app, page_path).await;
    assert!(html.contains("No saved replies yet"), "{html}");
}
