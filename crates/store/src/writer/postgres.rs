//! Group commit on PostgreSQL: the queued writes (`queued`) taken together
//! run in one transaction, on a connection of the writer's own.
//!
//! A create alone is a transaction of about six round trips (begin, the task,
//! its tags, the event log's lock, the event, commit), each paying the
//! server's per-statement and per-commit cost and the hop between processes,
//! and the event log's lock, held from the event's insert to the commit, lets
//! one appender commit at a time anyway. Here a batch is one transaction whose
//! inserts of one table are one statement for the whole batch
//! (`INSERT .. SELECT * FROM unnest($1::text[], ..)`: a column's values as one
//! array, so the statement's text is the same whatever the batch's size and
//! stays prepared), and the lock is taken once: the same round trips for a
//! batch as for a single create.
//!
//! Each write keeps its own outcome as on SQLite (`thread`): a batch whose
//! merged statements fail is rolled back whole and runs again, each write in a
//! savepoint of its own with its own statements, so a write that fails gets
//! its own error and leaves nothing, and the others commit. Each write is
//! answered once its batch has committed.
//!
//! Log order holds: the merged event insert takes the event log's lock first
//! (as every appender does, `events::push_append`) and keeps it until the
//! batch commits, and a batch's events get their `seq` in queue order.
use std::ops::Range;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Executor, Row};
use tokio::sync::watch;

use super::queued::{Queue, Queued, answer};
use crate::sql::{Arg, Kind, Script, Shape, Sql};
use crate::{Result, StoreError};

/// Runs the queued writes of a [`Queue`] until dropped.
pub(crate) struct PgWriter {
    pool: PgPool,
    /// Dropped with the writer: its tasks end.
    _stop: watch::Sender<()>,
}

