//! Support for the event-log tests: plain HTTP against a [`ProcessApp`] (the real
//! binary), and direct reads of its SQLite file to check what the log, the
//! inboxes and the offsets say.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use reqwest::{RequestBuilder, StatusCode};
use serde_json::Value;
use sqlx::AnyPool;
use sqlx::Row;
use sqlx::any::AnyPoolOptions;

use crate::helpers::{ProcessApp, TestUser, create_task_at, eventually, sign_up};

/// The consumers the embedded `serve` runs.
pub const CONSUMERS: [&str; 3] = ["recurrence", "reminders", "notifications"];

const TASK_CHANGES: [&str; 5] = ["task.created", "task.updated", "task.completed", "task.reopened", "task.deleted"];

/// Whether `consumer` must handle `e` (`Some(true)`), must not (`Some(false)`),
/// or may pass over it (`None`: the reminder schedule may skip a new task that
/// has no reminders, as there is nothing to schedule).
fn must_handle(consumer: &str, e: &LoggedEvent) -> Option<bool> {
    let t = e.event_type.as_str();
    match consumer {
        "recurrence" => Some(t == "task.completed"),
        "notifications" => Some(t == "reminder.due"),
        "reminders" if t == "task.created" => {
            if e.data["task"]["reminders"].as_array().is_some_and(|r| !r.is_empty()) {
                Some(true)
            } else {
                None
            }
        }
        "reminders" => Some(TASK_CHANGES.contains(&t)),
        _ => Some(false),
    }
}

/// An HTTP client for an app at `address` (a child process, usually).
#[derive(Clone)]
pub struct Remote {
    pub address: String,
    pub client: reqwest::Client,
}

impl Remote {
    pub fn of(app: &ProcessApp) -> Self {
        Self { address: app.address.clone(), client: reqwest::Client::new() }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub fn get(&self, path: &str, user: &TestUser) -> RequestBuilder {
        self.client.get(self.url(path)).bearer_auth(&user.token)
    }

    pub fn post(&self, path: &str, user: &TestUser) -> RequestBuilder {
        self.client.post(self.url(path)).bearer_auth(&user.token)
    }

    pub async fn new_user(&self) -> TestUser {
        sign_up(&self.client, &self.address).await
    }

    pub async fn create_task(&self, user: &TestUser, body: Value) -> Value {
        create_task_at(&self.client, &self.address, user, body).await
    }

    /// Every task of `user`, following the cursor.
    pub async fn all_tasks(&self, user: &TestUser) -> Vec<Value> {
        let mut tasks = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut request = self.get("/api/v1/tasks", user).query(&[("limit", "200")]);
            if let Some(c) = &cursor {
                request = request.query(&[("cursor", c.as_str())]);
            }
            let response = request.send().await.expect("request");
            assert_eq!(response.status(), StatusCode::OK);
            let page: Value = response.json().await.expect("json");
            tasks.extend(page["items"].as_array().cloned().unwrap_or_default());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return tasks,
            }
        }
    }

    pub async fn task_history_len(&self, user: &TestUser, id: &str) -> usize {
        let body: Value = self
            .get(&format!("/api/v1/tasks/{id}/history"), user)
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json");
        body["items"].as_array().map_or(0, Vec::len)
    }

    pub async fn health(&self) -> Value {
        self.client.get(self.url("/health")).send().await.expect("request").json().await.expect("json")
    }

    /// Waits until the relay has published everything committed so far.
    pub async fn wait_published(&self) {
        eventually(Duration::from_secs(30), "the relay to publish every event", || async {
            let health = self.health().await;
            (health["checks"]["event_log"]["details"]["unpublished"] == 0).then_some(())
        })
        .await;
    }
}

/// Maps each task id to the ids of the tasks that name it in `recurs_from`.
pub fn successors(tasks: &[Value]) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for t in tasks {
        if let Some(from) = t["recurs_from"].as_str() {
            map.entry(from.to_owned()).or_default().push(t["id"].as_str().expect("id").to_owned());
        }
    }
    map
}

/// A view of an app's database: its SQLite file (the app may still be running:
/// WAL lets readers in beside it) or its PostgreSQL database.
pub struct LogDb {
    pub pool: AnyPool,
}

