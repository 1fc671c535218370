//! The IDOR sweep. Every operation of the served OpenAPI document whose path
//! takes an id is called by Bob, who shares nothing with Alice, with the ids
//! of Alice's things; each must answer exactly as it does for an id that
//! names nothing, and Alice's things must be as they were afterwards.
//!
//! The list of operations is read from `/openapi.json`, not written here, so
//! a new endpoint is swept the day it is documented; one whose path
//! parameter the sweep cannot fill fails the test until it is taught here.
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, eventually, on_postgres, spawn_app_with};
use crate::webhooks::Receiver;

/// Operations with a path parameter that is not an id of anybody's, each
/// with why it is not swept. Each must still be in the document (a stale
/// entry fails the test), so this list cannot hide a new endpoint.
const EXCLUDED: &[(&str, &str, &str)] = &[(
    "GET",
    "/api/v1/calendar/feed/{file}",
    // The path is the credential: a feed's secret URL, read by calendar
    // programs without signing in. There is no caller to be another person;
    // a wrong secret is a 404 (tests/api/moving_in.rs).
    "a capability URL: the secret in the path is the authorization",
)];

/// CalDAV methods OpenAPI cannot describe (PROPFIND, PROPPATCH, REPORT) on
/// the paths that carry ids, swept like documented operations. A REPORT's
/// body names a resource by its href, an id outside the path.
const DAV_EXTRA: &[(&str, &str, DavBody)] = &[
    ("PROPFIND", "/dav/principals/{user}/", DavBody::Propfind),
    ("PROPFIND", "/dav/calendars/{user}/", DavBody::Propfind),
    ("PROPFIND", "/dav/calendars/{user}/{project}/", DavBody::Propfind),
    ("PROPPATCH", "/dav/calendars/{user}/{project}/", DavBody::Proppatch),
    ("REPORT", "/dav/calendars/{user}/{project}/", DavBody::Multiget),
    ("REPORT", "/dav/calendars/{user}/{project}/", DavBody::SyncCollection),
    ("PROPFIND", "/dav/calendars/{user}/{project}/{name}", DavBody::Propfind),
];

#[derive(Clone, Copy, Debug)]
enum DavBody {
    Propfind,
    Proppatch,
    Multiget,
    SyncCollection,
}

const PROPFIND: &str = r#"<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:displayname/><d:getetag/><c:calendar-data/></d:prop></d:propfind>"#;
const PROPPATCH: &str = r#"<d:propertyupdate xmlns:d="DAV:"><d:set><d:prop><d:displayname>Bob's now</d:displayname></d:prop></d:set></d:propertyupdate>"#;
const MULTIGET: &str = r#"<c:calendar-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/><c:calendar-data/></d:prop><d:href>/dav/calendars/{user}/{project}/{name}</d:href></c:calendar-multiget>"#;
const SYNC: &str = r#"<d:sync-collection xmlns:d="DAV:"><d:sync-token/><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>"#;
const VTODO: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//ontask tests//EN\r\nBEGIN:VTODO\r\nSUMMARY:Bob was here\r\nEND:VTODO\r\nEND:VCALENDAR\r\n";

/// What a path parameter names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Kind {
    Task,
    Comment,
    Project,
    Section,
    /// A member of a project, by user id.
    Member,
    Token,
    Webhook,
    Delivery,
    Notification,
    Conversation,
    ImportJob,
    PushSubscription,
    /// The person whose CalDAV principal or calendar home a path is.
    DavUser,
    /// A task's resource name in a calendar (`{task id}.ics`).
    DavResource,
}

/// The kind of a parameter, from the collection (or parameter) before it.
fn kind_of(path: &str, param: &str) -> Option<Kind> {
    let segments: Vec<&str> = path.split('/').collect();
    let at = segments.iter().position(|s| *s == format!("{{{param}}}"))?;
    let before = segments.get(at.checked_sub(1)?)?;
    Some(match (*before, param) {
        ("tasks", "id") => Kind::Task,
        ("comments", "id") => Kind::Comment,
        ("projects", "id") => Kind::Project,
        ("sections", "id") => Kind::Section,
        ("members", "user_id") => Kind::Member,
        ("tokens", "id") => Kind::Token,
        ("webhooks", "id") => Kind::Webhook,
        ("deliveries", "delivery_id") => Kind::Delivery,
        ("notifications", "id") => Kind::Notification,
        ("conversations", "id") => Kind::Conversation,
        ("jobs", "id") if path.starts_with("/api/v1/import/") => Kind::ImportJob,
        ("subscriptions", "id") if path.starts_with("/api/v1/push/") => Kind::PushSubscription,
        ("calendars" | "principals", "user") => Kind::DavUser,
        ("{user}", "project") => Kind::Project,
        ("{project}", "name") => Kind::DavResource,
        _ => return None,
    })
}

