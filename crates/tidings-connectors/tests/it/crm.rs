//! CRM push against local mocks: HubSpot, Salesforce and Pipedrive create what a lead needs,
//! return the ids, and delete them again on erasure.

use secrecy::SecretString;
use serde_json::{Value, json};
use tidings_connectors::ConnectorError;
use tidings_connectors::crm::hubspot::{Hubspot, HubspotMapping, LeadStatus, LifecycleStage};
use tidings_connectors::crm::pipedrive::{PipedriveMapping, PipedrivePush};
use tidings_connectors::crm::salesforce::{Salesforce, SalesforceMapping};
use tidings_connectors::crm::{Crm, CrmContact, CrmDeal, CrmNote, CrmPush, Lead, RemoteRecord, Step, StepItem};
use tidings_connectors::money::Money;
use tidings_connectors::pipedrive::PipedriveClient;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::support::{fixture, ms};

fn dana() -> CrmContact {
    CrmContact {
        display_name: "Dana Whitfield".into(),
        email: Some("dana@northwind.example".into()),
        phone: Some("+14155552346".into()),
        platform: Some("instagram".into()),
        ..CrmContact::default()
    }
}

fn lead(contact: CrmContact) -> Lead {
    Lead {
        contact,
        deal: Some(CrmDeal {
            title: "Instagram lead: Dana Whitfield".into(),
            value: Some(Money { minor: 1_250_000, currency: "EUR".into() }),
        }),
        note: Some(CrmNote {
            subject: "Conversation on Instagram".into(),
            body: "Asked for a quote for 40 seats.".into(),
            at_ms: ms("2025-04-16T10:00:00Z"),
        }),
    }
}

fn ok(status: u16, platform: &str, name: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_string(fixture(platform, name))
}

fn json_body(request: &Request) -> Value {
    serde_json::from_slice(&request.body).expect("a JSON body")
}

fn record(crm: Crm, object: &str, id: &str) -> RemoteRecord {
    RemoteRecord { crm, object: object.into(), id: id.into() }
}

fn hubspot(server: &MockServer, mapping: HubspotMapping) -> Hubspot {
    Hubspot::new(reqwest::Client::new(), server.uri(), SecretString::from("pat-na1-token"), mapping)
}

