use std::sync::Arc;
use std::time::Duration;

use ontask_bus::{EventBus, StoredEvent};
use ontask_store::{Backend, Db, events};
use ontask_telemetry::metrics as m;
use ontask_telemetry::trace::MessageHop;
use tokio_util::sync::CancellationToken;

const BATCH: i64 = 1000;
/// Larger on PostgreSQL, where reading and marking rows costs more than
/// publishing them (bench/scripts/relay-throughput.sh).
const POSTGRES_BATCH: i64 = 5000;
/// Batches per relay turn: what a crash mid-turn publishes again (consumers'
/// inboxes absorb it), and how long another replica waits for its turn.
const TURN_BATCHES: usize = 10;
/// Even without a wake-up (e.g. a commit made by another process), look again this often.
const IDLE_POLL: Duration = Duration::from_millis(500);

/// Moves committed events from the outbox to the bus, in log order, and marks
/// them published by moving its position. At-least-once: a crash between publishing and marking
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
                    tracing::warn!(error = %ontask_telemetry::error_chain(&e), retry_in_ms = delay.as_millis() as u64, "relay could not publish");
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
                tracing::warn!(error = %ontask_telemetry::error_chain(&e), "relay stopped with events left to publish; they go out on the next start")
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
        let batch = events::unpublished_committed(&self.db, BATCH).await?;
        let Some(last) = batch.last() else { return Ok((0, false)) };
        self.publish(&batch).await?;
        events::record_published(&self.db, last.seq, ontask_app::now()).await?;
        let count = self.published(&batch);
        Ok((count, count as i64 == BATCH))
    }

    /// PostgreSQL: several relay replicas may run. A turn (one transaction
    /// holding the relay lock) publishes up to `TURN_BATCHES` batches, so only
    /// one replica publishes at a time and per-task order holds across them; a
    /// replica that loses the race finds nothing to do. Within the turn three
    /// things overlap: publishing a batch, marking it (in the turn's
    /// transaction, undone with it if publishing fails) and reading the next
    /// batch on another connection.
    async fn publish_batch_in_turn(&self) -> Result<(usize, bool), ontask_bus::BusError> {
        let mut tx = self.db.begin().await?;
        if !events::relay_turn(&mut tx).await? {
            return Ok((0, false));
        }
        let mut batch = events::unpublished(tx.conn(), POSTGRES_BATCH).await?;
        let mut total = 0;
        let mut full = false;
        for _ in 0..TURN_BATCHES {
            let Some(last) = batch.last().map(|e| e.seq) else { break };
            full = batch.len() as i64 == POSTGRES_BATCH;
            let read_ahead = async {
                if !full {
                    return Ok(Vec::new());
                }
                let mut conn = self.db.read().await?;
                events::unpublished_after(&mut conn, last, POSTGRES_BATCH).await
            };
            let (published, marked, next) = tokio::join!(
                self.publish(&batch),
                events::mark_published(&mut tx, last, ontask_app::now()),
                read_ahead
            );
            published?;
            marked?;
            total += self.published(&batch);
            batch = next?;
        }
        tx.commit().await?;
        Ok((total, full))
    }

    /// Publishes a batch, with a send span per event in the trace of the
    /// request that wrote it (made only while traces are exported).
    async fn publish(&self, batch: &[StoredEvent]) -> Result<(), ontask_bus::BusError> {
        let spans: Vec<_> =
            batch.iter().map(|event| crate::message_span(&*self.bus, MessageHop::Send, event, None)).collect();
        let published = self.bus.publish(batch).await;
        if published.is_err() {
            spans.iter().for_each(ontask_telemetry::trace::record_failure);
        }
        published
    }

    fn published(&self, batch: &[StoredEvent]) -> usize {
        metrics::counter!(m::EVENTS_PUBLISHED_TOTAL).increment(batch.len() as u64);
        batch.len()
    }
}