/// A value that names nothing, of the same shape as a real one.
pub(super) fn missing(kind: Kind) -> String {
    let id = uuid::Uuid::now_v7().to_string();
    match kind {
        Kind::DavResource => format!("{id}.ics"),
        _ => id,
    }
}

/// The `{...}` parameters of a template, in order.
fn params(template: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else { break };
        let name = rest[open + 1..open + close].to_owned();
        if !out.contains(&name) {
            out.push(name);
        }
        rest = &rest[open + close + 1..];
    }
    out
}

fn fill(template: &str, values: &HashMap<String, String>) -> String {
    values.iter().fold(template.to_owned(), |t, (name, value)| t.replace(&format!("{{{name}}}"), value))
}

/// One operation to sweep.
struct Op {
    method: Method,
    path: String,
    /// The body (content type, template) Bob sends; parameters are filled in.
    body: Option<(&'static str, String)>,
    query: &'static str,
    /// The parameters of the path and then the body, with what each names.
    params: Vec<(String, Kind)>,
}

/// A valid body for each documented operation that takes one, so that the
/// answer is the ownership check's and not the validation's. An operation
/// with a request body missing here fails the test.
fn body_for(method: &str, path: &str, bob: &TestUser) -> Option<(&'static str, String)> {
    let json = |v: Value| Some(("application/json", v.to_string()));
    match (method, path) {
        ("PATCH", "/api/v1/tasks/{id}") => json(json!({ "title": "Bob was here" })),
        ("POST", "/api/v1/tasks/{id}/comments") | ("PATCH", "/api/v1/comments/{id}") => {
            json(json!({ "body": "Bob was here" }))
        }
        ("PATCH", "/api/v1/projects/{id}") => json(json!({ "name": "Bob's now" })),
        ("POST", "/api/v1/projects/{id}/transfer") => json(json!({ "user_id": bob.id })),
        ("POST", "/api/v1/projects/{id}/sections") | ("PATCH", "/api/v1/sections/{id}") => {
            json(json!({ "name": "Bob's" }))
        }
        ("POST", "/api/v1/projects/{id}/members") => json(json!({ "email": bob.email, "role": "editor" })),
        ("PATCH", "/api/v1/projects/{id}/members/{user_id}") => json(json!({ "role": "viewer" })),
        ("PUT", "/dav/calendars/{user}/{project}/{name}") => Some(("text/calendar", VTODO.to_owned())),
        _ => None,
    }
}

/// Query strings an operation needs to reach its ownership check.
fn query_for(method: &str, path: &str) -> &'static str {
    match (method, path) {
        ("DELETE", "/api/v1/projects/{id}") => "?tasks=delete",
        _ => "",
    }
}

/// How Bob signs in.
#[derive(Clone, Copy, Debug)]
enum Credential {
    /// The session JWT from signing in.
    Session,
    /// An API token with every scope (HTTP Basic with it for CalDAV, as
    /// calendar programs send it).
    Token,
}

/// An answer, as compared between an id of Alice's and one naming nothing.
#[derive(Debug, PartialEq)]
struct Answer {
    status: StatusCode,
    content_type: String,
    body: Value,
}

async fn send(app: &TestApp, op: &Op, values: &HashMap<String, String>, bob: &Bob, how: Credential) -> Answer {
    let url = app.url(&format!("{}{}", fill(&op.path, values), op.query));
    let mut rb = app.client.request(op.method.clone(), url);
    rb = match (how, op.path.starts_with("/dav/")) {
        (Credential::Session, _) => rb.bearer_auth(&bob.user.token),
        (Credential::Token, false) => rb.bearer_auth(&bob.token),
        (Credential::Token, true) => rb.basic_auth(&bob.user.email, Some(&bob.token)),
    };
    if let Some((content_type, body)) = &op.body {
        rb = rb.header(CONTENT_TYPE, *content_type).body(fill(body, values));
    }
    if op.path.starts_with("/dav/") {
        rb = rb.header("depth", "1");
    }
    let response = rb.send().await.expect("request");
    let status = response.status();
    let content_type = response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let text = response.text().await.expect("body");
    // The ids sent may be echoed back (a DAV href); what must not differ is
    // everything else, so they are written as the missing ones would be.
    let body = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(mut problem)) => {
            // Per-request fields, were a problem ever to carry them.
            problem.remove("instance");
            problem.remove("request_id");
            Value::Object(problem)
        }
        Ok(other) => other,
        Err(_) => Value::String(text),
    };
    Answer { status, content_type, body }
}

