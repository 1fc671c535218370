//! A test double of the Dapr sidecar (daprd cannot run here). It implements, on
//! a random port, exactly the parts of the daprd HTTP API that ontask uses, as
//! the Dapr API reference describes them:
//!
//! - `POST /v1.0/publish/{pubsub}/{topic}[?metadata.*]`: 204; 400
//!   `ERR_PUBSUB_NOT_FOUND` for an unknown pub/sub component (as daprd's own
//!   tests have it; the 404 of the reference is for a path without pub/sub or
//!   topic, which the router answers here); 401 without the `dapr-api-token`
//!   when one is configured; `application/cloudevents+json` bodies are kept as the
//!   CloudEvent (their `id` survives), other bodies are wrapped in a new one;
//!   `topic`, `pubsubname`, `traceid`/`traceparent` are filled in.
//! - Subscriptions: reads the app's `GET /dapr/subscribe` when attached (plus
//!   declarative ones given at start) and delivers each message as a CloudEvent
//!   1.0 (`Content-Type: application/cloudevents+json`, the app token as
//!   `dapr-api-token`) to the route. 2xx with `SUCCESS` (or no status) is done;
//!   2xx `RETRY` and non-2xx other than 404 are redelivered; 2xx `DROP` and
//!   exhausted retries go to the `deadLetterTopic`; 404 drops the message.
//!   Components named in `broker_shared` read one broker, so a message published
//!   on any of them reaches subscriptions of the same topic on all of them (as
//!   two `pubsub.kafka` components on the same brokers do).
//! - Jobs (alpha1): `POST /v1.0-alpha1/jobs/{name}` with `dueTime` (RFC 3339
//!   or a Go-style `Ns` duration) and `data`; `overwrite`; 204. When due, the
//!   app is called at `POST /job/{name}` with the data; a non-2xx is retried by
//!   the default failure policy (constant, 3 retries).
//! - `GET /v1.0/healthz`: 204 (no token needed).
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How the double is set up.
#[derive(Debug, Clone)]
pub struct SidecarOptions {
    /// Pub/sub components that exist (all on one broker).
    pub components: Vec<String>,
    /// `DAPR_API_TOKEN`: required from the app on the API.
    pub api_token: Option<String>,
    /// `APP_API_TOKEN`: sent to the app on every call.
    pub app_token: Option<String>,
    /// Declarative subscriptions (Subscription resources), next to the app's own.
    pub declarative: Vec<Subscription>,
    /// Deliveries per message before it goes to the dead-letter topic.
    pub max_attempts: u32,
    /// Deliver every message this many times even after SUCCESS (a broker
    /// redelivering after a rebalance), to prove idempotent handling.
    pub duplicate_deliveries: u32,
}

