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

/// Creates per second the naive loop reaches in `duration` (a new file in
/// `dir`), `per_transaction` creates in each transaction: 1 is the reference;
/// more shows what batching alone gives these two rows, beside
/// [`schema_ceiling_per_second`] for ontask's own.
pub fn creates_per_second(dir: &Path, duration: Duration, per_transaction: usize) -> Result<f64> {
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
        let tx = db.transaction()?;
        for _ in 0..per_transaction {
            let id = uuid::Uuid::now_v7().to_string();
            let now = chrono::Utc::now().timestamp_millis();
            tx.execute(
                "INSERT INTO tasks VALUES (?1, ?2, ?3, '', 'open', 2, ?4, ?5, 1, ?4, ?4)",
                params![id, owner, format!("Task {n}"), now, n],
            )?;
            let data = format!(r#"{{"task":{{"id":"{id}","title":"Task {n}"}}}}"#);
            tx.execute(
                "INSERT INTO events (event_id, event_type, task_id, data) VALUES (?1, 'task.created', ?2, ?3)",
                params![uuid::Uuid::now_v7().to_string(), id, data],
            )?;
            n += 1;
        }
        tx.commit()?;
    }
    drop(db);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

/// The ceiling for ontask's own writes on this disk: ontask's SQLite schema
/// (its migrations, read from the repository) and the rows one create writes
/// (the task with its indexes, two tag rows, its text in FTS5, the event with
/// its indexes), committed `batch` creates per transaction by one thread with
/// prepared statements and nothing else: no HTTP, no JSON parsing, no
/// consumers. ontask's writer cannot beat it; what is left between the two is
/// ontask's own cost.
pub fn schema_ceiling_per_second(dir: &Path, duration: Duration, batch: usize) -> Result<f64> {
    let path = dir.join(format!("ceiling-{batch}.db"));
    let remove = || {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    };
    remove();
    let mut db = Connection::open(&path)?;
    db.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")?;
    let migrations = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/store/migrations/sqlite");
    let mut files: Vec<_> = std::fs::read_dir(&migrations)?.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    files.sort();
    for file in files.iter().filter(|f| f.extension().is_some_and(|x| x == "sql")) {
        db.execute_batch(&std::fs::read_to_string(file)?)?;
    }
    let owner = uuid::Uuid::now_v7().to_string();
    let project = uuid::Uuid::now_v7().to_string();
    db.execute("INSERT INTO users (id, email, created_at) VALUES (?1, 'ceiling@example.com', 0)", params![owner])?;
    db.execute(
        "INSERT INTO projects (id, owner_id, name, colour, inbox, position, version, created_at, updated_at) \
         VALUES (?1, ?2, 'Inbox', 'grey', 1, 0, 1, 0, 0)",
        params![project, owner],
    )?;
    let started = Instant::now();
    let mut n: i64 = 0;
    while started.elapsed() < duration {
        let tx = db.transaction()?;
        {
            let last: i64 = tx.query_row("SELECT coalesce(max(rowid), 0) FROM tasks", [], |r| r.get(0))?;
            let mut task = tx.prepare_cached(
                "INSERT INTO tasks (id, owner_id, project_id, title, description, status, priority, tags, due, \
                 due_at, reminders, position, version, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, 'open', 2, '[\"work\",\"g1\"]', ?6, ?7, '[]', ?8, 1, ?9, ?9)",
            )?;
            let mut tag = tx.prepare_cached("INSERT INTO task_tags (task_id, owner_id, tag) VALUES (?1, ?2, ?3)")?;
            let mut event = tx.prepare_cached(
                "INSERT INTO events (event_id, event_type, event_version, occurred_at, source, user_id, task_id, \
                 project_id, data, metadata) VALUES (?1, 'task.created', '1', ?2, 'api', ?3, ?4, ?5, ?6, ?7)",
            )?;
            for _ in 0..batch {
                let id = uuid::Uuid::now_v7().to_string();
                let now = chrono::Utc::now();
                let ms = now.timestamp_millis();
                let title = format!("Write the quarterly report {n}");
                let description = "Collect the numbers from every team and send the draft for review.";
                let due = (now + chrono::Duration::days(n % 30)).to_rfc3339();
                task.execute(params![id, owner, project, title, description, due, ms + n % 30 * 86_400_000, n, ms])?;
                for t in ["work", "g1"] {
                    tag.execute(params![id, owner, t])?;
                }
                let data = format!(
                    r#"{{"task":{{"id":"{id}","owner_id":"{owner}","project_id":"{project}","section_id":null,"parent_id":null,"assignee_id":null,"title":"{title}","description":"{description}","status":"open","completed_at":null,"priority":"medium","tags":["work","g1"],"due":"{due}","due_at":"{due}","reminders":[],"recurrence":null,"position":{n},"version":1,"created_at":"{now}","updated_at":"{now}"}}}}"#
                );
                let metadata = format!(r#"{{"correlation_id":"{}","actor":"user"}}"#, uuid::Uuid::now_v7());
                event.execute(params![
                    uuid::Uuid::now_v7().to_string(),
                    now.to_rfc3339(),
                    owner,
                    id,
                    project,
                    data,
                    metadata
                ])?;
                n += 1;
            }
            tx.execute(
                "INSERT INTO tasks_fts (rowid, title, description) SELECT rowid, title, description FROM tasks WHERE rowid > ?1",
                params![last],
            )?;
        }
        tx.commit()?;
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    drop(db);
    remove();
    Ok(rate)
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
