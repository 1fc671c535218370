//! The CalDAV server, driven by PyPI `caldav` (a real RFC 4791 and RFC 6578
//! client; `caldav_client.py`) the way a calendar program uses it:
//! discovery from `/.well-known/caldav`, the calendars, tasks created,
//! edited, completed and deleted, incremental sync after changes made over
//! REST, and a stale `If-Match` refused. The protocol's edges (roles,
//! credentials, bad bodies, depth, sync tokens) are checked with plain HTTP.
use std::process::Stdio;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

use crate::helpers::{TestApp, TestUser, spawn_app};

/// The Python client, one JSON command per line.
struct Client {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl Client {
    async fn connect(app: &TestApp, user: &TestUser, token: &str) -> (Client, Value) {
        let python = std::env::var("ONTASK_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/caldav_client.py");
        let mut child = tokio::process::Command::new(python)
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("run python3 (pip install -r crates/ontask/tests/api/requirements.txt)");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut client = Client { child, stdin, stdout };
        let url = app.url("/.well-known/caldav");
        let answer =
            client.call(json!({ "op": "connect", "url": url, "username": user.email, "password": token })).await;
        (client, answer)
    }

    async fn call(&mut self, command: Value) -> Value {
        let line = format!("{command}\n");
        self.stdin.write_all(line.as_bytes()).await.expect("send a command");
        let answer = self.stdout.next_line().await.expect("read an answer");
        let answer = answer.unwrap_or_else(|| panic!("the caldav client died on {command}"));
        serde_json::from_str(&answer).expect("the client answers JSON")
    }

    /// A command that must succeed.
    async fn ok(&mut self, command: Value) -> Value {
        let answer = self.call(command.clone()).await;
        assert!(answer.get("error").is_none(), "{command} failed: {answer}");
        answer
    }

    async fn stop(mut self) {
        drop(self.stdin);
        let _ = self.child.wait().await;
    }
}

/// An API token of `user`'s: what a calendar program stores as the password.
async fn api_token(app: &TestApp, user: &TestUser, scopes: &[&str]) -> String {
    let response = app
        .post("/api/v1/tokens", user)
        .json(&json!({ "name": "calendar", "scopes": scopes }))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json::<Value>().await.expect("json")["token"].as_str().expect("token").to_owned()
}

async fn tasks_of(app: &TestApp, user: &TestUser, project: &str) -> Vec<Value> {
    let page: Value = app
        .get(&format!("/api/v1/tasks?project={project}&limit=200"), user)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    page["items"].as_array().cloned().unwrap_or_default()
}

fn titled<'a>(tasks: &'a [Value], title: &str) -> &'a Value {
    tasks.iter().find(|t| t["title"] == title).unwrap_or_else(|| panic!("no task {title:?} in {tasks:?}"))
}

fn event_types(history: &[Value]) -> Vec<String> {
    history.iter().map(|e| e["event_type"].as_str().unwrap_or_default().to_owned()).collect()
}

fn vtodo(uid: &str, extra: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VTODO\r\nUID:{uid}\r\nDTSTAMP:20261101T080000Z\r\n{extra}END:VTODO\r\nEND:VCALENDAR\r\n"
    )
}

