use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ontask_bus::{EventBus, StoredEvent, Subscription};
use ontask_store::{AnyConnection, Db, StoreError, WriteTx, events};
use ontask_telemetry::metrics as m;
use ontask_telemetry::trace::MessageHop;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

const BATCH: usize = 200;

/// Why handling an event failed.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Worth another try (the database was busy, a dependency timed out).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Will fail the same way every time (a malformed event): dead-letter it now.
    #[error("{0}")]
    Permanent(String),
}

impl From<ontask_app::AppError> for HandlerError {
    fn from(e: ontask_app::AppError) -> Self {
        match e {
            ontask_app::AppError::Unavailable(e) => Self::Store(e),
            other => Self::Permanent(ontask_telemetry::error_chain(&other)),
        }
    }
}

/// A reaction to events. `handle` runs inside the transaction that also records
/// the event in the consumer's inbox and moves its offset, so the effect happens
/// exactly once however often the event is delivered.
#[async_trait]
pub trait Consumer: Send + Sync + 'static {
    /// Stable name: the inbox key and the consumer group.
    fn name(&self) -> &'static str;
    fn wants(&self, event: &StoredEvent) -> bool;
    async fn handle(&self, tx: &mut WriteTx, event: &StoredEvent) -> Result<(), HandlerError>;

    /// Of the events of a batch it wants, those this consumer will act on:
    /// only these are claimed in its inbox and handled. All of them, unless
    /// the database tells that some have no effect (a user without webhooks),
    /// which spares the inbox a row per event. It reads on a read connection,
    /// before any transaction: a batch that acts on nothing needs no write.
    async fn acting_on<'a>(
        &self,
        _conn: &mut AnyConnection,
        wanted: Vec<&'a StoredEvent>,
    ) -> Result<Vec<&'a StoredEvent>, HandlerError> {
        Ok(wanted)
    }

    /// Handles the events of a batch that this consumer has not handled before,
    /// in log order, in one transaction. One by one unless a consumer can do
    /// better (one lookup for the whole batch instead of one per event).
    async fn handle_all(&self, tx: &mut WriteTx, events: &[&StoredEvent]) -> Result<(), HandlerError> {
        for event in events {
            self.handle(tx, event).await?;
        }
        Ok(())
    }

    /// Called after a transaction with at least one applied effect committed: the
    /// place to wake whoever reads those effects (woken earlier, they would read
    /// the state from before the commit).
    fn committed(&self) {}
}

/// Writes the offset that batches which changed nothing left behind, every
/// `OFFSET_EVERY` until shutdown (the runner stores the last one itself).
async fn store_pending_offsets(
    db: Db,
    name: &'static str,
    pending: Arc<std::sync::Mutex<Option<i64>>>,
    cancel: CancellationToken,
) {
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(OFFSET_EVERY) => store_pending_offset(&db, name, &pending).await,
        }
    }
}

/// Writes the pending offset, if any. Offsets only move forward, so this never
/// undoes a newer one the consumer wrote meanwhile.
async fn store_pending_offset(db: &Db, name: &'static str, pending: &std::sync::Mutex<Option<i64>>) {
    let Some(seq) = pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() else { return };
    let stored = async {
        let mut tx = db.begin().await?;
        events::set_offset(&mut tx, name, seq, ontask_app::now()).await?;
        tx.commit().await
    };
    if let Err(e) = stored.await {
        tracing::warn!(consumer = name, error = %ontask_telemetry::error_chain(&e), "could not store the offset");
        pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get_or_insert(seq);
    }
}

/// What happened to one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The effect was applied.
    Done,
    /// Already handled before (a redelivery): nothing to do.
    Skipped,
    /// Failed every attempt; recorded as a dead letter and passed over.
    DeadLettered,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Skipped => "skipped",
            Self::DeadLettered => "dead_letter",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts before an event is dead-lettered.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_attempts: 5, base_delay: Duration::from_millis(100), max_delay: Duration::from_secs(10) }
    }
}

