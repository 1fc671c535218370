//! Recurrence: completing a task with an RRULE creates its next occurrence, once.
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::eventlog::LogDb;
use crate::helpers::{TestApp, TestUser, assert_problem, eventually, spawn_app};

async fn act(app: &TestApp, user: &TestUser, id: &str, action: &str) -> Value {
    let response = app.post(&format!("/api/v1/tasks/{id}/{action}"), user).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::OK, "{action}");
    response.json().await.expect("json")
}

async fn tasks_of(app: &TestApp, user: &TestUser) -> Vec<Value> {
    let body: Value =
        app.get("/api/v1/tasks?limit=200", user).send().await.expect("request").json().await.expect("json");
    body["items"].as_array().cloned().expect("items")
}

async fn next_occurrences(app: &TestApp, user: &TestUser, id: &str) -> Vec<Value> {
    tasks_of(app, user).await.into_iter().filter(|t| t["recurs_from"] == id).collect()
}

/// Waits for the one next occurrence of `id`.
async fn wait_next(app: &TestApp, user: &TestUser, id: &str) -> Value {
    eventually(Duration::from_secs(30), "the next occurrence", || async {
        next_occurrences(app, user, id).await.into_iter().next()
    })
    .await
}

/// The event ids of the task's events of `event_type`, in order.
async fn event_ids(app: &TestApp, user: &TestUser, id: &str, event_type: &str) -> Vec<String> {
    app.task_history(user, id)
        .await
        .iter()
        .filter(|e| e["event_type"] == event_type)
        .map(|e| e["event_id"].as_str().expect("event_id").to_owned())
        .collect()
}

#[tokio::test]
async fn completing_a_recurring_task_creates_the_next_one_at_the_same_wall_clock_time_across_dst() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    // Berlin moves to summer time on 31 March 2030: 09:00 is 08:00Z before, 07:00Z after.
    // (Ahead of today: a series completed late goes on from today instead.)
    let task = app
        .create_task(
            &user,
            json!({ "title": "Stand-up", "due": "2030-03-30T09:00[Europe/Berlin]", "recurrence": "FREQ=DAILY", "tags": ["work"], "priority": "high", "reminders": ["PT10M"] }),
        )
        .await;
    let id = task["id"].as_str().expect("id");
    assert_eq!(task["due_at"], "2030-03-30T08:00:00Z");
    let completed = act(&app, &user, id, "complete").await;
    assert_eq!(completed["status"], "completed");

    let next = wait_next(&app, &user, id).await;
    assert_eq!(next["due"], "2030-03-31T09:00:00+02:00[Europe/Berlin]");
    assert_eq!(next["due_at"], "2030-03-31T07:00:00Z");
    assert_eq!(next["status"], "open");
    assert_eq!(next["recurs_from"], id);
    assert_ne!(next["id"], task["id"]);
    assert_eq!(next["title"], "Stand-up");
    assert_eq!(next["tags"], json!(["work"]));
    assert_eq!(next["priority"], "high");
    assert_eq!(next["recurrence"], "FREQ=DAILY");
    assert_eq!(next["reminders"], task["reminders"], "offset reminders carry over");
    assert_eq!(next["version"], 1);

    // Linked by causation: the new task's task.created was caused by the completion.
    let completion = app
        .task_history(&user, id)
        .await
        .into_iter()
        .find(|e| e["event_type"] == "task.completed")
        .expect("completion");
    let next_id = next["id"].as_str().expect("id");
    let history = app.task_history(&user, next_id).await;
    assert_eq!(history.len(), 1);
    let created = &history[0];
    assert_eq!(created["event_type"], "task.created");
    assert_eq!(created["metadata"]["causation_id"], completion["event_id"]);
    assert_eq!(created["metadata"]["correlation_id"], completion["metadata"]["correlation_id"]);
    assert_eq!(created["user_id"], user.id.as_str());
    assert_eq!(created["data"]["task"], next);

    // The next one follows the series too.
    act(&app, &user, next_id, "complete").await;
    let third = wait_next(&app, &user, next_id).await;
    assert_eq!(third["due"], "2030-04-01T09:00:00+02:00[Europe/Berlin]");
    app.stop().await;
}

#[tokio::test]
async fn completing_twice_or_again_after_reopening_never_creates_two() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let db = LogDb::of(&app).await;
    let task = app
        .create_task(&user, json!({ "title": "Bins out", "due": "2030-01-07", "recurrence": "FREQ=WEEKLY;BYDAY=MO" }))
        .await;
    let id = task["id"].as_str().expect("id");

    // A double completion: the second changes nothing and writes no event.
    let first = act(&app, &user, id, "complete").await;
    let again = act(&app, &user, id, "complete").await;
    assert_eq!(again["version"], first["version"]);
    assert_eq!(event_ids(&app, &user, id, "task.completed").await.len(), 1);
    let next = wait_next(&app, &user, id).await;
    assert_eq!(next["due"], "2030-01-14");

    // Complete, reopen, complete: a second task.completed the consumer handles
    // without creating a second occurrence.
    act(&app, &user, id, "reopen").await;
    act(&app, &user, id, "complete").await;
    let completions = event_ids(&app, &user, id, "task.completed").await;
    assert_eq!(completions.len(), 2);
    for event_id in &completions {
        db.wait_handled("recurrence", event_id).await;
    }
    let all = next_occurrences(&app, &user, id).await;
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0]["id"], next["id"]);
    assert_eq!(tasks_of(&app, &user).await.len(), 2);
    db.close().await;
    app.stop().await;
}

