//! The same binary split into roles, each its own process, sharing one
//! PostgreSQL database (and, with Kafka, one broker).
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{ProcessApp, create_task_at, eventually, sign_up};

/// Starts `ontask serve --role <role>` against `database_url` with `env`.
async fn role(dir: &tempfile::TempDir, role: &str, database_url: &str, env: &[(&str, &str)]) -> ProcessApp {
    ProcessApp::start_with_env(dir.path(), &["--role", role, "--database-url", database_url], env).await
}

async fn complete(client: &reqwest::Client, app: &ProcessApp, token: &str, id: &str) {
    let r = client.post(app.url(&format!("/api/v1/tasks/{id}/complete"))).bearer_auth(token).send().await.unwrap();
    assert!(r.status().is_success(), "complete: {}", r.status());
}

/// The open tasks titled `title`, as an API process lists them.
async fn open_titled(client: &reqwest::Client, app: &ProcessApp, token: &str, title: &str) -> Vec<Value> {
    let r = client.get(app.url("/api/v1/tasks?status=open")).bearer_auth(token).send().await.unwrap();
    let body: Value = r.json().await.unwrap();
    body["items"].as_array().unwrap().iter().filter(|t| t["title"] == title).cloned().collect()
}

#[tokio::test]
async fn roles_split_over_postgres_with_the_embedded_log() {
    let database = ontask_testkit::pg::database().expect("a PostgreSQL database");
    let dir = tempfile::tempdir().unwrap();
    // The schema first, as a deploy's migration job would, so the roles do not race to create it.
    let migrate = tokio::process::Command::new(env!("CARGO_BIN_EXE_ontask"))
        .args(["migrate", "--database-url", database.url()])
        .output()
        .await
        .unwrap();
    assert!(migrate.status.success(), "{}", String::from_utf8_lossy(&migrate.stderr));
    let api = role(&dir, "api,relay", database.url(), &[]).await;
    let worker = role(&dir, "worker,scheduler", database.url(), &[]).await;
    let client = reqwest::Client::new();
    let user = sign_up(&client, &api.address).await;
    let task = create_task_at(
        &client,
        &api.address,
        &user,
        json!({ "title": "Water the plants", "due": "2030-01-07", "recurrence": "FREQ=WEEKLY" }),
    )
    .await;
    complete(&client, &api, &user.token, task["id"].as_str().unwrap()).await;
    // Only the worker process runs the recurrence consumer: the next occurrence
    // proves the event crossed from the API process's relay to it.
    let next = eventually(Duration::from_secs(30), "the worker to create the next occurrence", || async {
        open_titled(&client, &api, &user.token, "Water the plants").await.pop()
    })
    .await;
    assert_eq!(next["due"], "2030-01-14");
    let health: Value = client.get(worker.url("/health")).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "healthy", "{health}");
}

