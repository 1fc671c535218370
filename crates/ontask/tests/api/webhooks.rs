//! Webhooks: registration, Standard Webhooks signatures (verified with the
//! standard's own Rust library), event filters, retries, disabling after
//! repeated failure, SSRF protection and isolation between users. The receiver
//! is a real HTTP server on loopback, so these apps allow private targets.
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, assert_problem, eventually, spawn_app, spawn_app_with};

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Hit {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Hit {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the payload is JSON")
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

/// In a receiver's script: do not answer at all.
const HANG: u16 = 0;

/// A webhook receiver on loopback that answers with the scripted status codes
/// in turn (or not at all, for [`HANG`]), then 200; while [`Receiver::set_down`]
/// says so, 503 to everything.
pub struct Receiver {
    pub url: String,
    hits: Arc<Mutex<Vec<Hit>>>,
    down: Arc<AtomicBool>,
    _server: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start(script: &[u16]) -> Receiver {
        let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
        let down: Arc<AtomicBool> = Arc::default();
        let script: Arc<Mutex<VecDeque<u16>>> = Arc::new(Mutex::new(script.iter().copied().collect()));
        let (h, s, d) = (hits.clone(), script.clone(), down.clone());
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let (hits, script, down) = (h.clone(), s.clone(), d.clone());
                async move {
                    hits.lock().expect("lock").push(Hit { headers, body });
                    if down.load(Ordering::SeqCst) {
                        return AxumStatus::SERVICE_UNAVAILABLE;
                    }
                    let code = script.lock().expect("lock").pop_front().unwrap_or(200);
                    if code == HANG {
                        std::future::pending::<()>().await;
                    }
                    AxumStatus::from_u16(code).expect("status")
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("receiver");
        });
        Receiver { url: format!("http://127.0.0.1:{port}/hook"), hits, down, _server: server }
    }

    /// Makes the receiver answer 503 to everything (`true`) or follow its script again.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// A receiver that always fails.
    pub async fn failing() -> Receiver {
        Receiver::start(&[500; 1000]).await
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().expect("lock").clone()
    }

    /// Waits for a request about `event_type` and returns every request so far.
    pub async fn wait_for(&self, what: &str, check: impl Fn(&[Hit]) -> bool) -> Vec<Hit> {
        eventually(Duration::from_secs(30), what, || async {
            let hits = self.hits();
            check(&hits).then_some(hits)
        })
        .await
    }
}

fn event_types(hits: &[Hit]) -> Vec<String> {
    hits.iter().map(|h| h.json()["event_type"].as_str().expect("event_type").to_owned()).collect()
}

/// An app that may deliver to the loopback receiver, retrying quickly.
async fn app_allowing_loopback(adjust: impl FnOnce(&mut ontask::Config)) -> TestApp {
    spawn_app_with(|c| {
        c.webhooks.allow_private_targets = true;
        c.webhooks.retry_base = Duration::from_millis(20);
        c.webhooks.retry_max = Duration::from_secs(1);
        adjust(c);
    })
    .await
}

async fn register(app: &TestApp, user: &TestUser, body: Value) -> Value {
    let response = app.post("/api/v1/webhooks", user).json(&body).send().await.expect("request");
    let status = response.status();
    let json: Value = response.json().await.expect("json");
    assert_eq!(status, StatusCode::CREATED, "{json}");
    json
}

async fn get_json(app: &TestApp, user: &TestUser, path: &str) -> Value {
    let response = app.get(path, user).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    response.json().await.expect("json")
}

async fn deliveries(app: &TestApp, user: &TestUser, endpoint: &str) -> Vec<Value> {
    let page = get_json(app, user, &format!("/api/v1/webhooks/{endpoint}/deliveries")).await;
    page["items"].as_array().cloned().unwrap_or_default()
}

/// Verifies a request the way a receiver following the standard would.
fn verify(secret: &str, hit: &Hit) {
    let webhook = standardwebhooks::Webhook::new(secret).expect("a whsec_ secret");
    webhook.verify(&hit.body, &hit.headers).expect("the signature verifies");
}

#[tokio::test]
async fn a_registered_endpoint_receives_signed_events() {
    let app = app_allowing_loopback(|_| {}).await;
    let user = app.new_user().await;
    let receiver = Receiver::start(&[]).await;
    let endpoint = register(&app, &user, json!({ "url": receiver.url, "description": "CI" })).await;
    let id = endpoint["id"].as_str().expect("id");
    let secret = endpoint["secret"].as_str().expect("the secret, shown once");
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert_eq!(endpoint["events"], json!(["*"]), "all events by default");
    assert_eq!(endpoint["status"], "active");
    assert_eq!(endpoint["description"], "CI");

    // Never shown again.
    let list = get_json(&app, &user, "/api/v1/webhooks").await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    assert!(list["items"][0].get("secret").is_none(), "{list}");
    assert!(get_json(&app, &user, &format!("/api/v1/webhooks/{id}")).await.get("secret").is_none());

    let task = app.create_task(&user, json!({ "title": "Ship the webhooks" })).await;
    let hits = receiver.wait_for("task.created", |h| !h.is_empty()).await;
    let hit = &hits[0];
    verify(secret, hit);
    let payload = hit.json();
    assert_eq!(payload["event_type"], "task.created");
    assert_eq!(payload["data"]["task"]["title"], "Ship the webhooks", "{payload}");
    assert_eq!(payload["task_id"], task["id"]);
    assert_eq!(payload["user_id"], user.id.as_str());
    assert_eq!(hit.header("webhook-id"), payload["event_id"].as_str().expect("event_id"));
    assert_eq!(hit.header("content-type"), "application/json");

    // A signature made with another secret, or over another body, does not verify.
    let other = standardwebhooks::Webhook::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("secret");
    assert!(other.verify(&hit.body, &hit.headers).is_err());
    let tampered = [&hit.body[..], b" "].concat();
    assert!(standardwebhooks::Webhook::new(secret).expect("secret").verify(&tampered, &hit.headers).is_err());

    let log = eventually(Duration::from_secs(10), "the delivery logged", || async {
        let log = deliveries(&app, &user, id).await;
        (log.first().is_some_and(|d| d["status"] == "delivered")).then_some(log)
    })
    .await;
    assert_eq!(log[0]["event_id"], payload["event_id"]);
    assert_eq!(log[0]["event_type"], "task.created");
    assert_eq!(log[0]["attempts"], 1);
    assert_eq!(log[0]["last_status_code"], 200);
    assert!(log[0]["delivered_at"].is_string());
    assert!(log[0]["last_error"].is_null());
}

#[tokio::test]
async fn secrets_are_stored_sealed_and_a_rotated_out_secret_signs_beside_the_new_one_for_a_day() {
    let app = app_allowing_loopback(|_| {}).await;
    let user = app.new_user().await;
    let receiver = Receiver::start(&[]).await;
    let endpoint = register(&app, &user, json!({ "url": receiver.url })).await;
    let id = endpoint["id"].as_str().expect("id");
    let first = endpoint["secret"].as_str().expect("the secret").to_owned();

    // The database never holds the secret itself.
    let stored_secret = || async {
        let db = crate::eventlog::LogDb::of(&app).await;
        let stored: String = sqlx::query_scalar("SELECT secret FROM webhook_endpoints WHERE id = $1")
            .bind(id)
            .fetch_one(&db.pool)
            .await
            .expect("the endpoint row");
        db.close().await;
        stored
    };
    let sealed = stored_secret().await;
    assert!(sealed.starts_with("sealed:v1:"), "{sealed}");
    assert!(!sealed.contains(first.trim_start_matches("whsec_")), "{sealed}");

    app.create_task(&user, json!({ "title": "Before the rotation" })).await;
    let hits = receiver.wait_for("the first delivery", |h| h.len() == 1).await;
    verify(&first, &hits[0]);

    let response = app.post(&format!("/api/v1/webhooks/{id}/secret"), &user).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let rotated: Value = response.json().await.expect("json");
    let second = rotated["secret"].as_str().expect("the new secret, shown once").to_owned();
    assert!(second.starts_with("whsec_") && second != first, "{rotated}");
    assert_eq!(rotated["id"], id);
    assert_ne!(stored_secret().await, sealed, "the stored (sealed) secret changed");
    assert!(get_json(&app, &user, &format!("/api/v1/webhooks/{id}")).await.get("secret").is_none());

    // For a day both secrets sign, so a receiver still on the old one keeps verifying.
    app.create_task(&user, json!({ "title": "After the rotation" })).await;
    let hits = receiver.wait_for("the second delivery", |h| h.len() == 2).await;
    let after = hits.iter().find(|h| h.json()["data"]["task"]["title"] == "After the rotation").expect("the delivery");
    assert_eq!(after.header("webhook-signature").split(' ').count(), 2, "two signatures");
    verify(&second, after);
    verify(&first, after);

    // Once the grace period is over, only the new secret signs.
    let db = crate::eventlog::LogDb::writable_of(&app).await;
    sqlx::query("UPDATE webhook_endpoints SET previous_secret_expires_at = 0 WHERE id = $1")
        .bind(id)
        .execute(&db.pool)
        .await
        .expect("end the grace period");
    db.close().await;
    app.create_task(&user, json!({ "title": "A day later" })).await;
    let hits = receiver.wait_for("the third delivery", |h| h.len() == 3).await;
    let later = hits.iter().find(|h| h.json()["data"]["task"]["title"] == "A day later").expect("the delivery");
    assert_eq!(later.header("webhook-signature").split(' ').count(), 1, "one signature");
    verify(&second, later);
    let old = standardwebhooks::Webhook::new(&first).expect("secret");
    assert!(old.verify(&later.body, &later.headers).is_err(), "the old secret no longer verifies");

    // Someone else's endpoint, or none: 404.
    let stranger = app.new_user().await;
    let response = app.post(&format!("/api/v1/webhooks/{id}/secret"), &stranger).send().await.expect("request");
    crate::helpers::assert_problem(response, StatusCode::NOT_FOUND, "not-found").await;
}

#[tokio::test]
async fn the_event_filter_is_respected() {
    let app = app_allowing_loopback(|_| {}).await;
    let user = app.new_user().await;
    let completions = Receiver::start(&[]).await;
    let tasks = Receiver::start(&[]).await;
    let only_completed = register(&app, &user, json!({ "url": completions.url, "events": ["task.completed"] })).await;
    register(&app, &user, json!({ "url": tasks.url, "events": ["task.*"] })).await;

    let task = app.create_task(&user, json!({ "title": "Filter me" })).await;
    let id = task["id"].as_str().expect("id");
    let response = app.post(&format!("/api/v1/tasks/{id}/complete"), &user).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::OK);

    let hits = tasks.wait_for("task.created and task.completed", |h| h.len() == 2).await;
    let mut types = event_types(&hits);
    types.sort();
    assert_eq!(types, ["task.completed", "task.created"]);
    let hits = completions.wait_for("task.completed", |h| !h.is_empty()).await;
    assert_eq!(event_types(&hits), ["task.completed"]);
    // Both events were fanned out in log order, so once task.completed is
    // queued, task.created was already passed over for this endpoint.
    let log = deliveries(&app, &user, only_completed["id"].as_str().expect("id")).await;
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0]["event_type"], "task.completed");
}

