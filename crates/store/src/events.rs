//! The event log: append inside the writer's transaction, read back in order,
//! and the bookkeeping of the relay (its position) and of consumers (offsets,
//! inbox, dead letters).
use std::collections::HashSet;

use chrono::{DateTime, Utc};
use ontask_domain::{DeadLetterId, Event, EventEnvelope, ProjectId, TaskId, UserId};
use serde::Serialize;
use sqlx::{AnyConnection, Row as _, any::AnyRow};
use uuid::Uuid;

use crate::projects::{maybe_uuid_of, uuid_of};
use crate::row::Row;
use crate::sql::{Arg, Script, Sql, delete_batch};
use crate::{Backend, Db, Result, StoreError, WriteTx, time};

/// The advisory lock key that serialises event appends on PostgreSQL ("ontask" in ASCII).
const EVENT_LOG_LOCK: i64 = 0x6f6e_7461_736b;

/// An event with its position in the log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredEvent {
    pub seq: i64,
    #[serde(flatten)]
    pub envelope: EventEnvelope,
}

const COLUMNS: &str =
    "seq, event_id, event_type, event_version, occurred_at, source, user_id, task_id, project_id, data, metadata";

/// Appends an event in the caller's transaction; returns its log position.
pub async fn append(tx: &mut WriteTx, e: &EventEnvelope) -> Result<i64> {
    let mut script = Script::new(tx.backend());
    push_append(&mut script, tx.has_appended(), e)?;
    position(&script.run(tx).await?)
}

