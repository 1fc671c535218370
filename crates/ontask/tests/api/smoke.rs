use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn a_created_task_can_be_read_back_with_its_history() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let task = app.create_task(&user, json!({ "title": "Pay rent", "priority": "high", "tags": ["#Home"] })).await;
    assert_eq!(task["title"], "Pay rent");
    assert_eq!(task["tags"], json!(["home"]));
    let id = task["id"].as_str().unwrap();
    let response = app.get(&format!("/api/v1/tasks/{id}"), &user).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["etag"], "\"1\"");
    let history = app.task_history(&user, id).await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["event_type"], "task.created");
    app.stop().await;
}