#[tokio::test]
async fn failed_attempts_are_retried_and_logged_until_one_succeeds() {
    let app = app_allowing_loopback(|_| {}).await;
    let user = app.new_user().await;
    let receiver = Receiver::start(&[500, 500]).await;
    let endpoint = register(&app, &user, json!({ "url": receiver.url, "events": ["task.created"] })).await;
    let id = endpoint["id"].as_str().expect("id");
    let secret = endpoint["secret"].as_str().expect("secret");
    app.create_task(&user, json!({ "title": "Flaky receiver" })).await;

    let log = eventually(Duration::from_secs(30), "the delivery to succeed", || async {
        let log = deliveries(&app, &user, id).await;
        log.first().is_some_and(|d| d["status"] == "delivered").then_some(log)
    })
    .await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["attempts"], 3);
    assert_eq!(log[0]["last_status_code"], 200);

    let hits = receiver.hits();
    assert_eq!(hits.len(), 3, "three attempts");
    let event_id = log[0]["event_id"].as_str().expect("event_id");
    for hit in &hits {
        // The same webhook-id every time (receivers deduplicate on it), and
        // each attempt signed afresh.
        assert_eq!(hit.header("webhook-id"), event_id);
        verify(secret, hit);
        assert_eq!(hit.body, hits[0].body, "every attempt sends the same payload");
    }

    let delivery = log[0]["id"].as_str().expect("id");
    let detail = get_json(&app, &user, &format!("/api/v1/webhooks/{id}/deliveries/{delivery}")).await;
    let attempts = detail["attempt_log"].as_array().expect("attempt_log");
    let codes: Vec<&Value> = attempts.iter().map(|a| &a["status_code"]).collect();
    assert_eq!(codes, [&json!(500), &json!(500), &json!(200)], "{detail}");
    assert!(attempts[0]["error"].as_str().is_some_and(|e| e.contains("500")), "{detail}");
    assert!(attempts[2]["error"].is_null());
    assert_eq!(get_json(&app, &user, &format!("/api/v1/webhooks/{id}")).await["consecutive_failures"], 0);
}