impl Default for SidecarOptions {
    fn default() -> Self {
        Self {
            components: vec!["ontask-pubsub".into(), "ontask-pubsub-broadcast".into()],
            api_token: None,
            app_token: None,
            declarative: Vec::new(),
            max_attempts: 8,
            duplicate_deliveries: 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub pubsubname: String,
    pub topic: String,
    pub route: String,
    pub dead_letter_topic: Option<String>,
}

/// A message accepted by the publish API.
#[derive(Debug, Clone)]
pub struct Published {
    pub pubsub: String,
    pub topic: String,
    pub content_type: String,
    /// `metadata.*` query parameters, without the prefix.
    pub metadata: HashMap<String, String>,
    pub cloud_event: Value,
}

/// One delivery attempt to the app.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub topic: String,
    pub route: String,
    pub id: String,
    pub http_status: u16,
    /// `SUCCESS`, `RETRY`, `DROP`, or `HTTP <code>` / `ERROR` when there was no status.
    pub status: String,
}

#[derive(Debug, Clone)]
pub struct Job {
    pub name: String,
    pub due: DateTime<Utc>,
    pub data: Value,
}

/// One call of `POST /job/{name}` on the app.
#[derive(Debug, Clone)]
pub struct JobCall {
    pub name: String,
    pub http_status: u16,
}

#[derive(Default)]
struct Records {
    published: Vec<Published>,
    deliveries: Vec<Delivery>,
    dead_letters: Vec<(String, Value)>,
    jobs: HashMap<String, Job>,
    /// Every accepted schedule request, in order.
    scheduled: Vec<Job>,
    /// Each topic's messages, as a broker keeps them for subscribers that come later.
    topics: HashMap<String, Vec<Value>>,
    job_calls: Vec<JobCall>,
    api_requests: Vec<(String, Option<String>)>,
}

struct Inner {
    options: SidecarOptions,
    client: reqwest::Client,
    app_url: Mutex<Option<String>>,
    subscriptions: Mutex<Vec<(Subscription, mpsc::UnboundedSender<Value>)>>,
    records: Mutex<Records>,
    stop: CancellationToken,
    /// The broker behind the pub/sub components is down: publishing answers
    /// 500 `ERR_PUBSUB_PUBLISH_MESSAGE`, as daprd does when its broker fails.
    broker_down: AtomicBool,
}

pub struct DaprSidecar {
    pub url: String,
    pub port: u16,
    inner: Arc<Inner>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl DaprSidecar {
    pub async fn start(options: SidecarOptions) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the sidecar");
        let port = listener.local_addr().expect("addr").port();
        let inner = Arc::new(Inner {
            options,
            client: reqwest::Client::builder().timeout(Duration::from_secs(15)).build().expect("client"),
            app_url: Mutex::new(None),
            subscriptions: Mutex::new(Vec::new()),
            records: Mutex::new(Records::default()),
            stop: CancellationToken::new(),
            broker_down: AtomicBool::new(false),
        });
        let router = Router::new()
            .route("/v1.0/publish/{pubsub}/{topic}", post(publish))
            .route("/v1.0-alpha1/jobs/{name}", post(schedule_job))
            .route("/v1.0/healthz", get(|| async { StatusCode::NO_CONTENT }))
            .with_state(inner.clone());
        let stop = inner.stop.clone();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).with_graceful_shutdown(stop.cancelled_owned()).await;
        });
        Self { url: format!("http://127.0.0.1:{port}"), port, inner, server: Some(server) }
    }

    /// The app is up: read its programmatic subscriptions (as daprd does at
    /// start) and begin delivering.
    pub async fn attach(&self, app_url: &str) {
        *self.inner.app_url.lock().unwrap() = Some(app_url.to_owned());
        let mut request = self.inner.client.get(format!("{app_url}/dapr/subscribe"));
        if let Some(token) = &self.inner.options.app_token {
            request = request.header("dapr-api-token", token);
        }
        let response = request.send().await.expect("GET /dapr/subscribe");
        assert_eq!(response.status(), StatusCode::OK, "GET /dapr/subscribe");
        let list: Vec<Value> = response.json().await.expect("subscriptions JSON");
        let mut subscriptions: Vec<Subscription> = list
            .iter()
            .map(|s| Subscription {
                pubsubname: s["pubsubname"].as_str().expect("pubsubname").to_owned(),
                topic: s["topic"].as_str().expect("topic").to_owned(),
                route: s["route"].as_str().or_else(|| s["routes"]["default"].as_str()).expect("route").to_owned(),
                dead_letter_topic: s["deadLetterTopic"].as_str().map(str::to_owned),
            })
            .collect();
        subscriptions.extend(self.inner.options.declarative.iter().cloned());
        let mut subs = self.inner.subscriptions.lock().unwrap();
        let records = self.inner.records.lock().unwrap();
        for subscription in subscriptions {
            let (tx, rx) = mpsc::unbounded_channel();
            // initialOffset: oldest. What was published before the app came up is delivered too.
            for message in records.topics.get(&subscription.topic).into_iter().flatten() {
                let _ = tx.send(message.clone());
            }
            subs.push((subscription.clone(), tx));
            tokio::spawn(deliver_loop(self.inner.clone(), subscription, rx));
        }
    }

    /// Makes publishing fail as with the broker down (`true`), or work again.
    pub fn set_broker_down(&self, down: bool) {
        self.inner.broker_down.store(down, Ordering::SeqCst);
    }

    pub fn subscriptions(&self) -> Vec<Subscription> {
        self.inner.subscriptions.lock().unwrap().iter().map(|(s, _)| s.clone()).collect()
    }

    pub fn published(&self) -> Vec<Published> {
        self.inner.records.lock().unwrap().published.clone()
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.inner.records.lock().unwrap().deliveries.clone()
    }

    /// Messages moved to a dead-letter topic: (topic, CloudEvent).
    pub fn dead_letters(&self) -> Vec<(String, Value)> {
        self.inner.records.lock().unwrap().dead_letters.clone()
    }

    /// Jobs scheduled and not yet triggered.
    pub fn jobs(&self) -> Vec<Job> {
        self.inner.records.lock().unwrap().jobs.values().cloned().collect()
    }

    /// Every accepted schedule request.
    pub fn scheduled(&self) -> Vec<Job> {
        self.inner.records.lock().unwrap().scheduled.clone()
    }

    pub fn job_calls(&self) -> Vec<JobCall> {
        self.inner.records.lock().unwrap().job_calls.clone()
    }

    /// Every API request: (path, the `dapr-api-token` it carried).
    pub fn api_requests(&self) -> Vec<(String, Option<String>)> {
        self.inner.records.lock().unwrap().api_requests.clone()
    }

    /// Calls the app's job callback now, as a repeated trigger would.
    pub async fn call_job(&self, name: &str, data: &Value) -> u16 {
        call_job(&self.inner, name, data).await
    }

    /// Stops answering, like a sidecar that died.
    pub async fn stop(&mut self) {
        self.inner.stop.cancel();
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for DaprSidecar {
    fn drop(&mut self) {
        self.inner.stop.cancel();
    }
}

fn error(status: StatusCode, code: &str, message: String) -> Response {
    (status, axum::Json(json!({ "errorCode": code, "message": message }))).into_response()
}

/// daprd refuses API calls without the configured token (healthz excepted).
fn check_token(inner: &Inner, path: &str, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let given = headers.get("dapr-api-token").and_then(|v| v.to_str().ok()).map(str::to_owned);
    inner.records.lock().unwrap().api_requests.push((path.to_owned(), given.clone()));
    match &inner.options.api_token {
        Some(expected) if given.as_deref() != Some(expected) => {
            Err(Box::new(error(StatusCode::UNAUTHORIZED, "ERR_UNAUTHORIZED", "invalid api token".into())))
        }
        _ => Ok(()),
    }
}

async fn publish(
    State(inner): State<Arc<Inner>>,
    Path((pubsub, topic)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = check_token(&inner, &format!("/v1.0/publish/{pubsub}/{topic}"), &headers) {
        return *r;
    }
    if !inner.options.components.contains(&pubsub) {
        return error(StatusCode::BAD_REQUEST, "ERR_PUBSUB_NOT_FOUND", format!("pubsub '{pubsub}' not found"));
    }
    if inner.broker_down.load(Ordering::SeqCst) {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ERR_PUBSUB_PUBLISH_MESSAGE",
            format!("error when publish to topic {topic} in pubsub {pubsub}: the broker is down"),
        );
    }
    // Unless specified, daprd assumes text/plain.
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned())
        .unwrap_or_else(|| "text/plain".into());
    let mut cloud_event = if content_type == "application/cloudevents+json" {
        let Ok(Value::Object(ce)) = serde_json::from_slice::<Value>(&body) else {
            return error(StatusCode::BAD_REQUEST, "ERR_PUBSUB_CLOUD_EVENTS_SER", "not a CloudEvent".into());
        };
        for field in ["id", "source", "type", "specversion"] {
            if !ce.contains_key(field) {
                return error(StatusCode::BAD_REQUEST, "ERR_PUBSUB_CLOUD_EVENTS_SER", format!("no {field}"));
            }
        }
        Value::Object(ce)
    } else {
        let data = if content_type.contains("json") {
            match serde_json::from_slice::<Value>(&body) {
                Ok(v) => v,
                Err(e) => return error(StatusCode::BAD_REQUEST, "ERR_PUBSUB_CLOUD_EVENTS_SER", e.to_string()),
            }
        } else {
            Value::String(String::from_utf8_lossy(&body).into_owned())
        };
        json!({
            "specversion": "1.0",
            "id": uuid::Uuid::new_v4().to_string(),
            "source": "ontask-test-app",
            "type": "com.dapr.event.sent",
            "datacontenttype": content_type,
            "data": data,
        })
    };
    let traceparent =
        format!("00-{}-{}-01", uuid::Uuid::new_v4().simple(), &uuid::Uuid::new_v4().simple().to_string()[..16]);
    cloud_event["topic"] = json!(topic);
    cloud_event["pubsubname"] = json!(pubsub);
    if cloud_event.get("traceparent").is_none() {
        cloud_event["traceparent"] = json!(traceparent);
    }
    if cloud_event.get("traceid").is_none() {
        cloud_event["traceid"] = cloud_event["traceparent"].clone();
    }
    let metadata =
        query.into_iter().filter_map(|(k, v)| k.strip_prefix("metadata.").map(|k| (k.to_owned(), v))).collect();
    inner.records.lock().unwrap().published.push(Published {
        pubsub,
        topic: topic.clone(),
        content_type,
        metadata,
        cloud_event: cloud_event.clone(),
    });
    append(&inner, &topic, cloud_event);
    StatusCode::NO_CONTENT.into_response()
}

