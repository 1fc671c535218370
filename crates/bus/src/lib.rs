//! The event bus: where the relay hands committed events, and where consumers
//! read them. Backends: `log` (embedded: the `events` table itself is the log,
//! delivery is in-process), `kafka` (rdkafka: any Kafka-protocol broker) and
//! `dapr` (the Dapr sidecar's HTTP API, push delivery).
#![forbid(unsafe_code)]

mod dapr;
mod kafka;
mod log;

use std::sync::Arc;

use async_trait::async_trait;
pub use dapr::{DaprBus, DaprRoute, DaprSettings, DaprTopics, DeliveryStatus, ProgrammaticSubscription};
pub use kafka::{KafkaBus, KafkaSettings, headers as kafka_headers, is_secret_property};
pub use log::LogBus;
pub use ontask_store::events::StoredEvent;
use tokio::sync::broadcast;

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("bus unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Store(#[from] ontask_store::StoreError),
    #[error("bus closed")]
    Closed,
}

/// Where the relay publishes and consumers subscribe.
#[async_trait]
pub trait EventBus: Send + Sync + 'static {
    fn kind(&self) -> &'static str;

    /// The topic consumers read an event from (the in-process log has one
    /// stream, `events`), for the event's trace spans.
    fn destination(&self, _event: &StoredEvent) -> &str {
        "events"
    }

    /// Publishes a batch in log order. When this returns `Ok`, the events are
    /// durably on the bus and the relay may mark them published.
    async fn publish(&self, batch: &[StoredEvent]) -> Result<(), BusError>;

    /// A durable subscription for one consumer (a consumer group on Kafka).
    async fn subscribe(&self, consumer: &str) -> Result<Box<dyn Subscription>, BusError>;

    /// Every event this process sees published, for realtime fan-out. Lossy for
    /// slow receivers (they resume from the log by position).
    fn live(&self) -> broadcast::Receiver<Arc<StoredEvent>>;

    /// Reachability of the bus, for `/health`.
    async fn health(&self) -> Result<(), BusError>;

    /// Whether every update published from now on reaches [`EventBus::live`]
    /// receivers of this process (`/readyz`): on Kafka, once the live consumer
    /// has its partitions, so a stream opened earlier could miss the first updates.
    fn live_feed_ready(&self) -> bool {
        true
    }

    /// Hands an event that `consumer` gave up on to the bus's dead-letter
    /// channel (Kafka: `<topic>.dlq`, with the error in headers). The database
    /// row the runner writes stays the record the admin API lists; backends
    /// without such a channel (the embedded log) have nothing more to do.
    async fn dead_letter(
        &self,
        _consumer: &str,
        _event: &StoredEvent,
        _error: &str,
        _attempts: u32,
    ) -> Result<(), BusError> {
        Ok(())
    }
}

#[async_trait]
pub trait Subscription: Send {
    /// Waits until events after the last acknowledged one are available and
    /// returns up to `max` of them, in order.
    async fn next(&mut self, max: usize) -> Result<Vec<StoredEvent>, BusError>;

    /// Acknowledges every event up to `seq`, after the consumer committed its
    /// effect (and its offset) for them.
    async fn ack(&mut self, seq: i64) -> Result<(), BusError>;
}
