//! Web Push: a person's devices, and reminders pushed to them. The push
//! service is `push_service.py`, a double on loopback that follows RFC 8030,
//! verifies the VAPID JWT (RFC 8292, PyPI py-vapid) and decrypts each message
//! (RFC 8291, PyPI http-ece) with the keys a browser would hold.
use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{SecondsFormat, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::helpers::{TestApp, TestUser, assert_problem, eventually, on_postgres, spawn_app, spawn_app_with};

/// A P-256 private key (base64url scalar) for the PostgreSQL runs, where the
/// server generates none (every replica must sign with the same one).
pub const VAPID_KEY: &str = "IQ9Ur0ykXoHS9gzfYX0aBjy9lvdrjx_PFUXmie9YRcY";

/// The push service double and the subscriptions it hands out.
struct PushService {
    url: String,
    /// `alive` accepts messages; `gone` answers 410 as for an expired subscription.
    subscriptions: Value,
    _child: tokio::process::Child,
}

impl PushService {
    async fn start() -> PushService {
        let python = std::env::var("ONTASK_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/push_service.py");
        let mut child = tokio::process::Command::new(python)
            .args(["-u", script])
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start the push service double");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await;
        let Ok(Ok(Some(line))) = first else {
            panic!(
                "the push service double did not start; install its packages with \
                 `python3 -m pip install -r crates/ontask/tests/api/requirements.txt` (.ci/run does)"
            )
        };
        let started: Value = serde_json::from_str(&line).expect("the double's first line");
        PushService {
            url: started["url"].as_str().expect("url").to_owned(),
            subscriptions: started["subscriptions"].clone(),
            _child: child,
        }
    }

    /// What the double accepted and refused so far.
    async fn messages(&self) -> Value {
        reqwest::get(format!("{}/messages", self.url)).await.expect("the double answers").json().await.expect("json")
    }
}

async fn push_app() -> TestApp {
    spawn_app_with(|c| {
        c.push.allow_private_endpoints = true;
        if on_postgres() {
            c.push.vapid_private_key = Some(VAPID_KEY.to_owned().into());
        }
    })
    .await
}

async fn subscribe(app: &TestApp, user: &TestUser, subscription: &Value, label: &str) -> reqwest::Response {
    let mut body = subscription.clone();
    body["label"] = json!(label);
    body["expirationTime"] = Value::Null;
    app.post("/api/v1/push/subscriptions", user).json(&body).send().await.expect("request")
}

async fn devices(app: &TestApp, user: &TestUser) -> Vec<Value> {
    let list: Value =
        app.get("/api/v1/push/subscriptions", user).send().await.expect("request").json().await.expect("json");
    list["items"].as_array().expect("items").clone()
}

#[tokio::test]
async fn a_due_reminder_is_pushed_encrypted_to_each_device_and_a_gone_device_is_removed() {
    let service = PushService::start().await;
    let app = push_app().await;
    let user = app.new_user().await;

    // The browser's applicationServerKey: an uncompressed P-256 point.
    let key: Value =
        app.get("/api/v1/push/vapid-public-key", &user).send().await.expect("request").json().await.unwrap();
    let point = URL_SAFE_NO_PAD.decode(key["public_key"].as_str().expect("public_key")).expect("base64url");
    assert_eq!((point.len(), point[0]), (65, 4), "{key}");
    if !on_postgres() {
        // Generated into the data directory on first start, like the session secret.
        let kept = std::fs::read_to_string(app.data_dir.path().join("vapid_private_key")).expect("the key file");
        assert_eq!(kept.trim().len(), 43, "a base64url 32-byte scalar");
    }

    let alive = subscribe(&app, &user, &service.subscriptions["alive"], "Laptop").await;
    assert_eq!(alive.status(), StatusCode::CREATED);
    let alive: Value = alive.json().await.unwrap();
    assert_eq!(alive["label"], "Laptop");
    assert_eq!(alive["service"], "127.0.0.1");
    let gone = subscribe(&app, &user, &service.subscriptions["gone"], "Old phone").await;
    assert_eq!(gone.status(), StatusCode::CREATED);
    let listed = devices(&app, &user).await;
    assert_eq!(listed.len(), 2, "{listed:?}");
    // The endpoint is a capability to the device, and the keys are the browser's: neither is shown.
    let text = serde_json::to_string(&listed).unwrap();
    assert!(!text.contains("/push/alive") && !text.contains("p256dh"), "{text}");

    let fire_at = (Utc::now() + chrono::Duration::seconds(2)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let task = app.create_task(&user, json!({ "title": "Renew the passport", "reminders": [fire_at] })).await;

    let accepted = eventually(Duration::from_secs(30), "the pushed reminder", || async {
        let messages = service.messages().await;
        let accepted = messages["accepted"].as_array().cloned().unwrap_or_default();
        accepted.iter().any(|m| m["device"] == "alive").then_some(messages)
    })
    .await;
    assert_eq!(accepted["refused"], json!([]), "the double refused a message: {accepted}");
    let message = accepted["accepted"].as_array().unwrap().iter().find(|m| m["device"] == "alive").unwrap().clone();
    assert_eq!(message["payload"]["title"], "Renew the passport", "{message}");
    assert_eq!(message["payload"]["url"], format!("/tasks/{}", task["id"].as_str().unwrap()), "{message}");
    assert!(message["ttl"].as_u64().is_some_and(|ttl| ttl > 0), "{message}");
    assert_eq!(message["sub"], "mailto:admin@localhost");

    // The device whose push service answered 410 is gone from the list.
    let left = eventually(Duration::from_secs(30), "the expired device removed", || async {
        let listed = devices(&app, &user).await;
        (listed.len() == 1).then_some(listed)
    })
    .await;
    assert_eq!(left[0]["id"], alive["id"]);
    assert!(left[0]["last_sent_at"].is_string(), "{left:?}");
    // Pushed exactly once to the living device.
    let messages = service.messages().await;
    let to_alive = messages["accepted"].as_array().unwrap().iter().filter(|m| m["device"] == "alive").count();
    assert_eq!(to_alive, 1, "{messages}");
}

#[tokio::test]
async fn devices_are_their_owners_and_bad_subscriptions_are_refused_with_a_problem() {
    let service = PushService::start().await;
    let app = push_app().await;
    let (ada, bob) = (app.new_user().await, app.new_user().await);
    let device: Value = subscribe(&app, &ada, &service.subscriptions["alive"], "Phone").await.json().await.unwrap();
    let id = device["id"].as_str().unwrap();

    // Someone else's device is not found, neither listed nor removable.
    assert!(devices(&app, &bob).await.is_empty());
    let other = app.delete(&format!("/api/v1/push/subscriptions/{id}"), &bob).send().await.unwrap();
    assert_problem(other, StatusCode::NOT_FOUND, "not-found").await;
    let nonsense = app.delete("/api/v1/push/subscriptions/not-an-id", &ada).send().await.unwrap();
    assert_problem(nonsense, StatusCode::NOT_FOUND, "not-found").await;

    // Subscribing the same endpoint again renews it under the same id.
    let again: Value =
        subscribe(&app, &ada, &service.subscriptions["alive"], "Phone, renewed").await.json().await.unwrap();
    assert_eq!(again["id"], device["id"]);
    assert_eq!(devices(&app, &ada).await.len(), 1);

    // A subscription the browser renewed (pushsubscriptionchange) replaces the
    // old one and keeps its name; only its owner's, never someone else's.
    let old_endpoint = service.subscriptions["alive"]["endpoint"].clone();
    let mut renewal = service.subscriptions["gone"].clone();
    renewal["replaces"] = old_endpoint.clone();
    let hijack = app.post("/api/v1/push/subscriptions", &bob).json(&renewal).send().await.unwrap();
    assert_eq!(hijack.status(), StatusCode::CREATED);
    assert_eq!(devices(&app, &ada).await.len(), 1, "bob's renewal left ada's device alone");
    let renewed = app.post("/api/v1/push/subscriptions", &ada).json(&renewal).send().await.unwrap();
    assert_eq!(renewed.status(), StatusCode::CREATED);
    let listed = devices(&app, &ada).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["label"], "Phone, renewed");
    assert_ne!(listed[0]["id"], device["id"]);
    // Put the first device back as it was, for what follows.
    app.delete(&format!("/api/v1/push/subscriptions/{}", listed[0]["id"].as_str().unwrap()), &ada)
        .send()
        .await
        .unwrap();
    let device: Value = subscribe(&app, &ada, &service.subscriptions["alive"], "Phone").await.json().await.unwrap();
    let id = device["id"].as_str().unwrap();

    let bad = json!({ "endpoint": "ftp://push.example.com/x", "keys": { "p256dh": "AAAA", "auth": "short" } });
    let refused = app.post("/api/v1/push/subscriptions", &ada).json(&bad).send().await.unwrap();
    let problem = assert_problem(refused, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    let fields: Vec<&str> = problem["errors"].as_array().unwrap().iter().filter_map(|e| e["field"].as_str()).collect();
    for field in ["endpoint", "keys.p256dh", "keys.auth"] {
        assert!(fields.contains(&field), "{field} in {problem}");
    }

    let removed = app.delete(&format!("/api/v1/push/subscriptions/{id}"), &ada).send().await.unwrap();
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    assert!(devices(&app, &ada).await.is_empty());
    let anonymous = app.client.get(app.url("/api/v1/push/subscriptions")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn endpoints_on_private_addresses_are_refused_by_default() {
    let app = spawn_app_with(|c| {
        if on_postgres() {
            c.push.vapid_private_key = Some(VAPID_KEY.to_owned().into());
        }
    })
    .await;
    let user = app.new_user().await;
    let keys = json!({ "p256dh": URL_SAFE_NO_PAD.encode([4u8; 65]), "auth": URL_SAFE_NO_PAD.encode([7u8; 16]) });
    for endpoint in ["https://127.0.0.1:9/push/x", "http://8.8.8.8/x"] {
        let body = json!({ "endpoint": endpoint, "keys": keys });
        let refused = app.post("/api/v1/push/subscriptions", &user).json(&body).send().await.unwrap();
        let problem = assert_problem(refused, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
        assert_eq!(problem["errors"][0]["field"], "endpoint", "{endpoint}: {problem}");
    }
}

#[tokio::test]
async fn on_postgresql_without_a_configured_key_push_is_off() {
    if !on_postgres() {
        return;
    }
    let app = spawn_app().await;
    let user = app.new_user().await;
    let key = app.get("/api/v1/push/vapid-public-key", &user).send().await.unwrap();
    assert_problem(key, StatusCode::NOT_FOUND, "not-found").await;
}