/// Appends a message to its topic and hands it to every subscription of the
/// topic (one broker behind all components).
fn append(inner: &Inner, topic: &str, cloud_event: Value) {
    // Subscriptions first, then records: the order `attach` takes them in.
    let subscriptions = inner.subscriptions.lock().unwrap();
    inner.records.lock().unwrap().topics.entry(topic.to_owned()).or_default().push(cloud_event.clone());
    for (subscription, queue) in subscriptions.iter() {
        if subscription.topic == topic {
            let _ = queue.send(cloud_event.clone());
        }
    }
}

/// Delivers one subscription's messages in order, each until it is settled.
async fn deliver_loop(inner: Arc<Inner>, subscription: Subscription, mut queue: mpsc::UnboundedReceiver<Value>) {
    loop {
        let cloud_event = tokio::select! {
            () = inner.stop.cancelled() => return,
            m = queue.recv() => match m { Some(m) => m, None => return },
        };
        let mut attempts = 0;
        let mut successes = 0;
        loop {
            if inner.stop.is_cancelled() {
                return;
            }
            attempts += 1;
            let (http_status, status) = deliver_once(&inner, &subscription, &cloud_event).await;
            let outcome = match (http_status, status.as_str()) {
                (200..=299, "SUCCESS" | "") => Outcome::Done,
                (200..=299, "RETRY") => Outcome::Retry,
                (200..=299, "DROP") => Outcome::DeadLetter,
                // An unknown status is an error: retried.
                (200..=299, _) => Outcome::Retry,
                (404, _) => Outcome::Dropped,
                _ => Outcome::Retry,
            };
            match outcome {
                Outcome::Done => {
                    successes += 1;
                    if successes >= inner.options.duplicate_deliveries {
                        break;
                    }
                }
                Outcome::Dropped => break,
                Outcome::DeadLetter => {
                    dead_letter(&inner, &subscription, &cloud_event);
                    break;
                }
                Outcome::Retry if attempts >= inner.options.max_attempts => {
                    dead_letter(&inner, &subscription, &cloud_event);
                    break;
                }
                Outcome::Retry => tokio::time::sleep(Duration::from_millis(50 * u64::from(attempts.min(10)))).await,
            }
        }
    }
}