/// How stale a consumer's stored offset may get while it only passes over
/// events: the offset is where it resumes after a restart (passing over the
/// same events again costs nothing) and what lag is read from, so it need not
/// be written for every batch that changed nothing.
const OFFSET_EVERY: Duration = Duration::from_secs(1);

pub struct ConsumerRunner {
    db: Db,
    bus: Arc<dyn EventBus>,
    consumer: Arc<dyn Consumer>,
    policy: RetryPolicy,
    /// When the offset was last written (`OFFSET_EVERY`).
    offset_written: std::sync::Mutex<Option<tokio::time::Instant>>,
    /// The offset a batch that changed nothing left unwritten: written within
    /// `OFFSET_EVERY` by `store_pending_offsets`, so lag reads true when
    /// events stop coming.
    pending_offset: Arc<std::sync::Mutex<Option<i64>>>,
}

impl ConsumerRunner {
    pub fn new(db: Db, bus: Arc<dyn EventBus>, consumer: Arc<dyn Consumer>, policy: RetryPolicy) -> Self {
        Self { db, bus, consumer, policy, offset_written: Default::default(), pending_offset: Default::default() }
    }

    /// Whether a batch that changes nothing may leave the stored offset where it is.
    fn offset_is_fresh(&self) -> bool {
        let written = self.offset_written.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        written.is_some_and(|at| at.elapsed() < OFFSET_EVERY)
    }

    /// Leaves the offset past a batch that changed nothing for the flusher.
    fn leave_offset(&self, seq: Option<i64>) {
        let mut pending = self.pending_offset.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *pending = pending.max(seq);
    }

    fn offset_stored(&self) {
        *self.offset_written.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some(tokio::time::Instant::now());
    }

