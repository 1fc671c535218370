//! Realtime: the caller's events over Server-Sent Events and WebSocket, live and
//! resumed from a log position; never another user's.
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};

use crate::helpers::{TestApp, TestUser, assert_problem, eventually, spawn_app, spawn_app_with};

const WAIT: Duration = Duration::from_secs(20);

/// One Server-Sent Event.
#[derive(Debug, Clone)]
pub struct SseEvent {
    pub id: Option<i64>,
    pub event: Option<String>,
    pub data: Value,
}

/// A client reading a `text/event-stream` body as it arrives.
pub struct SseClient {
    response: reqwest::Response,
    buffer: String,
    /// Set when the body ended: true for a proper end of the response, false
    /// when the connection broke off.
    pub ended_cleanly: Option<bool>,
    /// Skip the events about projects (every new account's Inbox is one).
    tasks_only: bool,
}

impl SseClient {
    /// Only task and reminder events from here on: for tests about those,
    /// which need not care that a new account's Inbox came with an event.
    pub fn tasks_only(mut self) -> Self {
        self.tasks_only = true;
        self
    }

    /// Opens the stream; panics unless the answer is a 200 event stream.
    pub async fn open(request: reqwest::RequestBuilder) -> SseClient {
        let response = request.header("accept", "text/event-stream").send().await.expect("request");
        assert_eq!(response.status(), StatusCode::OK);
        let content_type = response.headers()["content-type"].to_str().expect("content type").to_owned();
        assert!(content_type.starts_with("text/event-stream"), "{content_type}");
        SseClient { response, buffer: String::new(), ended_cleanly: None, tasks_only: false }
    }

    /// The next event with data, or `None` when the server ended the stream.
    /// Panics when nothing arrives within `WAIT`.
    pub async fn next(&mut self) -> Option<SseEvent> {
        tokio::time::timeout(WAIT, self.next_untimed()).await.expect("an event (or the end of the stream) in time")
    }

    async fn next_untimed(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if let Some(event) = parse_block(&block) {
                    let kind = event.event.as_deref().unwrap_or_default();
                    if self.tasks_only && !(kind.starts_with("task.") || kind.starts_with("reminder.")) {
                        continue;
                    }
                    return Some(event);
                }
                continue;
            }
            match self.response.chunk().await {
                Ok(Some(bytes)) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                Ok(None) => {
                    self.ended_cleanly = Some(true);
                    return None;
                }
                Err(_) => {
                    self.ended_cleanly = Some(false);
                    return None;
                }
            }
        }
    }

    /// The next `n` events.
    pub async fn take(&mut self, n: usize) -> Vec<SseEvent> {
        let mut events = Vec::new();
        while events.len() < n {
            events.push(self.next().await.expect("the stream goes on"));
        }
        events
    }
}

fn parse_block(block: &str) -> Option<SseEvent> {
    let (mut id, mut event, mut data) = (None, None, Vec::new());
    for line in block.lines() {
        // `:` lines are comments (keep-alives).
        let Some((field, value)) = line.split_once(':') else { continue };
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "id" => id = Some(value.parse().expect("the id is a log position")),
            "event" => event = Some(value.to_owned()),
            "data" => data.push(value.to_owned()),
            _ => {}
        }
    }
    if data.is_empty() {
        return None;
    }
    Some(SseEvent { id, event, data: serde_json::from_str(&data.join("\n")).expect("data is JSON") })
}

/// The user's live stream of task and reminder events.
pub async fn sse(app: &TestApp, user: &TestUser) -> SseClient {
    SseClient::open(app.get("/api/v1/stream", user)).await.tasks_only()
}

async fn rename(app: &TestApp, user: &TestUser, id: &str, title: &str) {
    let response =
        app.patch(&format!("/api/v1/tasks/{id}"), user).json(&json!({ "title": title })).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::OK);
}

fn task_id(e: &SseEvent) -> &str {
    e.data["task_id"].as_str().expect("task_id")
}

#[tokio::test]
async fn sse_delivers_the_callers_events_as_they_commit_and_no_one_elses() {
    let app = spawn_app().await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let mut alices = sse(&app, &alice).await;
    let mut bobs = sse(&app, &bob).await;

    let a = app.create_task(&alice, json!({ "title": "Alice's" })).await;
    let b = app.create_task(&bob, json!({ "title": "Bob's" })).await;
    rename(&app, &alice, a["id"].as_str().expect("id"), "Alice's, renamed").await;

    let got = alices.take(2).await;
    assert_eq!(got[0].event.as_deref(), Some("task.created"));
    assert_eq!(got[1].event.as_deref(), Some("task.updated"));
    for e in &got {
        assert_eq!(e.data["user_id"], alice.id.as_str());
        assert_eq!(task_id(e), a["id"].as_str().expect("id"));
        assert_eq!(e.data["event_type"].as_str(), e.event.as_deref());
        assert!(e.data["event_id"].is_string() && e.data["metadata"]["correlation_id"].is_string());
    }
    assert_eq!(got[1].data["data"]["task"]["title"], "Alice's, renamed");
    let (first, second) = (got[0].id.expect("id"), got[1].id.expect("id"));
    assert!(first < second, "ids are increasing log positions");

    let got = bobs.next().await.expect("bob's event");
    assert_eq!(got.event.as_deref(), Some("task.created"));
    assert_eq!(task_id(&got), b["id"].as_str().expect("id"));
    // Bob's event sits between Alice's two in the log and never reached her.
    assert!(first < got.id.expect("id") && got.id.expect("id") < second);

    // A later event of Bob's arrives next for Bob: Alice's rename was not his.
    rename(&app, &bob, b["id"].as_str().expect("id"), "Bob's, renamed").await;
    let got = bobs.next().await.expect("bob's event");
    assert_eq!(got.event.as_deref(), Some("task.updated"));
    assert_eq!(got.data["user_id"], bob.id.as_str());
    app.stop().await;
}

