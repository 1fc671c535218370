//! Reminders: the scheduler fires `reminder.due` at the instant (also after a
//! restart), the user gets an in-app notification, and a cancelled or past
//! reminder never fires. Short real delays, no timing assertions.
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::eventlog::{LogDb, Remote};
use crate::helpers::{ProcessApp, TestApp, TestUser, assert_problem, eventually, spawn_app};

/// An RFC 3339 instant `secs` seconds from now (negative: in the past).
fn in_secs(secs: i64) -> String {
    (Utc::now() + chrono::Duration::seconds(secs)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

async fn notifications(app: &TestApp, user: &TestUser) -> Value {
    let response = app.get("/api/v1/notifications", user).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

/// Waits until the user has `n` notifications and returns the list.
async fn wait_notifications(app: &TestApp, user: &TestUser, n: usize) -> Value {
    eventually(Duration::from_secs(30), &format!("{n} notification(s)"), || async {
        let list = notifications(app, user).await;
        (list["items"].as_array().map(Vec::len) == Some(n)).then_some(list)
    })
    .await
}

fn types(history: &[Value]) -> Vec<&str> {
    history.iter().map(|e| e["event_type"].as_str().expect("event_type")).collect()
}

#[tokio::test]
async fn a_reminder_fires_and_becomes_a_notification_the_user_can_mark_read() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let other = app.new_user().await;
    let task = app.create_task(&user, json!({ "title": "Call the plumber", "reminders": [in_secs(2)] })).await;
    let id = task["id"].as_str().expect("id");

    let list = wait_notifications(&app, &user, 1).await;
    assert_eq!(list["unread_count"], 1);
    let notification = &list["items"][0];
    assert_eq!(notification["title"], "Call the plumber");
    assert_eq!(notification["kind"], "reminder");
    assert_eq!(notification["task_id"], id);
    assert!(notification["read_at"].is_null());

    // The log: reminder.due fired by the scheduler, then reminder.sent caused by it.
    let history = eventually(Duration::from_secs(10), "reminder.sent in the history", || async {
        let history = app.task_history(&user, id).await;
        (history.len() == 3).then_some(history)
    })
    .await;
    assert_eq!(types(&history), ["task.created", "reminder.due", "reminder.sent"]);
    assert_eq!(history[2]["metadata"]["causation_id"], history[1]["event_id"]);
    assert_eq!(notification["event_id"], history[1]["event_id"], "one notification per reminder.due");

    // Nobody else sees or reads it.
    assert_eq!(notifications(&app, &other).await["unread_count"], 0);
    let nid = notification["id"].as_str().expect("id");
    let response = app.post(&format!("/api/v1/notifications/{nid}/read"), &other).send().await.expect("request");
    assert_problem(response, StatusCode::NOT_FOUND, "not-found").await;

    let response = app.post(&format!("/api/v1/notifications/{nid}/read"), &user).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let read: Value = response.json().await.expect("json");
    assert_eq!(read["id"], nid);
    assert!(read["read_at"].is_string(), "{read}");
    let list = notifications(&app, &user).await;
    assert_eq!(list["unread_count"], 0);
    assert_eq!(list["items"][0]["read_at"], read["read_at"]);
    let unread: Value =
        app.get("/api/v1/notifications?unread=true", &user).send().await.expect("request").json().await.expect("json");
    assert_eq!(unread["items"], json!([]));

    let response = app.post("/api/v1/notifications/not-a-notification/read", &user).send().await.expect("request");
    assert_problem(response, StatusCode::NOT_FOUND, "not-found").await;
    app.stop().await;
}

#[tokio::test]
async fn an_offset_reminder_fires_before_the_due() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let task = app
        .create_task(&user, json!({ "title": "Leave for the station", "due": in_secs(8), "reminders": ["PT1S"] }))
        .await;
    let list = wait_notifications(&app, &user, 1).await;
    assert_eq!(list["items"][0]["task_id"], task["id"]);
    assert_eq!(list["items"][0]["title"], "Leave for the station");
    app.stop().await;
}

#[tokio::test]
async fn deleting_or_completing_the_task_or_setting_a_past_instant_means_no_reminder() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let db = LogDb::of(&app).await;
    // Far enough ahead that every change below lands before the instant, even
    // on a loaded machine.
    let at = in_secs(8);
    let deleted = app.create_task(&user, json!({ "title": "Deleted", "reminders": [at] })).await;
    let completed = app.create_task(&user, json!({ "title": "Completed", "reminders": [at] })).await;
    let cleared = app.create_task(&user, json!({ "title": "Cleared", "reminders": [at] })).await;
    let past = app.create_task(&user, json!({ "title": "Past", "reminders": [in_secs(-3600)] })).await;
    let control = app.create_task(&user, json!({ "title": "Control", "reminders": [at] })).await;
    // These two do fire: one moved from later to `at`, one completed and reopened.
    let moved = app.create_task(&user, json!({ "title": "Moved", "reminders": [in_secs(3600)] })).await;
    let reopened = app.create_task(&user, json!({ "title": "Reopened", "reminders": [at] })).await;

    let id = |t: &Value| t["id"].as_str().expect("id").to_owned();
    let response = app.delete(&format!("/api/v1/tasks/{}", id(&deleted)), &user).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response =
        app.post(&format!("/api/v1/tasks/{}/complete", id(&completed)), &user).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let response = app
        .patch(&format!("/api/v1/tasks/{}", id(&cleared)), &user)
        .json(&json!({ "reminders": [] }))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let response = app
        .patch(&format!("/api/v1/tasks/{}", id(&moved)), &user)
        .json(&json!({ "reminders": [at] }))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    for step in ["complete", "reopen"] {
        let response =
            app.post(&format!("/api/v1/tasks/{}/{step}", id(&reopened)), &user).send().await.expect("request");
        assert_eq!(response.status(), StatusCode::OK);
    }

    // Those three fire; the others, due at the same instant, do not.
    let list = wait_notifications(&app, &user, 3).await;
    let mut notified: Vec<String> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|n| n["task_id"].as_str().expect("task").to_owned())
        .collect();
    notified.sort();
    let mut expected = vec![id(&control), id(&moved), id(&reopened)];
    expected.sort();
    assert_eq!(notified, expected);
    // Let every consumer catch up, then nothing else may have fired.
    eventually(Duration::from_secs(30), "the consumers to catch up", || async { db.caught_up().await.then_some(()) })
        .await;
    let mut fired: Vec<String> =
        db.events().await.into_iter().filter(|e| e.event_type == "reminder.due").filter_map(|e| e.task_id).collect();
    fired.sort();
    assert_eq!(fired, expected, "one reminder.due each, for these three only");
    for task in [&completed, &cleared, &past] {
        assert!(!types(&app.task_history(&user, &id(task)).await).contains(&"reminder.due"));
    }
    assert_eq!(notifications(&app, &user).await["items"].as_array().map(Vec::len), Some(3));
    db.close().await;
    app.stop().await;
}