enum Outcome {
    Done,
    Retry,
    DeadLetter,
    Dropped,
}

fn dead_letter(inner: &Inner, subscription: &Subscription, cloud_event: &Value) {
    if let Some(topic) = &subscription.dead_letter_topic {
        inner.records.lock().unwrap().dead_letters.push((topic.clone(), cloud_event.clone()));
        append(inner, topic, cloud_event.clone());
    }
}

/// One POST of the CloudEvent to the app's route: (HTTP status, the `status` answered).
async fn deliver_once(inner: &Inner, subscription: &Subscription, cloud_event: &Value) -> (u16, String) {
    let Some(app) = inner.app_url.lock().unwrap().clone() else { return (0, "ERROR".into()) };
    let mut request = inner
        .client
        .post(format!("{app}{}", subscription.route))
        .header("content-type", "application/cloudevents+json")
        .body(cloud_event.to_string());
    if let Some(token) = &inner.options.app_token {
        request = request.header("dapr-api-token", token);
    }
    if let Some(tp) = cloud_event["traceparent"].as_str() {
        request = request.header("traceparent", tp);
    }
    let (http_status, status) = match request.send().await {
        Ok(response) => {
            let code = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            let status = body["status"].as_str().map(str::to_uppercase).unwrap_or_default();
            (code, status)
        }
        Err(_) => (0, "ERROR".into()),
    };
    inner.records.lock().unwrap().deliveries.push(Delivery {
        topic: subscription.topic.clone(),
        route: subscription.route.clone(),
        id: cloud_event["id"].as_str().unwrap_or_default().to_owned(),
        http_status,
        status: if status.is_empty() { format!("HTTP {http_status}") } else { status.clone() },
    });
    (http_status, status)
}