#[tokio::test]
async fn sse_resumes_after_last_event_id_then_goes_on_live() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let other = app.new_user().await;
    let mut stream = sse(&app, &user).await;
    let first = app.create_task(&user, json!({ "title": "Seen" })).await;
    let seen = stream.next().await.expect("event");
    assert_eq!(task_id(&seen), first["id"].as_str().expect("id"));
    drop(stream);

    // Missed while disconnected.
    let missed_a = app.create_task(&user, json!({ "title": "Missed A" })).await;
    app.create_task(&other, json!({ "title": "Not mine" })).await;
    let missed_b = app.create_task(&user, json!({ "title": "Missed B" })).await;

    let last = seen.id.expect("id").to_string();
    let mut stream = SseClient::open(app.get("/api/v1/stream", &user).header("last-event-id", last)).await;
    let replayed = stream.take(2).await;
    assert_eq!(task_id(&replayed[0]), missed_a["id"].as_str().expect("id"));
    assert_eq!(task_id(&replayed[1]), missed_b["id"].as_str().expect("id"));
    let live = app.create_task(&user, json!({ "title": "Live" })).await;
    let got = stream.next().await.expect("event");
    assert_eq!(task_id(&got), live["id"].as_str().expect("id"), "no duplicate of a replayed event, then live");
    assert!(got.id > replayed[1].id);

    // From position 0: the whole history of the user, in order (after their
    // Inbox's creation).
    let mut stream = SseClient::open(app.get("/api/v1/stream", &user).header("last-event-id", "0")).await;
    assert_eq!(stream.next().await.expect("event").event.as_deref(), Some("project.created"));
    let all = stream.take(4).await;
    let titles: Vec<&str> = all.iter().map(|e| e.data["data"]["task"]["title"].as_str().expect("title")).collect();
    assert_eq!(titles, ["Seen", "Missed A", "Missed B", "Live"]);

    let response = app.get("/api/v1/stream", &user).header("last-event-id", "yesterday").send().await.expect("request");
    assert_problem(response, StatusCode::BAD_REQUEST, "bad-request").await;
    let response = app.get("/api/v1/stream?last_event_id=yesterday", &user).send().await.expect("request");
    assert_problem(response, StatusCode::BAD_REQUEST, "bad-request").await;
    app.stop().await;
}

#[tokio::test]
async fn streams_need_a_valid_token_which_may_come_in_the_query() {
    let app = spawn_app().await;
    let user = app.new_user().await;

    for path in ["/api/v1/stream", "/api/v1/ws", "/api/v1/stream?access_token=not-a-token"] {
        let response = app.client.get(app.url(path)).send().await.expect("request");
        assert_problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    match tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{}/api/v1/ws", app.port)).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), StatusCode::UNAUTHORIZED.as_u16()),
        other => panic!("expected 401, got {other:?}"),
    }
    // The query token is only for the streams.
    let response =
        app.client.get(app.url(&format!("/api/v1/tasks?access_token={}", user.token))).send().await.expect("request");
    assert_problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;

    let mut stream = SseClient::open(app.client.get(app.url(&format!("/api/v1/stream?access_token={}", user.token))))
        .await
        .tasks_only();
    let task = app.create_task(&user, json!({ "title": "Via query token" })).await;
    assert_eq!(task_id(&stream.next().await.expect("event")), task["id"].as_str().expect("id"));
    app.stop().await;
}

async fn ws_next(ws: &mut (impl StreamExt<Item = Result<Message, tungstenite::Error>> + Unpin)) -> Value {
    loop {
        let message =
            tokio::time::timeout(WAIT, ws.next()).await.expect("a frame in time").expect("open").expect("frame");
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).expect("JSON frame");
        }
    }
}

