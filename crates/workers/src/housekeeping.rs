//! Housekeeping: deletes what has outlived its retention, so the tables that
//! only ever grow (inbox, idempotency keys, the webhook and e-mail logs, read
//! notifications) stay bounded. The event log and dead letters are never
//! touched: the log is the tasks' history, and dead letters wait for an operator.
//!
//! Deletes go a batch at a time, each batch its own short transaction, so that
//! SQLite's single writer is never held for long. Several schedulers may run
//! housekeeping at once (replicas on Kubernetes): on PostgreSQL each batch skips
//! rows another one has locked, so every row is deleted, and counted, once.
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use ontask_domain::settings::units;
use ontask_store::{Db, StoreError, email, events, idempotency, notifications, push, webhooks};
use ontask_telemetry::{error_chain, metrics as m};
use tokio_util::sync::CancellationToken;

/// Rows per delete statement.
pub const BATCH_SIZE: i64 = 1000;

/// The first run starts this soon after start (or after one interval, if that
/// is sooner): late enough to stay out of the way of a start-up's catching up,
/// and of a pod that keeps restarting.
const FIRST_RUN_DELAY: Duration = Duration::from_secs(30);

/// Between batches, so that the writes waiting for the database get it first.
const PAUSE_BETWEEN_BATCHES: Duration = Duration::from_millis(10);

/// Housekeeping (`[retention]`): how often it runs and how long rows that only
/// the recent past needs are kept. The event log and dead letters are never
/// deleted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Retention {
    /// How often housekeeping runs; the first run comes 30 s after start
    /// (sooner if the interval is shorter).
    #[serde(rename = "interval_secs", with = "units::secs")]
    pub interval: Duration,
    /// Which events each consumer has handled, which absorbs redeliveries.
    /// Keep it longer than the bus can redeliver (Kafka: the topics' retention).
    #[serde(rename = "inbox_days", with = "units::days")]
    pub inbox: Duration,
    /// How long an `Idempotency-Key` replays its answer; after that the key is new again.
    #[serde(rename = "idempotency_hours", with = "units::hours")]
    pub idempotency_keys: Duration,
    /// Delivered or failed webhook deliveries (with their attempt log) and sent
    /// or failed e-mails, from when they were queued. Pending ones are kept.
    #[serde(rename = "deliveries_days", with = "units::days")]
    pub deliveries: Duration,
    /// In-app notifications, counted from when they were read; unread ones stay.
    #[serde(rename = "notifications_days", with = "units::days")]
    pub read_notifications: Duration,
}

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);

impl Default for Retention {
    fn default() -> Self {
        Self {
            interval: HOUR,
            inbox: DAY * 14,
            idempotency_keys: HOUR * 24,
            deliveries: DAY * 30,
            read_notifications: DAY * 90,
        }
    }
}

/// What housekeeping cleans, in the order it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Table {
    Inbox,
    IdempotencyKeys,
    WebhookDeliveries,
    EmailOutbox,
    PushOutbox,
    Notifications,
}

impl Table {
    const ALL: [Table; 6] = [
        Table::Inbox,
        Table::IdempotencyKeys,
        Table::WebhookDeliveries,
        Table::EmailOutbox,
        Table::PushOutbox,
        Table::Notifications,
    ];

    /// The `table` label of the metric.
    fn name(self) -> &'static str {
        match self {
            Table::Inbox => "inbox",
            Table::IdempotencyKeys => "idempotency_keys",
            Table::WebhookDeliveries => "webhook_deliveries",
            Table::EmailOutbox => "email_outbox",
            Table::PushOutbox => "push_outbox",
            Table::Notifications => "notifications",
        }
    }

    fn retention(self, r: &Retention) -> Duration {
        match self {
            Table::Inbox => r.inbox,
            Table::IdempotencyKeys => r.idempotency_keys,
            Table::WebhookDeliveries | Table::EmailOutbox | Table::PushOutbox => r.deliveries,
            Table::Notifications => r.read_notifications,
        }
    }
}

/// Deleted with the webhook deliveries they belong to.
const WEBHOOK_ATTEMPTS: &str = "webhook_attempts";

/// What one batch deleted: rows of its table, and of the attempt log for webhook deliveries.
#[derive(Debug, Clone, Copy, Default)]
struct Batch {
    rows: u64,
    attempts: u64,
}

/// Rows deleted by one run, by table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deleted {
    pub inbox: u64,
    pub idempotency_keys: u64,
    pub webhook_deliveries: u64,
    pub webhook_attempts: u64,
    pub email_outbox: u64,
    pub push_outbox: u64,
    pub notifications: u64,
}

impl Deleted {
    fn add(&mut self, table: Table, batch: Batch) {
        let rows = match table {
            Table::Inbox => &mut self.inbox,
            Table::IdempotencyKeys => &mut self.idempotency_keys,
            Table::WebhookDeliveries => &mut self.webhook_deliveries,
            Table::EmailOutbox => &mut self.email_outbox,
            Table::PushOutbox => &mut self.push_outbox,
            Table::Notifications => &mut self.notifications,
        };
        *rows += batch.rows;
        self.webhook_attempts += batch.attempts;
    }
}

/// The housekeeping loop of the scheduler role.
pub struct Housekeeping {
    db: Db,
    retention: Retention,
}