    pub async fn run(self, cancel: CancellationToken) {
        let name = self.consumer.name();
        let mut subscription = loop {
            match self.bus.subscribe(name).await {
                Ok(s) => break s,
                Err(e) => {
                    tracing::warn!(consumer = name, error = %ontask_telemetry::error_chain(&e), "cannot subscribe yet");
                    tokio::select! {
                        () = cancel.cancelled() => return,
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
        };
        tracing::info!(consumer = name, "consumer started");
        let flusher =
            tokio::spawn(store_pending_offsets(self.db.clone(), name, self.pending_offset.clone(), cancel.clone()));
        loop {
            let batch = tokio::select! {
                () = cancel.cancelled() => break,
                batch = subscription.next(BATCH) => batch,
            };
            let batch = match batch {
                Ok(b) => b,
                Err(ontask_bus::BusError::Closed) => break,
                Err(e) => {
                    tracing::warn!(consumer = name, error = %ontask_telemetry::error_chain(&e), "reading the bus failed");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            };
            // The batch in hand is finished even when shutdown is requested.
            if let Err(e) = self.process(&mut *subscription, batch, &cancel).await {
                tracing::warn!(consumer = name, error = %ontask_telemetry::error_chain(&e), "consumer stopped mid-batch; it resumes from its offset");
            }
        }
        let _ = flusher.await;
        store_pending_offset(&self.db, name, &self.pending_offset).await;
        tracing::info!(consumer = name, "consumer stopped");
    }

    async fn process(
        &self,
        sub: &mut dyn Subscription,
        batch: Vec<StoredEvent>,
        cancel: &CancellationToken,
    ) -> Result<(), HandlerError> {
        let Some(last) = batch.last().map(|e| e.seq) else { return Ok(()) };
        // Fast path: the whole batch in one transaction. Under load this turns
        // hundreds of commits into one; any failure rolls it all back and the
        // events are retried one by one below.
        match self.try_batch(&batch).await {
            Ok(outcomes) => {
                for outcome in outcomes {
                    self.count(outcome);
                }
                return sub.ack(last).await.map_err(|e| HandlerError::Permanent(ontask_telemetry::error_chain(&e)));
            }
            Err(e) => {
                tracing::debug!(consumer = self.consumer.name(), error = %ontask_telemetry::error_chain(&e), "batch failed; handling events one by one")
            }
        }
        let mut skipped_upto = None;
        for event in &batch {
            if !self.consumer.wants(event) {
                skipped_upto = Some(event.seq);
                continue;
            }
            let outcome = self.handle_with_retries(event, cancel).await?;
            self.count(outcome);
            skipped_upto = None;
            sub.ack(event.seq).await.map_err(|e| HandlerError::Permanent(ontask_telemetry::error_chain(&e)))?;
        }
        // Events this consumer ignores still move its offset, so lag reads true.
        if let Some(seq) = skipped_upto {
            let mut tx = self.db.begin().await?;
            events::set_offset(&mut tx, self.consumer.name(), seq, ontask_app::now()).await?;
            tx.commit().await?;
            sub.ack(seq).await.map_err(|e| HandlerError::Permanent(ontask_telemetry::error_chain(&e)))?;
        }
        Ok(())
    }

    fn count(&self, outcome: Outcome) {
        metrics::counter!(m::EVENTS_HANDLED_TOTAL, "consumer" => self.consumer.name(), "outcome" => outcome.label())
            .increment(1);
    }

    /// Handles every wanted event of the batch and moves the offset past the
    /// batch, all in one transaction.
    async fn try_batch(&self, batch: &[StoredEvent]) -> Result<Vec<Outcome>, HandlerError> {
        let name = self.consumer.name();
        let now = ontask_app::now();
        let wanted: Vec<&StoredEvent> = batch.iter().filter(|e| self.consumer.wants(e)).collect();
        let last = batch.last().map(|e| e.seq);
        if wanted.is_empty() && self.offset_is_fresh() {
            self.leave_offset(last);
            return Ok(Vec::new());
        }
        // Events it passes over count as done, as events it wants nothing of
        // when it handles them one by one.
        let passed_over = wanted.len();
        let acting = self.consumer.acting_on(&mut *self.db.read().await?, wanted).await?;
        let passed_over = passed_over - acting.len();
        if acting.is_empty() && self.offset_is_fresh() {
            self.leave_offset(last);
            return Ok(vec![Outcome::Done; passed_over]);
        }
        let mut tx = self.db.begin().await?;
        let ids: Vec<_> = acting.iter().map(|e| e.envelope.event_id).collect();
        let mut claimed = events::inbox_claim_all(&mut tx, name, &ids, now).await?;
        // Taking each claimed id out as it is used handles an event that the
        // bus delivered twice within one batch only once.
        let mut fresh = Vec::with_capacity(acting.len());
        let mut outcomes = acting
            .into_iter()
            .map(|event| {
                if claimed.remove(&event.envelope.event_id) {
                    fresh.push(event);
                    Outcome::Done
                } else {
                    Outcome::Skipped
                }
            })
            .collect::<Vec<_>>();
        outcomes.extend(std::iter::repeat_n(Outcome::Done, passed_over));
        if fresh.is_empty() && self.offset_is_fresh() {
            // Nothing to write: the savepoint is let go.
            self.leave_offset(last);
            return Ok(outcomes);
        }
        // One span per event acted on, each in the trace of the request that
        // wrote it, all as long as the batch's transaction.
        let spans: Vec<_> = fresh.iter().map(|event| self.span(event)).collect();
        let handled = async {
            self.consumer.handle_all(&mut tx, &fresh).await?;
            if let Some(last) = batch.last() {
                events::set_offset(&mut tx, name, last.seq, now).await?;
            }
            tx.commit().await.map_err(HandlerError::from)
        }
        .await;
        if handled.is_err() {
            spans.iter().for_each(ontask_telemetry::trace::record_failure);
        }
        handled?;
        self.offset_stored();
        if !fresh.is_empty() {
            self.consumer.committed();
        }
        Ok(outcomes)
    }

    /// Handles one event, retrying transient failures with backoff. A database
    /// outage is retried until it ends (the event is not at fault); any other
    /// failure dead-letters the event after `max_attempts`.
    async fn handle_with_retries(
        &self,
        event: &StoredEvent,
        cancel: &CancellationToken,
    ) -> Result<Outcome, HandlerError> {
        let trace = self.span(event);
        // The log's fields, in a span inside the trace's, so the spans the
        // handler makes (its commits) are children of the trace's span.
        let log = trace.in_scope(|| {
            let metadata = &event.envelope.metadata;
            tracing::info_span!(
                "event",
                consumer = self.consumer.name(),
                seq = event.seq,
                event_type = event.envelope.event_type(),
                correlation_id = %metadata.correlation_id,
                traceparent = metadata.traceparent.as_deref(),
            )
        });
        let outcome = self.retrying(event, cancel).instrument(log).await;
        if !matches!(outcome, Ok(Outcome::Done | Outcome::Skipped)) {
            ontask_telemetry::trace::record_failure(&trace);
        }
        outcome
    }

    /// This consumer's span for acting on `event`.
    fn span(&self, event: &StoredEvent) -> tracing::Span {
        crate::message_span(&*self.bus, MessageHop::Process, event, Some(self.consumer.name()))
    }

    async fn retrying(&self, event: &StoredEvent, cancel: &CancellationToken) -> Result<Outcome, HandlerError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let error = match self.try_once(event).await {
                Ok(outcome) => return Ok(outcome),
                Err(e) => e,
            };
            let outage = matches!(&error, HandlerError::Store(s) if s.is_unavailable());
            let permanent = matches!(error, HandlerError::Permanent(_));
            if !outage && (permanent || attempt >= self.policy.max_attempts) {
                // The whole cause chain, once: in the log, the dead letter and its bus header.
                let why = ontask_telemetry::error_chain(&error);
                tracing::error!(error = %why, attempts = attempt, "giving up on event; dead-lettering it");
                return self.dead_letter(event, &why, attempt).await;
            }
            let delay = crate::backoff(attempt, self.policy.base_delay, self.policy.max_delay);
            tracing::warn!(error = %ontask_telemetry::error_chain(&error), attempt, retry_in_ms = delay.as_millis() as u64, "handling failed; will retry");
            tokio::select! {
                () = cancel.cancelled() => return Err(error),
                () = tokio::time::sleep(delay) => {}
            }
        }
    }

    async fn try_once(&self, event: &StoredEvent) -> Result<Outcome, HandlerError> {
        let name = self.consumer.name();
        let now = ontask_app::now();
        let mut tx = self.db.begin().await?;
        let outcome = if events::inbox_claim(&mut tx, name, event.envelope.event_id, now).await? {
            self.consumer.handle(&mut tx, event).await?;
            Outcome::Done
        } else {
            Outcome::Skipped
        };
        events::set_offset(&mut tx, name, event.seq, now).await?;
        tx.commit().await?;
        if outcome == Outcome::Done {
            self.consumer.committed();
        }
        Ok(outcome)
    }

    async fn dead_letter(&self, event: &StoredEvent, error: &str, attempts: u32) -> Result<Outcome, HandlerError> {
        let name = self.consumer.name();
        // The bus's dead-letter topic first: should that fail, the event is not
        // passed over, and the next try dead-letters it again (at least once).
        self.bus
            .dead_letter(name, event, error, attempts)
            .await
            .map_err(|e| HandlerError::Permanent(format!("dead-lettering on the bus: {e}")))?;
        let now = ontask_app::now();
        let mut tx = self.db.begin().await?;
        events::inbox_claim(&mut tx, name, event.envelope.event_id, now).await?;
        events::dead_letter(&mut tx, name, event, error, i64::from(attempts), now).await?;
        events::set_offset(&mut tx, name, event.seq, now).await?;
        tx.commit().await?;
        metrics::counter!(m::DEAD_LETTERS_TOTAL, "consumer" => name).increment(1);
        Ok(Outcome::DeadLettered)
    }
}
