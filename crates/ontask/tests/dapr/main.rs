//! ontask's Dapr mode against a real daprd (v1.16, `tools/dapr`) and the real
//! Dapr scheduler, on real Apache Kafka and PostgreSQL; see `world.rs` for what
//! runs. One test process shares the broker, the cluster and the scheduler;
//! each test has its own database, topics, processes and sidecars.
//!
//! Run by `scripts/test` inside a loopback-only network namespace; the tests
//! fail outside one, and fail (not skip) without the Dapr binaries.
mod world;

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use world::{APP_TOKEN, DATABASE_SECRET, PUBSUB, SECRET_STORE, World, eventually, read_topic};

const WAIT: Duration = Duration::from_secs(60);

struct User {
    id: String,
    token: String,
}

async fn sign_up(world: &World) -> User {
    let email = format!("user-{}@example.com", uuid::Uuid::now_v7().simple());
    let response = world
        .client
        .post(format!("{}/api/v1/auth/register", world.api.app))
        .json(&json!({ "email": email, "password": "correct horse battery" }))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::CREATED, "sign-up");
    let body: Value = response.json().await.expect("json");
    User { id: body["user"]["id"].as_str().expect("id").into(), token: body["token"].as_str().expect("token").into() }
}

async fn create_task(world: &World, user: &User, body: Value, traceparent: Option<&str>) -> Value {
    let mut request = world.client.post(format!("{}/api/v1/tasks", world.api.app)).bearer_auth(&user.token).json(&body);
    if let Some(tp) = traceparent {
        request = request.header("traceparent", tp);
    }
    let response = request.send().await.expect("request");
    assert_eq!(response.status(), StatusCode::CREATED, "create");
    response.json().await.expect("json")
}

async fn history(world: &World, user: &User, id: &str) -> Vec<Value> {
    let body: Value = world
        .client
        .get(format!("{}/api/v1/tasks/{id}/history", world.api.app))
        .bearer_auth(&user.token)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    body["items"].as_array().cloned().unwrap_or_default()
}

async fn has_event(world: &World, user: &User, id: &str, kind: &str) -> bool {
    history(world, user, id).await.iter().any(|e| e["event_type"] == kind)
}

