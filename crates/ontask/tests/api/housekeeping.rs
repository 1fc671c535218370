//! Housekeeping: the scheduler role deletes what has outlived its retention
//! (`[retention]`), keeps what has not, never touches the event log or dead
//! letters, and counts what it deleted in `/metrics`.
use std::time::Duration;

use serde_json::json;
use sqlx::Row;

use crate::eventlog::LogDb;
use crate::helpers::{TestApp, eventually, spawn_app_with};

const HOUR_MS: i64 = 3600 * 1000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// Old inbox rows besides "old-inbox": two and a half batches.
const BULK_INBOX_ROWS: usize = 2500;

/// Rows of each kind, some past their (default) retention and some not, with
/// the id each kind is told apart by: "old-..." ones must go, "kept-..." ones stay.
async fn insert_rows(log: &LogDb, user_id: &str, now: i64) {
    let mut tx = log.pool.begin().await.expect("begin");
    // The inbox: 14 days.
    for (event_id, at) in [("old-inbox", now - 15 * DAY_MS), ("kept-inbox", now - 13 * DAY_MS)] {
        sqlx::query("INSERT INTO inbox (consumer, event_id, handled_at) VALUES ('recurrence', $1, $2)")
            .bind(event_id)
            .bind(at)
            .execute(&mut *tx)
            .await
            .expect("insert an inbox row");
    }
    // More than one batch's worth, so that housekeeping goes on past a full batch.
    for chunk in 0..BULK_INBOX_ROWS / 500 {
        let values: Vec<String> = (0..500).map(|i| format!("('recurrence', 'old-bulk-{chunk}-{i}', $1)")).collect();
        sqlx::query(&format!("INSERT INTO inbox (consumer, event_id, handled_at) VALUES {}", values.join(", ")))
            .bind(now - 20 * DAY_MS)
            .execute(&mut *tx)
            .await
            .expect("insert inbox rows");
    }
    // Notifications: 90 days after they were read; unread ones stay.
    for (id, created_at, read_at) in [
        ("old-read", now - 91 * DAY_MS, Some(now - 91 * DAY_MS)),
        ("kept-unread", now - 200 * DAY_MS, None),
        ("kept-read", now - 100 * DAY_MS, Some(now - 89 * DAY_MS)),
    ] {
        sqlx::query(
            "INSERT INTO notifications (id, user_id, kind, title, event_id, created_at, read_at) \
             VALUES ($1, $2, 'reminder', 'Pay rent', $1, $3, $4)",
        )
        .bind(id)
        .bind(user_id)
        .bind(created_at)
        .bind(read_at)
        .execute(&mut *tx)
        .await
        .expect("insert a notification");
    }
    // Idempotency keys: 24 hours.
    for (key, at) in [("old-key", now - 25 * HOUR_MS), ("kept-key", now - 23 * HOUR_MS)] {
        sqlx::query(
            "INSERT INTO idempotency_keys (user_id, key, request_hash, status, headers, body, created_at) \
             VALUES ($1, $2, 'h', 201, '{}', '{}', $3)",
        )
        .bind(user_id)
        .bind(key)
        .bind(at)
        .execute(&mut *tx)
        .await
        .expect("insert a key");
    }
    // Webhook deliveries and e-mails: 30 days once finished. The endpoint is
    // disabled so that nothing tries to deliver the pending delivery.
    sqlx::query(
        "INSERT INTO webhook_endpoints (id, user_id, url, events, secret, status, created_at, updated_at) \
         VALUES ('endpoint', $1, 'https://hooks.example.com/', '[\"*\"]', 'whsec_x', 'disabled', $2, $2)",
    )
    .bind(user_id)
    .bind(now - 100 * DAY_MS)
    .execute(&mut *tx)
    .await
    .expect("insert an endpoint");
    for (id, status, at) in [
        ("old-delivered", "delivered", now - 31 * DAY_MS),
        ("kept-pending", "pending", now - 31 * DAY_MS),
        ("kept-delivered", "delivered", now - 29 * DAY_MS),
    ] {
        sqlx::query(
            "INSERT INTO webhook_deliveries (id, endpoint_id, user_id, event_id, event_type, payload, status, \
             attempts, created_at, updated_at) VALUES ($1, 'endpoint', $2, $1, 'task.created', '{}', $3, 1, $4, $4)",
        )
        .bind(id)
        .bind(user_id)
        .bind(status)
        .bind(at)
        .execute(&mut *tx)
        .await
        .expect("insert a delivery");
        sqlx::query(
            "INSERT INTO webhook_attempts (delivery_id, attempt, status_code, duration_ms, attempted_at) \
             VALUES ($1, 1, 204, 3, $2)",
        )
        .bind(id)
        .bind(at)
        .execute(&mut *tx)
        .await
        .expect("insert an attempt");
        let email_status = if status == "delivered" { "sent" } else { "pending" };
        sqlx::query(
            "INSERT INTO email_outbox (event_id, user_id, recipient, subject, body, status, next_attempt_at, \
             created_at) VALUES ($1, $2, 'someone@example.com', 'Reminder', 'Reminder', $3, NULL, $4)",
        )
        .bind(id)
        .bind(user_id)
        .bind(email_status)
        .bind(at)
        .execute(&mut *tx)
        .await
        .expect("insert an e-mail");
    }
    // Dead letters are for operators to decide on, whatever their age.
    sqlx::query(
        "INSERT INTO dead_letters (id, consumer, event_id, seq, error, attempts, created_at) \
         VALUES ('kept-dead-letter', 'recurrence', 'e', 1, 'boom', 5, $1)",
    )
    .bind(now - 400 * DAY_MS)
    .execute(&mut *tx)
    .await
    .expect("insert a dead letter");
    tx.commit().await.expect("commit");
}