#[tokio::test]
async fn count_ends_the_series() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let db = LogDb::of(&app).await;
    let first = app
        .create_task(
            &user,
            json!({ "title": "Course", "due": "2030-02-01T18:00:00Z", "recurrence": "FREQ=DAILY;COUNT=3" }),
        )
        .await;
    let mut id = first["id"].as_str().expect("id").to_owned();
    let mut dues = vec![first["due"].clone()];
    for _ in 0..2 {
        act(&app, &user, &id, "complete").await;
        let next = wait_next(&app, &user, &id).await;
        dues.push(next["due"].clone());
        id = next["id"].as_str().expect("id").to_owned();
    }
    assert_eq!(dues, [json!("2030-02-01T18:00:00Z"), json!("2030-02-02T18:00:00Z"), json!("2030-02-03T18:00:00Z")]);

    // The third occurrence is the last one.
    act(&app, &user, &id, "complete").await;
    let completion = event_ids(&app, &user, &id, "task.completed").await;
    db.wait_handled("recurrence", &completion[0]).await;
    assert!(next_occurrences(&app, &user, &id).await.is_empty());
    assert_eq!(tasks_of(&app, &user).await.len(), 3);
    db.close().await;
    app.stop().await;
}

#[tokio::test]
async fn a_task_without_recurrence_creates_nothing_when_completed() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let db = LogDb::of(&app).await;
    let task = app.create_task(&user, json!({ "title": "Once", "due": "2030-02-01" })).await;
    let id = task["id"].as_str().expect("id");
    act(&app, &user, id, "complete").await;
    let completion = event_ids(&app, &user, id, "task.completed").await;
    db.wait_handled("recurrence", &completion[0]).await;
    let tasks = tasks_of(&app, &user).await;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["status"], "completed");
    db.close().await;
    app.stop().await;
}

#[tokio::test]
async fn a_recurring_task_without_due_gets_one_from_the_rule() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let task = app.create_task(&user, json!({ "title": "Stretch", "recurrence": "FREQ=DAILY" })).await;
    let id = task["id"].as_str().expect("id");
    act(&app, &user, id, "complete").await;
    let next = wait_next(&app, &user, id).await;
    let due_at = chrono::DateTime::parse_from_rfc3339(next["due_at"].as_str().expect("due_at")).expect("instant");
    assert!(due_at > chrono::Utc::now(), "the next occurrence is in the future: {next}");
    app.stop().await;
}

#[tokio::test]
async fn a_series_completed_late_goes_on_from_today_not_with_overdue_occurrences() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    // Due every day at 09:00 UTC since a month ago, and done only now.
    let started = (chrono::Utc::now() - chrono::Duration::days(30)).date_naive();
    let due = format!("{started}T09:00:00Z");
    let task =
        app.create_task(&user, json!({ "title": "Water the plants", "due": due, "recurrence": "FREQ=DAILY" })).await;
    let id = task["id"].as_str().expect("id");
    let before = chrono::Utc::now();
    act(&app, &user, id, "complete").await;
    let next = wait_next(&app, &user, id).await;
    let next_at: chrono::DateTime<chrono::Utc> = next["due_at"].as_str().expect("due_at").parse().expect("instant");
    assert!(next_at > before, "the next occurrence is not overdue: {next_at} (completed at {before})");
    assert!(next_at <= before + chrono::Duration::days(1), "it is the first one after now: {next_at}");
    assert_eq!(next_at.time(), chrono::NaiveTime::from_hms_opt(9, 0, 0).expect("time"), "at the series' time of day");
    app.stop().await;
}

