//! Graceful shutdown of the real binary: SIGTERM while a client follows the
//! stream and writes are in flight.
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::eventlog::{LogDb, Remote};
use crate::helpers::{ProcessApp, eventually};
use crate::realtime::SseClient;

const WRITERS: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_streams_drains_writes_and_leaves_nothing_unpublished() {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = ProcessApp::start(dir.path(), &[]).await;
    let remote = Remote::of(&app);
    let user = remote.new_user().await;
    let mut stream = SseClient::open(remote.get("/api/v1/stream", &user)).await.tasks_only();
    let ws_url = format!("{}/api/v1/ws?access_token={}", remote.address.replacen("http", "ws", 1), user.token);
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url).await.expect("upgrade");

    // Writers create recurring tasks and complete them (which gives the
    // recurrence consumer work) until the server goes away.
    let created = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (remote, user, created) = (remote.clone(), user.clone(), created.clone());
            tokio::spawn(async move {
                for i in 0.. {
                    let body = json!({ "title": format!("w{w} #{i}"), "due": "2030-01-01", "recurrence": "FREQ=DAILY", "reminders": ["P1D"] });
                    let Ok(response) = remote.post("/api/v1/tasks", &user).json(&body).send().await else { return };
                    if response.status() != StatusCode::CREATED {
                        return;
                    }
                    created.fetch_add(1, Ordering::SeqCst);
                    let Ok(task) = response.json::<serde_json::Value>().await else { return };
                    let id = task["id"].as_str().unwrap_or_default();
                    if remote.post(&format!("/api/v1/tasks/{id}/complete"), &user).send().await.is_err() {
                        return;
                    }
                }
            })
        })
        .collect();

    // The stream is live, writes are flowing: stop the server.
    let seen = stream.take(20).await;
    assert!(seen.iter().all(|e| e.data["user_id"] == user.id.as_str()));
    let status = app.terminate().await;
    assert!(status.success(), "SIGTERM exits 0: {status:?}");
    for w in writers {
        w.await.expect("writer");
    }

    // The server ended the event stream itself (a proper end of the body, not a
    // connection cut by the process exiting), after the events it had.
    while stream.next().await.is_some() {}
    assert_eq!(stream.ended_cleanly, Some(true), "the server ended the SSE response");

    // The WebSocket got a close frame from the server, not just a dropped connection.
    let closed = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(frame) = ws.next().await {
            match frame {
                Ok(Message::Close(_)) => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
        false
    })
    .await
    .expect("the socket ends");
    assert!(closed, "the server closed the WebSocket");

    // The relay flushed on the way out: nothing committed is left unpublished.
    let db = LogDb::open(dir.path()).await;
    assert_eq!(db.scalar("SELECT COUNT(*) FROM events WHERE seq > (SELECT seq FROM relay_position)").await, 0);
    db.close().await;

    let app = ProcessApp::start(dir.path(), &[]).await;
    let remote = Remote::of(&app);
    // Consumers catching up after the restart may append events of their own
    // (a next occurrence, say), which the relay then publishes: wait for that.
    eventually(Duration::from_secs(30), "health to report nothing unpublished", || async {
        let health = remote.health().await;
        (health["checks"]["event_log"]["details"]["unpublished"] == 0).then_some(())
    })
    .await;

    // Every acknowledged write is there, and every event gets handled once.
    let tasks = remote.all_tasks(&user).await;
    let originals = tasks.iter().filter(|t| t["recurs_from"].is_null()).count();
    assert!(
        originals >= created.load(Ordering::SeqCst),
        "{originals} tasks for {} acknowledged creations",
        created.load(Ordering::SeqCst)
    );
    let db = LogDb::open(dir.path()).await;
    eventually(Duration::from_secs(60), "every consumer to reach the head of the log", || async {
        db.caught_up().await.then_some(())
    })
    .await;
    db.assert_handled_exactly_once().await;
    let completions = db.scalar("SELECT COUNT(*) FROM events WHERE event_type = 'task.completed'").await;
    let successors = db.scalar("SELECT COUNT(*) FROM tasks WHERE recurs_from IS NOT NULL").await;
    assert_eq!(successors, completions, "one next occurrence per completion");
    db.close().await;
    assert!(app.terminate().await.success());
}