impl LogDb {
    /// The SQLite file in `data_dir`, read-only.
    pub async fn open(data_dir: &Path) -> Self {
        Self::connect(&format!("sqlite://{}?mode=ro", data_dir.join("ontask.db").display()), 2).await
    }

    /// A writable connection, for tests that tamper with the data on purpose.
    pub async fn open_writable(data_dir: &Path) -> Self {
        Self::connect(&format!("sqlite://{}", data_dir.join("ontask.db").display()), 1).await
    }

    /// The database of an app running in this test process.
    pub async fn of(app: &crate::helpers::TestApp) -> Self {
        match &app.database {
            Some(database) => Self::connect(database.url(), 2).await,
            None => Self::open(app.data_dir.path()).await,
        }
    }

    /// The database of an app running in this test process, writable (for
    /// tests that tamper with the data on purpose).
    pub async fn writable_of(app: &crate::helpers::TestApp) -> Self {
        match &app.database {
            Some(database) => Self::connect(database.url(), 2).await,
            None => Self::open_writable(app.data_dir.path()).await,
        }
    }

    pub async fn connect(url: &str, connections: u32) -> Self {
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new()
            .max_connections(connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .expect("open the database");
        Self { pool }
    }

    pub async fn execute(&self, sql: &str) {
        sqlx::query(sql).execute(&self.pool).await.expect("statement");
    }

    pub async fn scalar(&self, sql: &str) -> i64 {
        sqlx::query(sql).fetch_one(&self.pool).await.expect("query").get(0)
    }

    pub async fn head(&self) -> i64 {
        self.scalar("SELECT COALESCE(MAX(seq), 0) FROM events").await
    }

    pub async fn offset(&self, consumer: &str) -> i64 {
        sqlx::query("SELECT position FROM consumer_offsets WHERE consumer = $1")
            .bind(consumer)
            .fetch_optional(&self.pool)
            .await
            .expect("query")
            .map_or(0, |r| r.get(0))
    }

    /// True when every consumer's offset is at the head of the log.
    pub async fn caught_up(&self) -> bool {
        let head = self.head().await;
        for consumer in CONSUMERS {
            if self.offset(consumer).await != head {
                return false;
            }
        }
        true
    }

    /// Every event of the log as `(seq, event_id, event_type, task_id, metadata, data)`.
    pub async fn events(&self) -> Vec<LoggedEvent> {
        sqlx::query(
            "SELECT seq, event_id, event_type, task_id, data, metadata, \
                    CASE WHEN seq <= (SELECT seq FROM relay_position) THEN 1 ELSE 0 END \
             FROM events ORDER BY seq",
        )
        .fetch_all(&self.pool)
        .await
        .expect("query")
        .iter()
        .map(|r| LoggedEvent {
            seq: r.get(0),
            event_id: r.get(1),
            event_type: r.get(2),
            task_id: r.get(3),
            data: serde_json::from_str(&r.get::<String, _>(4)).expect("data json"),
            metadata: serde_json::from_str(&r.get::<String, _>(5)).expect("metadata json"),
            published: r.get::<i64, _>(6) == 1,
        })
        .collect()
    }

    /// The event ids in `consumer`'s inbox.
    pub async fn inbox(&self, consumer: &str) -> Vec<String> {
        sqlx::query("SELECT event_id FROM inbox WHERE consumer = $1 ORDER BY event_id")
            .bind(consumer)
            .fetch_all(&self.pool)
            .await
            .expect("query")
            .iter()
            .map(|r| r.get(0))
            .collect()
    }

    /// Whether `consumer` has handled the event (its inbox has the row).
    pub async fn has_handled(&self, consumer: &str, event_id: &str) -> bool {
        sqlx::query("SELECT 1 FROM inbox WHERE consumer = $1 AND event_id = $2")
            .bind(consumer)
            .bind(event_id)
            .fetch_optional(&self.pool)
            .await
            .expect("query")
            .is_some()
    }

    /// Waits until `consumer` has handled the event.
    pub async fn wait_handled(&self, consumer: &str, event_id: &str) {
        eventually(Duration::from_secs(30), &format!("{consumer} to handle {event_id}"), || async {
            self.has_handled(consumer, event_id).await.then_some(())
        })
        .await;
    }

    pub async fn dead_letters(&self) -> i64 {
        self.scalar("SELECT COUNT(*) FROM dead_letters").await
    }

    /// Asserts that each consumer handled each event it wants exactly once (its
    /// inbox holds exactly those event ids: the primary key rules out a second
    /// row, so this proves nothing was lost or handled beside the rules), that
    /// nothing was dead-lettered, and that every offset reached the head of the log.
    pub async fn assert_handled_exactly_once(&self) {
        self.assert_handled_exactly_once_where(true).await;
    }

    /// The same, for a partitioned bus (Kafka): partitions are consumed in
    /// parallel, so the last event a consumer handled need not be the head.
    pub async fn assert_handled_exactly_once_by_inbox(&self) {
        self.assert_handled_exactly_once_where(false).await;
    }

    async fn assert_handled_exactly_once_where(&self, offsets_at_head: bool) {
        let events = self.events().await;
        assert!(events.iter().all(|e| e.published), "every event is published");
        let head = events.last().map_or(0, |e| e.seq);
        for consumer in CONSUMERS {
            let inbox = self.inbox(consumer).await;
            let inbox: BTreeSet<&str> = inbox.iter().map(String::as_str).collect();
            let mut required = 0;
            for e in &events {
                match must_handle(consumer, e) {
                    Some(true) => {
                        required += 1;
                        assert!(inbox.contains(e.event_id.as_str()), "{consumer} handled {} #{}", e.event_type, e.seq);
                    }
                    Some(false) => {
                        assert!(
                            !inbox.contains(e.event_id.as_str()),
                            "{consumer} did not handle {} #{}",
                            e.event_type,
                            e.seq
                        )
                    }
                    None => {}
                }
            }
            let known: BTreeSet<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
            assert!(inbox.is_subset(&known), "{consumer}: every inbox row is an event of the log");
            assert!(inbox.len() >= required, "{consumer}: inbox rows vs events it wants");
            if offsets_at_head {
                assert_eq!(self.offset(consumer).await, head, "{consumer}: offset at the head of the log");
            }
        }
        assert_eq!(self.dead_letters().await, 0, "no dead letters");
    }

    /// True once every event is published and every consumer handled every
    /// event it must (by its inbox).
    pub async fn all_handled(&self) -> bool {
        // Inboxes first, the log after: an event a consumer appends while this
        // runs (a next occurrence) then shows up unhandled, so the answer can
        // be a late "no" but never an early "yes".
        let mut inboxes = Vec::new();
        for consumer in CONSUMERS {
            inboxes.push((consumer, self.inbox(consumer).await));
        }
        let events = self.events().await;
        if !events.iter().all(|e| e.published) {
            return false;
        }
        inboxes.iter().all(|(consumer, inbox)| {
            let inbox: BTreeSet<&str> = inbox.iter().map(String::as_str).collect();
            events.iter().all(|e| must_handle(consumer, e) != Some(true) || inbox.contains(e.event_id.as_str()))
        })
    }

    pub async fn close(self) {
        self.pool.close().await;
    }
}

#[derive(Debug, Clone)]
pub struct LoggedEvent {
    pub seq: i64,
    pub event_id: String,
    pub event_type: String,
    pub task_id: Option<String>,
    pub data: Value,
    pub metadata: Value,
    pub published: bool,
}

/// Runs `ontask events replay` on a data directory; returns (exit code, stdout).
pub async fn replay(data_dir: &Path) -> (Option<i32>, String) {
    replay_with(&["--data-dir".to_owned(), data_dir.display().to_string()]).await
}

/// Runs `ontask events replay` with these flags (`TestApp::database_args`).
pub async fn replay_with(args: &[String]) -> (Option<i32>, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_ontask"))
        .args(["events", "replay"])
        .args(args)
        .output()
        .await
        .expect("run ontask events replay");
    (output.status.code(), String::from_utf8_lossy(&output.stdout).into_owned())
}