/// Adds the statements that append `e` to a script; the script's last row is
/// the event's position (`position` reads it). `locked`: the transaction has
/// appended before, so it holds the log's lock already.
pub(crate) fn push_append(script: &mut Script, locked: bool, e: &EventEnvelope) -> Result<()> {
    if script.backend() == Backend::Postgres && !locked && script.appended.is_empty() {
        // PostgreSQL hands out `seq` at insert time, not at commit, so a
        // transaction could commit seq 11 while seq 10 is still in flight, and a
        // reader that resumes "after 11" would never see 10. Appenders take
        // this lock until they commit, which makes `seq` order commit order (as
        // the single SQLite writer does). Appends come last in every write, so
        // the lock is held only for the commit itself.
        let sql = script.lock_statement();
        let key = sql.int(EVENT_LOG_LOCK);
        sql.push(&format!("SELECT pg_advisory_xact_lock({key})"));
    }
    let row = vec![
        Arg::text(e.event_id.to_string()),
        Arg::text(e.event_type()),
        Arg::text(e.event_version.as_str()),
        Arg::text(e.timestamp.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        Arg::text(e.source.as_str()),
        Arg::text(e.user_id.to_string()),
        Arg::maybe_text(e.task_id.map(|t| t.to_string())),
        Arg::maybe_text(e.project_id.map(|p| p.to_string())),
        Arg::text(e.event.data_json()?),
        Arg::text(serde_json::to_string(&e.metadata)?),
    ];
    script.insert(
        "events",
        "event_id, event_type, event_version, occurred_at, source, user_id, task_id, project_id, data, metadata",
        [row],
        Some("seq"),
    );
    script.appended.push(e.event_type().to_owned());
    Ok(())
}

/// The position of the event a script appended last: its last row.
pub(crate) fn position(returned: &[i64]) -> Result<i64> {
    returned.last().copied().ok_or_else(|| StoreError::Corrupt("an event append returned no position".into()))
}

fn decode(row: &dyn Row) -> Result<StoredEvent> {
    let occurred_at = row.text("occurred_at")?;
    let event_type = row.text("event_type")?;
    let event = Event::from_json(&event_type, &row.text("data")?)
        .map_err(|e| StoreError::Corrupt(format!("{event_type} data: {e}")))?;
    Ok(StoredEvent {
        seq: row.int("seq")?,
        envelope: EventEnvelope {
            event_id: uuid_of(row, "event_id")?,
            event_version: row.text("event_version")?,
            timestamp: DateTime::parse_from_rfc3339(&occurred_at)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?
                .with_timezone(&Utc),
            source: row.text("source")?,
            user_id: UserId::from_uuid(uuid_of(row, "user_id")?),
            task_id: maybe_uuid_of(row, "task_id")?.map(TaskId::from_uuid),
            project_id: maybe_uuid_of(row, "project_id")?.map(ProjectId::from_uuid),
            event,
            metadata: serde_json::from_str(&row.text_ref("metadata")?)?,
        },
    })
}

fn decode_all(rows: Vec<AnyRow>) -> Result<Vec<StoredEvent>> {
    rows.iter().map(|row| decode(row)).collect()
}

/// The advisory lock key held by the relay that is publishing ("relay").
const RELAY_LOCK: i64 = 0x72_656c_6179;

/// Takes the relay's turn for this transaction: true for exactly one of several
/// relay processes at a time (PostgreSQL; a SQLite file has one process). The
/// turn ends when the transaction does, so a relay that dies mid-batch hands
/// over at once, and two relays never publish interleaved batches.
pub async fn relay_turn(tx: &mut WriteTx) -> Result<bool> {
    if tx.backend() == Backend::Sqlite {
        return Ok(true);
    }
    let row = sqlx::query("SELECT pg_try_advisory_xact_lock($1)").bind(RELAY_LOCK).fetch_one(tx.conn()).await?;
    Ok(row.try_get::<bool, _>(0)?)
}

/// Where the relay is: every event up to this position has been handed to the bus.
const RELAY_POSITION: &str = "(SELECT seq FROM relay_position WHERE id = 1)";

/// Events not yet handed to the bus, oldest first.
pub async fn unpublished(conn: &mut AnyConnection, limit: i64) -> Result<Vec<StoredEvent>> {
    decode_all(unpublished_query(limit).query().fetch_all(conn).await?)
}

/// [`unpublished`] over the committed state (on SQLite without sqlx, see
/// `Db::fetch_all`): the SQLite relay's read.
pub async fn unpublished_committed(db: &Db, limit: i64) -> Result<Vec<StoredEvent>> {
    db.fetch_all(unpublished_query(limit), decode).await
}

fn unpublished_query(limit: i64) -> Sql {
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM events WHERE seq > {RELAY_POSITION} ORDER BY seq LIMIT $1"));
    sql.int(limit);
    sql
}

/// Events after `after_seq`, oldest first: the relay reads the next batch
/// while the previous one is still on its way, before its position moves.
pub async fn unpublished_after(conn: &mut AnyConnection, after_seq: i64, limit: i64) -> Result<Vec<StoredEvent>> {
    all_after(conn, after_seq, limit).await
}

/// Records that every event up to and including `upto_seq` is published. The
/// position only moves forward.
pub async fn mark_published(tx: &mut WriteTx, upto_seq: i64, at: DateTime<Utc>) -> Result<()> {
    published_script(tx.backend(), upto_seq, at).run(tx).await?;
    Ok(())
}

/// As `mark_published`, in a write of its own: on SQLite the writer runs it
/// with the creates waiting, instead of the relay holding the writer for a
/// transaction after every batch it publishes.
pub async fn record_published(db: &Db, upto_seq: i64, at: DateTime<Utc>) -> Result<()> {
    db.run_alone(published_script(db.backend(), upto_seq, at)).await?;
    Ok(())
}

fn published_script(backend: Backend, upto_seq: i64, at: DateTime<Utc>) -> Script {
    let mut script = Script::new(backend);
    let sql = script.statement();
    let (seq, at) = (sql.int(upto_seq), sql.int(time::to_ms(at)));
    sql.push(&format!("UPDATE relay_position SET seq = {seq}, published_at = {at} WHERE id = 1 AND seq < {seq}"));
    script
}

/// Events with `after_seq < seq <= upto_seq`, in log order: what a consumer of
/// the embedded log reads next.
pub async fn range(db: &Db, after_seq: i64, upto_seq: i64, limit: i64) -> Result<Vec<StoredEvent>> {
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM events WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3"));
    sql.int(after_seq);
    sql.int(upto_seq);
    sql.int(limit);
    db.fetch_all(sql, decode).await
}

/// The committed events after `after_seq` that a person sees: those of the
/// `projects` they are a member of, and their own events about no project
/// (resuming a realtime stream).
pub async fn visible_after(
    db: &Db,
    user: UserId,
    projects: &[ProjectId],
    after_seq: i64,
    limit: i64,
) -> Result<Vec<StoredEvent>> {
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM events WHERE seq > "));
    let after = sql.int(after_seq);
    let me = sql.text(user.to_string());
    sql.push(&format!("{after} AND ((project_id IS NULL AND user_id = {me})"));
    if !projects.is_empty() {
        let list: Vec<String> = projects.iter().map(|p| sql.text(p.to_string())).collect();
        sql.push(&format!(" OR project_id IN ({})", list.join(", ")));
    }
    let limit = sql.int(limit);
    sql.push(&format!(") ORDER BY seq LIMIT {limit}"));
    db.fetch_all(sql, decode).await
}

/// A task's events in order (also after it was deleted).
pub async fn for_task(conn: &mut AnyConnection, task: TaskId) -> Result<Vec<StoredEvent>> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM events WHERE task_id = $1 ORDER BY seq"))
        .bind(task.to_string())
        .fetch_all(conn)
        .await?;
    decode_all(rows)
}

