//! CSV import (progress, a second import adding nothing, known contacts, resuming, a bad row)
//! and export (quoting, filters, permission, a round trip).

use std::collections::HashSet;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tidings_connectors::InboundMessage;
use tidings_core::WorkspaceId;
use tidings_core::time::now_millis;
use tidings_server::inbox::csv::ImportFile;
use tidings_server::inbox::dto::{ConversationListOut, ImportAcceptedOut, ResponseOut, ReviewListOut, TaskOut};
use tidings_server::inbox::ingest::{self, Source};
use tidings_server::inbox::model::ResponseStatus;
use tidings_server::inbox::tasks::{self, TaskKind, TaskStatus};
use tidings_store::queue::NewJob;

use crate::client::{expect_data, expect_status, send};
use crate::helpers::Engine;
use crate::inbox_fixtures::{
    IMPORT_FILE, MINUTE, Review, Shop, api_key, finished_task, import, ingest_review, location, rfc3339, text,
};

async fn a_csv_import_shows_progress_and_a_second_one_adds_nothing(engine: Engine) {
    let Some(shop) = Shop::open(engine).await else { return };
    let harbour = location(&shop.app, &shop.workspace, "Harbour Street").await;

    let (status, accepted) = import(&shop, IMPORT_FILE).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    assert_eq!(accepted["data"]["total"], 3);
    let task = finished_task(&shop, &text(&accepted["data"]["taskId"])).await;
    assert_eq!(task.kind, TaskKind::Import);
    assert_eq!(task.status, TaskStatus::Succeeded, "{:?}", task.error);
    assert_eq!(task.total, 3);
    assert_eq!(task.done, 3);
    assert_eq!(task.percent, 100);
    assert_eq!(task.summary["imported"], 3);
    assert_eq!(task.summary["duplicates"], 0);
    assert!(task.finished_at.is_some());

    let listed: ReviewListOut = shop.client().get_data("/api/v1/reviews", StatusCode::OK).await;
    assert_eq!(listed.pagination.total, 3);
    let reviews = &listed.reviews;
    assert_eq!(reviews[0].author.as_deref(), Some("Cy"));
    assert_eq!(reviews[0].platform, "imported");
    let ana = &reviews[2];
    assert_eq!(ana.platform, "google");
    assert_eq!(ana.location.as_ref().map(|l| l.id.as_str()), Some(harbour.as_str()));
    assert_eq!(ana.title.as_deref(), Some("Brunch"));
    assert_eq!(ana.text, "Great eggs, great coffee");
    assert_eq!(ana.posted_at, "2026-01-02T00:00:00.000Z");
    assert_eq!(reviews[1].posted_at, "2026-01-03T18:30:00.000Z");

    // Imported reviews cannot be posted through a platform: they wait to be posted by hand.
    let reply: ResponseOut = shop
        .client()
        .post_data(
            &format!("/api/v1/reviews/{}/respond", ana.id),
            &json!({ "responseText": "Thanks Ana" }),
            StatusCode::CREATED,
        )
        .await;
    assert_eq!(reply.status, ResponseStatus::ManualRequired);
    assert_eq!(reply.deep_link.as_deref(), Some("https://business.google.com/reviews"));
    let reply: ResponseOut = shop
        .client()
        .post_data(
            &format!("/api/v1/reviews/{}/respond", reviews[0].id),
            &json!({ "responseText": "Thanks Cy" }),
            StatusCode::CREATED,
        )
        .await;
    assert_eq!(reply.status, ResponseStatus::ManualRequired);

    let (status, again) = import(&shop, IMPORT_FILE).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let task = finished_task(&shop, &text(&again["data"]["taskId"])).await;
    assert_eq!(task.status, TaskStatus::Succeeded);
    assert_eq!(task.summary["imported"], 0);
    assert_eq!(task.summary["duplicates"], 3);
    let listed: ReviewListOut = shop.client().get_data("/api/v1/reviews", StatusCode::OK).await;
    assert_eq!(listed.pagination.total, 3, "nothing is stored twice");

    expect_status::<Value>(
        shop.client()
            .request(Method::POST, "/api/v1/reviews/import")
            .header("content-type", "application/json")
            .body("{}"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    let agent = api_key(&shop, "agent").await;
    let (status, _) = send(
        shop.app
            .as_member(&agent, Method::POST, "/api/v1/reviews/import")
            .header("content-type", "text/csv")
            .body(IMPORT_FILE),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "agents do not import");
}

/// A reviewer whose email or phone number is already known (from WhatsApp, or an earlier row) is
/// that contact, however the number is written; a reviewer with neither is someone new.
async fn an_imported_reviewer_with_a_known_email_or_phone_is_the_same_contact(engine: Engine) {
    let Some(shop) = Shop::open(engine).await else { return };
    let source = Source {
        workspace_id: shop.workspace.clone(),
        platform: "whatsapp".into(),
        connection_id: None,
        location_id: None,
    };
    let message = InboundMessage {
        account_id: "106540352242922".to_owned(),
        external_id: "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=".to_owned(),
        thread_id: "16505551234".to_owned(),
        sender_id: "16505551234".to_owned(),
        sender_name: Some("Ana".to_owned()),
        sender_phone: Some("16505551234".to_owned()),
        text: "Do you take bookings for Sunday brunch?".to_owned(),
        sent_at_ms: now_millis(),
        is_echo: false,
        raw: json!({}),
    };
    let mut tx = shop.app.state.db.begin_for_tenant(&shop.workspace).await.expect("tx");
    ingest::message(&mut tx, &source, &message).await.expect("ingest");
    tx.commit().await.expect("commit");

    let file = "author,rating,text,date,email,phone\n\
                Ana Souza,5,Lovely brunch,2026-01-02,,+1 (650) 555-1234\n\
                Bo,4,Good coffee,2026-01-03,bo@example.com,\n\
                Bo Lind,2,Slow service,2026-01-04, BO@Example.com ,\n\
                Cy,3,Fine,2026-01-05,,\n";
    let (status, accepted) = import(&shop, file).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let task = finished_task(&shop, &text(&accepted["data"]["taskId"])).await;
    assert_eq!(task.summary["imported"], 4, "{}", task.summary);

    let listed: ConversationListOut = shop.client().get_data("/api/v1/conversations?limit=10", StatusCode::OK).await;
    let contact_of = |preview: &str| {
        let conversation = listed.conversations.iter().find(|c| c.preview == preview).expect(preview);
        conversation.contact.as_ref().expect("a contact").id.clone()
    };
    let ana = contact_of("Do you take bookings for Sunday brunch?");
    assert_eq!(contact_of("Lovely brunch"), ana, "the phone number WhatsApp knows");
    assert_eq!(contact_of("Good coffee"), contact_of("Slow service"), "one email, two names");
    let distinct: HashSet<_> = ["Lovely brunch", "Good coffee", "Fine"].into_iter().map(contact_of).collect();
    assert_eq!(distinct.len(), 3, "Ana, Bo and Cy");

    // What is known of each contact is shown with their conversations, and exported.
    let details = |preview: &str| {
        let conversation = listed.conversations.iter().find(|c| c.preview == preview).expect(preview);
        let contact = conversation.contact.as_ref().expect("a contact");
        (contact.email.clone(), contact.phone.clone())
    };
    assert_eq!(details("Lovely brunch"), (None, Some("16505551234".to_owned())));
    assert_eq!(details("Slow service"), (Some("bo@example.com".to_owned()), None));
    assert_eq!(details("Fine"), (None, None));
    let response = shop.client().request(Method::GET, "/api/v1/reviews/export.csv").send().await.expect("sent");
    let exported = response.text().await.expect("body");
    let rows: Vec<csv::StringRecord> =
        csv::Reader::from_reader(exported.as_bytes()).records().map(|r| r.expect("record")).collect();
    let exported_row = |text: &str| {
        let row = rows.iter().find(|r| &r[6] == text).expect(text);
        (row[12].to_owned(), row[13].to_owned())
    };
    assert_eq!(exported_row("Lovely brunch"), (String::new(), "16505551234".to_owned()));
    assert_eq!(exported_row("Good coffee"), ("bo@example.com".to_owned(), String::new()));
}

/// An import is a job with its file kept in the task: one that a restart interrupted (its first
/// rows stored and counted, the rest not) resumes after the last stored row, and its summary
/// counts the rows of both runs.
async fn an_interrupted_import_resumes_after_its_last_stored_row(engine: Engine) {
    let Some(shop) = Shop::open(engine).await else { return };
    let first_row = "Ana,5,Lovely brunch,2026-01-02\n";
    let (status, accepted) = import(&shop, &format!("author,rating,text,date\n{first_row}")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let task = finished_task(&shop, &text(&accepted["data"]["taskId"])).await;
    assert_eq!(task.summary["imported"], 1);

    // The state a crash after the first stored row leaves: the task running, its file kept.
    let file = format!("author,rating,text,date\n{first_row}Bo,4,Good coffee,2026-01-03\nCy,3,Fine,2026-01-04\n");
    let (app, workspace) = (&shop.app, &shop.workspace);
    let mut tx = app.state.db.begin_for_tenant(workspace).await.expect("tx");
    let task = tasks::create_task(&mut tx, workspace, TaskKind::Import, 3, None).await.expect("task");
    tasks::set_input(&mut tx, workspace, &task, &file).await.expect("input");
    tasks::advance(&mut tx, workspace, &task, 1, &json!({ "imported": 1 })).await.expect("advance");
    tx.commit().await.expect("commit");
    let job = ImportFile { workspace_id: workspace.clone(), task_id: task.clone() };
    app.state.queue.enqueue(NewJob::new(&job).expect("job")).await.expect("enqueued");

    let finished = finished_task(&shop, task.as_str()).await;
    assert_eq!(finished.status, TaskStatus::Succeeded, "{:?}", finished.error);
    assert_eq!(finished.done, 3);
    assert_eq!(finished.summary["imported"], 3, "{}", finished.summary);
    assert_eq!(finished.summary["duplicates"], 0, "the stored row was not read again: {}", finished.summary);
    assert!(tasks::input(&app.state.db, workspace, &task).await.expect("input").is_none(), "the file is let go");
    let listed: ReviewListOut = shop.client().get_data("/api/v1/reviews", StatusCode::OK).await;
    assert_eq!(listed.pagination.total, 3);
}

async fn a_csv_import_with_a_bad_row_stores_nothing(engine: Engine) {
    let Some(shop) = Shop::open(engine).await else { return };
    location(&shop.app, &shop.workspace, "Harbour Street").await;
    let file = "location,author,rating,text,date\n\
                Harbour Street,Ana,5,Fine,2026-01-02\n\
                ,Ben,7,Odd,2026-01-03\n\
                Nowhere,Cy,4,Hm,2026-01-04\n\
                ,Dee,3,Ok,last tuesday\n";
    let (status, refused) = import(&shop, file).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["error"]["code"], "validation_failed");
    let rows: Vec<(i64, String)> = refused["error"]["details"]["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| (r["row"].as_i64().expect("row"), text(&r["field"])))
        .collect();
    assert_eq!(rows, vec![(3, "rating".to_owned()), (4, "location".to_owned()), (5, "date".to_owned())]);
    assert!(refused["error"]["details"]["rows"][1]["message"].as_str().expect("message").contains("Nowhere"));

    let (status, missing) = import(&shop, "author,text\nAna,hi\n").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(missing["error"]["details"]["rows"][0]["row"], 1);

    let listed: ReviewListOut = shop.client().get_data("/api/v1/reviews", StatusCode::OK).await;
    assert_eq!(listed.pagination.total, 0, "nothing was stored");
    let tasks: i64 =
        tidings_store::with_reader!(shop.app.state.db, |pool| sqlx::query_scalar("SELECT COUNT(*) FROM tasks")
            .fetch_one(pool)
            .await)
        .expect("count");
    assert_eq!(tasks, 0, "and no task was started");
}

async fn the_csv_export_quotes_what_needs_quoting(engine: Engine) {
    let Some(shop) = Shop::open(engine).await else { return };
    let (app, workspace) = (&shop.app, &shop.workspace);
    let harbour = location(app, workspace, "Harbour Street").await;
    let tricky = "She said \"wow, really\", then left.\nSecond line; still one cell";
    let at = now_millis() - 60 * MINUTE;
    let first = ingest_review(
        app,
        workspace,
        Review {
            platform: "google",
            location: Some(&harbour),
            id: "g-1",
            author: "O'Brien, Pat",
            rating: 2,
            title: Some("Mixed, at best"),
            text: tricky,
            at,
            url: Some("https://maps.google.com/?cid=9"),
            ..Default::default()
        },
    )
    .await;
    ingest_review(
        app,
        workspace,
        Review {
            platform: "yelp",
            id: "y-1",
            author: "Eve",
            rating: 5,
            text: "=HYPERLINK(\"http://evil\")",
            at: at + MINUTE,
            ..Default::default()
        },
    )
    .await;
    send(
        shop.client()
            .request(Method::POST, &format!("/api/v1/reviews/{first}/respond"))
            .json(&json!({ "responseText": "Sorry, Pat" })),
    )
    .await;

    let response = shop.client().request(Method::GET, "/api/v1/reviews/export.csv").send().await.expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().expect("ascii").starts_with("text/csv"));
    assert!(response.headers()["content-disposition"].to_str().expect("ascii").starts_with("attachment"));
    let body = response.text().await.expect("body");
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let header: Vec<String> = reader.headers().expect("header").iter().map(str::to_owned).collect();
    assert_eq!(
        header,
        [
            "id",
            "platform",
            "location",
            "author",
            "rating",
            "title",
            "text",
            "status",
            "responded",
            "response",
            "posted_at",
            "url",
            "email",
            "phone"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("record")).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(&rows[0][6], "'=HYPERLINK(\"http://evil\")", "formulas are defused");
    let pat = &rows[1];
    assert_eq!(&pat[0], first);
    assert_eq!(&pat[1], "google");
    assert_eq!(&pat[2], "Harbour Street");
    assert_eq!(&pat[3], "O'Brien, Pat");
    assert_eq!(&pat[4], "2");
    assert_eq!(&pat[5], "Mixed, at best");
    assert_eq!(&pat[6], tricky, "comma, quotes and newline survive");
    assert_eq!(&pat[7], "open");
    assert_eq!(&pat[8], "false");
    assert_eq!(&pat[9], "Sorry, Pat");
    assert_eq!(&pat[10], rfc3339(at));
    assert_eq!(&pat[11], "https://maps.google.com/?cid=9");
    assert_eq!((&pat[12], &pat[13]), ("", ""), "no email or phone is known for Pat");

    let filtered =
        shop.client().request(Method::GET, "/api/v1/reviews/export.csv?ratingMin=5").send().await.expect("sent");
    let filtered = filtered.text().await.expect("body");
    assert_eq!(csv::Reader::from_reader(filtered.as_bytes()).records().count(), 1, "the filters apply");
    shop.client().get::<Value>("/api/v1/reviews/export.csv?ratingMin=9", StatusCode::UNPROCESSABLE_ENTITY).await;
    // Paging does not apply to an export, but a value the document forbids is refused as on the lists.
    let refused: Value =
        shop.client().get("/api/v1/reviews/export.csv?offset=-1", StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(refused["error"]["details"]["field"], "offset", "{refused}");
    let agent = api_key(&shop, "agent").await;
    let (status, _) = send(app.as_member(&agent, Method::GET, "/api/v1/reviews/export.csv")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "exports need the export permission");

    // The export imports back as it was, into a workspace with a location of the same name.
    let other = app.signup("other@example.com").await;
    location(app, &WorkspaceId::parse(&other.workspace_id).expect("id"), "harbour street").await;
    let accepted: ImportAcceptedOut = expect_data(
        app.as_member(&other.access, Method::POST, "/api/v1/reviews/import")
            .header("content-type", "text/csv")
            .body(body),
        StatusCode::ACCEPTED,
    )
    .await;
    let task_path = format!("/api/v1/tasks/{}", accepted.task_id);
    for _ in 0..400 {
        let task: TaskOut = app.client(&other.access).get_data(&task_path, StatusCode::OK).await;
        if task.status != TaskStatus::Running {
            assert_eq!(task.summary["imported"], 2, "{}", task.summary);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let copied: ReviewListOut = app.client(&other.access).get_data("/api/v1/reviews", StatusCode::OK).await;
    assert_eq!(copied.reviews[0].text, "=HYPERLINK(\"http://evil\")");
    assert_eq!(copied.reviews[1].text, tricky);
    assert_eq!(copied.reviews[1].author.as_deref(), Some("O'Brien, Pat"));
}

crate::on_both_engines!(
    a_csv_import_shows_progress_and_a_second_one_adds_nothing,
    a_csv_import_with_a_bad_row_stores_nothing,
    an_imported_reviewer_with_a_known_email_or_phone_is_the_same_contact,
    an_interrupted_import_resumes_after_its_last_stored_row,
    the_csv_export_quotes_what_needs_quoting,
);
