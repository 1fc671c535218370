use std::sync::Arc;
use std::time::Duration;

use ontask_bus::{EventBus, StoredEvent};
use ontask_store::{Backend, Db, events};
use ontask_telemetry::metrics as m;
use tokio_util::sync::CancellationToken;

const BATCH: i64 = 1000;
/// Larger on PostgreSQL, where each batch pays a transaction, the relay lock
/// and a round trip to the brokers: 5000 relays ~40k events/s to Kafka where
/// 1000 did ~28k (bench/scripts/relay-throughput.sh).
const POSTGRES_BATCH: i64 = 5000;
/// Even without a wake-up (e.g. a commit made by another process), look again this often.
const IDLE_POLL: Duration = Duration::from_millis(500);

/// Moves committed events from the outbox to the bus, in log order, and marks
/// them published. At-least-once: a crash between publishing and marking
/// publishes the batch again, which consumers' inboxes absorb.
pub struct Relay {
    db: Db,
    bus: Arc<dyn EventBus>,
}

impl Relay {
    pub fn new(db: Db, bus: Arc<dyn EventBus>) -> Self {
        Self { db, bus }
    }

    pub async fn run(self, cancel: CancellationToken) {
        tracing::info!(bus = self.bus.kind(), "relay started");
        let mut failures = 0;
        loop {
            match self.drain().await {
                Ok(_) => failures = 0,
                Err(e) => {
                    failures += 1;
                    let delay = crate::backoff(failures, Duration::from_millis(100), Duration::from_secs(10));
                    tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "relay could not publish");
                    tokio::select! {
                        () = cancel.cancelled() => break,
                        () = tokio::time::sleep(delay) => continue,
                    }
                }
            }
            tokio::select! {
                () = cancel.cancelled() => break,
                () = self.db.appended().notified() => {}
                () = tokio::time::sleep(IDLE_POLL) => {}
            }
        }
        // Flush what was committed before shutdown, so nothing waits for the next start.
        match self.drain().await {
            Ok(n) => tracing::info!(flushed = n, "relay stopped"),
            Err(e) => {
                tracing::warn!(error = %e, "relay stopped with events left to publish; they go out on the next start")
            }
        }
    }

    /// Publishes everything unpublished; returns how many events went out.
    #[tracing::instrument(skip_all, level = "debug")]
    pub async fn drain(&self) -> Result<usize, ontask_bus::BusError> {
        let mut total = 0;
        loop {
            let (published, full) = match self.db.backend() {
                Backend::Sqlite => self.publish_batch().await?,
                Backend::Postgres => self.publish_batch_in_turn().await?,
            };
            total += published;
            if !full {
                return Ok(total);
            }
        }
    }

    /// SQLite: one process owns the file, and the write transaction is only
    /// opened after publishing, so API writes never wait for the bus.
    async fn publish_batch(&self) -> Result<(usize, bool), ontask_bus::BusError> {
        let batch = {
            let mut conn = self.db.read().await?;
            events::unpublished(&mut conn, BATCH).await?
        };
        let Some(last) = batch.last() else { return Ok((0, false)) };
        self.bus.publish(&batch).await?;
        let mut tx = self.db.begin().await?;
        events::mark_published(&mut tx, last.seq, ontask_app::now()).await?;
        tx.commit().await?;
        Ok(self.published(&batch, BATCH))
    }

    /// PostgreSQL: several relay replicas may run. Each batch is read,
    /// published and marked inside one transaction that holds the relay turn,
    /// so only one replica publishes at a time and per-task order holds across
    /// them. A replica that loses the race simply finds nothing to do.
    async fn publish_batch_in_turn(&self) -> Result<(usize, bool), ontask_bus::BusError> {
        let mut tx = self.db.begin().await?;
        if !events::relay_turn(&mut tx).await? {
            return Ok((0, false));
        }
        let batch = events::unpublished(tx.conn(), POSTGRES_BATCH).await?;
        let Some(last) = batch.last() else { return Ok((0, false)) };
        self.bus.publish(&batch).await?;
        events::mark_published(&mut tx, last.seq, ontask_app::now()).await?;
        tx.commit().await?;
        Ok(self.published(&batch, POSTGRES_BATCH))
    }

    fn published(&self, batch: &[StoredEvent], limit: i64) -> (usize, bool) {
        metrics::counter!(m::EVENTS_PUBLISHED_TOTAL).increment(batch.len() as u64);
        (batch.len(), batch.len() as i64 == limit)
    }
}