#[tokio::test]
async fn caldav_a_client_discovers_creates_edits_completes_and_deletes_tasks() {
    let app = spawn_app().await;
    let me = app.new_user().await;
    let home = app.create_project(&me, "Home").await;
    let home_id = home["id"].as_str().unwrap();
    let token = api_token(&app, &me, &["tasks:read", "tasks:write"]).await;

    let (mut client, found) = Client::connect(&app, &me, &token).await;
    assert_eq!(found["principal"], app.url(&format!("/dav/principals/{}/", me.id)), "{found}");
    assert_eq!(found["home"], app.url(&format!("/dav/calendars/{}/", me.id)), "{found}");
    let calendars = client.ok(json!({ "op": "calendars" })).await;
    let names: Vec<&str> =
        calendars["calendars"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"Inbox") && names.contains(&"Home"), "{calendars}");
    assert!(calendars["calendars"].as_array().unwrap().iter().all(|c| c["components"] == json!(["VTODO"])));

    // Created by the client, under its own UID and resource name.
    let parent = vtodo(
        "phone-1@example.com",
        "SUMMARY:Buy milk\r\nDUE;TZID=Europe/Berlin:20261124T090000\r\nPRIORITY:1\r\nCATEGORIES:shop\r\n",
    );
    let created = client.ok(json!({ "op": "create", "calendar": "Home", "ics": parent })).await;
    assert!(created["url"].as_str().unwrap().starts_with(&app.url(&format!("/dav/calendars/{}/{home_id}/", me.id))));
    let child = vtodo("phone-2@example.com", "SUMMARY:Oat milk\r\nRELATED-TO;RELTYPE=PARENT:phone-1@example.com\r\n");
    client.ok(json!({ "op": "create", "calendar": "Home", "ics": child })).await;

    let tasks = tasks_of(&app, &me, home_id).await;
    let milk = titled(&tasks, "Buy milk");
    assert_eq!(milk["priority"], "urgent");
    assert_eq!(milk["tags"], json!(["shop"]));
    assert_eq!(milk["due"], "2026-11-24T09:00:00+01:00[Europe/Berlin]");
    assert_eq!(titled(&tasks, "Oat milk")["parent_id"], milk["id"], "RELATED-TO became the parent");
    let milk_id = milk["id"].as_str().unwrap().to_owned();
    assert_eq!(event_types(&app.task_history(&me, &milk_id).await), ["task.created"]);

    // The client sees its UIDs again, and the subtask's RELATED-TO in them.
    let listed = client.ok(json!({ "op": "todos", "calendar": "Home" })).await;
    let todos = listed["todos"].as_array().unwrap();
    assert_eq!(todos.len(), 2, "{listed}");
    let oat = todos.iter().find(|t| t["summary"] == "Oat milk").expect("the subtask");
    assert_eq!(oat["uid"], "phone-2@example.com");
    assert_eq!(oat["related_to"], "phone-1@example.com");

    // Edited: the same task, one task.updated.
    let edited = client
        .ok(json!({ "op": "edit", "calendar": "Home", "uid": "phone-1@example.com", "summary": "Buy milk and eggs" }))
        .await;
    assert_eq!(edited["summary"], "Buy milk and eggs");
    let tasks = tasks_of(&app, &me, home_id).await;
    assert_eq!(titled(&tasks, "Buy milk and eggs")["id"], json!(milk_id));
    assert_eq!(event_types(&app.task_history(&me, &milk_id).await), ["task.created", "task.updated"]);

    // Completed: STATUS:COMPLETED completes it (and its subtask, as any completion does).
    let done = client.ok(json!({ "op": "complete", "calendar": "Home", "uid": "phone-1@example.com" })).await;
    assert_eq!(done["status"], "COMPLETED");
    let tasks = tasks_of(&app, &me, home_id).await;
    assert_eq!(titled(&tasks, "Buy milk and eggs")["status"], "completed");
    assert_eq!(titled(&tasks, "Oat milk")["status"], "completed");
    assert_eq!(event_types(&app.task_history(&me, &milk_id).await).last().unwrap(), "task.completed");
    let open = client.ok(json!({ "op": "todos", "calendar": "Home" })).await;
    assert_eq!(open["todos"], json!([]), "the query for open tasks leaves completed ones out");

    // Deleted.
    client.ok(json!({ "op": "delete", "calendar": "Home", "uid": "phone-1@example.com" })).await;
    assert!(tasks_of(&app, &me, home_id).await.is_empty(), "the task and its subtask are gone");
    assert_eq!(event_types(&app.task_history(&me, &milk_id).await).last().unwrap(), "task.deleted");
    client.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn caldav_sync_collection_sees_rest_changes_and_a_stale_if_match_gets_412() {
    let app = spawn_app().await;
    let me = app.new_user().await;
    let home = app.create_project(&me, "Home").await;
    let home_id = home["id"].as_str().unwrap();
    let keep = app.create_task(&me, json!({ "title": "Water plants", "project_id": home_id })).await;
    let gone = app.create_task(&me, json!({ "title": "Old chore", "project_id": home_id })).await;
    let away = app.create_task(&me, json!({ "title": "Move me", "project_id": home_id })).await;
    let token = api_token(&app, &me, &["tasks:read", "tasks:write"]).await;
    let (mut client, _) = Client::connect(&app, &me, &token).await;
    client.ok(json!({ "op": "calendars" })).await;

    let first = client.ok(json!({ "op": "sync", "calendar": "Home" })).await;
    assert_eq!(first["objects"].as_array().unwrap().len(), 3, "{first}");
    assert!(first["token"].as_str().unwrap().starts_with("urn:x-ontask:sync:"), "{first}");

    // Changes over REST: an edit, a delete, a create, a move to the Inbox.
    let url = |t: &Value| format!("/api/v1/tasks/{}", t["id"].as_str().unwrap());
    let patched = app.patch(&url(&keep), &me).json(&json!({ "title": "Water all plants" })).send().await.unwrap();
    assert_eq!(patched.status(), StatusCode::OK);
    assert_eq!(app.delete(&url(&gone), &me).send().await.unwrap().status(), StatusCode::NO_CONTENT);
    app.create_task(&me, json!({ "title": "New chore", "project_id": home_id })).await;
    let inbox = app.get("/api/v1/projects", &me).send().await.unwrap().json::<Value>().await.unwrap();
    let inbox_id = inbox["items"].as_array().unwrap().iter().find(|p| p["inbox"] == true).unwrap()["id"].clone();
    let moved = app.patch(&url(&away), &me).json(&json!({ "project_id": inbox_id })).send().await.unwrap();
    assert_eq!(moved.status(), StatusCode::OK);

    let second = client.ok(json!({ "op": "sync", "calendar": "Home" })).await;
    assert_ne!(second["token"], first["token"]);
    let mut updated: Vec<&str> =
        second["updated"].as_array().unwrap().iter().map(|t| t["summary"].as_str().unwrap()).collect();
    updated.sort_unstable();
    assert_eq!(updated, ["New chore", "Water all plants"], "{second}");
    let mut deleted: Vec<String> =
        second["deleted"].as_array().unwrap().iter().map(|u| u.as_str().unwrap().to_owned()).collect();
    deleted.sort_unstable();
    let mut expected = [gone["id"].as_str().unwrap(), away["id"].as_str().unwrap()]
        .map(|id| app.url(&format!("/dav/calendars/{}/{home_id}/{id}.ics", me.id)));
    expected.sort_unstable();
    assert_eq!(deleted, expected, "a deleted task and one moved out are both gone: {second}");
    let quiet = client.ok(json!({ "op": "sync", "calendar": "Home" })).await;
    assert_eq!((quiet["updated"].as_array().unwrap().len(), quiet["deleted"].as_array().unwrap().len()), (0, 0));
    assert_eq!(quiet["token"], second["token"], "nothing changed, the token stays");

    // A client holding an old version: its save is refused, nothing changes.
    let keep_uid = keep["id"].as_str().unwrap();
    let held = client.ok(json!({ "op": "hold", "calendar": "Home", "uid": keep_uid })).await;
    let version = app.get(&url(&keep), &me).send().await.unwrap().json::<Value>().await.unwrap()["version"].clone();
    assert_eq!(held["etag"], format!("\"{version}\""), "the ETag is the task's version");
    let rest = app.patch(&url(&keep), &me).json(&json!({ "title": "Water the garden" })).send().await.unwrap();
    assert_eq!(rest.status(), StatusCode::OK);
    let stale = client.call(json!({ "op": "save_held", "summary": "Offline edit" })).await;
    assert_eq!(stale["error"], "ETagMismatchError", "{stale}");
    let now: Value = app.get(&url(&keep), &me).send().await.unwrap().json().await.unwrap();
    assert_eq!(now["title"], "Water the garden");
    client.stop().await;
    app.stop().await;
}