/// The configuration every process of one Kafka deployment shares; topics and
/// groups are unique to the test, so tests can share one broker.
pub fn kafka_env(brokers: &str) -> Vec<(String, String)> {
    let run = uuid::Uuid::new_v4().simple().to_string();
    [
        ("ONTASK_BUS__KIND", "kafka".to_owned()),
        ("ONTASK_KAFKA__BROKERS", brokers.to_owned()),
        ("ONTASK_KAFKA__GROUP_PREFIX", format!("g{run}")),
        ("ONTASK_BUS__TOPIC_TASK_EVENTS", format!("t{run}.tasks.events.v1")),
        ("ONTASK_BUS__TOPIC_REMINDERS", format!("t{run}.reminders.due.v1")),
        ("ONTASK_BUS__TOPIC_TASK_UPDATES", format!("t{run}.tasks.updates.v1")),
        // Every replica must verify the sessions the others sign.
        ("ONTASK_AUTH__JWT_SECRET", format!("{run}{run}")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_deployment_two_apis_two_relays_one_worker_two_schedulers() {
    let database = ontask_testkit::pg::database().expect("a PostgreSQL database");
    let brokers = ontask_testkit::kafka::shared().expect("a Kafka broker");
    let env = kafka_env(&brokers);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let url = database.url();
    let dir = tempfile::tempdir().unwrap();
    let migrate = tokio::process::Command::new(env!("CARGO_BIN_EXE_ontask"))
        .args(["migrate", "--database-url", url])
        .output()
        .await
        .unwrap();
    assert!(migrate.status.success(), "{}", String::from_utf8_lossy(&migrate.stderr));
    let api1 = role(&dir, "api", url, &env).await;
    let api2 = role(&dir, "api", url, &env).await;
    // Two relays take turns (an advisory lock per batch): one publishes at a
    // time, so per-task and per-user order hold across them.
    let _relay1 = role(&dir, "relay", url, &env).await;
    let _relay2 = role(&dir, "relay", url, &env).await;
    let mut worker = role(&dir, "worker", url, &env).await;
    let _scheduler1 = role(&dir, "scheduler", url, &env).await;
    let _scheduler2 = role(&dir, "scheduler", url, &env).await;
    let client = reqwest::Client::new();
    // Ready means each API's live feed has its partitions, so a stream opened
    // now sees every update from here on.
    for api in [&api1, &api2] {
        eventually(Duration::from_secs(60), "the API's live feed to be ready", || async {
            let r = client.get(api.url("/readyz")).send().await.ok()?;
            (r.status() == reqwest::StatusCode::OK).then_some(())
        })
        .await;
    }
    let user = sign_up(&client, &api1.address).await;

    // 1. A change made through api #1 reaches an SSE client of api #2 (through
    //    the relay, the updates topic and api #2's own consumer group).
    let mut stream = crate::realtime::SseClient::open(client.get(api2.url("/api/v1/stream")).bearer_auth(&user.token))
        .await
        .tasks_only();
    let created = create_task_at(&client, &api1.address, &user, json!({ "title": "Seen everywhere" })).await;
    let seen = loop {
        let event = stream.next().await.expect("the stream goes on");
        if event.data["task_id"] == created["id"] {
            break event;
        }
    };
    assert_eq!(seen.data["event_type"], "task.created");
    // A burst: every event reaches the other replica's stream, in log order.
    let mut burst = Vec::new();
    for i in 0..30 {
        let body = json!({ "title": format!("Burst {i}") });
        burst.push(create_task_at(&client, &api1.address, &user, body).await["id"].clone());
    }
    let mut streamed = Vec::new();
    let mut last = seen.id.expect("an id");
    while streamed.len() < burst.len() {
        let event = stream.next().await.expect("the stream goes on");
        let id = event.id.expect("an id");
        assert!(id > last, "positions only grow on a stream ({id} after {last})");
        last = id;
        if event.data["event_type"] == "task.created" {
            streamed.push(event.data["task_id"].clone());
        }
    }
    assert_eq!(streamed, burst, "every created task, in order");

    // 2. A reminder fires exactly once although two schedulers run.
    let at = (chrono::Utc::now() + chrono::Duration::seconds(4)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let reminded = create_task_at(
        &client,
        &api1.address,
        &user,
        json!({ "title": "Call the bank", "due": "2030-01-01T09:00:00Z", "reminders": [at] }),
    )
    .await;
    let log = crate::eventlog::LogDb::connect(url, 2).await;
    let reminded_id = reminded["id"].as_str().unwrap().to_owned();
    eventually(Duration::from_secs(60), "the reminder to be delivered", || async {
        let r = client.get(api2.url("/api/v1/notifications")).bearer_auth(&user.token).send().await.ok()?;
        let body: Value = r.json().await.ok()?;
        body["items"].as_array()?.iter().any(|n| n["task_id"] == reminded_id.as_str()).then_some(())
    })
    .await;

    // 3. kill -9 the worker in the middle of a stream of completions, start it
    //    again: nothing lost, nothing handled twice.
    let mut ids = Vec::new();
    for i in 0..40 {
        let body = json!({ "title": format!("Plant {i}"), "due": "2030-01-01T09:00:00Z", "recurrence": "FREQ=DAILY" });
        ids.push(create_task_at(&client, &api1.address, &user, body).await["id"].as_str().unwrap().to_owned());
    }
    for (i, id) in ids.iter().enumerate() {
        let api = if i % 2 == 0 { &api1 } else { &api2 };
        complete(&client, api, &user.token, id).await;
        if i == ids.len() / 2 {
            worker.kill().await;
            worker = role(&dir, "worker", url, &env).await;
        }
    }
    eventually(Duration::from_secs(90), "every event handled after the restart", || async {
        log.all_handled().await.then_some(())
    })
    .await;
    log.assert_handled_exactly_once_by_inbox().await;
    let events = log.events().await;
    let fired: Vec<_> = events
        .iter()
        .filter(|e| e.event_type == "reminder.due" && e.task_id.as_deref() == Some(reminded_id.as_str()))
        .collect();
    assert_eq!(fired.len(), 1, "one reminder.due although two schedulers run");
    let sent = events.iter().filter(|e| e.event_type == "reminder.sent").count();
    assert_eq!(sent, 1, "one reminder.sent");
    let successors =
        events.iter().filter(|e| e.event_type == "task.created" && e.data["task"]["recurs_from"].is_string()).count();
    assert_eq!(successors, ids.len(), "one next occurrence per completed task");
    drop(worker);
}
