//! The event log: exactly-once effects across a real `kill -9`, and every change
//! written with its event in one transaction (the log rebuilds the tasks table).
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::eventlog::{LogDb, Remote, replay, successors};
use crate::helpers::{ProcessApp, eventually};

const TASKS: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_mid_stream_neither_loses_nor_duplicates_an_effect() {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = ProcessApp::start(dir.path(), &[]).await;
    let remote = Remote::of(&app);
    let user = remote.new_user().await;

    let ids: Vec<String> = stream::iter(0..TASKS)
        .map(|i| {
            let (remote, user) = (remote.clone(), user.clone());
            async move {
                let body = json!({ "title": format!("Water plant {i}"), "due": "2030-01-01T09:00:00Z", "recurrence": "FREQ=DAILY" });
                remote.create_task(&user, body).await["id"].as_str().expect("id").to_owned()
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;

    // Complete them all concurrently; kill -9 the process once a third went through.
    let completed = Arc::new(AtomicUsize::new(0));
    let third = Arc::new(tokio::sync::Notify::new());
    let completer = {
        let (remote, user, ids, completed, third) =
            (remote.clone(), user.clone(), ids.clone(), completed.clone(), third.clone());
        tokio::spawn(async move {
            stream::iter(ids)
                .map(|id| {
                    let (remote, user, completed, third) =
                        (remote.clone(), user.clone(), completed.clone(), third.clone());
                    async move {
                        let response = remote.post(&format!("/api/v1/tasks/{id}/complete"), &user).send().await;
                        if matches!(&response, Ok(r) if r.status() == StatusCode::OK)
                            && completed.fetch_add(1, Ordering::SeqCst) + 1 == TASKS / 3
                        {
                            third.notify_one();
                        }
                    }
                })
                .buffer_unordered(32)
                .collect::<Vec<()>>()
                .await;
        })
    };
    tokio::time::timeout(Duration::from_secs(60), third.notified()).await.expect("a third of the completions");
    app.kill().await;
    completer.await.expect("completer");
    let before_crash = completed.load(Ordering::SeqCst);
    assert!(before_crash < TASKS, "the crash came in the middle of the stream");
    {
        let db = LogDb::open(dir.path()).await;
        let head = db.head().await;
        let completions = db.scalar("SELECT COUNT(*) FROM events WHERE event_type = 'task.completed'").await;
        let published = db.scalar("SELECT COUNT(*) FROM events WHERE seq <= (SELECT seq FROM relay_position)").await;
        eprintln!(
            "at the crash: {before_crash} completions answered, {completions} committed, log head {head}, {published} published, recurrence at {}, reminders at {}",
            db.offset("recurrence").await,
            db.offset("reminders").await
        );
        db.close().await;
    }

    // Start again on the same data and finish the job: completing a completed
    // task changes nothing, so every task is completed exactly once.
    let app = ProcessApp::start(dir.path(), &[]).await;
    let remote = Remote::of(&app);
    for id in &ids {
        let response = remote.post(&format!("/api/v1/tasks/{id}/complete"), &user).send().await.expect("request");
        assert_eq!(response.status(), StatusCode::OK);
    }

    // Every completed task gets exactly one next occurrence.
    let tasks = eventually(Duration::from_secs(90), "one next occurrence per completed task", || async {
        let tasks = remote.all_tasks(&user).await;
        let next = successors(&tasks);
        (ids.iter().all(|id| next.contains_key(id))).then_some(tasks)
    })
    .await;
    let next = successors(&tasks);
    assert_eq!(tasks.len(), 2 * TASKS, "the originals and one successor each, nothing more");
    for id in &ids {
        let found = &next[id];
        assert_eq!(found.len(), 1, "task {id} has exactly one successor: {found:?}");
        let successor = tasks.iter().find(|t| t["id"] == found[0].as_str()).expect("successor");
        assert_eq!(successor["status"], "open");
        assert_eq!(successor["due"], "2030-01-02T09:00:00Z");
        assert_eq!(successor["recurrence"], "FREQ=DAILY");
    }
    for task in tasks.iter().filter(|t| t["recurs_from"].is_null()) {
        assert_eq!(task["status"], "completed");
    }

    // The log agrees: each consumer handled each of its events exactly once.
    let db = LogDb::open(dir.path()).await;
    eventually(Duration::from_secs(60), "every consumer to reach the head of the log", || async {
        db.caught_up().await.then_some(())
    })
    .await;
    remote.wait_published().await;
    db.assert_handled_exactly_once().await;

    let events = db.events().await;
    let completions: Vec<_> = events.iter().filter(|e| e.event_type == "task.completed").collect();
    assert_eq!(completions.len(), TASKS, "one task.completed per task");
    let mut caused: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for created in events.iter().filter(|e| e.event_type == "task.created") {
        if let Some(cause) = created.metadata["causation_id"].as_str() {
            caused.entry(cause.to_owned()).or_default().push(&created.data);
        }
    }
    for completion in completions {
        let created = caused.get(&completion.event_id).map(Vec::as_slice).unwrap_or_default();
        assert_eq!(created.len(), 1, "task.completed {} caused exactly one task.created", completion.event_id);
        assert_eq!(created[0]["task"]["recurs_from"].as_str(), completion.task_id.as_deref());
    }
    db.close().await;
    assert!(app.terminate().await.success());

    // And the log still rebuilds the tasks table exactly.
    let (code, out) = replay(dir.path()).await;
    assert_eq!(code, Some(0), "replay: {out}");
    assert!(out.contains(&format!("into {} tasks", 2 * TASKS)), "{out}");
}

#[tokio::test]
async fn every_change_is_written_with_its_event_and_the_log_rebuilds_the_tasks() {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = ProcessApp::start(dir.path(), &[]).await;
    let remote = Remote::of(&app);
    let alice = remote.new_user().await;
    let bob = remote.new_user().await;

    let plain = remote.create_task(&alice, json!({ "title": "Plain", "tags": ["a", "b"] })).await;
    let plain_id = plain["id"].as_str().expect("id");
    let response = remote
        .client
        .patch(remote.url(&format!("/api/v1/tasks/{plain_id}")))
        .bearer_auth(&alice.token)
        .json(&json!({ "title": "Plain, renamed", "priority": "urgent", "description": "*now* with text" }))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);

    let recurring = remote
        .create_task(&alice, json!({ "title": "Weekly review", "due": "2030-03-01T17:00[Europe/Berlin]", "recurrence": "FREQ=WEEKLY", "reminders": ["PT1H"] }))
        .await;
    let recurring_id = recurring["id"].as_str().expect("id");
    let response =
        remote.post(&format!("/api/v1/tasks/{recurring_id}/complete"), &alice).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::OK);

    let reopened = remote.create_task(&bob, json!({ "title": "Reopened", "due": "2030-05-05" })).await;
    let reopened_id = reopened["id"].as_str().expect("id");
    for step in ["complete", "reopen"] {
        let response = remote.post(&format!("/api/v1/tasks/{reopened_id}/{step}"), &bob).send().await.expect("request");
        assert_eq!(response.status(), StatusCode::OK);
    }

    let deleted = remote.create_task(&bob, json!({ "title": "Short-lived" })).await;
    let deleted_id = deleted["id"].as_str().expect("id");
    let response = remote
        .client
        .delete(remote.url(&format!("/api/v1/tasks/{deleted_id}")))
        .bearer_auth(&bob.token)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    // A change that fails writes neither the row nor an event.
    let before = remote.task_history_len(&alice, plain_id).await;
    let stale = remote
        .client
        .patch(remote.url(&format!("/api/v1/tasks/{plain_id}")))
        .bearer_auth(&alice.token)
        .header("if-match", "\"1\"")
        .json(&json!({ "title": "Lost update" }))
        .send()
        .await
        .expect("request");
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    let invalid = remote
        .client
        .patch(remote.url(&format!("/api/v1/tasks/{plain_id}")))
        .bearer_auth(&alice.token)
        .json(&json!({ "title": "", "recurrence": "every now and then" }))
        .send()
        .await
        .expect("request");
    assert_eq!(invalid.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let foreign = remote.post(&format!("/api/v1/tasks/{plain_id}/complete"), &bob).send().await.expect("request");
    assert_eq!(foreign.status(), StatusCode::NOT_FOUND);
    assert_eq!(remote.task_history_len(&alice, plain_id).await, before);

    // Wait for the next occurrence of the recurring task, so the log is complete.
    eventually(Duration::from_secs(30), "the next weekly review", || async {
        remote.all_tasks(&alice).await.iter().any(|t| t["recurs_from"] == recurring_id).then_some(())
    })
    .await;
    let mut tasks = remote.all_tasks(&alice).await;
    tasks.extend(remote.all_tasks(&bob).await);
    assert_eq!(tasks.len(), 4);
    remote.wait_published().await;
    let status = app.terminate().await;
    assert!(status.success(), "SIGTERM exits 0: {status:?}");

    // Each task as the API shows it is exactly the task in its latest event.
    let db = LogDb::open(dir.path()).await;
    let events = db.events().await;
    for task in &tasks {
        let id = task["id"].as_str().expect("id");
        let latest = events.iter().rev().find(|e| e.task_id.as_deref() == Some(id)).expect("the task has events");
        assert_ne!(latest.event_type, "task.deleted");
        assert_eq!(&latest.data["task"], task, "the latest event of {id} carries the task as stored");
    }
    let last_of_deleted = events.iter().rev().find(|e| e.task_id.as_deref() == Some(deleted_id)).expect("events");
    assert_eq!(last_of_deleted.event_type, "task.deleted");
    let types_of = |id: &str| {
        events.iter().filter(|e| e.task_id.as_deref() == Some(id)).map(|e| e.event_type.as_str()).collect::<Vec<_>>()
    };
    assert_eq!(types_of(plain_id), ["task.created", "task.updated"]);
    assert_eq!(types_of(reopened_id), ["task.created", "task.completed", "task.reopened"]);
    assert_eq!(types_of(deleted_id), ["task.created", "task.deleted"]);
    db.close().await;

    let (code, out) = replay(dir.path()).await;
    assert_eq!(code, Some(0), "replay: {out}");
    assert!(out.contains("the tasks table matches the event log"), "{out}");

    // A change made behind the log's back is exactly what replay reports.
    let db = LogDb::open_writable(dir.path()).await;
    sqlx::query("UPDATE tasks SET title = 'changed without an event' WHERE id = ?")
        .bind(plain_id)
        .execute(&db.pool)
        .await
        .expect("tamper");
    db.close().await;
    let (code, out) = replay(dir.path()).await;
    assert_eq!(code, Some(1), "replay: {out}");
    assert!(out.contains(&format!("task {plain_id} differs")), "{out}");
}

/// A burst of writes group-committed together (64 at once), with members that
/// fail inside the transaction (a stale `If-Match`), cut by `kill -9`: after a
/// restart every answered create is there with its one event, handled exactly
/// once; a failed member changed nothing; nothing was written that nobody asked for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_during_a_group_committed_burst_keeps_every_answered_write() {
    const BURST: usize = 3000;
    let dir = tempfile::tempdir().expect("temp dir");
    let app = ProcessApp::start(dir.path(), &[]).await;
    let remote = Remote::of(&app);
    let user = remote.new_user().await;
    let target = remote.create_task(&user, json!({ "title": "Target of stale updates" })).await;
    let target_id = target["id"].as_str().expect("id").to_owned();

    let answered = Arc::new(AtomicUsize::new(0));
    let enough = Arc::new(tokio::sync::Notify::new());
    let burst = {
        let (remote, user, answered, enough, target_id) =
            (remote.clone(), user.clone(), answered.clone(), enough.clone(), target_id.clone());
        tokio::spawn(async move {
            stream::iter(0..BURST)
                .map(|i| {
                    let (remote, user, answered, enough, target_id) =
                        (remote.clone(), user.clone(), answered.clone(), enough.clone(), target_id.clone());
                    async move {
                        let response = if i % 5 == 4 {
                            // Fails inside its transaction: the version it names is not the task's.
                            remote
                                .client
                                .patch(remote.url(&format!("/api/v1/tasks/{target_id}")))
                                .bearer_auth(&user.token)
                                .header("if-match", "\"99\"")
                                .json(&json!({ "title": format!("stale {i}") }))
                                .send()
                                .await
                        } else {
                            remote
                                .post("/api/v1/tasks", &user)
                                .json(&json!({ "title": format!("burst {i}") }))
                                .send()
                                .await
                        };
                        let outcome = match response {
                            Ok(r) => {
                                let status = r.status();
                                let body: Value = r.json().await.unwrap_or(Value::Null);
                                Some((status, body))
                            }
                            Err(_) => None,
                        };
                        if answered.fetch_add(1, Ordering::SeqCst) + 1 == BURST / 3 {
                            enough.notify_one();
                        }
                        (i, outcome)
                    }
                })
                .buffer_unordered(64)
                .collect::<Vec<_>>()
                .await
        })
    };
    tokio::time::timeout(Duration::from_secs(120), enough.notified()).await.expect("a third of the burst answered");
    app.kill().await;
    let outcomes = burst.await.expect("burst");

    let mut created = std::collections::BTreeSet::new();
    let mut unanswered = 0;
    for (i, outcome) in &outcomes {
        match outcome {
            Some((StatusCode::CREATED, body)) => {
                created.insert(body["id"].as_str().expect("id").to_owned());
            }
            Some((StatusCode::PRECONDITION_FAILED, _)) => assert_eq!(i % 5, 4, "only the stale updates fail"),
            Some((status, body)) => panic!("request {i}: unexpected {status} {body}"),
            None => unanswered += 1,
        }
    }
    assert!(unanswered > 0 && !created.is_empty(), "the kill came mid-burst ({} created)", created.len());

    let app = ProcessApp::start(dir.path(), &[]).await;
    let remote = Remote::of(&app);
    let tasks = remote.all_tasks(&user).await;
    let stored: std::collections::BTreeSet<String> = tasks
        .iter()
        .filter(|t| t["id"] != target_id.as_str())
        .map(|t| t["id"].as_str().expect("id").to_owned())
        .collect();
    assert!(created.is_subset(&stored), "every answered create survived the kill");
    assert!(stored.len() <= created.len() + unanswered, "nothing was written that nobody asked for");
    let target = tasks.iter().find(|t| t["id"] == target_id.as_str()).expect("target");
    assert_eq!(target["title"], "Target of stale updates", "a failed member changed nothing");
    assert_eq!(target["version"], 1);

    let db = LogDb::open(dir.path()).await;
    let events = db.events().await;
    let mut created_events: BTreeMap<String, usize> = BTreeMap::new();
    for e in events.iter().filter(|e| e.event_type == "task.created") {
        *created_events.entry(e.task_id.clone().expect("task id")).or_default() += 1;
    }
    for id in &stored {
        assert_eq!(created_events.get(id), Some(&1), "task {id} has exactly one task.created");
    }
    assert!(!events.iter().any(|e| e.event_type == "task.updated"), "the stale updates appended nothing");
    let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "the log is in order");
    eventually(Duration::from_secs(60), "every consumer to reach the head of the log", || async {
        db.caught_up().await.then_some(())
    })
    .await;
    remote.wait_published().await;
    db.assert_handled_exactly_once().await;
    db.close().await;
    assert!(app.terminate().await.success());
}