/// A project's events, newest first, before position `before_seq` (paging
/// back through its activity).
pub async fn for_project(
    conn: &mut AnyConnection,
    project: ProjectId,
    before_seq: i64,
    limit: i64,
) -> Result<Vec<StoredEvent>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM events WHERE project_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3"
    ))
    .bind(project.to_string())
    .bind(before_seq)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    decode_all(rows)
}

/// Every event in log order, in pages (for replay).
pub async fn all_after(conn: &mut AnyConnection, after_seq: i64, limit: i64) -> Result<Vec<StoredEvent>> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM events WHERE seq > $1 ORDER BY seq LIMIT $2"))
        .bind(after_seq)
        .bind(limit)
        .fetch_all(conn)
        .await?;
    decode_all(rows)
}

/// The highest log position, and the highest published one (0 when empty).
pub async fn heads(conn: &mut AnyConnection) -> Result<(i64, i64)> {
    let row = sqlx::query(&format!("SELECT COALESCE((SELECT MAX(seq) FROM events), 0), {RELAY_POSITION}"))
        .fetch_one(conn)
        .await?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}

/// How many events wait for the relay (exact: PostgreSQL's `seq` can have gaps).
pub async fn unpublished_count(conn: &mut AnyConnection) -> Result<i64> {
    let row = sqlx::query(&format!("SELECT COUNT(*) FROM events WHERE seq > {RELAY_POSITION}")).fetch_one(conn).await?;
    Ok(row.try_get(0)?)
}

// --- consumers -----------------------------------------------------------------

/// The position a consumer has handled up to (0 when it never ran).
pub async fn offset(conn: &mut AnyConnection, consumer: &str) -> Result<i64> {
    let row = sqlx::query("SELECT position FROM consumer_offsets WHERE consumer = $1")
        .bind(consumer)
        .fetch_optional(conn)
        .await?;
    Ok(match row {
        Some(r) => r.try_get(0)?,
        None => 0,
    })
}

pub async fn all_offsets(conn: &mut AnyConnection) -> Result<Vec<(String, i64)>> {
    let rows = sqlx::query("SELECT consumer, position FROM consumer_offsets ORDER BY consumer").fetch_all(conn).await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}