/// Bob, with his own things (to mix with Alice's in paths with two ids).
pub(super) struct Bob {
    pub(super) user: TestUser,
    token: String,
    pub(super) own: HashMap<Kind, String>,
}

/// Alice's things, and the ids the sweep fills paths with.
pub(super) struct Alice {
    pub(super) user: TestUser,
    pub(super) own: HashMap<Kind, String>,
    task: String,
    subtask: String,
    project: String,
    webhook: String,
    delivery: String,
    conversation: String,
    import_job: String,
}

fn created(what: &str, status: StatusCode, body: &Value) {
    assert!(status.is_success(), "creating {what} failed ({status}): {body}");
}

async fn post_json(app: &TestApp, user: &TestUser, path: &str, body: Value) -> Value {
    let response = app.post(path, user).json(&body).send().await.expect("request");
    let status = response.status();
    let json: Value = response.json().await.expect("json");
    created(path, status, &json);
    json
}

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap_or_else(|| panic!("an id in {value}")).to_owned()
}

/// An iCalendar file for the import (one VTODO).
const IMPORT: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//ontask tests//EN\r\nBEGIN:VTODO\r\nUID:sweep-import-1\r\nSUMMARY:Imported seedlings\r\nEND:VTODO\r\nEND:VCALENDAR\r\n";

/// P-256's base point, uncompressed: a valid public key no one holds the
/// private key of (no push is sent to it; the device only has to exist).
const P256_G: &str = "BGsX0fLhLEJH-Lzm5WOkQPJ3A32BLeszoPShOUXYmMKWT-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU";

pub(super) async fn alice_things(app: &TestApp, receiver: &Receiver, carol: &TestUser) -> Alice {
    let user = app.new_user().await;
    let project = id(&app.create_project(&user, "Alice's garden").await);
    let section =
        id(&post_json(app, &user, &format!("/api/v1/projects/{project}/sections"), json!({ "name": "Beds" })).await);
    app.share(&user, &project, carol, "editor").await;
    // The reminder fires in a few seconds and notifies Alice.
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(3)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let task = id(&app
        .create_task(
            &user,
            json!({ "title": "Alice's secret", "project_id": project, "section_id": section, "tags": ["private"],
                    "due": "2030-01-01", "reminders": [soon] }),
        )
        .await);
    let subtask = id(&app.create_task(&user, json!({ "title": "Alice's sub-secret", "parent_id": task })).await);
    let comment =
        id(&post_json(app, &user, &format!("/api/v1/tasks/{task}/comments"), json!({ "body": "Sow on Friday" })).await);
    let token = id(&post_json(
        app,
        &user,
        "/api/v1/tokens",
        json!({ "name": "Alice's script", "scopes": ["tasks:read", "tasks:write"] }),
    )
    .await);

    let (content_type, body) = crate::moving_in::form("alice.ics", IMPORT.as_bytes(), &[("project", "Imported")]);
    let response =
        app.post("/api/v1/import", &user).header(CONTENT_TYPE, content_type).body(body).send().await.expect("request");
    let status = response.status();
    let job: Value = response.json().await.expect("json");
    created("an import job", status, &job);
    let import_job = id(&job);
    eventually(Duration::from_secs(60), "the import job to end", || async {
        let job: Value =
            app.get(&format!("/api/v1/import/jobs/{import_job}"), &user).send().await.ok()?.json().await.ok()?;
        (job["status"] != "running").then_some(())
    })
    .await;

    // Without a model configured the agent answers commands; the
    // conversation is stored all the same.
    let reply = post_json(app, &user, "/api/v1/chat", json!({ "message": "help" })).await;
    let conversation =
        reply["conversation_id"].as_str().unwrap_or_else(|| panic!("a conversation: {reply}")).to_owned();

    let notification = eventually(Duration::from_secs(30), "Alice's reminder notification", || async {
        let list: Value = app.get("/api/v1/notifications", &user).send().await.ok()?.json().await.ok()?;
        list["items"].as_array()?.first().map(id)
    })
    .await;
    // After the reminder, so nothing is ever pushed to this made-up device.
    let device = post_json(
        app,
        &user,
        "/api/v1/push/subscriptions",
        json!({ "endpoint": "http://127.0.0.1:9/push/alice", "keys": { "p256dh": P256_G, "auth": "AAAAAAAAAAAAAAAAAAAAAA" },
                "label": "Alice's phone" }),
    )
    .await;
    let device = id(&device);

    // Last, and only for task.created, so its deliveries are done with
    // before the snapshot: one for the task created next.
    let webhook = id(&post_json(
        app,
        &user,
        "/api/v1/webhooks",
        json!({ "url": receiver.url, "events": ["task.created"], "description": "Alice's hook" }),
    )
    .await);
    app.create_task(&user, json!({ "title": "Hooked" })).await;
    let delivery = eventually(Duration::from_secs(30), "Alice's webhook delivery", || async {
        let page: Value =
            app.get(&format!("/api/v1/webhooks/{webhook}/deliveries"), &user).send().await.ok()?.json().await.ok()?;
        let first = page["items"].as_array()?.first()?;
        (first["status"] == "delivered").then(|| id(first))
    })
    .await;

    let own = HashMap::from([
        (Kind::Task, task.clone()),
        (Kind::Comment, comment),
        (Kind::Project, project.clone()),
        (Kind::Section, section),
        (Kind::Member, carol.id.clone()),
        (Kind::Token, token),
        (Kind::Webhook, webhook.clone()),
        (Kind::Delivery, delivery.clone()),
        (Kind::Notification, notification),
        (Kind::Conversation, conversation.clone()),
        (Kind::ImportJob, import_job.clone()),
        (Kind::PushSubscription, device),
        (Kind::DavUser, user.id.clone()),
        (Kind::DavResource, format!("{task}.ics")),
    ]);
    Alice { user, own, task, subtask, project, webhook, delivery, conversation, import_job }
}