/// `dueTime`: an RFC 3339 instant or a Go-style duration in seconds/ms (`10s`, `500ms`).
fn parse_due(raw: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&Utc));
    }
    let (n, unit) = raw.find(|c: char| !c.is_ascii_digit()).map(|i| raw.split_at(i))?;
    let n: i64 = n.parse().ok()?;
    let d = match unit {
        "ms" => chrono::Duration::milliseconds(n),
        "s" => chrono::Duration::seconds(n),
        "m" => chrono::Duration::minutes(n),
        _ => return None,
    };
    Some(Utc::now() + d)
}

async fn schedule_job(
    State(inner): State<Arc<Inner>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = check_token(&inner, &format!("/v1.0-alpha1/jobs/{name}"), &headers) {
        return *r;
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "ERR_MALFORMED_REQUEST", "body is not JSON".into());
    };
    if request.get("schedule").is_some() {
        return error(StatusCode::BAD_REQUEST, "ERR_MALFORMED_REQUEST", "this double only runs one-shot jobs".into());
    }
    let Some(due) = request["dueTime"].as_str().and_then(parse_due) else {
        return error(StatusCode::BAD_REQUEST, "ERR_MALFORMED_REQUEST", "schedule or dueTime is required".into());
    };
    let overwrite = request["overwrite"].as_bool().unwrap_or(false);
    let job = Job { name: name.clone(), due, data: request["data"].clone() };
    {
        let mut records = inner.records.lock().unwrap();
        if records.jobs.contains_key(&name) && !overwrite {
            return error(StatusCode::CONFLICT, "ERR_SCHEDULE_JOB", format!("job {name} already exists"));
        }
        records.jobs.insert(name.clone(), job.clone());
        records.scheduled.push(job.clone());
    }
    let inner2 = inner.clone();
    tokio::spawn(async move {
        let wait = (job.due - Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            () = inner2.stop.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
        // Replaced by a later schedule of the same name: that one fires instead.
        let current = inner2.records.lock().unwrap().jobs.get(&job.name).map(|j| (j.due, j.data.clone()));
        if current != Some((job.due, job.data.clone())) {
            return;
        }
        // Default failure policy: constant interval, 3 retries.
        for _ in 0..4 {
            if (200..300).contains(&call_job(&inner2, &job.name, &job.data).await) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // One-shot jobs are deleted once triggered.
        inner2.records.lock().unwrap().jobs.remove(&job.name);
    });
    StatusCode::NO_CONTENT.into_response()
}

async fn call_job(inner: &Inner, name: &str, data: &Value) -> u16 {
    let Some(app) = inner.app_url.lock().unwrap().clone() else { return 0 };
    let mut request = inner
        .client
        .post(format!("{app}/job/{name}"))
        .header("content-type", "application/json")
        .body(data.to_string());
    if let Some(token) = &inner.options.app_token {
        request = request.header("dapr-api-token", token);
    }
    let status = request.send().await.map(|r| r.status().as_u16()).unwrap_or(0);
    inner.records.lock().unwrap().job_calls.push(JobCall { name: name.to_owned(), http_status: status });
    status
}
