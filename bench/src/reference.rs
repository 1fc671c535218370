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

/// The PostgreSQL yardstick: Debian's `pgbench` running the same two inserts
/// (the task row with the four indexes above, then the event row), one
/// transaction each, from `clients` connections, against the server ontask
/// uses (`server_url`), in a database of its own created for the run and
/// dropped after it. Returns pgbench's transactions per second.
pub fn pgbench_per_second(server_url: &str, clients: usize, duration: Duration) -> Result<f64> {
    let bin = postgres_bin()?;
    let admin = database_url(server_url, "postgres");
    let url = database_url(server_url, REFERENCE_DATABASE);
    psql(&bin, &admin, &[&format!("DROP DATABASE IF EXISTS {REFERENCE_DATABASE}")])?;
    psql(&bin, &admin, &[&format!("CREATE DATABASE {REFERENCE_DATABASE}")])?;
    let measured = (|| {
        psql(&bin, &url, &[PG_SCHEMA])?;
        let dir = std::env::temp_dir().join(format!("ontask-pgbench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let script = dir.join("create.sql");
        std::fs::write(&script, PGBENCH_SCRIPT)?;
        let out = std::process::Command::new(bin.join("pgbench"))
            .args(["-n", "-M", "prepared", "-j", "2", "-c", &clients.to_string(), "-T"])
            .arg(duration.as_secs().max(1).to_string())
            .arg("-f")
            .arg(&script)
            .arg(&url)
            .output()?;
        let _ = std::fs::remove_dir_all(&dir);
        let stdout = String::from_utf8_lossy(&out.stdout);
        anyhow::ensure!(out.status.success(), "pgbench failed: {}{}", stdout, String::from_utf8_lossy(&out.stderr));
        // "tps = 13912.345678 (without initial connection time)"
        stdout
            .lines()
            .find_map(|l| l.strip_prefix("tps = ")?.split_whitespace().next()?.parse::<f64>().ok())
            .ok_or_else(|| anyhow::anyhow!("no tps in pgbench's output: {stdout}"))
    })();
    psql(&bin, &admin, &[&format!("DROP DATABASE IF EXISTS {REFERENCE_DATABASE} WITH (FORCE)")])?;
    measured
}

const REFERENCE_DATABASE: &str = "ontask_reference";

/// The SQLite reference's tables, in PostgreSQL's words.
const PG_SCHEMA: &str = "
    CREATE TABLE tasks (
        id TEXT PRIMARY KEY, owner_id TEXT NOT NULL, title TEXT NOT NULL, description TEXT NOT NULL,
        status TEXT NOT NULL, priority BIGINT NOT NULL, due_at BIGINT, position BIGINT NOT NULL,
        version BIGINT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL
    );
    CREATE INDEX tasks_owner_status ON tasks (owner_id, status);
    CREATE INDEX tasks_owner_due ON tasks (owner_id, due_at);
    CREATE INDEX tasks_owner_priority ON tasks (owner_id, priority);
    CREATE INDEX tasks_owner_position ON tasks (owner_id, position);
    CREATE TABLE events (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, event_id TEXT NOT NULL UNIQUE,
        event_type TEXT NOT NULL, task_id TEXT, data TEXT NOT NULL
    );
";

/// One create: a random task id (a collision in 2^62 would fail one
/// transaction, no more), the task row, its event, committed.
const PGBENCH_SCRIPT: &str = "\
\\set n random(1, 4611686018427387903)
BEGIN;
INSERT INTO tasks VALUES ('task-' || :n, 'owner', 'Task ' || :n, '', 'open', 2, \
(extract(epoch FROM clock_timestamp()) * 1000)::bigint, :n, 1, 0, 0);
INSERT INTO events (event_id, event_type, task_id, data) VALUES (gen_random_uuid()::text, 'task.created', \
'task-' || :n, '{\"task\":{\"id\":\"task-' || :n || '\",\"title\":\"Task ' || :n || '\"}}');
END;
";

/// Debian's newest PostgreSQL programs (`/usr/lib/postgresql/<major>/bin`).
fn postgres_bin() -> Result<std::path::PathBuf> {
    let mut found: Vec<(u32, std::path::PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")?
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| bin.join("pgbench").exists())
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin).ok_or_else(|| anyhow::anyhow!("no pgbench under /usr/lib/postgresql/*/bin"))
}

/// `url` naming `database` instead of its own.
fn database_url(url: &str, database: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let server = base.rsplit_once('/').filter(|(s, _)| s.contains("://") && !s.ends_with('/')).map_or(base, |(s, _)| s);
    match query {
        Some(q) => format!("{server}/{database}?{q}"),
        None => format!("{server}/{database}"),
    }
}

fn psql(bin: &Path, url: &str, commands: &[&str]) -> Result<()> {
    let mut cmd = std::process::Command::new(bin.join("psql"));
    cmd.args([url, "-X", "-q", "-v", "ON_ERROR_STOP=1"]);
    for c in commands {
        cmd.args(["-c", c]);
    }
    let out = cmd.output()?;
    anyhow::ensure!(out.status.success(), "psql failed: {}", String::from_utf8_lossy(&out.stderr));
    Ok(())
}
