//! Dead letters: listed for admins, and redriven with `ontask dlq redrive`.
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::eventlog::LogDb;
use crate::helpers::{TestApp, assert_problem, eventually, spawn_app};

async fn dlq(app: &TestApp, args: &[&str]) -> (Option<i32>, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_ontask"))
        .arg("dlq")
        .args(args)
        .args(app.database_args())
        .output()
        .await
        .expect("run ontask dlq");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn a_poisoned_event_is_dead_lettered_listed_for_admins_and_redriven_after_repair() {
    let app = spawn_app().await;
    let admin = app.new_user().await; // the first account is the admin
    let user = app.new_user().await;
    let task = app.create_task(&user, json!({ "title": "Write report" })).await;
    let log = LogDb::writable_of(&app).await;
    let created = eventually(Duration::from_secs(10), "the task.created event", || async {
        log.events().await.into_iter().find(|e| e.event_type == "task.created")
    })
    .await;

    // A task.completed whose data is not a task: the recurrence consumer can
    // never handle it, so it dead-letters it at once (a permanent failure).
    let poisoned = uuid::Uuid::now_v7().to_string();
    sqlx::query(
        "INSERT INTO events (event_id, event_type, event_version, occurred_at, source, user_id, task_id, data, metadata) \
         VALUES ($1, 'task.completed', '1', $2, 'test', $3, $4, '{\"task\": 42}', $5)",
    )
    .bind(&poisoned)
    .bind(chrono::Utc::now().to_rfc3339())
    .bind(&user.id)
    .bind(task["id"].as_str().unwrap())
    .bind(created.metadata.to_string())
    .execute(&log.pool)
    .await
    .expect("insert the poisoned event");

    // Both consumers that read task.completed gave up on it.
    let listed = eventually(Duration::from_secs(30), "both dead letters", || async {
        let body: Value = app.get("/api/v1/admin/dead-letters", &admin).send().await.ok()?.json().await.ok()?;
        let items = body["items"].as_array()?.clone();
        (items.len() == 2).then_some(items)
    })
    .await;
    let mut consumers: Vec<&str> = listed.iter().map(|d| d["consumer"].as_str().unwrap()).collect();
    consumers.sort();
    assert_eq!(consumers, ["recurrence", "reminders"]);
    for dead in &listed {
        assert_eq!(dead["event_id"], poisoned.as_str());
        let why = dead["error"].as_str().unwrap();
        // The whole cause chain, down to what the JSON reader said.
        assert!(why.contains("no valid task") && why.contains("invalid type: integer `42`"), "{dead}");
        assert_eq!(dead["event"]["event_type"], "task.completed");
    }
    let forbidden = app.get("/api/v1/admin/dead-letters", &user).send().await.unwrap();
    assert_problem(forbidden, StatusCode::FORBIDDEN, "forbidden").await;
    // The consumers were not held up by it.
    let next = app.create_task(&user, json!({ "title": "Next one" })).await;
    eventually(Duration::from_secs(30), "the consumers to move past it", || async {
        log.caught_up().await.then_some(())
    })
    .await;
    assert!(next["id"].is_string());

    // Still broken: redrive fails again and keeps the dead letter.
    let (code, out, _) = dlq(&app, &["redrive"]).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("FailedAgain"), "{out}");

    // Repaired: redrive hands it to the recurrence consumer, once.
    let repaired = json!({ "task": task }).to_string();
    sqlx::query("UPDATE events SET data = $1 WHERE event_id = $2")
        .bind(&repaired)
        .bind(&poisoned)
        .execute(&log.pool)
        .await
        .expect("repair the event");
    let (code, out, err) = dlq(&app, &["redrive"]).await;
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("Handled"), "{out}");
    assert!(log.has_handled("recurrence", &poisoned).await && log.has_handled("reminders", &poisoned).await);
    assert_eq!(log.dead_letters().await, 0);
    let (code, out, _) = dlq(&app, &["list"]).await;
    assert_eq!((code, out.as_str()), (Some(0), ""));
    let (code, _, err) = dlq(&app, &["redrive", "--id", "no-such-id"]).await;
    assert_eq!(code, Some(1));
    assert!(err.contains("no dead letter with the id"), "{err}");
}