impl Housekeeping {
    pub fn new(db: Db, retention: Retention) -> Self {
        Self { db, retention }
    }

    /// Runs shortly after start and then every `retention.interval` until `cancel` fires.
    pub async fn run(self, cancel: CancellationToken) {
        // Present at zero from the start, so that rates and alerts have a series.
        for table in Table::ALL.map(Table::name).into_iter().chain([WEBHOOK_ATTEMPTS]) {
            metrics::counter!(m::HOUSEKEEPING_DELETED_TOTAL, "table" => table).increment(0);
        }
        tracing::info!(interval_secs = self.retention.interval.as_secs(), "housekeeping started");
        let mut wait = self.retention.interval.min(FIRST_RUN_DELAY);
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                () = tokio::time::sleep(wait) => {}
            }
            self.run_once(&cancel).await;
            wait = self.retention.interval;
        }
        tracing::info!("housekeeping stopped");
    }

    /// Deletes, table by table, everything older than its retention. A table
    /// that fails is logged and left for the next run; the others go on.
    pub async fn run_once(&self, cancel: &CancellationToken) -> Deleted {
        let started = Instant::now();
        let now = ontask_app::now();
        let mut deleted = Deleted::default();
        let mut failed = 0;
        for table in Table::ALL {
            if cancel.is_cancelled() {
                break;
            }
            let Some(before) = cutoff(now, table.retention(&self.retention)) else {
                continue;
            };
            if let Err(e) = self.clean(table, before, &mut deleted, cancel).await {
                failed += 1;
                tracing::warn!(
                    table = table.name(),
                    error = %error_chain(&e),
                    "housekeeping failed on a table; retrying on the next run"
                );
            }
        }
        tracing::info!(
            inbox = deleted.inbox,
            idempotency_keys = deleted.idempotency_keys,
            webhook_deliveries = deleted.webhook_deliveries,
            webhook_attempts = deleted.webhook_attempts,
            email_outbox = deleted.email_outbox,
            push_outbox = deleted.push_outbox,
            notifications = deleted.notifications,
            failed_tables = failed,
            cancelled = cancel.is_cancelled(),
            elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "housekeeping finished"
        );
        deleted
    }

    /// Deletes a table's rows older than `before`, a batch at a time, until a
    /// batch comes back short (nothing older is left, or another scheduler
    /// holds the rest) or `cancel` fires.
    #[tracing::instrument(skip_all, fields(table = table.name()))]
    async fn clean(
        &self,
        table: Table,
        before: DateTime<Utc>,
        deleted: &mut Deleted,
        cancel: &CancellationToken,
    ) -> Result<(), StoreError> {
        loop {
            let batch = self.delete_batch(table, before).await?;
            deleted.add(table, batch);
            metrics::counter!(m::HOUSEKEEPING_DELETED_TOTAL, "table" => table.name()).increment(batch.rows);
            if batch.attempts > 0 {
                metrics::counter!(m::HOUSEKEEPING_DELETED_TOTAL, "table" => WEBHOOK_ATTEMPTS).increment(batch.attempts);
            }
            if batch.rows < BATCH_SIZE as u64 {
                return Ok(());
            }
            tokio::select! {
                () = cancel.cancelled() => return Ok(()),
                () = tokio::time::sleep(PAUSE_BETWEEN_BATCHES) => {}
            }
        }
    }

    /// One batch in its own transaction.
    async fn delete_batch(&self, table: Table, before: DateTime<Utc>) -> Result<Batch, StoreError> {
        let mut tx = self.db.begin().await?;
        let batch = match table {
            Table::Inbox => Batch { rows: events::purge_inbox(&mut tx, before, BATCH_SIZE).await?, attempts: 0 },
            Table::IdempotencyKeys => {
                Batch { rows: idempotency::purge(&mut tx, before, BATCH_SIZE).await?, attempts: 0 }
            }
            Table::WebhookDeliveries => {
                let purged = webhooks::purge_finished(&mut tx, before, BATCH_SIZE).await?;
                Batch { rows: purged.deliveries, attempts: purged.attempts }
            }
            Table::EmailOutbox => {
                Batch { rows: email::purge_finished(&mut tx, before, BATCH_SIZE).await?, attempts: 0 }
            }
            Table::PushOutbox => Batch { rows: push::purge_finished(&mut tx, before, BATCH_SIZE).await?, attempts: 0 },
            Table::Notifications => {
                Batch { rows: notifications::purge_read(&mut tx, before, BATCH_SIZE).await?, attempts: 0 }
            }
        };
        tx.commit().await?;
        Ok(batch)
    }
}

/// `now` minus `retention`; `None` when that is before any time we can store
/// (configuration keeps retentions far below that).
fn cutoff(now: DateTime<Utc>, retention: Duration) -> Option<DateTime<Utc>> {
    let retention = chrono::TimeDelta::from_std(retention).ok()?;
    now.checked_sub_signed(retention)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutoffs_are_now_minus_the_retention() {
        let now = DateTime::from_timestamp_millis(1_800_000_000_000).unwrap();
        assert_eq!(cutoff(now, DAY * 14), Some(now - chrono::Duration::days(14)));
        assert_eq!(cutoff(now, Duration::from_secs(u64::MAX)), None);
    }
}
