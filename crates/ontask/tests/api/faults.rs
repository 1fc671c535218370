//! Dependencies failing under a running app: PostgreSQL stops and comes back.
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::eventlog::LogDb;
use crate::helpers::{assert_problem, eventually, spawn_app_with};

#[tokio::test]
async fn postgres_outage_is_a_503_and_the_app_recovers_without_a_restart() {
    // Its own cluster: this test stops the server.
    let cluster = ontask_testkit::pg::Cluster::start().expect("a PostgreSQL cluster");
    let database = ontask_testkit::pg::database_in(&cluster.url()).expect("a database");
    let url = database.url().to_owned();
    let app = spawn_app_with(|c| c.database_url = Some(url.into())).await;
    let user = app.new_user().await;
    let before = app.create_task(&user, json!({ "title": "before the outage" })).await;

    cluster.stop().expect("stop PostgreSQL");

    let response = app.get("/api/v1/tasks", &user).send().await.expect("request");
    let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
    assert_eq!(retry_after.as_deref(), Some("1"), "a 503 tells the client when to try again");
    let problem = assert_problem(response, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    assert!(!problem["detail"].as_str().unwrap_or("").contains("postgres://"), "no connection details leak: {problem}");
    let response = app.post("/api/v1/tasks", &user).json(&json!({ "title": "during" })).send().await.expect("request");
    assert_problem(response, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    let health = app.client.get(app.url("/health")).send().await.expect("request");
    assert_eq!(health.status(), StatusCode::SERVICE_UNAVAILABLE);
    let health: Value = health.json().await.expect("json");
    assert_eq!(health["checks"]["database"]["status"], "down", "{health}");
    let live = app.client.get(app.url("/livez")).send().await.expect("request");
    assert_eq!(live.status(), StatusCode::OK, "the process itself is alive");

    cluster.restart().expect("start PostgreSQL again");

    let after = eventually(Duration::from_secs(60), "the API to answer again", || async {
        let r = app.post("/api/v1/tasks", &user).json(&json!({ "title": "after the outage" })).send().await.ok()?;
        (r.status() == StatusCode::CREATED).then_some(())?;
        r.json::<Value>().await.ok()
    })
    .await;
    let health = app.client.get(app.url("/health")).send().await.expect("request");
    assert_eq!(health.status(), StatusCode::OK);
    let listed: Value = app.get("/api/v1/tasks", &user).send().await.expect("request").json().await.expect("json");
    let titles: Vec<&str> =
        listed["items"].as_array().expect("items").iter().filter_map(|t| t["title"].as_str()).collect();
    assert_eq!(titles.len(), 2, "nothing lost, nothing half-written: {titles:?}");
    assert!(titles.contains(&"before the outage") && titles.contains(&"after the outage"));

    // The background workers recovered too: every event is published and handled.
    let log = LogDb::connect(database.url(), 2).await;
    eventually(Duration::from_secs(30), "the relay and consumers to catch up", || async {
        let events = log.events().await;
        // The account's Inbox and the two tasks.
        (events.len() == 3 && events.iter().all(|e| e.published) && log.caught_up().await).then_some(())
    })
    .await;
    assert_ne!(before["id"], after["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_broker_killed_and_restarted_mid_stream_loses_and_duplicates_nothing() {
    // Its own broker: this test kills it.
    let mut broker = ontask_testkit::kafka::Broker::start().expect("a Kafka broker");
    let database = ontask_testkit::pg::database().expect("a PostgreSQL database");
    let env = crate::roles::kafka_env(&broker.bootstrap());
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let dir = tempfile::tempdir().unwrap();
    let app = crate::helpers::ProcessApp::start_with_env(dir.path(), &["--database-url", database.url()], &env).await;
    let client = reqwest::Client::new();
    let user = crate::helpers::sign_up(&client, &app.address).await;

    let mut ids = Vec::new();
    for i in 0..60 {
        if i == 20 {
            broker.kill9().expect("kill -9 the broker");
            eventually(Duration::from_secs(60), "/health to report the bus down", || async {
                let health: Value = client.get(app.url("/health")).send().await.ok()?.json().await.ok()?;
                (health["checks"]["bus"]["status"] == "down").then_some(())
            })
            .await;
        }
        if i == 40 {
            broker.restart().expect("restart the broker");
        }
        // The API keeps working while the broker is down: the outbox holds the events.
        let body = json!({ "title": format!("Plant {i}"), "due": "2030-01-01T09:00:00Z", "recurrence": "FREQ=DAILY" });
        let task = crate::helpers::create_task_at(&client, &app.address, &user, body).await;
        let id = task["id"].as_str().unwrap().to_owned();
        let r = client.post(app.url(&format!("/api/v1/tasks/{id}/complete"))).bearer_auth(&user.token).send().await;
        assert!(r.unwrap().status().is_success());
        ids.push(id);
    }
    let log = LogDb::connect(database.url(), 2).await;
    eventually(Duration::from_secs(120), "every event published and handled after the broker is back", || async {
        log.all_handled().await.then_some(())
    })
    .await;
    log.assert_handled_exactly_once_by_inbox().await;
    let events = log.events().await;
    let successors =
        events.iter().filter(|e| e.event_type == "task.created" && e.data["task"]["recurs_from"].is_string()).count();
    assert_eq!(successors, ids.len(), "one next occurrence per completed task");
}