#[tokio::test]
async fn skipping_an_occurrence_moves_the_due_on_and_keeps_the_task_open() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let task = app
        .create_task(
            &user,
            json!({ "title": "Bins out", "due": "2030-01-07", "recurrence": "FREQ=WEEKLY;BYDAY=MO;COUNT=2", "reminders": ["PT1H"] }),
        )
        .await;
    let id = task["id"].as_str().expect("id");
    let skipped = act(&app, &user, id, "skip").await;
    assert_eq!(skipped["due"], "2030-01-14");
    assert_eq!(skipped["status"], "open");
    assert_eq!(skipped["version"], task["version"].as_i64().expect("version") + 1);
    assert_eq!(skipped["reminders"], json!(["PT1H"]), "offsets stay");
    let history = app.task_history(&user, id).await;
    let last = history.last().expect("history");
    assert_eq!(last["event_type"], "task.updated");
    assert_eq!(last["data"]["changes"], json!(["due"]));
    assert!(next_occurrences(&app, &user, id).await.is_empty(), "skipping creates no task");

    // COUNT=2: the second Monday is the last one; a task that does not recur has none.
    let over = app.post(&format!("/api/v1/tasks/{id}/skip"), &user).send().await.expect("request");
    assert_eq!(over.status(), StatusCode::CONFLICT);
    let problem: Value = over.json().await.expect("problem");
    assert!(problem["detail"].as_str().expect("detail").contains("last occurrence"), "{problem}");
    let once = app.create_task(&user, json!({ "title": "Once", "due": "2030-01-07" })).await;
    let once_id = once["id"].as_str().expect("id");
    let refused = app.post(&format!("/api/v1/tasks/{once_id}/skip"), &user).send().await.expect("request");
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    // A stale If-Match is refused like any change.
    let stale =
        app.post(&format!("/api/v1/tasks/{id}/skip"), &user).header("If-Match", "\"1\"").send().await.expect("request");
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    app.stop().await;
}

#[tokio::test]
async fn a_series_repeating_from_completion_counts_from_the_day_it_was_done() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    // Due at 18:00 UTC every 3 days since ten days ago, done only now: the
    // next is three days after today, at 18:00 (a fixed schedule would keep
    // to the grid of its first due instead).
    let started = (chrono::Utc::now() - chrono::Duration::days(10)).date_naive();
    let task = app
        .create_task(
            &user,
            json!({ "title": "Water the ferns", "due": format!("{started}T18:00:00Z"), "recurrence": "FREQ=DAILY;INTERVAL=3", "repeat_from": "completion" }),
        )
        .await;
    assert_eq!(task["repeat_from"], "completion");
    let id = task["id"].as_str().expect("id");
    let done_on = chrono::Utc::now().date_naive();
    act(&app, &user, id, "complete").await;
    let next = wait_next(&app, &user, id).await;
    assert_eq!(next["due"], format!("{}T18:00:00Z", done_on + chrono::Duration::days(3)));
    assert_eq!(
        (next["repeat_from"].as_str(), next["recurrence"].as_str()),
        (Some("completion"), Some("FREQ=DAILY;INTERVAL=3"))
    );

    // A new rule alone keeps counting from completion; `null` goes back to the schedule.
    let next_id = next["id"].as_str().expect("id");
    let weekly = app
        .patch(&format!("/api/v1/tasks/{next_id}"), &user)
        .json(&json!({ "recurrence": "FREQ=WEEKLY" }))
        .send()
        .await
        .expect("request");
    let weekly: Value = weekly.json().await.expect("json");
    assert_eq!(
        (weekly["recurrence"].as_str(), weekly["repeat_from"].as_str()),
        (Some("FREQ=WEEKLY"), Some("completion"))
    );
    let history = app.task_history(&user, next_id).await;
    assert_eq!(history.last().expect("history")["data"]["changes"], json!(["recurrence"]));
    let fixed = app
        .patch(&format!("/api/v1/tasks/{next_id}"), &user)
        .json(&json!({ "repeat_from": null }))
        .send()
        .await
        .expect("request");
    let fixed: Value = fixed.json().await.expect("json");
    assert!(fixed.get("repeat_from").is_none(), "a fixed schedule is the default, left out: {fixed}");

    // COUNT cannot end a series that starts anew at each completion; a
    // mode without a rule, or an unknown one, is refused by field.
    for (body, field) in [
        (json!({ "title": "x", "recurrence": "FREQ=DAILY;COUNT=3", "repeat_from": "completion" }), "recurrence"),
        (json!({ "title": "x", "repeat_from": "completion" }), "repeat_from"),
        (json!({ "title": "x", "recurrence": "FREQ=DAILY", "repeat_from": "whenever" }), "repeat_from"),
    ] {
        let refused = app.post("/api/v1/tasks", &user).json(&body).send().await.expect("request");
        let problem = assert_problem(refused, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }

    // Quick add reads Todoist's "every!".
    let quick = app
        .post("/api/v1/tasks/quick", &user)
        .json(&json!({ "text": "Descale the kettle every! 2 weeks" }))
        .send()
        .await
        .expect("request");
    assert_eq!(quick.status(), StatusCode::CREATED);
    let quick: Value = quick.json().await.expect("json");
    assert_eq!(
        (quick["title"].as_str(), quick["recurrence"].as_str(), quick["repeat_from"].as_str()),
        (Some("Descale the kettle"), Some("FREQ=WEEKLY;INTERVAL=2"), Some("completion"))
    );
    app.stop().await;
}