pub(super) async fn bob_things(app: &TestApp, receiver: &Receiver) -> Bob {
    let user = app.new_user().await;
    let token = post_json(
        app,
        &user,
        "/api/v1/tokens",
        json!({ "name": "Bob's script", "scopes": ["tasks:read", "tasks:write"] }),
    )
    .await["token"]
        .as_str()
        .expect("the token's secret")
        .to_owned();
    let project = id(&app.create_project(&user, "Bob's shed").await);
    let task = id(&app.create_task(&user, json!({ "title": "Bob's own", "project_id": project })).await);
    let webhook =
        id(&post_json(app, &user, "/api/v1/webhooks", json!({ "url": receiver.url, "events": ["task.created"] }))
            .await);
    let own = HashMap::from([
        (Kind::Task, task.clone()),
        (Kind::Project, project),
        (Kind::Member, user.id.clone()),
        (Kind::Webhook, webhook),
        (Kind::DavUser, user.id.clone()),
        (Kind::DavResource, format!("{task}.ics")),
    ]);
    Bob { user, token, own }
}

/// Everything of Alice's the sweep could have changed, as she sees it.
pub(super) async fn snapshot(app: &TestApp, alice: &Alice) -> BTreeMap<String, Value> {
    let (task, subtask, project) = (&alice.task, &alice.subtask, &alice.project);
    let paths = [
        format!("/api/v1/tasks/{task}"),
        format!("/api/v1/tasks/{task}/history"),
        format!("/api/v1/tasks/{task}/subtasks"),
        format!("/api/v1/tasks/{task}/comments"),
        format!("/api/v1/tasks/{subtask}"),
        format!("/api/v1/tasks/{subtask}/history"),
        "/api/v1/tasks?limit=200".to_owned(),
        format!("/api/v1/projects/{project}"),
        format!("/api/v1/projects/{project}/sections"),
        format!("/api/v1/projects/{project}/members"),
        format!("/api/v1/projects/{project}/activity"),
        "/api/v1/projects".to_owned(),
        "/api/v1/tokens".to_owned(),
        format!("/api/v1/webhooks/{}", alice.webhook),
        format!("/api/v1/webhooks/{}/deliveries", alice.webhook),
        format!("/api/v1/webhooks/{}/deliveries/{}", alice.webhook, alice.delivery),
        "/api/v1/notifications".to_owned(),
        format!("/api/v1/conversations/{}", alice.conversation),
        format!("/api/v1/import/jobs/{}", alice.import_job),
        "/api/v1/push/subscriptions".to_owned(),
        "/api/v1/me".to_owned(),
    ];
    let mut out = BTreeMap::new();
    for path in paths {
        let response = app.get(&path, &alice.user).send().await.expect("request");
        assert_eq!(response.status(), StatusCode::OK, "Alice reads {path}");
        out.insert(path, response.json().await.expect("json"));
    }
    out
}

