use std::sync::Arc;
use std::time::Duration;

use ontask_bus::EventBus;
use ontask_store::{Db, events};
use ontask_telemetry::metrics as m;
use tokio_util::sync::CancellationToken;

const BATCH: i64 = 1000;
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
            let batch = {
                let mut conn = self.db.read().await?;
                events::unpublished(&mut conn, BATCH).await?
            };
            let Some(last) = batch.last() else { return Ok(total) };
            self.bus.publish(&batch).await?;
            let mut tx = self.db.begin().await?;
            events::mark_published(&mut tx, last.seq, ontask_app::now()).await?;
            tx.commit().await?;
            total += batch.len();
            metrics::counter!(m::EVENTS_PUBLISHED_TOTAL).increment(batch.len() as u64);
            if batch.len() < BATCH as usize {
                return Ok(total);
            }
        }
    }
}