impl PgWriter {
    /// `writers` connections, each running one batch at a time.
    pub async fn connect(url: &str, queue: Arc<Queue>, writers: u32, acquire_timeout: Duration) -> Result<Self> {
        let options =
            PgConnectOptions::from_str(url).map_err(|e| StoreError::Unavailable(e.into()))?.disable_statement_logging();
        // The writer's connections are its own and always in use: no ping
        // before each batch (a broken one fails its batch and is replaced).
        let pool = PgPoolOptions::new()
            .max_connections(writers)
            .acquire_timeout(acquire_timeout)
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        let (stop, stopped) = watch::channel(());
        for _ in 0..writers {
            tokio::spawn(run(queue.clone(), pool.clone(), stopped.clone()));
        }
        Ok(Self { pool, _stop: stop })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// One writer: whenever writes are queued, takes them a batch at a time.
async fn run(queue: Arc<Queue>, pool: PgPool, mut stopped: watch::Receiver<()>) {
    loop {
        tokio::select! {
            _ = queue.ready.notified() => {}
            _ = stopped.changed() => break,
        }
        loop {
            let items = queue.take();
            if items.is_empty() {
                break;
            }
            let results = run_batch(&pool, &items).await;
            answer(items, results);
        }
    }
    queue.fail_all(|| StoreError::Unavailable(sqlx::Error::PoolClosed.into()));
}

/// What each write returned, or why it failed alone; `Err` when the batch as
/// a whole was not committed.
type Results = Vec<Result<Vec<i64>>>;

async fn run_batch(pool: &PgPool, items: &[Queued]) -> Result<Results> {
    let mut conn = pool.acquire().await?;
    let results = match together(&mut conn, items).await {
        Ok(Some(all)) => Ok(all.into_iter().map(Ok).collect()),
        Ok(None) => one_by_one(&mut conn, items).await,
        Err(e) => Err(e),
    };
    if results.is_err() {
        // Whatever state it is in, the connection is not used again.
        conn.close_on_drop();
    }
    results
}

/// All writes in one transaction, their inserts merged; `None` (and nothing
/// written) if a statement failed.
async fn together(conn: &mut PgConnection, items: &[Queued]) -> Result<Option<Vec<Vec<i64>>>> {
    conn.execute("BEGIN").await?;
    match merged(conn, items).await {
        Ok(all) => {
            conn.execute("COMMIT").await?;
            Ok(Some(all))
        }
        Err(_) => {
            conn.execute("ROLLBACK").await?;
            Ok(None)
        }
    }
}

/// Each write in a savepoint of its own, with its own statements, so one that
/// fails is undone alone.
async fn one_by_one(conn: &mut PgConnection, items: &[Queued]) -> Result<Results> {
    conn.execute("BEGIN").await?;
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        if let Err(e) = conn.execute("SAVEPOINT ontask_queued").await {
            return Err(rolled_back(conn, e).await);
        }
        let result = alone(conn, &item.script).await;
        let end =
            if result.is_ok() { "RELEASE ontask_queued" } else { "ROLLBACK TO ontask_queued; RELEASE ontask_queued" };
        if let Err(e) = conn.execute(end).await {
            return Err(rolled_back(conn, e).await);
        }
        results.push(result);
    }
    conn.execute("COMMIT").await?;
    Ok(results)
}

/// Rolls the batch back after `e` and returns it.
async fn rolled_back(conn: &mut PgConnection, e: sqlx::Error) -> StoreError {
    let _ = conn.execute("ROLLBACK").await;
    e.into()
}

/// Runs a write's own statements, one by one, and returns the first column of
/// every row they answered.
async fn alone(conn: &mut PgConnection, script: &Script) -> Result<Vec<i64>> {
    let statements = postgres_statements(script)?;
    let mut returned = Vec::new();
    for (sql, kind) in statements {
        if kind == Kind::Lock {
            // It answers a `void`, which has nothing to read.
            sql.pg_query().execute(&mut *conn).await?;
            continue;
        }
        for row in sql.pg_query().fetch_all(&mut *conn).await? {
            returned.extend(row.try_get::<Option<i64>, _>(0)?);
        }
    }
    Ok(returned)
}

fn postgres_statements(script: &Script) -> Result<impl Iterator<Item = (&Sql, Kind)>> {
    script.postgres_statements().ok_or_else(|| StoreError::Corrupt("a SQLite write on the PostgreSQL writer".into()))
}

/// A step of a merged batch, in the order its kind first appears in the
/// batch's writes (each write's own order, since they all share it: the
/// task, its tags, the log's lock, the event). An order that does not suit a
/// write makes the merged statements fail, and the batch runs one by one.
enum Step<'a> {
    Lock(&'a Sql),
    Insert { shape: Shape, rows: Vec<&'a [Arg]> },
}

/// Where a write's answer is: rows of a merged insert, or its own statements'.
enum Answer {
    Merged(Vec<(usize, Range<usize>)>),
    Own,
}

/// Runs the batch's writes: those made only of inserts (and the log's lock)
/// merged, any other one with its own statements, first.
async fn merged(conn: &mut PgConnection, items: &[Queued]) -> Result<Vec<Vec<i64>>> {
    let mut steps: Vec<Step> = Vec::new();
    let mut answers = Vec::with_capacity(items.len());
    for item in items {
        let mergeable = postgres_statements(&item.script)?.all(|(_, kind)| kind != Kind::Plain);
        if !mergeable {
            answers.push(Answer::Own);
            continue;
        }
        let mut mine = Vec::new();
        for (sql, kind) in postgres_statements(&item.script)? {
            match kind {
                Kind::Lock if !steps.iter().any(|s| matches!(s, Step::Lock(_))) => steps.push(Step::Lock(sql)),
                Kind::Lock | Kind::Plain => {}
                Kind::Insert(shape) => {
                    let width = shape.width();
                    if sql.args().len() % width != 0 {
                        return Err(StoreError::Corrupt(format!("an insert into {} of partial rows", shape.table)));
                    }
                    let at = match steps.iter().position(|s| matches!(s, Step::Insert { shape: s, .. } if *s == shape))
                    {
                        Some(at) => at,
                        None => {
                            steps.push(Step::Insert { shape, rows: Vec::new() });
                            steps.len() - 1
                        }
                    };
                    let Step::Insert { rows, .. } = &mut steps[at] else { unreachable!("an insert step") };
                    let first = rows.len();
                    rows.extend(sql.args().chunks(width));
                    if shape.returning.is_some() {
                        mine.push((at, first..rows.len()));
                    }
                }
            }
        }
        answers.push(Answer::Merged(mine));
    }

    let mut own = Vec::with_capacity(items.len());
    for (item, answer) in items.iter().zip(&answers) {
        own.push(match answer {
            Answer::Own => Some(alone(conn, &item.script).await?),
            Answer::Merged(_) => None,
        });
    }
    let mut returned = Vec::with_capacity(steps.len());
    for step in &steps {
        returned.push(match step {
            Step::Lock(sql) => {
                sql.pg_query().execute(&mut *conn).await?;
                Vec::new()
            }
            Step::Insert { shape, rows } => insert_all(conn, shape, rows).await?,
        });
    }
    Ok(answers
        .into_iter()
        .zip(own)
        .map(|(answer, own)| match answer {
            Answer::Own => own.unwrap_or_default(),
            Answer::Merged(ranges) => {
                ranges.into_iter().flat_map(|(step, rows)| returned[step][rows].to_vec()).collect()
            }
        })
        .collect())
}

/// A column's values of every row, as one array.
enum Column {
    Int(Vec<Option<i64>>),
    Text(Vec<Option<String>>),
}

impl Column {
    fn of(args: impl Iterator<Item = Arg>, table: &str) -> Result<Self> {
        let mut args = args.peekable();
        let mixed = || StoreError::Corrupt(format!("a column of {table} mixes integers and texts"));
        Ok(match args.peek() {
            Some(Arg::I64(_) | Arg::MaybeI64(_)) => Self::Int(
                args.map(|a| match a {
                    Arg::I64(v) => Ok(Some(v)),
                    Arg::MaybeI64(v) => Ok(v),
                    _ => Err(mixed()),
                })
                .collect::<Result<_>>()?,
            ),
            _ => Self::Text(
                args.map(|a| match a {
                    Arg::Text(v) => Ok(Some(v)),
                    Arg::MaybeText(v) => Ok(v),
                    _ => Err(mixed()),
                })
                .collect::<Result<_>>()?,
            ),
        })
    }

    fn array_type(&self) -> &'static str {
        match self {
            Self::Int(_) => "int8[]",
            Self::Text(_) => "text[]",
        }
    }
}

/// Inserts `rows` into the shape's table in one statement, and returns the
/// first column of what it answered, row by row (an insert from `unnest`
/// inserts, and returns, the rows in the arrays' order, so `seq` follows the
/// queue).
async fn insert_all(conn: &mut PgConnection, shape: &Shape, rows: &[&[Arg]]) -> Result<Vec<i64>> {
    let columns = (0..shape.width())
        .map(|c| Column::of(rows.iter().map(|row| row[c].clone()), shape.table))
        .collect::<Result<Vec<_>>>()?;
    let arrays: Vec<String> =
        columns.iter().enumerate().map(|(i, c)| format!("${}::{}", i + 1, c.array_type())).collect();
    let mut text =
        format!("INSERT INTO {} ({}) SELECT * FROM unnest({})", shape.table, shape.columns, arrays.join(", "));
    if let Some(returning) = shape.returning {
        text.push_str(" RETURNING ");
        text.push_str(returning);
    }
    let mut query = sqlx::query(&text);
    for column in columns {
        query = match column {
            Column::Int(v) => query.bind(v),
            Column::Text(v) => query.bind(v),
        };
    }
    if shape.returning.is_none() {
        query.execute(&mut *conn).await?;
        return Ok(Vec::new());
    }
    let answered = query.fetch_all(&mut *conn).await?;
    if answered.len() != rows.len() {
        return Err(StoreError::Corrupt(format!("an insert into {} answered {} rows", shape.table, answered.len())));
    }
    answered.iter().map(|row| Ok(row.try_get::<i64, _>(0)?)).collect()
}
