//! The yardstick for the create figures: what the disk gives a naive writer.
//! One transaction per create, each a task row with four indexes plus an event
//! row, on SQLite in WAL mode with `synchronous = NORMAL` (ontask's settings),
//! in a file beside the server's data, for a fixed time. Ratios to it stay
//! meaningful on a shared, noisy machine where absolute numbers do not.
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use rusqlite::{Connection, params};

const SCHEMA: &str = "
    PRAGMA journal_mode = WAL;
    PRAGMA synchronous = NORMAL;
    CREATE TABLE tasks (
        id TEXT PRIMARY KEY, owner_id TEXT NOT NULL, title TEXT NOT NULL, description TEXT NOT NULL,
        status TEXT NOT NULL, priority INTEGER NOT NULL, due_at INTEGER, position INTEGER NOT NULL,
        version INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL
    );
    CREATE INDEX tasks_owner_status ON tasks (owner_id, status);
    CREATE INDEX tasks_owner_due ON tasks (owner_id, due_at);
    CREATE INDEX tasks_owner_priority ON tasks (owner_id, priority);
    CREATE INDEX tasks_owner_position ON tasks (owner_id, position);
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL UNIQUE, event_type TEXT NOT NULL,
        task_id TEXT, data TEXT NOT NULL
    );
";

/// Creates per second the naive loop reaches in `duration` (a new file in `dir`).
pub fn creates_per_second(dir: &Path, duration: Duration) -> Result<f64> {
    let path = dir.join("reference.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let mut db = Connection::open(&path)?;
    db.execute_batch(SCHEMA)?;
    let owner = uuid::Uuid::new_v4().to_string();
    let started = Instant::now();
    let mut n: i64 = 0;
    while started.elapsed() < duration {
        let id = uuid::Uuid::now_v7().to_string();
        let now = chrono::Utc::now().timestamp_millis();
        let tx = db.transaction()?;
        tx.execute(
            "INSERT INTO tasks VALUES (?1, ?2, ?3, '', 'open', 2, ?4, ?5, 1, ?4, ?4)",
            params![id, owner, format!("Task {n}"), now, n],
        )?;
        let data = format!(r#"{{"task":{{"id":"{id}","title":"Task {n}"}}}}"#);
        tx.execute(
            "INSERT INTO events (event_id, event_type, task_id, data) VALUES (?1, 'task.created', ?2, ?3)",
            params![uuid::Uuid::now_v7().to_string(), id, data],
        )?;
        tx.commit()?;
        n += 1;
    }
    drop(db);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}
