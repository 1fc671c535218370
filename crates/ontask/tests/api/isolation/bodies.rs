//! Ids in request bodies: Bob names one of Alice's things where a body
//! takes an id (a task's project, section, parent or assignee, a chat's
//! conversation, a project's new owner, a CalDAV parent). Each answer must
//! be the one for an id that names nothing, and Alice's things unchanged.
use std::collections::HashMap;

use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::sweep::{Kind, missing, people, snapshot, unecho};

/// One request whose body carries `{x}`, an id of `kind`.
struct Probe {
    method: Method,
    path: String,
    content_type: &'static str,
    body: String,
    kind: Kind,
}

fn json_probe(method: Method, path: String, body: Value, kind: Kind) -> Probe {
    Probe { method, path, content_type: "application/json", body: body.to_string(), kind }
}

/// An answer without what a new resource's own id or time makes differ.
fn comparable(status: StatusCode, body: Value) -> (StatusCode, Value) {
    if status.is_success() { (status, Value::Null) } else { (status, body) }
}

#[tokio::test]
async fn an_id_of_another_persons_thing_in_a_body_answers_as_if_it_named_nothing() {
    let (app, _receiver, alice, bob) = people().await;
    let before = snapshot(&app, &alice).await;
    let (bob_task, bob_project) = (&bob.own[&Kind::Task], &bob.own[&Kind::Project]);
    let tasks = "/api/v1/tasks".to_owned();
    let bobs_task = format!("/api/v1/tasks/{bob_task}");
    let x = "{x}";
    let probes = [
        json_probe(Method::POST, tasks.clone(), json!({ "title": "t", "project_id": x }), Kind::Project),
        json_probe(Method::POST, tasks.clone(), json!({ "title": "t", "section_id": x }), Kind::Section),
        json_probe(
            Method::POST,
            tasks.clone(),
            json!({ "title": "t", "project_id": bob_project, "section_id": x }),
            Kind::Section,
        ),
        json_probe(Method::POST, tasks.clone(), json!({ "title": "t", "parent_id": x }), Kind::Task),
        json_probe(Method::POST, tasks.clone(), json!({ "title": "t", "assignee_id": x }), Kind::DavUser),
        json_probe(
            Method::POST,
            "/api/v1/tasks/batch".to_owned(),
            json!({ "tasks": [{ "title": "t", "parent_id": x }] }),
            Kind::Task,
        ),
        json_probe(Method::PATCH, bobs_task.clone(), json!({ "project_id": x }), Kind::Project),
        json_probe(Method::PATCH, bobs_task.clone(), json!({ "section_id": x }), Kind::Section),
        json_probe(Method::PATCH, bobs_task.clone(), json!({ "parent_id": x }), Kind::Task),
        json_probe(Method::PATCH, bobs_task.clone(), json!({ "assignee_id": x }), Kind::DavUser),
        json_probe(
            Method::POST,
            format!("/api/v1/projects/{bob_project}/transfer"),
            json!({ "user_id": x }),
            Kind::DavUser,
        ),
        json_probe(
            Method::POST,
            "/api/v1/chat".to_owned(),
            json!({ "conversation_id": x, "message": "help" }),
            Kind::Conversation,
        ),
        // A VTODO whose parent is one of Alice's tasks, put into Bob's own calendar.
        Probe {
            method: Method::PUT,
            path: format!("/dav/calendars/{}/{bob_project}/{}.ics", bob.user.id, uuid::Uuid::now_v7()),
            content_type: "text/calendar",
            body:
                "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//ontask tests//EN\r\nBEGIN:VTODO\r\nSUMMARY:Bob's child\r\n\
                   RELATED-TO:{x}\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
                    .to_owned(),
            kind: Kind::Task,
        },
    ];
    let mut failures = Vec::new();
    for probe in &probes {
        let theirs = alice.own[&probe.kind].clone();
        let nothing = missing(probe.kind);
        let mut answers = Vec::new();
        for value in [&theirs, &nothing] {
            // A fresh resource name for each PUT, so both create.
            let path = probe.path.replace(".ics", &format!("-{}.ics", uuid::Uuid::now_v7().simple()));
            let response = app
                .request(probe.method.clone(), &path, Some(&bob.user))
                .header(CONTENT_TYPE, probe.content_type)
                .body(probe.body.replace("{x}", value))
                .send()
                .await
                .expect("request");
            let status = response.status();
            let text = response.text().await.expect("body");
            let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
            answers.push(comparable(status, body));
        }
        let (status, body) = answers.remove(0);
        let foreign = HashMap::from([("x".to_owned(), theirs)]);
        let none = HashMap::from([("x".to_owned(), nothing)]);
        let theirs = (status, unecho(body, &foreign, &none));
        let what = format!("{} {} with {}", probe.method, probe.path, probe.body);
        if theirs != answers[0] {
            failures.push(format!("{what}: answers {theirs:?}\n  but for an id naming nothing {:?}", answers[0]));
        }
    }
    assert!(failures.is_empty(), "ids in bodies told Bob about Alice's things:\n{}", failures.join("\n"));

    let after = snapshot(&app, &alice).await;
    for (path, was) in &before {
        assert_eq!(&after[path], was, "Bob's requests changed {path}");
    }
    app.stop().await;
}