#[tokio::test]
async fn websocket_delivers_frames_and_resumes_from_last_event_id() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let other = app.new_user().await;

    // Bearer header on the upgrade request.
    let mut request = format!("ws://127.0.0.1:{}/api/v1/ws", app.port).into_client_request().expect("request");
    request.headers_mut().insert("authorization", format!("Bearer {}", user.token).parse().expect("header"));
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.expect("upgrade");
    let task = app.create_task(&user, json!({ "title": "Over the socket" })).await;
    app.create_task(&other, json!({ "title": "Someone else's" })).await;
    let id = task["id"].as_str().expect("id");
    rename(&app, &user, id, "Over the socket, renamed").await;
    let created = ws_next(&mut ws).await;
    assert!(created["id"].is_i64(), "{created}");
    assert_eq!(created["event"]["event_type"], "task.created");
    assert_eq!(created["event"]["task_id"], id);
    assert_eq!(created["event"]["user_id"], user.id.as_str());
    let updated = ws_next(&mut ws).await;
    assert_eq!(updated["event"]["event_type"], "task.updated", "the other user's event is not sent");
    assert!(updated["id"].as_i64() > created["id"].as_i64());
    ws.send(Message::Close(None)).await.expect("close");

    // Resume with the query parameter and the query token.
    let after = created["id"].as_i64().expect("id");
    let url = format!("ws://127.0.0.1:{}/api/v1/ws?last_event_id={after}&access_token={}", app.port, user.token);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("upgrade");
    let replayed = ws_next(&mut ws).await;
    assert_eq!(replayed["id"], updated["id"]);
    assert_eq!(replayed["event"]["data"]["task"]["title"], "Over the socket, renamed");
    let live = app.create_task(&user, json!({ "title": "Live" })).await;
    let frame = ws_next(&mut ws).await;
    assert_eq!(frame["event"]["task_id"], live["id"]);
    app.stop().await;
}

/// Open WebSocket connections, as `/metrics` counts them.
async fn open_websockets(app: &TestApp) -> String {
    let metrics = reqwest::get(app.url("/metrics")).await.expect("metrics").text().await.expect("text");
    metrics
        .lines()
        .find(|l| l.starts_with(r#"ontask_realtime_connections{transport="websocket"}"#))
        .and_then(|l| l.split_whitespace().last())
        .unwrap_or("0")
        .to_owned()
}

#[tokio::test]
async fn a_websocket_peer_that_stops_answering_pings_is_dropped_and_one_that_answers_stays() {
    let app = spawn_app_with(|c| c.realtime.ping_secs = 1).await;
    let user = app.new_user().await;
    let url = format!("ws://127.0.0.1:{}/api/v1/ws?access_token={}", app.port, user.token);
    // This client reads all along, and so answers every ping (tungstenite does on read).
    let (alive, _) = tokio_tungstenite::connect_async(&url).await.expect("upgrade");
    let (frames, mut received) = tokio::sync::mpsc::unbounded_channel();
    let reader = tokio::spawn(async move {
        let mut alive = alive;
        let mut pings = 0;
        while let Some(Ok(message)) = alive.next().await {
            match message {
                Message::Ping(_) => pings += 1,
                Message::Text(text) => {
                    let _ = frames.send((pings, serde_json::from_str::<Value>(&text).expect("JSON frame")));
                }
                _ => {}
            }
        }
    });
    // This one never reads: its pongs never come, as from a peer that vanished.
    let (mut silent, _) = tokio_tungstenite::connect_async(&url).await.expect("upgrade");
    assert_eq!(open_websockets(&app).await, "2");

    eventually(WAIT, "the silent peer to be dropped", || async { (open_websockets(&app).await == "1").then_some(()) })
        .await;
    // What the silent client finds when it reads at last: what was sent
    // before (pings, perhaps its Inbox's event), then the end of the
    // connection, without a close frame: the server gave up on it.
    let ended = tokio::time::timeout(WAIT, async {
        while let Some(Ok(message)) = silent.next().await {
            assert!(matches!(message, Message::Ping(_) | Message::Text(_)), "{message:?}");
        }
    })
    .await;
    assert!(ended.is_ok(), "the server closed the silent peer's connection");

    // The other one, pinged all along, still gets its events.
    let task = app.create_task(&user, json!({ "title": "Still here" })).await;
    let (pings, frame) = loop {
        let (pings, frame) = tokio::time::timeout(WAIT, received.recv()).await.expect("a frame in time").expect("open");
        if frame["event"]["event_type"] == "task.created" {
            break (pings, frame);
        }
    };
    assert_eq!(frame["event"]["task_id"], task["id"]);
    assert!(pings >= 2, "it was pinged before: {pings} pings");
    reader.abort();
    app.stop().await;
}

#[tokio::test]
async fn events_written_by_the_workers_reach_the_stream_too() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let mut stream = sse(&app, &user).await;
    let task =
        app.create_task(&user, json!({ "title": "Daily", "due": "2030-01-01", "recurrence": "FREQ=DAILY" })).await;
    let id = task["id"].as_str().expect("id");
    let response = app.post(&format!("/api/v1/tasks/{id}/complete"), &user).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let got = stream.take(3).await;
    let kinds: Vec<_> = got.iter().map(|e| e.event.as_deref().expect("event")).collect();
    assert_eq!(kinds, ["task.created", "task.completed", "task.created"]);
    let next = &got[2].data;
    assert_eq!(next["data"]["task"]["recurs_from"], id);
    assert_eq!(next["metadata"]["causation_id"], got[1].data["event_id"]);
    assert_eq!(next["metadata"]["actor"], "system:recurrence");
    app.stop().await;
}