fn basic(email: &str, token: &str) -> String {
    use base64::Engine;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{email}:{token}")))
}

async fn dav(
    app: &TestApp,
    method: &str,
    path: &str,
    auth: Option<&str>,
    depth: Option<&str>,
    body: &str,
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let mut request =
        app.client.request(Method::from_bytes(method.as_bytes()).unwrap(), app.url(path)).body(body.to_owned());
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    if let Some(depth) = depth {
        request = request.header("depth", depth);
    }
    if method == "PUT" {
        request = request.header("content-type", "text/calendar");
    }
    let response = request.send().await.expect("request");
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, response.text().await.expect("body"))
}

const PRIVILEGES: &str = r#"<d:propfind xmlns:d="DAV:" xmlns:cs="http://calendarserver.org/ns/"><d:prop><d:displayname/><d:current-user-privilege-set/><cs:getctag/><d:nope-not-a-prop/></d:prop></d:propfind>"#;

#[tokio::test]
async fn caldav_roles_credentials_and_protocol_errors() {
    let app = spawn_app().await;
    let (owner, viewer) = (app.new_user().await, app.new_user().await);
    let garden = app.create_project(&owner, "Garden").await;
    let garden_id = garden["id"].as_str().unwrap();
    app.share(&owner, garden_id, &viewer, "viewer").await;
    let task = app.create_task(&owner, json!({ "title": "Prune", "project_id": garden_id })).await;
    let owner_token = api_token(&app, &owner, &["tasks:read", "tasks:write"]).await;
    let owner_auth = basic(&owner.email, &owner_token);
    let viewer_auth = basic(&viewer.email, &api_token(&app, &viewer, &["tasks:read", "tasks:write"]).await);
    let reader_auth = basic(&owner.email, &api_token(&app, &owner, &["tasks:read"]).await);

    // Discovery and capabilities.
    let (status, headers, _) = dav(&app, "PROPFIND", "/.well-known/caldav", None, None, "").await;
    assert!(status.is_redirection(), "{status}");
    assert_eq!(headers["location"], "/dav/");
    let (status, headers, _) = dav(&app, "OPTIONS", "/dav/", None, None, "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["dav"].to_str().unwrap().contains("calendar-access"));

    // Credentials: none, a wrong e-mail, a bearer token.
    let (status, headers, _) = dav(&app, "PROPFIND", "/dav/", None, Some("0"), "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers["www-authenticate"].to_str().unwrap().starts_with("Basic realm=\"ontask\""));
    // The refused body is not read, so the client retries on a new connection.
    assert_eq!(headers["connection"], "close");
    let wrong = basic(&viewer.email, &owner_token);
    assert_eq!(dav(&app, "PROPFIND", "/dav/", Some(&wrong), Some("0"), "").await.0, StatusCode::UNAUTHORIZED);
    let bearer = format!("Bearer {}", owner.token);
    assert_eq!(dav(&app, "PROPFIND", "/dav/", Some(&bearer), Some("0"), "").await.0, StatusCode::MULTI_STATUS);

    // The viewer sees the shared calendar, read-only.
    let calendar = format!("/dav/calendars/{}/{garden_id}/", viewer.id);
    let (status, _, body) = dav(&app, "PROPFIND", &calendar, Some(&viewer_auth), Some("0"), PRIVILEGES).await;
    assert_eq!(status, StatusCode::MULTI_STATUS, "{body}");
    assert!(body.contains("<d:displayname>Garden</d:displayname>") && body.contains("<d:read/>"), "{body}");
    assert!(!body.contains("<d:write/>") && !body.contains("<d:bind/>"), "a viewer may not write: {body}");
    assert!(body.contains("<d:nope-not-a-prop/>") && body.contains("HTTP/1.1 404 Not Found"), "{body}");
    let put = vtodo("viewer-1", "SUMMARY:Sneaky\r\n");
    let (status, _, body) = dav(&app, "PUT", &format!("{calendar}viewer-1.ics"), Some(&viewer_auth), None, &put).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("need-privileges"), "{body}");
    // The owner's calendar says write; a read-only token still may not.
    let own = format!("/dav/calendars/{}/{garden_id}/", owner.id);
    let (_, _, body) = dav(&app, "PROPFIND", &own, Some(&owner_auth), Some("0"), PRIVILEGES).await;
    assert!(body.contains("<d:write/>"), "{body}");
    let (status, _, _) = dav(&app, "PUT", &format!("{own}reader-1.ics"), Some(&reader_auth), None, &put).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Another person's home is nobody's.
    let (status, _, _) = dav(&app, "PROPFIND", &own, Some(&viewer_auth), Some("0"), PRIVILEGES).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Bodies and depth.
    let (status, _, _) =
        dav(&app, "PROPFIND", &own, Some(&owner_auth), Some("0"), "<d:propfind xmlns:d=\"DAV:\">").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, body) = dav(&app, "PROPFIND", &own, Some(&owner_auth), None, "").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no Depth is infinity, refused: {body}");
    assert!(body.contains("propfind-finite-depth"));
    let (status, _, body) = dav(&app, "PROPFIND", &own, Some(&owner_auth), Some("1"), "").await;
    assert_eq!(status, StatusCode::MULTI_STATUS);
    assert!(body.contains(&format!("{}.ics", task["id"].as_str().unwrap())), "Depth 1 lists the task: {body}");

    // Sync tokens: a foreign one is refused with the RFC 6578 precondition.
    let sync = |token: &str| {
        format!(
            r#"<d:sync-collection xmlns:d="DAV:"><d:sync-token>{token}</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>"#
        )
    };
    let (status, _, body) = dav(&app, "REPORT", &own, Some(&owner_auth), None, &sync("http://elsewhere/sync/1")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("<d:valid-sync-token/>"), "{body}");
    let future = format!("urn:x-ontask:sync:{garden_id}:999999999");
    let (status, _, _) = dav(&app, "REPORT", &own, Some(&owner_auth), None, &sync(&future)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a version the calendar never had");

    // Resources: GET with its ETag, a conditional create that exists, bad data.
    let object = format!("{own}{}.ics", task["id"].as_str().unwrap());
    let (status, headers, body) = dav(&app, "GET", &object, Some(&owner_auth), None, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["etag"], "\"1\"");
    assert!(body.contains("SUMMARY:Prune"), "{body}");
    let not_ical = dav(&app, "PUT", &format!("{own}x.ics"), Some(&owner_auth), None, "hello").await;
    assert_eq!(not_ical.0, StatusCode::FORBIDDEN);
    assert!(not_ical.2.contains("valid-calendar-data"), "{}", not_ical.2);
    let event = put.replace("VTODO", "VEVENT");
    let (status, _, body) = dav(&app, "PUT", &format!("{own}e.ics"), Some(&owner_auth), None, &event).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("supported-calendar-component"), "{body}");
    // A floating DUE is read in the profile's zone.
    let profile = app.patch("/api/v1/me", &owner).json(&json!({ "timezone": "Europe/Berlin" })).send().await.unwrap();
    assert_eq!(profile.status(), StatusCode::OK);
    let floating = vtodo("float-1", "SUMMARY:Float\r\nDUE:20261124T090000\r\n");
    let (status, _, body) = dav(&app, "PUT", &format!("{own}float-1.ics"), Some(&owner_auth), None, &floating).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let tasks = tasks_of(&app, &owner, garden_id).await;
    assert_eq!(titled(&tasks, "Float")["due"], "2026-11-24T09:00:00+01:00[Europe/Berlin]");
    let again = dav(&app, "PUT", &format!("{own}other-name.ics"), Some(&owner_auth), None, &floating).await;
    assert_eq!(again.0, StatusCode::FORBIDDEN, "the UID is taken");
    assert!(again.2.contains("no-uid-conflict"), "{}", again.2);
    let stale = app
        .client
        .delete(app.url(&object))
        .header("authorization", &owner_auth)
        .header("if-match", "\"7\"")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    app.stop().await;
}
