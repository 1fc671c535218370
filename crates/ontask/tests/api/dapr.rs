//! Dapr mode: the whole app with `bus.kind = dapr` against the sidecar double
//! (`dapr_sidecar.rs`), which follows the daprd HTTP API reference.
use std::time::Duration;

use ontask::config::{BusKind, Config};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::dapr_sidecar::{DaprSidecar, SidecarOptions, Subscription};
use crate::helpers::{TestApp, TestUser, assert_problem, eventually, spawn_app_with};

const TASK_EVENTS: &str = "ontask.tasks.events.v1";
const REMINDERS: &str = "ontask.reminders.due.v1";
const UPDATES: &str = "ontask.tasks.updates.v1";

/// Starts the double, then the app pointed at it, then lets the double read
/// the app's subscriptions (the order daprd and its app come up in).
async fn spawn_dapr(options: SidecarOptions, adjust: impl FnOnce(&mut Config)) -> (TestApp, DaprSidecar) {
    let sidecar = DaprSidecar::start(options.clone()).await;
    let endpoint = sidecar.url.clone();
    let app = spawn_app_with(|c| {
        c.bus.kind = BusKind::Dapr;
        c.dapr.http_endpoint = Some(endpoint);
        c.dapr.api_token = options.api_token.clone().map(Into::into);
        c.dapr.app_api_token = options.app_token.clone().map(Into::into);
        adjust(c);
    })
    .await;
    sidecar.attach(&app.address).await;
    (app, sidecar)
}

fn tokens() -> SidecarOptions {
    SidecarOptions {
        api_token: Some("sidecar-api-token".into()),
        app_token: Some("app-api-token".into()),
        ..SidecarOptions::default()
    }
}