#[tokio::test]
async fn a_receiver_that_does_not_answer_times_out_and_is_tried_again() {
    let app = app_allowing_loopback(|c| c.webhooks.timeout = Duration::from_secs(1)).await;
    let user = app.new_user().await;
    let receiver = Receiver::start(&[HANG]).await;
    let endpoint = register(&app, &user, json!({ "url": receiver.url, "events": ["task.created"] })).await;
    let id = endpoint["id"].as_str().expect("id");
    app.create_task(&user, json!({ "title": "Slow receiver" })).await;

    let log = eventually(Duration::from_secs(30), "the second attempt to succeed", || async {
        let log = deliveries(&app, &user, id).await;
        log.first().is_some_and(|d| d["status"] == "delivered").then_some(log)
    })
    .await;
    assert_eq!(log[0]["attempts"], 2);
    let delivery = log[0]["id"].as_str().expect("id");
    let detail = get_json(&app, &user, &format!("/api/v1/webhooks/{id}/deliveries/{delivery}")).await;
    let first = &detail["attempt_log"][0];
    assert!(first["status_code"].is_null(), "{detail}");
    assert!(first["error"].as_str().is_some_and(|e| e.contains("timed out")), "{detail}");
    assert!(!first["error"].as_str().unwrap_or("").contains("127.0.0.1"), "no URL in the error: {detail}");
    assert_eq!(detail["attempt_log"][1]["status_code"], 200);
}