/// The ids of each kind of row, as (table, sorted ids).
async fn remaining(log: &LogDb) -> Vec<(&'static str, Vec<String>)> {
    let mut out = Vec::new();
    for (table, sql) in [
        ("inbox", "SELECT event_id FROM inbox WHERE event_id LIKE 'old-%' OR event_id LIKE 'kept-%'"),
        ("idempotency_keys", "SELECT key FROM idempotency_keys"),
        ("webhook_deliveries", "SELECT id FROM webhook_deliveries"),
        ("webhook_attempts", "SELECT delivery_id FROM webhook_attempts"),
        ("email_outbox", "SELECT event_id FROM email_outbox"),
        ("notifications", "SELECT id FROM notifications"),
        ("dead_letters", "SELECT id FROM dead_letters"),
    ] {
        let rows = sqlx::query(sql).fetch_all(&log.pool).await.expect("query");
        let mut ids: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        ids.sort();
        out.push((table, ids));
    }
    out
}

async fn metrics(app: &TestApp) -> String {
    app.client.get(app.url("/metrics")).send().await.expect("request").text().await.expect("text")
}

#[tokio::test]
async fn housekeeping_deletes_what_outlived_its_retention_and_counts_it() {
    let app = spawn_app_with(|c| c.retention.interval = Duration::from_secs(1)).await;
    let user = app.new_user().await;
    let task = app.create_task(&user, json!({ "title": "History stays" })).await;
    let log = LogDb::writable_of(&app).await;
    let events_before = log.scalar("SELECT COUNT(*) FROM events").await;
    assert!(events_before >= 1);
    insert_rows(&log, &user.id, chrono::Utc::now().timestamp_millis()).await;

    let expected = vec![
        ("inbox", vec!["kept-inbox"]),
        ("idempotency_keys", vec!["kept-key"]),
        ("webhook_deliveries", vec!["kept-delivered", "kept-pending"]),
        ("webhook_attempts", vec!["kept-delivered", "kept-pending"]),
        ("email_outbox", vec!["kept-delivered", "kept-pending"]),
        ("notifications", vec!["kept-read", "kept-unread"]),
        ("dead_letters", vec!["kept-dead-letter"]),
    ];
    let expected: Vec<(&str, Vec<String>)> =
        expected.into_iter().map(|(t, ids)| (t, ids.into_iter().map(str::to_owned).collect())).collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let now = remaining(&log).await;
        if now == expected || tokio::time::Instant::now() > deadline {
            assert_eq!(now, expected, "housekeeping deletes exactly the old rows");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(log.scalar("SELECT COUNT(*) FROM events").await >= events_before, "the event log is never pruned");
    assert_eq!(app.task_history(&user, task["id"].as_str().unwrap()).await.len(), 1);

    // Each deleted row counted once, by table.
    let text = eventually(Duration::from_secs(10), "the deletions in /metrics", || async {
        let text = metrics(&app).await;
        text.contains("ontask_housekeeping_deleted_total{table=\"notifications\"} 1").then_some(text)
    })
    .await;
    for (table, count) in [
        ("inbox", BULK_INBOX_ROWS + 1),
        ("idempotency_keys", 1),
        ("webhook_deliveries", 1),
        ("webhook_attempts", 1),
        ("email_outbox", 1),
    ] {
        let sample = format!("ontask_housekeeping_deleted_total{{table=\"{table}\"}} {count}\n");
        assert!(text.contains(&sample), "{sample} missing from:\n{text}");
    }
    app.stop().await;
}

fn ontask_config(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_ontask"));
    command.args(args).current_dir(dir.path());
    // The caller's environment must not leak in.
    for (k, _) in std::env::vars() {
        if k.starts_with("ONTASK_") {
            command.env_remove(k);
        }
    }
    command.envs(env.iter().copied());
    command.output().expect("run ontask")
}

#[test]
fn housekeeping_retention_comes_from_the_environment_and_bad_values_stop_the_start() {
    let output = ontask_config(
        &["config"],
        &[("ONTASK_RETENTION__INBOX_DAYS", "21"), ("ONTASK_RETENTION__INTERVAL_SECS", "600")],
    );
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let config: toml::Value = toml::from_str(&String::from_utf8(output.stdout).unwrap()).expect("TOML");
    let retention = &config["retention"];
    assert_eq!(retention["inbox_days"].as_integer(), Some(21));
    assert_eq!(retention["interval_secs"].as_integer(), Some(600));
    assert_eq!(retention["idempotency_hours"].as_integer(), Some(24), "the default");
    assert_eq!(retention["deliveries_days"].as_integer(), Some(30), "the default");
    assert_eq!(retention["notifications_days"].as_integer(), Some(90), "the default");

    for (value, needle) in [("0", "between 1 and 36500"), ("a month", "retention.deliveries_days")] {
        let output = ontask_config(&["config", "--check"], &[("ONTASK_RETENTION__DELIVERIES_DAYS", value)]);
        assert_eq!(output.status.code(), Some(2), "{value:?}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains("retention.deliveries_days") && stderr.contains(needle), "{stderr}");
    }
}
