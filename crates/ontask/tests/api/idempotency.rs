//! `Idempotency-Key`: a retried POST replays the first answer and does the work
//! once; the same key for another request is refused.
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, assert_problem, spawn_app};

async fn post_with_key(app: &TestApp, user: &TestUser, path: &str, key: &str, body: &Value) -> reqwest::Response {
    app.post(path, user).header("idempotency-key", key).json(body).send().await.unwrap()
}

async fn all_tasks(app: &TestApp, user: &TestUser) -> Vec<Value> {
    let list: Value = app.get("/api/v1/tasks?limit=200", user).send().await.unwrap().json().await.unwrap();
    list["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_retry_replays_the_first_answer_and_creates_one_task() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let body = json!({ "title": "Pay rent", "priority": "high" });
    let first = post_with_key(&app, &user, "/api/v1/tasks", "key-1", &body).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let location = first.headers()["location"].clone();
    let etag = first.headers()["etag"].clone();
    let first_body: Value = first.json().await.unwrap();

    for _ in 0..3 {
        let again = post_with_key(&app, &user, "/api/v1/tasks", "key-1", &body).await;
        assert_eq!(again.status(), StatusCode::CREATED);
        assert_eq!(again.headers()["idempotent-replayed"], "true");
        assert_eq!(again.headers()["location"], location);
        assert_eq!(again.headers()["etag"], etag);
        assert_eq!(again.headers()["content-type"], "application/json");
        let again_body: Value = again.json().await.unwrap();
        assert_eq!(again_body, first_body);
    }
    let tasks = all_tasks(&app, &user).await;
    assert_eq!(tasks.len(), 1, "one task, however often the request is retried");
    let history = app.task_history(&user, first_body["id"].as_str().unwrap()).await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["event_type"], "task.created");

    // Without a key, each POST is its own request.
    app.create_task(&user, body.clone()).await;
    app.create_task(&user, body.clone()).await;
    assert_eq!(all_tasks(&app, &user).await.len(), 3);
    app.stop().await;
}

#[tokio::test]
async fn the_same_key_with_another_body_is_refused() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let first = post_with_key(&app, &user, "/api/v1/tasks", "key-2", &json!({ "title": "one" })).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let response = post_with_key(&app, &user, "/api/v1/tasks", "key-2", &json!({ "title": "two" })).await;
    assert!(response.headers().get("idempotent-replayed").is_none());
    assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "idempotency-key-reused").await;
    // The same key on another endpoint is another request too.
    let id = all_tasks(&app, &user).await[0]["id"].as_str().unwrap().to_owned();
    let response = app
        .post(&format!("/api/v1/tasks/{id}/complete"), &user)
        .header("idempotency-key", "key-2")
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "idempotency-key-reused").await;
    let tasks = all_tasks(&app, &user).await;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["title"], "one");
    assert_eq!(tasks[0]["status"], "open");
    app.stop().await;
}

#[tokio::test]
async fn keys_belong_to_one_user() {
    let app = spawn_app().await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let body = json!({ "title": "Same words" });
    let a = post_with_key(&app, &alice, "/api/v1/tasks", "shared-key", &body).await;
    assert_eq!(a.status(), StatusCode::CREATED);
    let b = post_with_key(&app, &bob, "/api/v1/tasks", "shared-key", &body).await;
    assert_eq!(b.status(), StatusCode::CREATED);
    assert!(b.headers().get("idempotent-replayed").is_none(), "Bob must not get Alice's answer");
    let a: Value = a.json().await.unwrap();
    let b: Value = b.json().await.unwrap();
    assert_ne!(a["id"], b["id"]);
    assert_eq!(b["owner_id"], bob.id.as_str());
    assert_eq!(all_tasks(&app, &alice).await.len(), 1);
    assert_eq!(all_tasks(&app, &bob).await.len(), 1);
    // And Bob's other body under the same key is judged against his own request.
    let b2 = post_with_key(&app, &bob, "/api/v1/tasks", "shared-key", &json!({ "title": "Other" })).await;
    assert_problem(b2, StatusCode::UNPROCESSABLE_ENTITY, "idempotency-key-reused").await;
    app.stop().await;
}

#[tokio::test]
async fn a_client_error_is_replayed_and_a_bad_key_is_refused() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let invalid = json!({ "title": "" });
    let first = post_with_key(&app, &user, "/api/v1/tasks", "key-3", &invalid).await;
    let problem = assert_problem(first, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    let again = post_with_key(&app, &user, "/api/v1/tasks", "key-3", &invalid).await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(assert_problem(again, StatusCode::UNPROCESSABLE_ENTITY, "validation").await, problem);

    let response = post_with_key(&app, &user, "/api/v1/tasks", &"k".repeat(256), &json!({ "title": "x" })).await;
    assert_problem(response, StatusCode::BAD_REQUEST, "bad-request").await;
    let response = post_with_key(&app, &user, "/api/v1/tasks", "   ", &json!({ "title": "x" })).await;
    assert_problem(response, StatusCode::BAD_REQUEST, "bad-request").await;
    assert!(all_tasks(&app, &user).await.is_empty());

    // Completing with a key: the retry replays the answer, one event.
    let task = app.create_task(&user, json!({ "title": "finish" })).await;
    let id = task["id"].as_str().unwrap();
    for _ in 0..2 {
        let response = app
            .post(&format!("/api/v1/tasks/{id}/complete"), &user)
            .header("idempotency-key", "done-1")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_eq!(app.task_history(&user, id).await.len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn concurrent_retries_create_one_task() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let body = json!({ "title": "raced" });
    let requests = (0..8).map(|_| post_with_key(&app, &user, "/api/v1/tasks", "race-1", &body));
    let responses = futures_util::future::join_all(requests).await;
    let mut created = 0;
    for r in responses {
        match r.status() {
            StatusCode::CREATED => created += 1,
            // Still running: the client is told to retry later.
            StatusCode::CONFLICT => {
                assert_problem(r, StatusCode::CONFLICT, "conflict").await;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(created >= 1);
    assert_eq!(all_tasks(&app, &user).await.len(), 1);
    app.stop().await;
}