#[tokio::test]
async fn an_endpoint_that_keeps_failing_is_disabled() {
    let app = app_allowing_loopback(|c| {
        c.webhooks.max_attempts = 2;
        c.webhooks.disable_after = 2;
    })
    .await;
    let user = app.new_user().await;
    let broken = Receiver::failing().await;
    let endpoint = register(&app, &user, json!({ "url": broken.url, "events": ["task.created"] })).await;
    let id = endpoint["id"].as_str().expect("id");
    app.create_task(&user, json!({ "title": "one" })).await;
    app.create_task(&user, json!({ "title": "two" })).await;

    let disabled = eventually(Duration::from_secs(30), "the endpoint disabled", || async {
        let e = get_json(&app, &user, &format!("/api/v1/webhooks/{id}")).await;
        (e["status"] == "disabled").then_some(e)
    })
    .await;
    let reason = disabled["disabled_reason"].as_str().expect("a reason");
    assert!(reason.contains("2 consecutive failed deliveries") && reason.contains("500"), "{reason}");
    let log = deliveries(&app, &user, id).await;
    assert_eq!(log.len(), 2);
    for d in &log {
        assert_eq!(d["status"], "failed", "{d}");
        assert_eq!(d["attempts"], 2);
        assert_eq!(d["last_status_code"], 500);
        assert!(d["next_attempt_at"].is_null());
    }
    assert_eq!(broken.hits().len(), 4, "two attempts for each of two deliveries");

    // Nothing more is queued for it: a healthy endpoint registered now gets the
    // next event, fanned out in the same transaction as the disabled one's would be.
    let healthy = Receiver::start(&[]).await;
    register(&app, &user, json!({ "url": healthy.url, "events": ["task.created"] })).await;
    app.create_task(&user, json!({ "title": "three" })).await;
    healthy.wait_for("the third task", |h| !h.is_empty()).await;
    assert_eq!(deliveries(&app, &user, id).await.len(), 2);

    // Its owner can put it back in service.
    let response = app.post(&format!("/api/v1/webhooks/{id}/enable"), &user).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let enabled: Value = response.json().await.expect("json");
    assert_eq!(enabled["status"], "active");
    assert!(enabled["disabled_reason"].is_null() && enabled["secret"].is_null(), "{enabled}");
    assert_eq!(enabled["consecutive_failures"], 0);
}