/// The app (delivering webhooks to loopback, accepting a made-up push
/// device), Alice with one of everything, and Bob with a few things of his own.
pub(super) async fn people() -> (TestApp, Receiver, Alice, Bob) {
    let receiver = Receiver::start(&[]).await;
    let app = spawn_app_with(|c| {
        c.webhooks.allow_private_targets = true;
        c.push.allow_private_endpoints = true;
        if on_postgres() {
            c.push.vapid_private_key = Some(crate::push::VAPID_KEY.to_owned().into());
        }
    })
    .await;
    // The first account is the admin; Alice and Bob are ordinary people.
    let _admin = app.new_user().await;
    let carol = app.new_user().await;
    let alice = alice_things(&app, &receiver, &carol).await;
    let bob = bob_things(&app, &receiver).await;
    (app, receiver, alice, bob)
}

/// The operations to sweep: the document's, less [`EXCLUDED`], and [`DAV_EXTRA`].
fn operations(doc: &Value, bob: &TestUser) -> Vec<Op> {
    let mut ops = Vec::new();
    let mut problems = Vec::new();
    let mut excluded_seen = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("the document has paths") {
        let names = params(path);
        if names.is_empty() {
            continue;
        }
        for (method, operation) in item.as_object().expect("a path item") {
            let method = method.to_ascii_uppercase();
            if !["GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE"].contains(&method.as_str()) {
                continue;
            }
            if EXCLUDED.iter().any(|(m, p, _)| *m == method && p == path) {
                excluded_seen.push((method, path.clone()));
                continue;
            }
            for name in &names {
                if kind_of(path, name).is_none() {
                    problems.push(format!(
                        "{method} {path}: the sweep does not know what {{{name}}} names (teach kind_of)"
                    ));
                }
            }
            let body = body_for(&method, path, bob);
            if operation.get("requestBody").is_some() && body.is_none() {
                problems.push(format!("{method} {path}: takes a body the sweep has none for (add it to body_for)"));
            }
            let params = names.iter().filter_map(|n| Some((n.clone(), kind_of(path, n)?))).collect();
            let query = query_for(&method, path);
            ops.push(Op { method: method.parse().expect("a method"), path: path.clone(), body, query, params });
        }
    }
    for (method, path, _) in EXCLUDED {
        if !excluded_seen.iter().any(|(m, p)| m == method && p == path) {
            problems.push(format!("{method} {path} is excluded but no longer in the document"));
        }
    }
    assert!(problems.is_empty(), "the IDOR sweep cannot cover the document:\n{}", problems.join("\n"));
    for (method, path, body) in DAV_EXTRA {
        let body = match body {
            DavBody::Propfind => PROPFIND,
            DavBody::Proppatch => PROPPATCH,
            DavBody::Multiget => MULTIGET,
            DavBody::SyncCollection => SYNC,
        };
        // The body's href is an object's path.
        let href = "/dav/calendars/{user}/{project}/{name}";
        let params = params(path)
            .into_iter()
            .chain(params(body).into_iter().filter(|n| !path.contains(&format!("{{{n}}}"))))
            .map(|n| {
                let kind = kind_of(href, &n).expect("a CalDAV parameter");
                (n, kind)
            })
            .collect();
        ops.push(Op {
            method: method.parse().expect("a method"),
            path: (*path).to_owned(),
            body: Some(("application/xml", body.to_owned())),
            query: "",
            params,
        });
    }
    ops
}

/// Whose each parameter is in one request: at least one is Alice's, the
/// rest Bob's own (the `{bob's webhook}/deliveries/{alice's delivery}` kind
/// of request), as far as Bob has things of those kinds.
fn owner_mixes(op: &Op, bob: &Bob) -> Vec<Vec<bool>> {
    let n = op.params.len();
    (1u32..(1 << n))
        .map(|mask| (0..n).map(|i| mask & (1 << i) != 0).collect::<Vec<bool>>())
        .filter(|alices| op.params.iter().zip(alices).all(|((_, kind), alices)| *alices || bob.own.contains_key(kind)))
        // A PUT into Bob's own calendar creates Bob's own task under that
        // name, whatever it is: not a way to Alice's (her task is compared
        // below), and not an answer a missing name could match twice.
        .filter(|alices| {
            !(op.method == Method::PUT
                && op.params.iter().zip(alices).any(|((name, _), alices)| name == "project" && !alices))
        })
        .collect()
}