/// Moves a consumer's offset to `position`; it only ever moves forward.
pub async fn set_offset(tx: &mut WriteTx, consumer: &str, position: i64, now: DateTime<Utc>) -> Result<()> {
    sqlx::query(
        "INSERT INTO consumer_offsets (consumer, position, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (consumer) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at \
         WHERE consumer_offsets.position < excluded.position",
    )
    .bind(consumer)
    .bind(position)
    .bind(time::to_ms(now))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Records that `consumer` handles `event_id`. False when it already has: the
/// caller must then skip the effect.
pub async fn inbox_claim(tx: &mut WriteTx, consumer: &str, event_id: Uuid, now: DateTime<Utc>) -> Result<bool> {
    let done =
        sqlx::query("INSERT INTO inbox (consumer, event_id, handled_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(consumer)
            .bind(event_id.to_string())
            .bind(time::to_ms(now))
            .execute(tx.conn())
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Records that `consumer` handles each of `event_ids` (in one statement per
/// chunk, so a consumer's batch costs one round trip, not one per event).
/// Returns the ids it had not handled before: the caller applies the effect of
/// exactly those.
pub async fn inbox_claim_all(
    tx: &mut WriteTx,
    consumer: &str,
    event_ids: &[Uuid],
    now: DateTime<Utc>,
) -> Result<HashSet<Uuid>> {
    // Three binds per row keeps a chunk far below SQLite's and PostgreSQL's
    // limits on bound parameters.
    const CHUNK: usize = 500;
    let mut claimed = HashSet::with_capacity(event_ids.len());
    for chunk in event_ids.chunks(CHUNK) {
        let mut sql = Sql::new("INSERT INTO inbox (consumer, event_id, handled_at) VALUES ");
        let consumer_ph = sql.text(consumer);
        let at_ph = sql.int(time::to_ms(now));
        for (i, id) in chunk.iter().enumerate() {
            let id_ph = sql.text(id.to_string());
            sql.push(if i == 0 { "" } else { ", " }).push(&format!("({consumer_ph}, {id_ph}, {at_ph})"));
        }
        sql.push(" ON CONFLICT DO NOTHING RETURNING event_id");
        for row in sql.query().fetch_all(tx.conn()).await? {
            let id: String = row.try_get(0)?;
            claimed.insert(Uuid::parse_str(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?);
        }
    }
    Ok(claimed)
}

/// How many inbox rows a consumer has for an event (tests use it to prove
/// exactly-once handling).
pub async fn inbox_count(conn: &mut AnyConnection, consumer: &str) -> Result<i64> {
    let row = sqlx::query("SELECT COUNT(*) FROM inbox WHERE consumer = $1").bind(consumer).fetch_one(conn).await?;
    Ok(row.try_get(0)?)
}

/// Forgets that consumers handled events before `before`, at most `limit`
/// rows per call (the caller repeats until a call deletes fewer); returns how
/// many it deleted. The inbox only has to outlive redelivery: the relay
/// republishing a batch after a crash, or the bus handing out a message again
/// after a rebalance. An event redelivered after its row is gone would be
/// handled again.
#[tracing::instrument(skip_all, fields(limit = limit))]
pub async fn purge_inbox(tx: &mut WriteTx, before: DateTime<Utc>, limit: i64) -> Result<u64> {
    delete_batch(tx, "inbox", &["consumer", "event_id"], "handled_at < $1", before, limit).await
}

#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    pub id: DeadLetterId,
    pub consumer: String,
    pub event_id: Uuid,
    pub seq: i64,
    pub error: String,
    pub attempts: i64,
    pub created_at: DateTime<Utc>,
}

pub async fn dead_letter(
    tx: &mut WriteTx,
    consumer: &str,
    event: &StoredEvent,
    error: &str,
    attempts: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO dead_letters (id, consumer, event_id, seq, error, attempts, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(DeadLetterId::new().to_string())
    .bind(consumer)
    .bind(event.envelope.event_id.to_string())
    .bind(event.seq)
    .bind(error)
    .bind(attempts)
    .bind(time::to_ms(now))
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn dead_letters(conn: &mut AnyConnection, limit: i64) -> Result<Vec<DeadLetter>> {
    let rows = sqlx::query(
        "SELECT id, consumer, event_id, seq, error, attempts, created_at FROM dead_letters ORDER BY created_at DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let uuid = |i: usize| -> Result<Uuid> {
                let text: String = r.try_get(i)?;
                Uuid::parse_str(&text).map_err(|e| StoreError::Corrupt(format!("dead letter id {text:?}: {e}")))
            };
            Ok(DeadLetter {
                id: DeadLetterId::from_uuid(uuid(0)?),
                consumer: r.try_get(1)?,
                event_id: uuid(2)?,
                seq: r.try_get(3)?,
                error: r.try_get(4)?,
                attempts: r.try_get(5)?,
                created_at: time::from_ms(r.try_get(6)?)?,
            })
        })
        .collect()
}

/// One event by its id.
pub async fn by_event_id(conn: &mut AnyConnection, event_id: Uuid) -> Result<Option<StoredEvent>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM events WHERE event_id = $1"))
        .bind(event_id.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(|row| decode(row)).transpose()
}

/// Takes a dead letter out for another try: removes it and the consumer's
/// inbox row (written when it was dead-lettered), so handling it again in the
/// same transaction counts once. Returns false when it was already taken.
pub async fn take_dead_letter(tx: &mut WriteTx, dead: &DeadLetter) -> Result<bool> {
    let done =
        sqlx::query("DELETE FROM dead_letters WHERE id = $1").bind(dead.id.to_string()).execute(tx.conn()).await?;
    sqlx::query("DELETE FROM inbox WHERE consumer = $1 AND event_id = $2")
        .bind(&dead.consumer)
        .bind(dead.event_id.to_string())
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Records another failed try of a dead letter.
pub async fn dead_letter_failed_again(tx: &mut WriteTx, id: DeadLetterId, error: &str) -> Result<()> {
    sqlx::query("UPDATE dead_letters SET error = $1, attempts = attempts + 1 WHERE id = $2")
        .bind(error)
        .bind(id.to_string())
        .execute(tx.conn())
        .await?;
    Ok(())
}