/// The webhook breakers as `/health` reports them: (closed, open, half_open).
async fn webhook_breakers(app: &TestApp) -> (u64, u64, u64) {
    let health: Value = reqwest::get(app.url("/health")).await.expect("health").json().await.expect("json");
    let outbound = &health["checks"]["outbound"];
    assert_eq!(outbound["status"], "up", "a webhook receiver that is down does not degrade the service: {health}");
    let reports = outbound["details"]["circuit_breakers"].as_array().cloned().unwrap_or_default();
    reports.iter().find(|r| r["peer"] == "webhook").map_or((0, 0, 0), |r| {
        let n = |k: &str| r[k].as_u64().expect("a count");
        (n("closed"), n("open"), n("half_open"))
    })
}

async fn metrics_text(app: &TestApp) -> String {
    reqwest::get(app.url("/metrics")).await.expect("metrics").text().await.expect("text")
}

/// An app whose breakers open after `failures` for `open_secs`, and an
/// endpoint of a new user at a receiver that is down: (app, user, receiver, endpoint id).
async fn with_a_receiver_that_is_down(
    max_attempts: u32,
    failures: u32,
    open_secs: u64,
) -> (TestApp, TestUser, Receiver, String) {
    let app = app_allowing_loopback(|c| {
        c.webhooks.max_attempts = max_attempts;
        c.circuit_breakers.failures = failures;
        c.circuit_breakers.open_for = Duration::from_secs(open_secs);
    })
    .await;
    let user = app.new_user().await;
    let receiver = Receiver::start(&[]).await;
    receiver.set_down(true);
    let endpoint = register(&app, &user, json!({ "url": receiver.url, "events": ["task.created"] })).await;
    let id = endpoint["id"].as_str().expect("id").to_owned();
    (app, user, receiver, id)
}

