//! A user sees and changes only their own things: another user's task or
//! notification answers exactly like one that does not exist.
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, assert_problem, eventually, spawn_app};

mod bodies;
mod sweep;

async fn not_found(response: reqwest::Response) -> Value {
    assert_problem(response, StatusCode::NOT_FOUND, "not-found").await
}

#[tokio::test]
async fn another_users_task_is_404_on_every_endpoint() {
    let app = spawn_app().await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let task =
        app.create_task(&alice, json!({ "title": "Alice's secret", "tags": ["private"], "due": "2020-01-01" })).await;
    let id = task["id"].as_str().unwrap();
    let path = format!("/api/v1/tasks/{id}");
    let nonexistent = format!("/api/v1/tasks/{}", uuid::Uuid::now_v7());

    let foreign = not_found(app.get(&path, &bob).send().await.unwrap()).await;
    let missing = not_found(app.get(&nonexistent, &bob).send().await.unwrap()).await;
    assert_eq!(foreign, missing, "indistinguishable from a task that does not exist");
    not_found(app.patch(&path, &bob).json(&json!({ "title": "mine now" })).send().await.unwrap()).await;
    not_found(
        app.patch(&path, &bob).header("if-match", "\"1\"").json(&json!({ "title": "mine now" })).send().await.unwrap(),
    )
    .await;
    not_found(app.post(&format!("{path}/complete"), &bob).send().await.unwrap()).await;
    not_found(app.post(&format!("{path}/reopen"), &bob).send().await.unwrap()).await;
    not_found(app.get(&format!("{path}/history"), &bob).send().await.unwrap()).await;
    not_found(app.delete(&path, &bob).send().await.unwrap()).await;
    not_found(app.delete(&path, &bob).header("if-match", "\"1\"").send().await.unwrap()).await;
    // Even a stale If-Match must not reveal that the task exists (404, not 412).
    not_found(app.delete(&path, &bob).header("if-match", "\"7\"").send().await.unwrap()).await;

    // Bob's attempts changed nothing and left no events.
    let after: Value = app.get(&path, &alice).send().await.unwrap().json().await.unwrap();
    assert_eq!(after, task);
    assert_eq!(app.task_history(&alice, id).await.len(), 1);

    // Bob's list never shows Alice's task, whatever the filter.
    app.create_task(&bob, json!({ "title": "Bob's own" })).await;
    for query in [
        "",
        "?tag=private",
        "?q=secret",
        "?overdue=true",
        "?status=open",
        "?sort=due",
        "?due_before=2030-01-01",
        "?limit=200",
    ] {
        let list: Value = app.get(&format!("/api/v1/tasks{query}"), &bob).send().await.unwrap().json().await.unwrap();
        let titles: Vec<&str> =
            list["items"].as_array().unwrap().iter().map(|t| t["title"].as_str().unwrap()).collect();
        assert!(!titles.contains(&"Alice's secret"), "{query}: {titles:?}");
        for t in list["items"].as_array().unwrap() {
            assert_eq!(t["owner_id"], bob.id.as_str());
        }
    }
    // And Alice still sees hers.
    let list: Value = app.get("/api/v1/tasks?tag=private", &alice).send().await.unwrap().json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    // After Alice deletes it, its history stays hers alone.
    assert_eq!(app.delete(&path, &alice).send().await.unwrap().status(), StatusCode::NO_CONTENT);
    not_found(app.get(&format!("{path}/history"), &bob).send().await.unwrap()).await;
    assert_eq!(app.task_history(&alice, id).await.len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn a_cursor_cannot_reach_into_another_users_tasks() {
    let app = spawn_app().await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    for i in 0..3 {
        app.create_task(&alice, json!({ "title": format!("alice {i}"), "position": i })).await;
        app.create_task(&bob, json!({ "title": format!("bob {i}"), "position": i })).await;
    }
    let page: Value = app.get("/api/v1/tasks?limit=1", &alice).send().await.unwrap().json().await.unwrap();
    let cursor = page["next_cursor"].as_str().unwrap();
    let bobs: Value =
        app.get(&format!("/api/v1/tasks?limit=10&cursor={cursor}"), &bob).send().await.unwrap().json().await.unwrap();
    for t in bobs["items"].as_array().unwrap() {
        assert_eq!(t["owner_id"], bob.id.as_str());
    }
    app.stop().await;
}

async fn notifications(app: &TestApp, user: &TestUser) -> Value {
    let response = app.get("/api/v1/notifications", user).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[tokio::test]
async fn another_users_notifications_are_invisible() {
    let app = spawn_app().await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    // A reminder a moment from now fires and notifies Alice.
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(4)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    app.create_task(&alice, json!({ "title": "Call mum", "reminders": [soon] })).await;
    let note = eventually(Duration::from_secs(20), "Alice's reminder notification", || async {
        let list = notifications(&app, &alice).await;
        list["items"].as_array().and_then(|items| items.first().cloned())
    })
    .await;
    let note_id = note["id"].as_str().unwrap();
    assert_eq!(note["user_id"], alice.id.as_str());

    let bobs = notifications(&app, &bob).await;
    assert_eq!(bobs["items"], json!([]));
    assert_eq!(bobs["unread_count"], 0);
    not_found(app.post(&format!("/api/v1/notifications/{note_id}/read"), &bob).send().await.unwrap()).await;
    // Bob marking all of his read does not touch Alice's.
    assert_eq!(app.post("/api/v1/notifications/read-all", &bob).send().await.unwrap().status(), StatusCode::NO_CONTENT);
    let alices = notifications(&app, &alice).await;
    assert_eq!(alices["unread_count"], 1, "{alices}");
    assert_eq!(alices["items"][0]["read_at"], Value::Null);

    // Alice can mark it read herself.
    let response = app.post(&format!("/api/v1/notifications/{note_id}/read"), &alice).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let read: Value = response.json().await.unwrap();
    assert!(read["read_at"].is_string());
    assert_eq!(notifications(&app, &alice).await["unread_count"], 0);
    app.stop().await;
}
