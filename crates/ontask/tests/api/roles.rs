//! The same binary split into roles, each its own process, sharing one
//! PostgreSQL database (and, with Kafka, one broker).
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{ProcessApp, create_task_at, eventually, sign_up};

/// Starts `ontask serve --role <role>` against `database_url` with `env`.
async fn role(dir: &tempfile::TempDir, role: &str, database_url: &str, env: &[(&str, &str)]) -> ProcessApp {
    ProcessApp::start_with_env(dir.path(), &["--role", role, "--database-url", database_url], env).await
}

async fn complete(client: &reqwest::Client, app: &ProcessApp, token: &str, id: &str) {
    let r = client.post(app.url(&format!("/api/v1/tasks/{id}/complete"))).bearer_auth(token).send().await.unwrap();
    assert!(r.status().is_success(), "complete: {}", r.status());
}

/// The open tasks titled `title`, as an API process lists them.
async fn open_titled(client: &reqwest::Client, app: &ProcessApp, token: &str, title: &str) -> Vec<Value> {
    let r = client.get(app.url("/api/v1/tasks?status=open")).bearer_auth(token).send().await.unwrap();
    let body: Value = r.json().await.unwrap();
    body["items"].as_array().unwrap().iter().filter(|t| t["title"] == title).cloned().collect()
}

#[tokio::test]
async fn roles_split_over_postgres_with_the_embedded_log() {
    let database = ontask_testkit::pg::database().expect("a PostgreSQL database");
    let dir = tempfile::tempdir().unwrap();
    // The schema first, as a deploy's migration job would, so the roles do not race to create it.
    let migrate = tokio::process::Command::new(env!("CARGO_BIN_EXE_ontask"))
        .args(["migrate", "--database-url", database.url()])
        .output()
        .await
        .unwrap();
    assert!(migrate.status.success(), "{}", String::from_utf8_lossy(&migrate.stderr));
    let api = role(&dir, "api,relay", database.url(), &[]).await;
    let worker = role(&dir, "worker,scheduler", database.url(), &[]).await;
    let client = reqwest::Client::new();
    let user = sign_up(&client, &api.address).await;
    let task = create_task_at(
        &client,
        &api.address,
        &user,
        json!({ "title": "Water the plants", "due": "2030-01-07", "recurrence": "FREQ=WEEKLY" }),
    )
    .await;
    complete(&client, &api, &user.token, task["id"].as_str().unwrap()).await;
    // Only the worker process runs the recurrence consumer: the next occurrence
    // proves the event crossed from the API process's relay to it.
    let next = eventually(Duration::from_secs(30), "the worker to create the next occurrence", || async {
        open_titled(&client, &api, &user.token, "Water the plants").await.pop()
    })
    .await;
    assert_eq!(next["due"], "2030-01-14");
    let health: Value = client.get(worker.url("/health")).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "healthy", "{health}");
}