#[tokio::test]
async fn an_open_breaker_holds_an_endpoints_deliveries_without_using_attempts() {
    let (app, user, receiver, id) = with_a_receiver_that_is_down(10, 3, 3600).await;
    let id = id.as_str();
    assert_eq!(webhook_breakers(&app).await, (0, 0, 0), "a breaker is made at the first call");
    app.create_task(&user, json!({ "title": "first" })).await;

    // Three failed attempts in a row open the endpoint's breaker.
    eventually(Duration::from_secs(30), "the breaker to open", || async {
        (webhook_breakers(&app).await == (0, 1, 0)).then_some(())
    })
    .await;
    assert_eq!(receiver.hits().len(), 3);

    // Later deliveries wait for the breaker, with no attempt made or spent.
    app.create_task(&user, json!({ "title": "second" })).await;
    app.create_task(&user, json!({ "title": "third" })).await;
    let log = eventually(Duration::from_secs(30), "the new deliveries to be postponed", || async {
        let log = deliveries(&app, &user, id).await;
        let postponed = |d: &Value| {
            d["attempts"] == 0
                && d["next_attempt_at"].as_str().and_then(|t| t.parse::<chrono::DateTime<chrono::Utc>>().ok())
                    > Some(chrono::Utc::now() + chrono::Duration::minutes(30))
        };
        (log.len() == 3 && log.iter().filter(|d| postponed(d)).count() == 2).then_some(log)
    })
    .await;
    assert!(log.iter().all(|d| d["status"] == "pending"), "{log:?}");
    assert_eq!(receiver.hits().len(), 3, "the receiver heard nothing while the breaker was open");
    let metrics = metrics_text(&app).await;
    assert!(metrics.contains(r#"ontask_circuit_breakers{peer="webhook",state="open"} 1"#), "{metrics}");
    assert!(metrics.contains(r#"ontask_circuit_breaker_rejected_total{peer="webhook"}"#), "{metrics}");

    // Its owner re-enabling it starts its breaker afresh (as after a fix).
    let response = app.post(&format!("/api/v1/webhooks/{id}/enable"), &user).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(webhook_breakers(&app).await, (0, 0, 0));
}

#[tokio::test]
async fn a_breaker_probes_a_recovered_endpoint_and_closes() {
    let (app, user, receiver, id) = with_a_receiver_that_is_down(20, 2, 1).await;
    let id = id.as_str();
    for title in ["one", "two", "three"] {
        app.create_task(&user, json!({ "title": title })).await;
    }
    eventually(Duration::from_secs(30), "the breaker to open", || async {
        metrics_text(&app)
            .await
            .contains(r#"ontask_circuit_breaker_transitions_total{peer="webhook",state="open"}"#)
            .then_some(())
    })
    .await;

    receiver.set_down(false);
    let log = eventually(Duration::from_secs(60), "every delivery to go out", || async {
        let log = deliveries(&app, &user, id).await;
        (log.len() == 3 && log.iter().all(|d| d["status"] == "delivered")).then_some(log)
    })
    .await;
    assert_eq!(webhook_breakers(&app).await, (1, 0, 0), "closed again");
    let metrics = metrics_text(&app).await;
    for state in ["half_open", "closed"] {
        let line = format!(r#"ontask_circuit_breaker_transitions_total{{peer="webhook",state="{state}"}}"#);
        assert!(metrics.contains(&line), "{line} in {metrics}");
    }
    // Every attempt while it was open failed fast or waited: none of the three
    // deliveries used more attempts than the failures that opened it, its
    // probes and the successes.
    let attempts: u64 = log.iter().map(|d| d["attempts"].as_u64().expect("attempts")).sum();
    assert!(attempts < 20, "{log:?}");
}

#[tokio::test]
async fn a_receiver_that_hangs_holds_only_its_share_of_the_pool() {
    // A pool of 4: one endpoint may hold one slot.
    let app = app_allowing_loopback(|c| {
        c.webhooks.concurrency = 4;
        c.webhooks.timeout = Duration::from_secs(60);
    })
    .await;
    let user = app.new_user().await;
    let hanging = Receiver::start(&[HANG; 10]).await;
    let healthy = Receiver::start(&[]).await;
    register(&app, &user, json!({ "url": hanging.url, "events": ["task.created"] })).await;
    register(&app, &user, json!({ "url": healthy.url, "events": ["task.created"] })).await;
    for n in 0..5 {
        app.create_task(&user, json!({ "title": format!("task {n}") })).await;
    }
    // Within the hanging receiver's timeout, the healthy one gets everything,
    // and the hanging one holds one attempt, not the pool.
    healthy.wait_for("every event at the healthy receiver", |hits| hits.len() == 5).await;
    assert_eq!(hanging.hits().len(), 1, "one attempt in flight at the receiver that hangs");
}

#[tokio::test]
async fn private_and_local_targets_are_refused_unless_allowed() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    for url in [
        "http://127.0.0.1/",
        "http://10.0.0.1/",
        "http://[::1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://192.168.1.10:8080/hook",
        "http://[fd00::1]/",
        "http://localhost:8080/",
        "http://0.0.0.0/",
    ] {
        let response = app.post("/api/v1/webhooks", &user).json(&json!({ "url": url })).send().await.expect("request");
        let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
        assert_eq!(problem["errors"][0]["field"], "url", "{url}: {problem}");
    }
    for (body, field) in [
        (json!({ "url": "ftp://example.com/" }), "url"),
        (json!({ "url": "not a url" }), "url"),
        (json!({ "url": "https://example.com/", "events": ["task.exploded"] }), "events"),
        (json!({ "url": "https://example.com/", "events": [] }), "events"),
    ] {
        let response = app.post("/api/v1/webhooks", &user).json(&body).send().await.expect("request");
        let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}: {problem}");
    }
    let list = get_json(&app, &user, "/api/v1/webhooks").await;
    assert_eq!(list["items"], json!([]));

    // With the admin setting on, loopback is fine.
    let open = app_allowing_loopback(|_| {}).await;
    let user = open.new_user().await;
    register(&open, &user, json!({ "url": "http://127.0.0.1:9/hook" })).await;
}

#[tokio::test]
async fn the_delivery_log_is_paged_newest_first() {
    let app = app_allowing_loopback(|_| {}).await;
    let user = app.new_user().await;
    let receiver = Receiver::start(&[]).await;
    let endpoint = register(&app, &user, json!({ "url": receiver.url, "events": ["task.created"] })).await;
    let id = endpoint["id"].as_str().expect("id");
    for title in ["first", "second", "third"] {
        app.create_task(&user, json!({ "title": title })).await;
    }
    receiver.wait_for("three deliveries", |h| h.len() == 3).await;

    let path = format!("/api/v1/webhooks/{id}/deliveries");
    let page = get_json(&app, &user, &format!("{path}?limit=2")).await;
    let items = page["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    let cursor = page["next_cursor"].as_str().expect("a next page");
    let rest = get_json(&app, &user, &format!("{path}?limit=2&cursor={cursor}")).await;
    assert_eq!(rest["items"].as_array().map(Vec::len), Some(1));
    assert!(rest.get("next_cursor").is_none(), "{rest}");
    // Newest first: the pages hold the events in reverse log order.
    let ids: Vec<&str> = items
        .iter()
        .chain(rest["items"].as_array().expect("items"))
        .map(|d| d["event_id"].as_str().expect("id"))
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(ids, sorted);

    let response = app.get(&format!("{path}?cursor=bogus"), &user).send().await.expect("request");
    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    assert_eq!(problem["errors"][0]["field"], "cursor");
}

#[tokio::test]
async fn the_openapi_document_lists_the_webhook_paths() {
    let app = spawn_app().await;
    let doc: Value =
        app.client.get(app.url("/openapi.json")).send().await.expect("request").json().await.expect("json");
    for (path, methods) in [
        ("/api/v1/webhooks", &["get", "post"][..]),
        ("/api/v1/webhooks/{id}", &["get", "delete"]),
        ("/api/v1/webhooks/{id}/enable", &["post"]),
        ("/api/v1/webhooks/{id}/deliveries", &["get"]),
        ("/api/v1/webhooks/{id}/deliveries/{delivery_id}", &["get"]),
    ] {
        for method in methods {
            assert!(doc["paths"][path][method].is_object(), "{method} {path} is documented");
        }
    }
    assert!(doc["components"]["schemas"]["WebhookView"].is_object());
}

#[tokio::test]
async fn nobody_else_sees_or_deletes_your_endpoint() {
    let app = app_allowing_loopback(|_| {}).await;
    let owner = app.new_user().await;
    let other = app.new_user().await;
    let receiver = Receiver::start(&[]).await;
    let endpoint = register(&app, &owner, json!({ "url": receiver.url })).await;
    let id = endpoint["id"].as_str().expect("id");

    assert_eq!(get_json(&app, &other, "/api/v1/webhooks").await["items"], json!([]));
    for path in [format!("/api/v1/webhooks/{id}"), format!("/api/v1/webhooks/{id}/deliveries")] {
        let response = app.get(&path, &other).send().await.expect("request");
        assert_problem(response, StatusCode::NOT_FOUND, "not-found").await;
    }
    let response = app.delete(&format!("/api/v1/webhooks/{id}"), &other).send().await.expect("request");
    assert_problem(response, StatusCode::NOT_FOUND, "not-found").await;

    // The other user's events never reach it.
    app.create_task(&other, json!({ "title": "not yours" })).await;
    app.create_task(&owner, json!({ "title": "yours" })).await;
    let hits = receiver.wait_for("the owner's task", |h| !h.is_empty()).await;
    assert!(hits.iter().all(|h| h.json()["user_id"] == owner.id.as_str()));

    let response = app.delete(&format!("/api/v1/webhooks/{id}"), &owner).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = app.get(&format!("/api/v1/webhooks/{id}"), &owner).send().await.expect("request");
    assert_problem(response, StatusCode::NOT_FOUND, "not-found").await;

    let response = app.post(&format!("/api/v1/webhooks/{id}/enable"), &other).send().await.expect("request");
    assert_problem(response, StatusCode::NOT_FOUND, "not-found").await;

    // Without a token: 401.
    let response = app.request(reqwest::Method::GET, "/api/v1/webhooks", None).send().await.expect("request");
    assert_problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn a_shared_projects_events_reach_every_members_endpoint_and_no_one_elses() {
    let app = app_allowing_loopback(|_| {}).await;
    let (alice, bob, stranger) = (app.new_user().await, app.new_user().await, app.new_user().await);
    let (bobs, strangers) = (Receiver::start(&[]).await, Receiver::start(&[]).await);
    register(&app, &bob, json!({ "url": bobs.url, "events": ["task.*"] })).await;
    register(&app, &stranger, json!({ "url": strangers.url })).await;
    let project = app.create_project(&alice, "Shared").await;
    let p = project["id"].as_str().expect("id");
    app.share(&alice, p, &bob, "viewer").await;
    let task = app.create_task(&alice, json!({ "title": "Alice's", "project_id": p })).await;
    let hits =
        bobs.wait_for("Alice's task at Bob's endpoint", |h| event_types(h).contains(&"task.created".into())).await;
    let created = hits.iter().map(Hit::json).find(|j| j["event_type"] == "task.created").expect("delivered");
    assert_eq!(created["data"]["task"]["id"], task["id"]);
    assert_eq!(created["user_id"], alice.id.as_str(), "who made the change");
    // The stranger's endpoint takes every event, yet gets none of the project's.
    app.create_task(&stranger, json!({ "title": "Mine" })).await;
    let own = strangers.wait_for("the stranger's own task", |h| event_types(h).contains(&"task.created".into())).await;
    assert!(own.iter().all(|h| h.json()["project_id"] != p), "nothing of a project they are not in");
    app.stop().await;
}