/// A reminder that falls due while the process is down fires after the restart.
async fn fires_after_restart(kill: bool) {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = ProcessApp::start(dir.path(), &[]).await;
    let remote = Remote::of(&app);
    let user = remote.new_user().await;
    // Far enough ahead that the process is surely down before the instant.
    let fire_at = Utc::now() + chrono::Duration::seconds(8);
    let body =
        json!({ "title": "While you were out", "reminders": [fire_at.to_rfc3339_opts(SecondsFormat::Secs, true)] });
    let task = remote.create_task(&user, body).await;
    if kill {
        app.kill().await;
    } else {
        assert!(app.terminate().await.success());
    }
    // Stay down until the instant has passed.
    let wait = (fire_at - Utc::now()).to_std().unwrap_or_default() + Duration::from_secs(1);
    tokio::time::sleep(wait).await;
    {
        let db = LogDb::open(dir.path()).await;
        assert_eq!(db.scalar("SELECT COUNT(*) FROM notifications").await, 0, "nothing fired while down");
        db.close().await;
    }

    let app = ProcessApp::start(dir.path(), &[]).await;
    let remote = Remote::of(&app);
    let list: Value = eventually(Duration::from_secs(30), "the missed reminder", || async {
        let list: Value =
            remote.get("/api/v1/notifications", &user).send().await.expect("request").json().await.expect("json");
        (list["unread_count"] == 1).then_some(list)
    })
    .await;
    assert_eq!(list["items"][0]["task_id"], task["id"]);
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    assert!(app.terminate().await.success());
}

#[tokio::test]
async fn a_reminder_due_while_the_process_was_stopped_fires_after_restart() {
    fires_after_restart(false).await;
}

#[tokio::test]
async fn a_reminder_due_while_the_process_was_killed_fires_after_restart() {
    fires_after_restart(true).await;
}
