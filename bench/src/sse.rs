//! Commit-to-SSE latency: one SSE client on `/api/v1/stream`; creates go out
//! at a fixed rate; each `task.created` event is matched to its request by the
//! task's unique title.
//!
//! Two measures per event:
//! - send-to-event: from just before the POST was handed to the HTTP client
//!   until the event arrived (includes the request, the commit, the relay, the
//!   fan-out and the SSE write);
//! - commit-to-event: from the envelope's `timestamp` (taken by the server in
//!   the write transaction, before COMMIT) until arrival, on the same clock.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Result, bail};
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use reqwest::{Client, StatusCode, Url};
use serde_json::{Value, json};

use crate::data;
use crate::load::{self, Maker, Probe, RunResult};
use crate::stats::{self, Summary};

pub struct SseResult {
    pub rate: f64,
    pub load: RunResult,
    pub received: u64,
    pub missing: u64,
    pub send_to_event: Histogram<u64>,
    pub commit_to_event: Histogram<u64>,
}

impl SseResult {
    pub fn json(&self) -> Value {
        json!({
            "rate": self.rate,
            "creates": self.load.json(),
            "events_received": self.received,
            "events_missing": self.missing,
            "send_to_event": Summary::of(&self.send_to_event).json(),
            "commit_to_event": Summary::of(&self.commit_to_event).json(),
        })
    }
}

#[derive(Default)]
struct Seen {
    received: u64,
    send_to_event: Option<Histogram<u64>>,
    commit_to_event: Option<Histogram<u64>>,
}

/// Splits the SSE byte stream into events and records each `task.created` one.
fn handle_frame(frame: &str, pending: &Mutex<HashMap<String, Instant>>, seen: &Mutex<Seen>) {
    let arrived = Instant::now();
    let arrived_wall = SystemTime::now();
    let mut event = "";
    let mut data = String::new();
    for line in frame.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            event = v.trim_start();
        } else if let Some(v) = line.strip_prefix("data:") {
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(v.strip_prefix(' ').unwrap_or(v));
        }
    }
    if event != "task.created" {
        return;
    }
    let Ok(envelope) = serde_json::from_str::<Value>(&data) else { return };
    let Some(title) = envelope["data"]["task"]["title"].as_str() else { return };
    let Some(sent) = pending.lock().expect("not poisoned").remove(title) else { return };
    let mut seen = seen.lock().expect("not poisoned");
    seen.received += 1;
    stats::record(seen.send_to_event.as_mut().expect("histogram"), arrived - sent);
    if let Some(ts) = envelope["timestamp"].as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()) {
        let committed =
            SystemTime::UNIX_EPOCH + Duration::from_micros(u64::try_from(ts.timestamp_micros()).unwrap_or(0));
        if let Ok(d) = arrived_wall.duration_since(committed) {
            stats::record(seen.commit_to_event.as_mut().expect("histogram"), d);
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub async fn run(
    client: &Client,
    base: &Url,
    token: &str,
    rate: f64,
    duration: Duration,
    connections: usize,
    probe: &Probe,
) -> Result<SseResult> {
    let stream = client
        .get(base.join("/api/v1/stream")?)
        .bearer_auth(token)
        .header("accept", "text/event-stream")
        .send()
        .await?;
    if stream.status() != StatusCode::OK {
        bail!("GET /api/v1/stream answered {}", stream.status());
    }
    let pending: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let seen = Arc::new(Mutex::new(Seen {
        received: 0,
        send_to_event: Some(stats::histogram()),
        commit_to_event: Some(stats::histogram()),
    }));
    let reader = {
        let (pending, seen) = (pending.clone(), seen.clone());
        tokio::spawn(async move {
            let mut body = stream.bytes_stream();
            let mut buf = String::new();
            while let Some(Ok(chunk)) = body.next().await {
                buf.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buf.find("\n\n") {
                    let frame: String = buf.drain(..end + 2).collect();
                    handle_frame(&frame, &pending, &seen);
                }
            }
        })
    };
    let now = chrono::Utc::now();
    let prefix = format!("sse{}-", rate as u64);
    let make: Maker = {
        let (url, token, pending) = (base.join("/api/v1/tasks")?, token.to_owned(), pending.clone());
        Arc::new(move |c: &Client, i| {
            let (title, body) = data::task(i, &prefix, now);
            pending.lock().expect("not poisoned").insert(title, Instant::now());
            c.post(url.clone()).bearer_auth(&token).header("content-type", "application/json").body(body)
        })
    };
    let load = load::open_loop(
        &format!("sse creates @{rate}/s"),
        client,
        make,
        StatusCode::CREATED,
        rate,
        duration,
        connections,
        Duration::from_secs(10),
        probe,
    )
    .await;
    // Let the last events arrive.
    let wait_until = Instant::now() + Duration::from_secs(10);
    while !pending.lock().expect("not poisoned").is_empty() && Instant::now() < wait_until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    reader.abort();
    let missing = pending.lock().expect("not poisoned").len() as u64;
    let mut seen = seen.lock().expect("not poisoned");
    Ok(SseResult {
        rate,
        load,
        received: seen.received,
        missing,
        send_to_event: seen.send_to_event.take().expect("histogram"),
        commit_to_event: seen.commit_to_event.take().expect("histogram"),
    })
}