#[tokio::test]
async fn hubspot_upserts_by_email_then_links_a_deal_and_a_note() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts/batch/upsert"))
        .and(header("authorization", "Bearer pat-na1-token"))
        .respond_with(ok(200, "hubspot", "batch_upsert.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/deals/batch/create"))
        .respond_with(batch_of("deal_created.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/notes/batch/create"))
        .respond_with(ok(201, "hubspot", "notes_batch_created.json"))
        .expect(1)
        .mount(&server)
        .await;
    let mapping =
        HubspotMapping { lifecycle_stage: Some(LifecycleStage::SalesQualifiedLead), ..HubspotMapping::default() };

    let records = hubspot(&server, mapping).push_lead(&lead(dana())).await.expect("pushed");

    assert_eq!(
        records,
        vec![
            record(Crm::Hubspot, "contacts", "512"),
            record(Crm::Hubspot, "deals", "9001"),
            record(Crm::Hubspot, "notes", "77001")
        ]
    );
    let requests = server.received_requests().await.unwrap_or_default();
    assert_eq!(
        json_body(&requests[0]),
        json!({ "inputs": [{ "idProperty": "email", "id": "dana@northwind.example", "properties": {
            "email": "dana@northwind.example",
            "firstname": "Dana",
            "lastname": "Whitfield",
            "phone": "+14155552346",
            // "Sales Qualified Lead" is a lifecycle stage; the lead status has its own values.
            "lifecyclestage": "salesqualifiedlead",
            "hs_lead_status": "NEW"
        } }] })
    );
    assert_eq!(
        json_body(&requests[1]),
        json!({ "inputs": [{
            "properties": { "dealname": "Instagram lead: Dana Whitfield", "pipeline": "default",
                "dealstage": "appointmentscheduled", "amount": "12500.00", "deal_currency_code": "EUR" },
            "associations": [{ "to": { "id": "512" },
                "types": [{ "associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3 }] }],
            "objectWriteTraceId": "lead"
        }] })
    );
    let note = json_body(&requests[2]);
    assert_eq!(note["inputs"][0]["properties"]["hs_timestamp"], "2025-04-16T10:00:00.000Z");
    assert_eq!(note["inputs"][0]["associations"][0]["types"][0]["associationTypeId"], 202);
}

#[tokio::test]
async fn hubspot_batches_match_results_by_email_not_by_position() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts/batch/upsert"))
        .respond_with(ok(200, "hubspot", "batch_upsert.json"))
        .mount(&server)
        .await;
    let ana = CrmContact {
        display_name: "Ana".into(),
        email: Some("ANA@acme-sales.example".into()),
        ..CrmContact::default()
    };

    // Given in the opposite order to the answer's results.
    let records = hubspot(&server, HubspotMapping::default()).upsert_contacts(&[ana, dana()]).await.expect("upserted");

    assert_eq!(records.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["498", "512"]);
    let body = json_body(&server.received_requests().await.unwrap_or_default()[0]);
    assert_eq!(body["inputs"].as_array().map(Vec::len), Some(2), "one call for the batch");
}

/// A batch answer holding one documented object.
fn batch_of(name: &str) -> ResponseTemplate {
    let object: Value = serde_json::from_str(&fixture("hubspot", name)).expect("a fixture");
    ResponseTemplate::new(201).set_body_json(json!({ "status": "COMPLETE", "results": [object],
        "startedAt": "2025-04-16T10:05:12.001Z", "completedAt": "2025-04-16T10:05:12.090Z" }))
}

#[tokio::test]
async fn hubspot_creates_deals_of_many_leads_in_one_batch_matched_by_trace_id() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/deals/batch/create"))
        .respond_with(ok(201, "hubspot", "deals_batch_created.json"))
        .expect(1)
        .mount(&server)
        .await;
    let ana = Lead {
        deal: Some(CrmDeal { title: "Messenger lead: Ana Ruiz".into(), value: None }),
        ..lead(CrmContact { display_name: "Ana Ruiz".into(), ..CrmContact::default() })
    };
    let without_deal = Lead { deal: None, ..lead(dana()) };
    let dana = lead(dana());
    let (c1, c2, c3) = (
        record(Crm::Hubspot, "contacts", "512"),
        record(Crm::Hubspot, "contacts", "498"),
        record(Crm::Hubspot, "contacts", "7"),
    );
    let items = [
        StepItem { key: "lead-dana", lead: &dana, contact: Some(&c1), deal: None },
        StepItem { key: "lead-none", lead: &without_deal, contact: Some(&c3), deal: None },
        StepItem { key: "lead-ana", lead: &ana, contact: Some(&c2), deal: None },
    ];

    // The answer lists Ana first: results are matched by `objectWriteTraceId`, not position.
    let deals = hubspot(&server, HubspotMapping::default()).push(Step::Deal, &items).await.expect("created");

    assert_eq!(
        deals,
        vec![Some(record(Crm::Hubspot, "deals", "9001")), None, Some(record(Crm::Hubspot, "deals", "9002"))]
    );
    let body = json_body(&server.received_requests().await.unwrap_or_default()[0]);
    let traces: Vec<&str> =
        body["inputs"].as_array().expect("inputs").iter().filter_map(|i| i["objectWriteTraceId"].as_str()).collect();
    assert_eq!(traces, ["lead-dana", "lead-ana"], "one call, no input for the lead without a deal");
}

#[tokio::test]
async fn hubspot_and_salesforce_tokens_are_checked_with_a_documented_call() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/account-info/v3/details"))
        .and(header("authorization", "Bearer pat-na1-token"))
        .respond_with(ok(200, "hubspot", "account_details.json"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/account-info/v3/details"))
        .respond_with(ok(401, "hubspot", "unauthorized.json"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/services/data/v60.0/sobjects/Lead/"))
        .and(header("authorization", "Bearer 00D!session"))
        .respond_with(ok(200, "salesforce", "lead_info.json"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/services/data/v60.0/sobjects/Lead/"))
        .respond_with(ok(401, "salesforce", "invalid_session.json"))
        .mount(&server)
        .await;

    let account = hubspot(&server, HubspotMapping::default()).account().await.expect("a valid token");
    assert_eq!((account.portal_id, account.ui_domain.as_deref()), (62515, Some("app.hubspot.com")));
    let refused =
        Hubspot::new(reqwest::Client::new(), server.uri(), SecretString::from("pat-wrong"), HubspotMapping::default());
    assert!(matches!(refused.account().await, Err(ConnectorError::Unauthorized { .. })));
    salesforce(&server).check().await.expect("a valid session");
    let expired = Salesforce::new(
        reqwest::Client::new(),
        server.uri(),
        SecretString::from("expired"),
        SalesforceMapping::default(),
    );
    let error = expired.check().await.expect_err("refused");
    assert!(
        matches!(&error, ConnectorError::Unauthorized { message, .. } if message.contains("INVALID_SESSION_ID")),
        "{error:?}"
    );
}

#[tokio::test]
async fn hubspot_creates_a_contact_without_email_and_maps_lead_status() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts"))
        .respond_with(ok(201, "hubspot", "contact_created.json"))
        .expect(1)
        .mount(&server)
        .await;
    let handle = CrmContact { display_name: "djcoolcat".into(), ..CrmContact::default() };
    let mapping = HubspotMapping { lead_status: Some(LeadStatus::AttemptedToContact), ..HubspotMapping::default() };

    let records =
        hubspot(&server, mapping).push_lead(&Lead { contact: handle, deal: None, note: None }).await.expect("created");

    assert_eq!(records, vec![record(Crm::Hubspot, "contacts", "513")]);
    let body = json_body(&server.received_requests().await.unwrap_or_default()[0]);
    assert_eq!(
        body,
        json!({ "properties": { "lastname": "djcoolcat", "lifecyclestage": "lead", "hs_lead_status": "ATTEMPTED_TO_CONTACT" } })
    );
}

#[tokio::test]
async fn hubspot_erasure_gdpr_deletes_the_contact_and_deletes_the_rest() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts/gdpr-delete"))
        .and(body_json(json!({ "objectId": "512" })))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/crm/v3/objects/deals/9001"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/crm/v3/objects/notes/77001"))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&server)
        .await;
    let hubspot = hubspot(&server, HubspotMapping::default());

    for r in [
        record(Crm::Hubspot, "contacts", "512"),
        record(Crm::Hubspot, "deals", "9001"),
        record(Crm::Hubspot, "notes", "77001"),
    ] {
        hubspot.delete(&r).await.expect("deleted (or already gone)");
    }
}

#[test]
fn mappings_are_data_with_defaults() {
    let mapping: HubspotMapping =
        serde_json::from_str(r#"{"lifecycleStage":"marketingqualifiedlead","leadStatus":null}"#).expect("json");
    assert_eq!(mapping.lifecycle_stage, Some(LifecycleStage::MarketingQualifiedLead));
    assert_eq!(mapping.lead_status, None);
    assert_eq!(mapping.deal_pipeline, "default", "unspecified fields keep their defaults");
    assert!(mapping.contact.contains_key("email"));
    let salesforce: SalesforceMapping = serde_json::from_str(r#"{"missingCompany":"Individual"}"#).expect("json");
    assert_eq!((salesforce.missing_company.as_str(), salesforce.missing_last_name.as_str()), ("Individual", "Unknown"));
}

fn salesforce(server: &MockServer) -> Salesforce {
    Salesforce::new(
        reqwest::Client::new(),
        server.uri(),
        SecretString::from("00D!session"),
        SalesforceMapping::default(),
    )
}

#[tokio::test]
async fn salesforce_lead_gets_fallbacks_for_last_name_and_company_and_a_task() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/services/data/v60.0/sobjects/Lead/"))
        .and(header("authorization", "Bearer 00D!session"))
        .respond_with(ok(201, "salesforce", "lead_created.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/services/data/v60.0/sobjects/Task/"))
        .respond_with(ok(201, "salesforce", "task_created.json"))
        .expect(1)
        .mount(&server)
        .await;
    let handle =
        CrmContact { display_name: "djcoolcat".into(), platform: Some("instagram".into()), ..CrmContact::default() };

    let records = salesforce(&server).push_lead(&lead(handle)).await.expect("pushed");

    assert_eq!(
        records,
        vec![
            record(Crm::Salesforce, "Lead", "00Q5e00000AbCdEEAV"),
            record(Crm::Salesforce, "Task", "00T5e00000XyZwQEAV")
        ]
    );
    let requests = server.received_requests().await.unwrap_or_default();
    assert_eq!(
        json_body(&requests[0]),
        json!({
            "LastName": "djcoolcat",
            "Company": "[not provided]",
            "LeadSource": "Tidings",
            "Description": "Instagram lead: Dana Whitfield (12,500.00 EUR)"
        })
    );
    assert_eq!(
        json_body(&requests[1]),
        json!({ "WhoId": "00Q5e00000AbCdEEAV", "Subject": "Conversation on Instagram",
            "Description": "Asked for a quote for 40 seats.", "Status": "Completed", "ActivityDate": "2025-04-16" })
    );
}

#[test]
fn salesforce_fallbacks_for_a_contact_with_no_name_at_all() {
    let server_less = Salesforce::new(
        reqwest::Client::new(),
        "https://example.my.salesforce.com",
        SecretString::from("t"),
        SalesforceMapping::default(),
    );
    let fields = server_less.lead_fields(&CrmContact::default(), None);
    assert_eq!(fields.get("LastName").map(String::as_str), Some("Unknown"));
    assert_eq!(fields.get("Company").map(String::as_str), Some("[not provided]"));
    let long = CrmContact { display_name: "x".repeat(200), ..CrmContact::default() };
    assert_eq!(server_less.lead_fields(&long, None).get("LastName").map(|n| n.chars().count()), Some(80));
}

#[tokio::test]
async fn salesforce_errors_name_the_error_code_and_request_limits_are_rate_limits() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ok(400, "salesforce", "required_field_missing.json"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ok(403, "salesforce", "request_limit_exceeded.json"))
        .with_priority(2)
        .mount(&server)
        .await;
    let push = salesforce(&server);
    let only_contact = Lead { contact: dana(), deal: None, note: None };

    let missing = push.push_lead(&only_contact).await.expect_err("400");
    assert!(
        matches!(&missing, ConnectorError::Rejected { status: 400, message, .. }
            if message == "REQUIRED_FIELD_MISSING: Required fields are missing: [LastName, Company]"),
        "{missing:?}"
    );
    let limited = push.push_lead(&only_contact).await.expect_err("403 limit");
    assert!(matches!(limited, ConnectorError::RateLimited { platform: "salesforce", .. }), "{limited:?}");
}

#[tokio::test]
async fn salesforce_erasure_deletes_the_records() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path("/services/data/v60.0/sobjects/Lead/00Q5e00000AbCdEEAV"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;

    salesforce(&server).delete(&record(Crm::Salesforce, "Lead", "00Q5e00000AbCdEEAV")).await.expect("deleted");
}

fn pipedrive(server: &MockServer) -> PipedrivePush {
    let client = PipedriveClient::new(reqwest::Client::new(), server.uri(), SecretString::from("token"));
    let mapping: PipedriveMapping =
        serde_json::from_value(json!({ "person": { "9dc80c50d78a15643bfc4ca79d76156a73a1ca0e": "platform" } }))
            .expect("a mapping");
    PipedrivePush::new(client, mapping)
}

#[tokio::test]
async fn pipedrive_creates_a_person_a_deal_and_a_note_on_both() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/persons"))
        .and(header("x-api-token", "token"))
        .respond_with(ok(201, "pipedrive", "person_created.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/deals"))
        .respond_with(ok(201, "pipedrive", "deal_created.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/notes"))
        .respond_with(ok(201, "pipedrive", "note_created.json"))
        .expect(1)
        .mount(&server)
        .await;

    let records = pipedrive(&server).push_lead(&lead(dana())).await.expect("pushed");

    assert_eq!(
        records,
        vec![
            record(Crm::Pipedrive, "persons", "802"),
            record(Crm::Pipedrive, "deals", "1139"),
            record(Crm::Pipedrive, "notes", "5501")
        ]
    );
    let requests = server.received_requests().await.unwrap_or_default();
    assert_eq!(
        json_body(&requests[0]),
        json!({
            "name": "Dana Whitfield",
            "email": [{ "value": "dana@northwind.example", "primary": true, "label": "work" }],
            "phone": [{ "value": "+14155552346", "primary": true, "label": "work" }],
            "9dc80c50d78a15643bfc4ca79d76156a73a1ca0e": "instagram"
        })
    );
    assert_eq!(
        json_body(&requests[1]),
        json!({ "title": "Instagram lead: Dana Whitfield", "person_id": 802, "value": "12500.00", "currency": "EUR" })
    );
    assert_eq!(
        json_body(&requests[2]),
        json!({ "content": "<b>Conversation on Instagram</b><br>Asked for a quote for 40 seats.", "person_id": 802, "deal_id": 1139 })
    );
}

#[tokio::test]
async fn pipedrive_erasure_deletes_each_record() {
    let server = MockServer::start().await;
    for p in ["/v1/persons/802", "/v1/deals/1139", "/v1/notes/5501"] {
        Mock::given(method("DELETE"))
            .and(path(p))
            .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"success":true,"data":{"id":1}}"#))
            .expect(1)
            .mount(&server)
            .await;
    }
    let push = pipedrive(&server);

    for r in [
        record(Crm::Pipedrive, "persons", "802"),
        record(Crm::Pipedrive, "deals", "1139"),
        record(Crm::Pipedrive, "notes", "5501"),
    ] {
        push.delete(&r).await.expect("deleted");
    }
}