/// An RFC 3339 instant `secs` seconds from now.
fn in_secs(secs: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(secs)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

async fn history_types(app: &TestApp, user: &TestUser, id: &str) -> Vec<String> {
    app.task_history(user, id).await.iter().map(|e| e["event_type"].as_str().expect("type").to_owned()).collect()
}

#[tokio::test]
async fn a_created_task_is_published_per_topic_with_its_partition_key_and_delivered_back() {
    let (app, sidecar) = spawn_dapr(tokens(), |_| {}).await;

    // The programmatic subscriptions: both consumer topics and the updates
    // fan-out on the broadcast component, each with its dead-letter topic.
    let subscriptions = sidecar.subscriptions();
    let expect = |pubsub: &str, topic: &str, route: &str| Subscription {
        pubsubname: pubsub.into(),
        topic: topic.into(),
        route: route.into(),
        dead_letter_topic: Some(format!("{topic}.dlq")),
    };
    assert_eq!(
        subscriptions,
        [
            expect("ontask-pubsub", TASK_EVENTS, "/dapr/events/task-events"),
            expect("ontask-pubsub", REMINDERS, "/dapr/events/reminders"),
            expect("ontask-pubsub-broadcast", UPDATES, "/dapr/events/task-updates"),
        ]
    );

    let user = app.new_user().await;
    let task = app.create_task(&user, json!({ "title": "Water the plants" })).await;
    let id = task["id"].as_str().expect("id");
    let history = app.task_history(&user, id).await;
    let event_id = history[0]["event_id"].as_str().expect("event_id").to_owned();

    let published = eventually(Duration::from_secs(20), "the event on both topics", || async {
        let p: Vec<_> = sidecar.published().into_iter().filter(|p| p.cloud_event["id"] == event_id.as_str()).collect();
        (p.len() == 2).then_some(p)
    })
    .await;
    let topics: Vec<&str> = published.iter().map(|p| p.topic.as_str()).collect();
    assert_eq!(topics, [TASK_EVENTS, UPDATES]);
    for p in &published {
        assert_eq!(p.pubsub, "ontask-pubsub");
        assert_eq!(p.content_type, "application/cloudevents+json");
        // Per-task order for consumers, per-user order for streams.
        let key = if p.topic == UPDATES { user.id.as_str() } else { id };
        assert_eq!(p.metadata.get("partitionKey").map(String::as_str), Some(key));
        let ce = &p.cloud_event;
        assert_eq!(ce["specversion"], "1.0");
        assert_eq!(ce["type"], "task.created");
        assert_eq!(ce["datacontenttype"], "application/json");
        assert_eq!(ce["data"]["event_id"], event_id.as_str());
        assert_eq!(ce["data"]["data"]["task"]["title"], "Water the plants");
    }
    // Every call to the sidecar's API carried its token.
    assert!(sidecar.api_requests().iter().all(|(_, token)| token.as_deref() == Some("sidecar-api-token")));

    // Delivered back to the consumers' route, and handled.
    eventually(Duration::from_secs(20), "the delivery acknowledged", || async {
        sidecar
            .deliveries()
            .iter()
            .any(|d| d.id == event_id && d.route == "/dapr/events/task-events" && d.status == "SUCCESS")
            .then_some(())
    })
    .await;
    eventually(Duration::from_secs(20), "the update fanned out", || async {
        sidecar
            .deliveries()
            .iter()
            .any(|d| d.id == event_id && d.route == "/dapr/events/task-updates" && d.status == "SUCCESS")
            .then_some(())
    })
    .await;
    app.stop().await;
}

#[tokio::test]
async fn completing_a_recurring_task_creates_the_next_one_once_although_every_message_comes_twice() {
    let options = SidecarOptions { duplicate_deliveries: 2, ..tokens() };
    let (app, sidecar) = spawn_dapr(options, |_| {}).await;
    let user = app.new_user().await;
    let task = app
        .create_task(&user, json!({ "title": "Bins out", "due": "2030-01-07", "recurrence": "FREQ=WEEKLY;BYDAY=MO" }))
        .await;
    let id = task["id"].as_str().expect("id").to_owned();
    let response = app.post(&format!("/api/v1/tasks/{id}/complete"), &user).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let completion = app
        .task_history(&user, &id)
        .await
        .into_iter()
        .find(|e| e["event_type"] == "task.completed")
        .expect("task.completed");
    let completion_id = completion["event_id"].as_str().expect("event_id").to_owned();

    // The same CloudEvent reached the consumers twice, and both times they said SUCCESS.
    eventually(Duration::from_secs(30), "task.completed delivered twice", || async {
        let n = sidecar
            .deliveries()
            .iter()
            .filter(|d| d.id == completion_id && d.route == "/dapr/events/task-events" && d.status == "SUCCESS")
            .count();
        (n == 2).then_some(())
    })
    .await;
    let tasks: Value =
        app.get("/api/v1/tasks?limit=200", &user).send().await.expect("request").json().await.expect("json");
    let next: Vec<&Value> =
        tasks["items"].as_array().expect("items").iter().filter(|t| t["recurs_from"] == id.as_str()).collect();
    assert_eq!(next.len(), 1, "exactly one next occurrence: {tasks}");
    assert_eq!(next[0]["due"], "2030-01-14");
    app.stop().await;
}

#[tokio::test]
async fn a_reminder_is_scheduled_with_the_jobs_api_and_fires_once_from_the_callback() {
    let (app, sidecar) = spawn_dapr(tokens(), |_| {}).await;
    let user = app.new_user().await;
    let task = app.create_task(&user, json!({ "title": "Call the plumber", "reminders": [in_secs(3)] })).await;
    let id = task["id"].as_str().expect("id").to_owned();

    // The reminder consumer asked the sidecar for a callback at the instant.
    let job = eventually(Duration::from_secs(20), "a job scheduled", || async {
        sidecar.scheduled().into_iter().find(|j| j.name.starts_with("ontask-reminders-"))
    })
    .await;
    assert!(job.data["fire_at"].is_string(), "the job carries its instant: {:?}", job.data);

    // No scheduler polls in Dapr mode: the callback is what fires it.
    eventually(Duration::from_secs(30), "reminder.due in the history", || async {
        history_types(&app, &user, &id).await.iter().any(|t| t == "reminder.due").then_some(())
    })
    .await;
    // The callback's answer is recorded once its response arrives, which can
    // be after the history already shows what it committed.
    eventually(Duration::from_secs(10), "the callback answered 200", || async {
        sidecar.job_calls().iter().any(|c| c.name == job.name && c.http_status == 200).then_some(())
    })
    .await;

    // A repeated callback (a retrying sidecar) fires nothing more.
    assert_eq!(sidecar.call_job(&job.name, &job.data).await, 200);
    let history = history_types(&app, &user, &id).await;
    assert_eq!(history.iter().filter(|t| *t == "reminder.due").count(), 1, "{history:?}");

    // reminder.due went to the reminders topic and came back to the consumers:
    // the notification consumer turned it into reminder.sent.
    eventually(Duration::from_secs(20), "reminder.sent", || async {
        history_types(&app, &user, &id).await.iter().any(|t| t == "reminder.sent").then_some(())
    })
    .await;
    assert!(sidecar.published().iter().any(|p| p.topic == REMINDERS && p.cloud_event["type"] == "reminder.due"));
    app.stop().await;
}

#[tokio::test]
async fn the_reminder_scan_binding_fires_due_reminders_too() {
    let (app, _sidecar) = spawn_dapr(tokens(), |_| {}).await;
    // The cron binding's call, as daprd makes it (with the app token).
    let scan = || app.client.post(app.url("/ontask-reminder-scan")).header("dapr-api-token", "app-api-token").send();
    assert_eq!(scan().await.expect("request").status(), StatusCode::OK);
    // daprd probes input binding routes with OPTIONS: anything but 404 means "listening".
    let probe = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/ontask-reminder-scan"))
        .header("dapr-api-token", "app-api-token")
        .send()
        .await
        .expect("request");
    assert_ne!(probe.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn a_retry_answer_makes_the_sidecar_deliver_again_and_undecodable_messages_are_dead_lettered() {
    // A process without consumers (api and relay only) that still gets task
    // events, as a worker does while its consumers are starting: it must not
    // take the message, so it answers RETRY.
    let options = SidecarOptions {
        max_attempts: 3,
        declarative: vec![Subscription {
            pubsubname: "ontask-pubsub".into(),
            topic: TASK_EVENTS.into(),
            route: "/dapr/events/task-events".into(),
            dead_letter_topic: Some(format!("{TASK_EVENTS}.dlq")),
        }],
        ..tokens()
    };
    let (app, sidecar) = spawn_dapr(options, |c| c.role = ontask::Roles::parse("api,relay").expect("roles")).await;
    let user = app.new_user().await;
    let task = app.create_task(&user, json!({ "title": "Retry me" })).await;
    let id = task["id"].as_str().expect("id");
    let event_id = app.task_history(&user, id).await[0]["event_id"].as_str().expect("event_id").to_owned();

    let attempts = eventually(Duration::from_secs(30), "three attempts", || async {
        let a: Vec<_> =
            sidecar.deliveries().into_iter().filter(|d| d.id == event_id && d.topic == TASK_EVENTS).collect();
        (a.len() == 3).then_some(a)
    })
    .await;
    assert!(attempts.iter().all(|d| d.http_status == 200 && d.status == "RETRY"), "{attempts:?}");
    // Retries exhausted: the sidecar moved it to the dead-letter topic.
    eventually(Duration::from_secs(10), "the dead letter", || async {
        sidecar
            .dead_letters()
            .iter()
            .any(|(t, ce)| t == &format!("{TASK_EVENTS}.dlq") && ce["id"] == event_id.as_str())
            .then_some(())
    })
    .await;

    // Something that is not an event: DROP, which the sidecar dead-letters at once.
    let response = app
        .client
        .post(app.url("/dapr/events/task-events"))
        .header("dapr-api-token", "app-api-token")
        .header("content-type", "application/cloudevents+json")
        .body(
            json!({ "specversion": "1.0", "id": "x", "source": "s", "type": "t", "data": { "hello": 1 } }).to_string(),
        )
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.expect("json"), json!({ "status": "DROP" }));
    app.stop().await;
}

#[tokio::test]
async fn calls_without_the_sidecars_app_token_are_refused() {
    let (app, _sidecar) = spawn_dapr(tokens(), |_| {}).await;
    let wrong = app
        .client
        .post(app.url("/dapr/events/task-events"))
        .header("dapr-api-token", "guess")
        .header("content-type", "application/cloudevents+json")
        .body("{}")
        .send()
        .await
        .expect("request");
    assert_problem(wrong, StatusCode::UNAUTHORIZED, "unauthorized").await;
    for (method, path) in [
        (reqwest::Method::GET, "/dapr/subscribe"),
        (reqwest::Method::POST, "/job/x"),
        (reqwest::Method::POST, "/ontask-reminder-scan"),
    ] {
        let missing = app.client.request(method, app.url(path)).send().await.expect("request");
        assert_problem(missing, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    let right = app.client.get(app.url("/dapr/subscribe")).header("dapr-api-token", "app-api-token").send().await;
    assert_eq!(right.expect("request").status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn health_shows_the_sidecar_and_reports_it_down_when_it_stops() {
    let (app, mut sidecar) = spawn_dapr(tokens(), |_| {}).await;
    let health: Value = app.client.get(app.url("/health")).send().await.expect("request").json().await.expect("json");
    assert_eq!(health["checks"]["bus"]["status"], "up", "{health}");
    assert_eq!(health["checks"]["bus"]["details"]["kind"], "dapr");

    sidecar.stop().await;
    let response = app.client.get(app.url("/health")).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let health: Value = response.json().await.expect("json");
    assert_eq!(health["status"], "unhealthy");
    assert_eq!(health["checks"]["bus"]["status"], "down", "{health}");
    app.stop().await;
}

#[tokio::test]
async fn a_failing_sidecar_trips_its_breaker_and_the_outbox_drains_once_it_recovers() {
    let (app, sidecar) = spawn_dapr(tokens(), |c| {
        c.circuit_breakers.failures = 3;
        c.circuit_breakers.open_for = Duration::from_secs(1);
    })
    .await;
    sidecar.set_broker_down(true);
    let user = app.new_user().await;
    for title in ["one", "two", "three"] {
        app.create_task(&user, json!({ "title": title })).await;
    }
    let health = eventually(Duration::from_secs(30), "the sidecar's breaker to open", || async {
        let health: Value =
            app.client.get(app.url("/health")).send().await.expect("request").json().await.expect("json");
        (health["checks"]["outbound"]["status"] == "degraded").then_some(health)
    })
    .await;
    assert!(health["checks"]["outbound"]["error"].as_str().is_some_and(|e| e.contains("dapr")), "{health}");
    assert!(health["checks"]["event_log"]["details"]["unpublished"].as_i64() >= Some(1), "{health}");
    assert!(sidecar.published().is_empty());

    // Back up: a probe goes through, the breaker closes, and every event is
    // published once, in order.
    sidecar.set_broker_down(false);
    let published = eventually(Duration::from_secs(30), "the outbox to drain", || async {
        let published: Vec<String> = sidecar
            .published()
            .into_iter()
            .filter(|p| p.topic == TASK_EVENTS && p.cloud_event["type"] == "task.created")
            .map(|p| p.cloud_event["data"]["data"]["task"]["title"].as_str().unwrap_or_default().to_owned())
            .collect();
        (published.len() == 3).then_some(published)
    })
    .await;
    assert_eq!(published, ["one", "two", "three"]);
    let health: Value = app.client.get(app.url("/health")).send().await.expect("request").json().await.expect("json");
    assert_eq!(health["checks"]["outbound"]["status"], "up", "{health}");
    app.stop().await;
}

#[tokio::test]
async fn an_event_a_consumer_gives_up_on_goes_to_the_dead_letter_topic_through_the_sidecar() {
    let (app, sidecar) = spawn_dapr(tokens(), |_| {}).await;
    let user = app.new_user().await;
    // Another publisher's task.completed whose data is not a task: the
    // recurrence consumer can never handle it (a permanent failure).
    let event_id = uuid::Uuid::now_v7().to_string();
    let poisoned = json!({
        "specversion": "1.0", "id": event_id, "source": "elsewhere", "type": "task.completed",
        "datacontenttype": "application/json",
        "data": {
            "seq": 1, "event_id": event_id, "event_type": "task.completed", "event_version": "1",
            "timestamp": chrono::Utc::now().to_rfc3339(), "source": "elsewhere", "user_id": user.id,
            "task_id": uuid::Uuid::now_v7().to_string(), "data": { "task": 42 },
            "metadata": { "correlation_id": "poisoned" },
        },
    });
    let response = app
        .client
        .post(format!("{}/v1.0/publish/ontask-pubsub/{TASK_EVENTS}", sidecar.url))
        .header("dapr-api-token", "sidecar-api-token")
        .header("content-type", "application/cloudevents+json")
        .body(poisoned.to_string())
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    let dead = eventually(Duration::from_secs(30), "the recurrence consumer's dead letter", || async {
        sidecar
            .published()
            .into_iter()
            .find(|p| p.topic == format!("{TASK_EVENTS}.dlq") && p.cloud_event["ontaskconsumer"] == "recurrence")
    })
    .await;
    assert_eq!(dead.cloud_event["id"], event_id.as_str());
    assert_eq!(dead.cloud_event["ontaskoriginaltopic"], TASK_EVENTS);
    assert!(dead.cloud_event["ontaskerror"].as_str().is_some_and(|e| !e.is_empty()), "{:?}", dead.cloud_event);
    // Handled as far as the sidecar is concerned: no redelivery, no sidecar dead letter.
    eventually(Duration::from_secs(20), "the delivery acknowledged", || async {
        sidecar
            .deliveries()
            .iter()
            .any(|d| d.id == event_id && d.topic == TASK_EVENTS && d.status == "SUCCESS")
            .then_some(())
    })
    .await;
    assert!(sidecar.dead_letters().is_empty());
    app.stop().await;
}

/// `ontask config` with exactly `env` (no ONTASK_*/DAPR_* from the caller).
fn effective_config(env: &[(&str, &str)]) -> toml::Value {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_ontask"));
    command.arg("config").current_dir(dir.path());
    for (k, _) in std::env::vars() {
        if k.starts_with("ONTASK_") || k.starts_with("DAPR_") || k == "APP_API_TOKEN" {
            command.env_remove(k);
        }
    }
    command.envs(env.iter().copied());
    let output = command.output().expect("run ontask");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    toml::from_str(&String::from_utf8(output.stdout).expect("utf-8")).expect("TOML")
}

#[test]
fn the_variables_daprd_gives_its_app_configure_dapr_mode_and_ontask_ones_win() {
    let config = effective_config(&[
        ("DAPR_HTTP_PORT", "3999"),
        ("DAPR_API_TOKEN", "from-the-injector"),
        ("APP_API_TOKEN", "the-app-token"),
    ]);
    assert_eq!(config["dapr"]["http_port"].as_integer(), Some(3999));
    assert_eq!(config["dapr"]["api_token"].as_str(), Some("***"));
    assert_eq!(config["dapr"]["app_api_token"].as_str(), Some("***"));

    let config = effective_config(&[("DAPR_HTTP_PORT", "3999"), ("ONTASK_DAPR__HTTP_PORT", "3501")]);
    assert_eq!(config["dapr"]["http_port"].as_integer(), Some(3501));
    assert!(config["dapr"].get("api_token").is_none());
}

#[tokio::test]
async fn streams_get_their_users_events_from_the_updates_topic() {
    let (app, sidecar) = spawn_dapr(tokens(), |_| {}).await;
    let user = app.new_user().await;
    let mut stream = crate::realtime::SseClient::open(app.get("/api/v1/stream", &user)).await.tasks_only();
    let task = app.create_task(&user, json!({ "title": "Stream me" })).await;
    let id = task["id"].as_str().expect("id");
    let response = app.post(&format!("/api/v1/tasks/{id}/complete"), &user).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::OK);

    let events = stream.take(2).await;
    let types: Vec<_> = events.iter().map(|e| e.event.as_deref().unwrap_or_default()).collect();
    assert_eq!(types, ["task.created", "task.completed"]);
    assert!(events[0].id < events[1].id, "in log order");
    // They came through the sidecar's delivery to the updates route (recorded
    // once the app answered it, which may be just after the stream got it).
    let ids: Vec<String> = events.iter().map(|e| e.data["event_id"].as_str().expect("event_id").to_owned()).collect();
    eventually(Duration::from_secs(20), "both updates delivered", || async {
        let delivered = sidecar.deliveries();
        ids.iter()
            .all(|id| {
                delivered.iter().any(|d| &d.id == id && d.route == "/dapr/events/task-updates" && d.status == "SUCCESS")
            })
            .then_some(())
    })
    .await;
    app.stop().await;
}

#[tokio::test]
async fn with_a_misnamed_pubsub_component_events_stay_in_the_outbox() {
    let (app, sidecar) = spawn_dapr(tokens(), |c| c.dapr.pubsub_name = "ontask-pubsub-typo".into()).await;
    let user = app.new_user().await;
    app.create_task(&user, json!({ "title": "Not lost" })).await;
    // The sidecar answered 400 ERR_PUBSUB_NOT_FOUND; the relay keeps the event and retries.
    eventually(Duration::from_secs(20), "a refused publish", || async {
        sidecar
            .api_requests()
            .iter()
            .any(|(path, _)| path.starts_with("/v1.0/publish/ontask-pubsub-typo/"))
            .then_some(())
    })
    .await;
    assert!(sidecar.published().is_empty());
    let health: Value = app.client.get(app.url("/health")).send().await.expect("request").json().await.expect("json");
    assert!(health["checks"]["event_log"]["details"]["unpublished"].as_i64() >= Some(1), "{health}");
    app.stop().await;
}