#[tokio::test(flavor = "multi_thread")]
async fn events_go_through_the_sidecar_to_kafka_and_back_to_the_workers_subscriptions() {
    let world = World::start().await;

    // The worker's programmatic subscriptions, as the real sidecar read them.
    let metadata: Value = world
        .sidecar(&world.worker, Method::GET, "/v1.0/metadata")
        .send()
        .await
        .expect("metadata")
        .json()
        .await
        .expect("json");
    let subscriptions = metadata["subscriptions"].as_array().expect("subscriptions").clone();
    for topic in [&world.topics.task_events, &world.topics.reminders] {
        let s = subscriptions
            .iter()
            .find(|s| s["topic"] == topic.as_str())
            .unwrap_or_else(|| panic!("{topic}: {metadata}"));
        assert_eq!(s["pubsubname"], PUBSUB);
        assert_eq!(s["deadLetterTopic"], format!("{topic}.dlq"));
        assert_eq!(s["type"], "PROGRAMMATIC");
    }

    let user = sign_up(&world).await;
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let traceparent = format!("00-{trace}-00f067aa0ba902b7-01");
    let task = create_task(
        &world,
        &user,
        json!({ "title": "Bins out", "due": "2030-01-07", "recurrence": "FREQ=WEEKLY;BYDAY=MO" }),
        Some(&traceparent),
    )
    .await;
    let id = task["id"].as_str().expect("id").to_owned();
    let created = history(&world, &user, &id).await[0]["event_id"].as_str().expect("event_id").to_owned();

    // On Kafka as the sidecar wrote it: a CloudEvent with our id, the envelope
    // as data, and the request's trace.
    let kafka = &world.shared.kafka;
    let message = eventually(WAIT, "task.created on the task events topic", || async {
        read_topic(kafka, &world.topics.task_events).into_iter().find(|m| m["id"] == created.as_str())
    })
    .await;
    assert_eq!(message["type"], "task.created");
    assert_eq!(message["specversion"], "1.0");
    assert_eq!(message["subject"], id.as_str());
    assert_eq!(message["data"]["event_id"], created.as_str());
    assert_eq!(message["data"]["data"]["task"]["title"], "Bins out");
    let envelope_trace = message["data"]["metadata"]["traceparent"].as_str().expect("envelope traceparent");
    assert!(envelope_trace.contains(trace), "{message}");
    let ce_trace = message["traceparent"].as_str().expect("CloudEvent traceparent");
    assert!(ce_trace.contains(trace), "the sidecar kept the trace: {message}");
    // The updates topic carries it too.
    eventually(WAIT, "task.created on the updates topic", || async {
        read_topic(kafka, &world.topics.updates).iter().any(|m| m["id"] == created.as_str()).then_some(())
    })
    .await;

    // Completing it: the worker's recurrence consumer got task.completed from
    // its sidecar and created the next occurrence, once.
    let response = world
        .client
        .post(format!("{}/api/v1/tasks/{id}/complete", world.api.app))
        .bearer_auth(&user.token)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let next = eventually(WAIT, "the next occurrence", || async {
        let tasks: Value = world
            .client
            .get(format!("{}/api/v1/tasks?limit=200", world.api.app))
            .bearer_auth(&user.token)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let next: Vec<Value> =
            tasks["items"].as_array()?.iter().filter(|t| t["recurs_from"] == id.as_str()).cloned().collect();
        (!next.is_empty()).then_some(next)
    })
    .await;
    assert_eq!(next.len(), 1, "{next:?}");
    assert_eq!(next[0]["due"], "2030-01-14");

    // The recurrence consumer's inbox row in PostgreSQL: the worker committed it.
    let completed = history(&world, &user, &id)
        .await
        .into_iter()
        .find(|e| e["event_type"] == "task.completed")
        .and_then(|e| e["event_id"].as_str().map(str::to_owned))
        .expect("task.completed");
    let sql = format!("SELECT count(*) FROM inbox WHERE consumer = 'recurrence' AND event_id = '{completed}'");
    let url = world.database_url.clone();
    let rows = tokio::task::spawn_blocking(move || ontask_testkit::pg::psql(&url, &sql)).await.expect("join");
    assert_eq!(rows.expect("psql"), "1", "the recurrence consumer's inbox row for {completed}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reminder_is_a_job_on_the_real_scheduler_whose_callback_fires_it() {
    let world = World::start().await;
    let user = sign_up(&world).await;
    let at = (chrono::Utc::now() + chrono::Duration::seconds(4)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let task = create_task(&world, &user, json!({ "title": "Call the plumber", "reminders": [at] }), None).await;
    let id = task["id"].as_str().expect("id").to_owned();
    // The same instant is the same job name, scheduled again (with
    // `overwrite`): one callback fires both.
    let other = create_task(&world, &user, json!({ "title": "Book the plumber", "reminders": [at] }), None).await;
    let other = other["id"].as_str().expect("id").to_owned();

    // Nothing polls in Dapr mode: only the scheduler's callback to the worker fires it.
    eventually(WAIT, "reminder.due", || async { has_event(&world, &user, &id, "reminder.due").await.then_some(()) })
        .await;
    eventually(WAIT, "the other task's reminder.due", || async {
        has_event(&world, &user, &other, "reminder.due").await.then_some(())
    })
    .await;
    // reminder.due went out on the reminders topic and came back to the notification consumer.
    eventually(WAIT, "reminder.sent", || async { has_event(&world, &user, &id, "reminder.sent").await.then_some(()) })
        .await;
    let due = read_topic(&world.shared.kafka, &world.topics.reminders);
    assert!(due.iter().any(|m| m["type"] == "reminder.due" && m["subject"] == id.as_str()), "{due:?}");
    let fired = history(&world, &user, &id).await.iter().filter(|e| e["event_type"] == "reminder.due").count();
    assert_eq!(fired, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn retried_and_dropped_deliveries_end_on_the_dead_letter_topic() {
    let world = World::start().await;
    let user = sign_up(&world).await;
    let task = create_task(&world, &user, json!({ "title": "Retry me" }), None).await;
    let id = task["id"].as_str().expect("id").to_owned();
    let created = history(&world, &user, &id).await[0]["event_id"].as_str().expect("event_id").to_owned();
    let dlq = format!("{}.dlq", world.topics.task_events);

    // The API process has no consumers and answers RETRY to its (declarative)
    // subscription; once the resiliency policy's retries are spent the sidecar
    // dead-letters it. The worker's own subscription handled it meanwhile.
    eventually(WAIT, "the retried event on the dead-letter topic", || async {
        read_topic(&world.shared.kafka, &dlq).iter().any(|m| m["id"] == created.as_str()).then_some(())
    })
    .await;

    // Something that is no ontask event: the worker answers DROP, and the
    // sidecar dead-letters it at once.
    let junk = uuid::Uuid::now_v7().to_string();
    let response = world
        .sidecar(&world.worker, Method::POST, &format!("/v1.0/publish/{PUBSUB}/{}", world.topics.task_events))
        .header("content-type", "application/cloudevents+json")
        .body(
            json!({ "specversion": "1.0", "id": junk, "source": "elsewhere", "type": "t", "data": { "hello": 1 } })
                .to_string(),
        )
        .send()
        .await
        .expect("publish");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    eventually(WAIT, "the dropped event on the dead-letter topic", || async {
        read_topic(&world.shared.kafka, &dlq).iter().any(|m| m["id"] == junk.as_str()).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_consumers_dead_letter_goes_through_the_sidecar_with_why() {
    let world = World::start().await;
    let user = sign_up(&world).await;
    // Another publisher's task.completed whose data is not a task: the
    // recurrence consumer can never handle it.
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
    let response = world
        .sidecar(&world.worker, Method::POST, &format!("/v1.0/publish/{PUBSUB}/{}", world.topics.task_events))
        .header("content-type", "application/cloudevents+json")
        .body(poisoned.to_string())
        .send()
        .await
        .expect("publish");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let dlq = format!("{}.dlq", world.topics.task_events);
    let dead = eventually(WAIT, "the recurrence consumer's dead letter", || async {
        read_topic(&world.shared.kafka, &dlq)
            .into_iter()
            .find(|m| m["id"] == event_id.as_str() && m["ontaskconsumer"] == "recurrence")
    })
    .await;
    assert_eq!(dead["ontaskoriginaltopic"], world.topics.task_events.as_str());
    assert!(dead["ontaskerror"].as_str().is_some_and(|e| !e.is_empty()), "{dead}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sidecar_reads_secrets_from_its_store_and_is_ontasks_bus_health() {
    let world = World::start().await;
    let secret: Value = world
        .sidecar(&world.api, Method::GET, &format!("/v1.0/secrets/{SECRET_STORE}/{DATABASE_SECRET}"))
        .send()
        .await
        .expect("secret")
        .json()
        .await
        .expect("json");
    assert_eq!(secret[DATABASE_SECRET], world.database_url.as_str());
    // The state store got its connection string from that store and reached
    // PostgreSQL: it made its table there.
    let url = world.database_url.clone();
    let table = tokio::task::spawn_blocking(move || {
        ontask_testkit::pg::psql(&url, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'dapr_state'")
    })
    .await
    .expect("join")
    .expect("psql");
    assert_eq!(table, "1");

    let health: Value = world
        .client
        .get(format!("{}/health", world.worker.app))
        .send()
        .await
        .expect("health")
        .json()
        .await
        .expect("json");
    assert_eq!(health["checks"]["bus"]["status"], "up", "{health}");
    assert_eq!(health["checks"]["bus"]["details"]["kind"], "dapr");
    // The app's routes still refuse callers without the sidecar's app token.
    let anonymous = world.client.get(format!("{}/dapr/subscribe", world.worker.app)).send().await.expect("request");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let sidecar = world
        .client
        .get(format!("{}/dapr/subscribe", world.worker.app))
        .header("dapr-api-token", APP_TOKEN)
        .send()
        .await
        .expect("request");
    assert_eq!(sidecar.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_gets_its_users_events_from_the_broadcast_component() {
    let world = World::start().await;
    let user = sign_up(&world).await;
    let mut stream = world
        .client
        .get(format!("{}/api/v1/stream", world.api.app))
        .bearer_auth(&user.token)
        .header("accept", "text/event-stream")
        .timeout(WAIT)
        .send()
        .await
        .expect("stream");
    assert_eq!(stream.status(), StatusCode::OK);
    let task = create_task(&world, &user, json!({ "title": "Stream me" }), None).await;
    let id = task["id"].as_str().expect("id");
    // Relay -> sidecar -> Kafka's updates topic -> the API's sidecar (a
    // consumer group of its own) -> /dapr/events/task-updates -> this stream.
    let mut seen = String::new();
    let found = tokio::time::timeout(WAIT, async {
        while let Ok(Some(chunk)) = stream.chunk().await {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains("task.created") && seen.contains(id) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "the stream showed: {seen}");
}
