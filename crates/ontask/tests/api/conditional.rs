//! ETag on reads and writes; If-Match guards every change against lost updates.
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{assert_problem, spawn_app};

fn etag(response: &reqwest::Response) -> String {
    response.headers()["etag"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn every_task_answer_carries_the_version_as_etag() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let response = app.post("/api/v1/tasks", &user).json(&json!({ "title": "versioned" })).send().await.unwrap();
    assert_eq!(etag(&response), "\"1\"");
    let task: Value = response.json().await.unwrap();
    let path = format!("/api/v1/tasks/{}", task["id"].as_str().unwrap());

    let response = app.get(&path, &user).send().await.unwrap();
    assert_eq!(etag(&response), "\"1\"");
    let response = app.patch(&path, &user).json(&json!({ "title": "v2" })).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(etag(&response), "\"2\"");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["version"], 2);
    let response = app.post(&format!("{path}/complete"), &user).send().await.unwrap();
    assert_eq!(etag(&response), "\"3\"");
    let response = app.post(&format!("{path}/reopen"), &user).send().await.unwrap();
    assert_eq!(etag(&response), "\"4\"");
    assert_eq!(etag(&app.get(&path, &user).send().await.unwrap()), "\"4\"");
    app.stop().await;
}

#[tokio::test]
async fn if_match_with_the_current_version_succeeds() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let task = app.create_task(&user, json!({ "title": "guarded" })).await;
    let path = format!("/api/v1/tasks/{}", task["id"].as_str().unwrap());

    let response =
        app.patch(&path, &user).header("if-match", "\"1\"").json(&json!({ "title": "v2" })).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let current = etag(&response);
    assert_eq!(current, "\"2\"");
    // A weak tag and `*` are accepted too.
    let response = app.post(&format!("{path}/complete"), &user).header("if-match", "W/\"2\"").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = app.post(&format!("{path}/reopen"), &user).header("if-match", "*").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let current = etag(&response);
    let response = app.delete(&path, &user).header("if-match", &current).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    app.stop().await;
}

#[tokio::test]
async fn a_stale_if_match_is_412_and_changes_nothing() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let task = app.create_task(&user, json!({ "title": "contested" })).await;
    let id = task["id"].as_str().unwrap();
    let path = format!("/api/v1/tasks/{id}");
    // Someone else changes it first: version 2.
    let response = app.patch(&path, &user).json(&json!({ "title": "their change" })).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let response = app
        .patch(&path, &user)
        .header("if-match", "\"1\"")
        .json(&json!({ "title": "my change" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["etag"], "\"2\"", "the 412 tells the current version");
    let problem = assert_problem(response, StatusCode::PRECONDITION_FAILED, "precondition-failed").await;
    assert!(problem["detail"].as_str().unwrap().contains('2'), "{problem}");
    assert_problem(
        app.post(&format!("{path}/complete"), &user).header("if-match", "\"1\"").send().await.unwrap(),
        StatusCode::PRECONDITION_FAILED,
        "precondition-failed",
    )
    .await;
    assert_problem(
        app.post(&format!("{path}/reopen"), &user).header("if-match", "\"3\"").send().await.unwrap(),
        StatusCode::PRECONDITION_FAILED,
        "precondition-failed",
    )
    .await;
    assert_problem(
        app.delete(&path, &user).header("if-match", "\"1\"").send().await.unwrap(),
        StatusCode::PRECONDITION_FAILED,
        "precondition-failed",
    )
    .await;
    let now: Value = app.get(&path, &user).send().await.unwrap().json().await.unwrap();
    assert_eq!(now["title"], "their change");
    assert_eq!(now["status"], "open");
    assert_eq!(now["version"], 2);
    assert_eq!(app.task_history(&user, id).await.len(), 2, "refused changes write no event");
    app.stop().await;
}

#[tokio::test]
async fn an_if_match_that_can_never_match_is_412() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let task = app.create_task(&user, json!({ "title": "strict" })).await;
    let path = format!("/api/v1/tasks/{}", task["id"].as_str().unwrap());
    for garbage in ["garbage", "\"abc\"", "\"\"", "\"1\", \"2\"x", "W/", "\"-1\"", "\"99999999999999999999999\""] {
        let response =
            app.patch(&path, &user).header("if-match", garbage).json(&json!({ "title": "x" })).send().await.unwrap();
        assert_problem(response, StatusCode::PRECONDITION_FAILED, "precondition-failed").await;
        let response = app.delete(&path, &user).header("if-match", garbage).send().await.unwrap();
        assert_problem(response, StatusCode::PRECONDITION_FAILED, "precondition-failed").await;
    }
    let now: Value = app.get(&path, &user).send().await.unwrap().json().await.unwrap();
    assert_eq!(now["version"], 1);
    assert_eq!(now["title"], "strict");
    app.stop().await;
}