#[tokio::test]
async fn every_operation_with_an_id_answers_another_person_as_if_the_id_named_nothing() {
    let (app, _receiver, alice, bob) = people().await;
    let before = snapshot(&app, &alice).await;

    let doc: Value =
        app.client.get(app.url("/openapi.json")).send().await.expect("request").json().await.expect("json");
    let ops = operations(&doc, &bob.user);
    let mut failures = Vec::new();
    let mut requests = 0;
    for op in &ops {
        for alices in owner_mixes(op, &bob) {
            let mut foreign = HashMap::new();
            let mut nothing = HashMap::new();
            let mut label = Vec::new();
            for ((name, kind), alices) in op.params.iter().zip(&alices) {
                let kind = *kind;
                if *alices {
                    foreign.insert(name.clone(), alice.own[&kind].clone());
                    nothing.insert(name.clone(), missing(kind));
                    label.push(format!("{name}=Alice's"));
                } else {
                    foreign.insert(name.clone(), bob.own[&kind].clone());
                    nothing.insert(name.clone(), bob.own[&kind].clone());
                    label.push(format!("{name}=Bob's"));
                }
            }
            for how in [Credential::Session, Credential::Token] {
                let what = format!("{} {}{} ({}; Bob by {how:?})", op.method, op.path, op.query, label.join(", "));
                let theirs = send(&app, op, &foreign, &bob, how).await;
                let none = send(&app, op, &nothing, &bob, how).await;
                requests += 2;
                let theirs = Answer { body: unecho(theirs.body, &foreign, &nothing), ..theirs };
                // A token may be refused an endpoint outright (tokens
                // cannot manage tokens): a 403 that says nothing about the id.
                let refused = matches!(how, Credential::Token) && theirs.status == StatusCode::FORBIDDEN;
                // A REPORT on Bob's own calendar answers 207 and lists the
                // href it was asked for, Alice's or not, as not found in it.
                let own_report = op.method.as_str() == "REPORT"
                    && theirs.status == StatusCode::MULTI_STATUS
                    && alices.iter().zip(&op.params).all(|(a, (n, _))| *a == (n == "name"));
                let problem = theirs.content_type == "application/problem+json"
                    && theirs.body["type"] == "https://ontask.dev/problems/not-found";
                if theirs.status != StatusCode::NOT_FOUND && !refused && !own_report {
                    failures.push(format!("{what}: {} {}", theirs.status, theirs.body));
                } else if theirs != none {
                    failures.push(format!("{what}: answers {theirs:?}\n  but for an id naming nothing {none:?}"));
                } else if theirs.status == StatusCode::NOT_FOUND && !op.path.starts_with("/dav/") && !problem {
                    // CalDAV answers as WebDAV clients expect; the API in problem+json.
                    failures.push(format!("{what}: a 404 that is not a not-found problem: {theirs:?}"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {requests} requests told Bob about Alice's things:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // A non-admin is refused the dead letters (they have no id route: the
    // CLI redrives them; tests/api/deadletters.rs).
    let dead = app.get("/api/v1/admin/dead-letters", &bob.user).send().await.expect("request");
    assert_eq!(dead.status(), StatusCode::FORBIDDEN);

    let after = snapshot(&app, &alice).await;
    for (path, was) in &before {
        assert_eq!(&after[path], was, "Bob's requests changed {path}");
    }
    assert!(ops.len() > 40, "swept only {} operations: is the document served whole?", ops.len());
    app.stop().await;
}

/// The answer to a request with Alice's ids, with those ids written as the
/// request naming nothing had them (a DAV multistatus echoes the href).
pub(super) fn unecho(body: Value, foreign: &HashMap<String, String>, nothing: &HashMap<String, String>) -> Value {
    let mut text = body.to_string();
    for (name, value) in foreign {
        if nothing[name] != *value {
            text = text.replace(value.as_str(), &nothing[name]);
        }
    }
    serde_json::from_str(&text).expect("still JSON")
}
