//! The Kafka backend (any Kafka-protocol broker: Apache Kafka, Strimzi, Redpanda,
//! Confluent Cloud), on librdkafka.
//!
//! Publishing: each event goes to its topic (task events or reminders) keyed by
//! its task id, so one task's events stay in one partition and in order; every
//! event also goes to the updates topic keyed by its user, which every API
//! replica reads for realtime fan-out (one user's events in log order). The
//! value is the event envelope as JSON (the same JSON the SSE stream sends);
//! CloudEvents attributes and the log position travel in headers. The producer
//! is idempotent, so retries neither duplicate nor reorder within a partition,
//! and `publish` returns only once every message is acknowledged by all in-sync
//! replicas.
//!
//! Consuming: one consumer group per consumer. Offsets are committed only when
//! the consumer acknowledges, which the runner does after its database
//! transaction committed; whatever is redelivered after a crash or a rebalance
//! is skipped by the consumer's inbox.
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_util::FutureExt as _;
use ontask_domain::EventEnvelope;
use ontask_telemetry::metrics as m;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer as _, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Header, Headers as _, Message as _, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer as _};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{BusError, EventBus, StoredEvent, Subscription};

use self::admin::create_topics;
use self::live::{feed_live, live_consumer};
use self::subscription::{Delivered, GroupContext, KafkaSubscription, Origin};

mod admin;
mod live;
mod subscription;

const LIVE_CAPACITY: usize = 4096;
/// How long `health` and topic creation wait for the broker.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(10);
const HEALTH_TIMEOUT: Duration = Duration::from_secs(3);
const WATERMARK_TIMEOUT: Duration = Duration::from_secs(5);

/// Header names. `ce_*` follow the CloudEvents Kafka protocol binding.
pub mod headers {
    pub const SPECVERSION: &str = "ce_specversion";
    pub const ID: &str = "ce_id";
    pub const TYPE: &str = "ce_type";
    pub const SOURCE: &str = "ce_source";
    pub const TIME: &str = "ce_time";
    pub const SUBJECT: &str = "ce_subject";
    pub const CONTENT_TYPE: &str = "content-type";
    pub const TRACEPARENT: &str = "traceparent";
    /// The event's position in the outbox log.
    pub const SEQ: &str = "ontask_seq";
    pub const ERROR: &str = "ontask_error";
    pub const CONSUMER: &str = "ontask_consumer";
    pub const ATTEMPTS: &str = "ontask_attempts";
    pub const ORIGINAL_TOPIC: &str = "ontask_original_topic";
    pub const ORIGINAL_PARTITION: &str = "ontask_original_partition";
    pub const ORIGINAL_OFFSET: &str = "ontask_original_offset";
}

/// Where and how to reach Kafka.
#[derive(Clone)]
pub struct KafkaSettings {
    /// `bootstrap.servers`: `host:port[,host:port...]`.
    pub brokers: String,
    /// Consumer groups are `<group_prefix>.<consumer>`.
    pub group_prefix: String,
    pub topic_task_events: String,
    pub topic_reminders: String,
    pub topic_task_updates: String,
    /// Partitions of the topics created on connect.
    pub partitions: i32,
    /// Replication factor of the topics created on connect; -1 is the broker's default.
    pub replication_factor: i32,
    /// Create missing topics on connect (dev); in production an operator (Strimzi) does.
    pub create_topics: bool,
    /// librdkafka properties for every client: `security.protocol`, `sasl.*`, `ssl.*`, ...
    pub properties: BTreeMap<String, String>,
    /// Read the updates topic for [`EventBus::live`]: only processes that serve
    /// realtime streams need it (each costs a consumer group member).
    pub live_updates: bool,
}

impl KafkaSettings {
    /// Defaults for the given brokers: the standard topic names, 3 partitions.
    pub fn new(brokers: impl Into<String>) -> Self {
        Self {
            brokers: brokers.into(),
            group_prefix: "ontask".into(),
            topic_task_events: "ontask.tasks.events.v1".into(),
            topic_reminders: "ontask.reminders.due.v1".into(),
            topic_task_updates: "ontask.tasks.updates.v1".into(),
            partitions: 3,
            replication_factor: -1,
            create_topics: true,
            properties: BTreeMap::new(),
            live_updates: true,
        }
    }

    /// A client's configuration: `defaults` that `properties` may override,
    /// then the settings ontask's guarantees rest on (`required`), which they may not.
    fn client_config(&self, defaults: &[(&str, &str)], required: &[(&str, &str)]) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.brokers);
        for (key, value) in defaults {
            config.set(*key, *value);
        }
        for (key, value) in &self.properties {
            if required.iter().any(|(k, _)| k == key) {
                tracing::warn!(property = key, "ignoring a Kafka property that ontask must set itself");
                continue;
            }
            config.set(key, value);
        }
        for (key, value) in required {
            config.set(*key, *value);
        }
        config
    }

    /// The topic an event belongs to: reminders to the reminders topic, the rest
    /// (task changes, and types newer than this build) to the task events topic.
    pub fn topic_for(&self, event_type: &str) -> &str {
        if event_type.starts_with("reminder.") { &self.topic_reminders } else { &self.topic_task_events }
    }

    fn dead_letter_topic(topic: &str) -> String {
        format!("{topic}.dlq")
    }
}

impl std::fmt::Debug for KafkaSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let properties: BTreeMap<&str, &str> = self
            .properties
            .iter()
            .map(|(k, v)| (k.as_str(), if is_secret_property(k) { "***" } else { v.as_str() }))
            .collect();
        f.debug_struct("KafkaSettings")
            .field("brokers", &self.brokers)
            .field("group_prefix", &self.group_prefix)
            .field("topic_task_events", &self.topic_task_events)
            .field("topic_reminders", &self.topic_reminders)
            .field("topic_task_updates", &self.topic_task_updates)
            .field("partitions", &self.partitions)
            .field("replication_factor", &self.replication_factor)
            .field("create_topics", &self.create_topics)
            .field("properties", &properties)
            .field("live_updates", &self.live_updates)
            .finish()
    }
}

/// Whether a librdkafka property holds a credential (`sasl.password`,
/// `ssl.key.password`, `sasl.oauthbearer.client.secret`, `ssl.key.pem`,
/// `sasl.jaas.config`, ...), so that it is never printed.
pub fn is_secret_property(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["password", "secret", "jaas", ".pem", "token", "sasl.oauthbearer.config"].iter().any(|word| key.contains(word))
}

/// Publishes to and consumes from Kafka.
pub struct KafkaBus {
    settings: Arc<KafkaSettings>,
    producer: FutureProducer,
    live: broadcast::Sender<Arc<StoredEvent>>,
    live_ready: watch::Receiver<bool>,
    /// What each open subscription delivered and has not acknowledged yet, by
    /// consumer: where `dead_letter` finds an event's partition and offset.
    in_flight: Mutex<HashMap<String, Vec<Weak<Mutex<Delivered>>>>>,
    stop: CancellationToken,
}

impl KafkaBus {
    /// Connects: creates missing topics (when enabled), the producer, and the
    /// consumer that feeds [`EventBus::live`]. Fails when the brokers cannot be
    /// reached or a setting is invalid.
    #[tracing::instrument(skip_all, fields(brokers = %settings.brokers))]
    pub async fn connect(settings: KafkaSettings) -> Result<Self, BusError> {
        let settings = Arc::new(settings);
        if settings.create_topics {
            create_topics(&settings).await?;
        }
        let producer: FutureProducer = settings
            .client_config(
                &[
                    ("client.id", "ontask-producer"),
                    // The relay batches already; a short linger lets one publish
                    // call fill a few large produce requests instead of many small ones.
                    ("linger.ms", "5"),
                    ("compression.type", "lz4"),
                    // A relay batch waits for its slowest message; give up (and
                    // retry the batch) after 30 s rather than librdkafka's 5 min.
                    ("message.timeout.ms", "30000"),
                ],
                // Idempotence: no duplicates from retries and, with at most 5
                // requests in flight, no reordering within a partition.
                &[("enable.idempotence", "true"), ("acks", "all"), ("max.in.flight.requests.per.connection", "5")],
            )
            .create()
            .map_err(config_error)?;
        let (live, _) = broadcast::channel(LIVE_CAPACITY);
        let (ready_tx, live_ready) = watch::channel(false);
        let stop = CancellationToken::new();
        if settings.live_updates {
            let consumer = live_consumer(&settings, ready_tx)?;
            tokio::spawn(feed_live(consumer, live.clone(), stop.clone()));
        }
        tracing::info!(topics = ?[&settings.topic_task_events, &settings.topic_reminders, &settings.topic_task_updates], "connected to Kafka");
        Ok(Self { settings, producer, live, live_ready, in_flight: Mutex::new(HashMap::new()), stop })
    }

    pub fn settings(&self) -> &KafkaSettings {
        &self.settings
    }

    /// Resolves once the live consumer has its partitions, i.e. updates published
    /// from then on reach [`EventBus::live`] receivers of this process.
    pub async fn live_ready(&self) {
        let mut ready = self.live_ready.clone();
        // An error means the live task ended; waiting longer would never end.
        let _ = ready.wait_for(|r| *r).await;
    }

    /// Queues one message. Called in log order, so the producer keeps that order
    /// per partition; a full local queue waits here, keeping the order too.
    async fn enqueue(
        &self,
        topic: &str,
        key: &str,
        payload: &[u8],
        headers: OwnedHeaders,
    ) -> Result<DeliveryFuture, BusError> {
        let mut record = FutureRecord::to(topic).key(key).payload(payload).headers(headers);
        loop {
            match self.producer.send_result(record) {
                Ok(delivery) => return Ok(delivery),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err((e, _)) => return Err(unavailable("queueing a message", &e)),
            }
        }
    }

    /// Where `consumer` got the event with `event_id` from, if one of its open
    /// subscriptions delivered it and has not acknowledged it yet.
    fn origin(&self, consumer: &str, event_id: Uuid) -> Option<Origin> {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        let subscriptions = in_flight.get_mut(consumer)?;
        subscriptions.retain(|s| s.strong_count() > 0);
        subscriptions.iter().filter_map(Weak::upgrade).find_map(|delivered| {
            let delivered = delivered.lock().unwrap_or_else(|e| e.into_inner());
            delivered.entries.iter().find(|e| e.event_id == Some(event_id)).map(|e| e.origin.clone())
        })
    }
}

impl Drop for KafkaBus {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

#[async_trait]
impl EventBus for KafkaBus {
    fn kind(&self) -> &'static str {
        "kafka"
    }

    fn destination(&self, event: &StoredEvent) -> &str {
        self.settings.topic_for(event.envelope.event_type())
    }

    #[tracing::instrument(skip_all, fields(events = batch.len()))]
    async fn publish(&self, batch: &[StoredEvent]) -> Result<(), BusError> {
        if batch.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let mut deliveries = Vec::with_capacity(batch.len() * 2);
        for event in batch {
            let payload = serde_json::to_vec(&event.envelope).map_err(|e| BusError::Unavailable(e.to_string()))?;
            let key = partition_key(event);
            let topic = self.settings.topic_for(event.envelope.event_type());
            deliveries.push((topic, self.enqueue(topic, &key, &payload, event_headers(event)).await?));
            // Every event a stream shows also goes to the updates topic, keyed
            // by the user who made it: one writer's events stay in log order.
            // A stream of a shared project reads several writers' partitions, so
            // it remembers what it sent rather than trusting the order
            // (`routes::realtime::Sent`).
            let updates = self.settings.topic_task_updates.as_str();
            let user = event.envelope.user_id.to_string();
            deliveries.push((updates, self.enqueue(updates, &user, &payload, event_headers(event)).await?));
        }
        let mut produced: BTreeMap<&str, u64> = BTreeMap::new();
        let mut failure = None;
        // Every message is awaited, even after a failure, so none is still in
        // flight when the relay retries the batch.
        for (topic, delivery) in deliveries {
            match delivery.await {
                Ok(Ok(_)) => *produced.entry(topic).or_default() += 1,
                Ok(Err((e, _))) => failure = Some(unavailable("publishing", &e)),
                Err(_) => failure = Some(BusError::Unavailable("the producer dropped a message".into())),
            }
        }
        for (topic, n) in produced {
            metrics::counter!(m::KAFKA_MESSAGES_PRODUCED_TOTAL, "topic" => topic.to_owned()).increment(n);
        }
        if let Some(e) = failure {
            return Err(e);
        }
        metrics::histogram!(m::KAFKA_PRODUCE_DURATION).record(started.elapsed().as_secs_f64());
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(consumer))]
    async fn subscribe(&self, consumer: &str) -> Result<Box<dyn Subscription>, BusError> {
        let group = format!("{}.{consumer}", self.settings.group_prefix);
        let context = GroupContext { epoch: AtomicU64::new(0) };
        let client_id = format!("ontask-{consumer}");
        let kafka: StreamConsumer<GroupContext> = self
            .settings
            .client_config(
                &[("client.id", &client_id), ("auto.offset.reset", "earliest")],
                // Offsets move only on `ack`, after the consumer's transaction committed.
                &[("group.id", &group), ("enable.auto.commit", "false"), ("enable.auto.offset.store", "false")],
            )
            .create_with_context(context)
            .map_err(config_error)?;
        kafka
            .subscribe(&[&self.settings.topic_task_events, &self.settings.topic_reminders])
            .map_err(|e| unavailable("subscribing", &e))?;
        let delivered = Arc::new(Mutex::new(Delivered::default()));
        self.in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(consumer.to_owned())
            .or_default()
            .push(Arc::downgrade(&delivered));
        tracing::info!(group, "subscribed");
        Ok(Box::new(KafkaSubscription {
            consumer: Arc::new(kafka),
            name: consumer.to_owned(),
            delivered,
            uncommitted: BTreeMap::new(),
            committed_epoch: 0,
            producer: self.producer.clone(),
        }))
    }

    fn live(&self) -> broadcast::Receiver<Arc<StoredEvent>> {
        self.live.subscribe()
    }

    fn live_feed_ready(&self) -> bool {
        !self.settings.live_updates || *self.live_ready.borrow()
    }

    #[tracing::instrument(skip_all)]
    async fn health(&self) -> Result<(), BusError> {
        let producer = self.producer.clone();
        let topic = self.settings.topic_task_events.clone();
        tokio::task::spawn_blocking(move || producer.client().fetch_metadata(Some(&topic), HEALTH_TIMEOUT))
            .await
            .map_err(|e| BusError::Unavailable(e.to_string()))?
            .map(|_| ())
            .map_err(|e| unavailable("fetching metadata", &e))
    }

    #[tracing::instrument(skip_all, fields(consumer, seq = event.seq, attempts))]
    async fn dead_letter(
        &self,
        consumer: &str,
        event: &StoredEvent,
        error: &str,
        attempts: u32,
    ) -> Result<(), BusError> {
        let origin = self.origin(consumer, event.envelope.event_id).unwrap_or_else(|| Origin {
            topic: self.settings.topic_for(event.envelope.event_type()).to_owned(),
            partition: None,
            offset: None,
        });
        let topic = KafkaSettings::dead_letter_topic(&origin.topic);
        let attempts = attempts.to_string();
        let mut headers = event_headers(event)
            .insert(Header { key: headers::ERROR, value: Some(error) })
            .insert(Header { key: headers::CONSUMER, value: Some(consumer) })
            .insert(Header { key: headers::ATTEMPTS, value: Some(&attempts) })
            .insert(Header { key: headers::ORIGINAL_TOPIC, value: Some(&origin.topic) });
        if let (Some(partition), Some(offset)) = (origin.partition, origin.offset) {
            headers = headers
                .insert(Header { key: headers::ORIGINAL_PARTITION, value: Some(&partition.to_string()) })
                .insert(Header { key: headers::ORIGINAL_OFFSET, value: Some(&offset.to_string()) });
        }
        let payload = serde_json::to_vec(&event.envelope).map_err(|e| BusError::Unavailable(e.to_string()))?;
        let delivery = self.enqueue(&topic, &partition_key(event), &payload, headers).await?;
        match delivery.await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err((e, _))) => Err(unavailable("publishing a dead letter", &e)),
            Err(_) => Err(BusError::Unavailable("the producer dropped a dead letter".into())),
        }
    }
}

/// The partition key: the task, so a task's events keep their order; events
/// about no task in particular keep their user's order.
fn partition_key(event: &StoredEvent) -> String {
    match event.envelope.task_id {
        Some(task) => task.to_string(),
        None => event.envelope.user_id.to_string(),
    }
}

fn event_headers(event: &StoredEvent) -> OwnedHeaders {
    let e = &event.envelope;
    let id = e.event_id.to_string();
    let time = e.timestamp.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let seq = event.seq.to_string();
    let mut headers = OwnedHeaders::new_with_capacity(9)
        .insert(Header { key: headers::SPECVERSION, value: Some("1.0") })
        .insert(Header { key: headers::ID, value: Some(&id) })
        .insert(Header { key: headers::TYPE, value: Some(e.event_type()) })
        .insert(Header { key: headers::SOURCE, value: Some(&e.source) })
        .insert(Header { key: headers::TIME, value: Some(&time) })
        .insert(Header { key: headers::CONTENT_TYPE, value: Some("application/json") })
        .insert(Header { key: headers::SEQ, value: Some(&seq) });
    if let Some(task) = e.task_id {
        headers = headers.insert(Header { key: headers::SUBJECT, value: Some(&task.to_string()) });
    }
    if let Some(traceparent) = &e.metadata.traceparent {
        headers = headers.insert(Header { key: headers::TRACEPARENT, value: Some(traceparent) });
    }
    headers
}

/// Rebuilds the stored event from a message: the envelope from the value, the
/// log position from the `ontask_seq` header.
fn decode(message: &BorrowedMessage<'_>) -> Result<StoredEvent, String> {
    let payload = message.payload().ok_or("the message has no value")?;
    let envelope: EventEnvelope =
        serde_json::from_slice(payload).map_err(|e| format!("the value is not an event envelope: {e}"))?;
    let seq = header(message, headers::SEQ)
        .ok_or("the message has no ontask_seq header")?
        .parse()
        .map_err(|e| format!("ontask_seq is not a number: {e}"))?;
    Ok(StoredEvent { seq, envelope })
}

fn header(message: &BorrowedMessage<'_>, key: &str) -> Option<String> {
    let headers = message.headers()?;
    headers.iter().find(|h| h.key == key).and_then(|h| h.value).map(|v| String::from_utf8_lossy(v).into_owned())
}

fn unavailable(doing: &str, e: &KafkaError) -> BusError {
    BusError::Unavailable(format!("Kafka: {doing}: {e}"))
}

fn config_error(e: KafkaError) -> BusError {
    BusError::Unavailable(format!("Kafka client configuration: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_override_defaults_but_not_what_the_guarantees_rest_on() {
        let mut s = KafkaSettings::new("k1:9092,k2:9092");
        s.properties.insert("linger.ms".into(), "50".into());
        s.properties.insert("enable.auto.commit".into(), "true".into());
        s.properties.insert("security.protocol".into(), "SASL_SSL".into());
        let c = s.client_config(&[("linger.ms", "5")], &[("enable.auto.commit", "false")]);
        assert_eq!(c.get("bootstrap.servers"), Some("k1:9092,k2:9092"));
        assert_eq!(c.get("linger.ms"), Some("50"));
        assert_eq!(c.get("enable.auto.commit"), Some("false"));
        assert_eq!(c.get("security.protocol"), Some("SASL_SSL"));
    }

    #[test]
    fn reminders_have_their_own_topic_and_the_rest_go_to_task_events() {
        let s = KafkaSettings::new("k:9092");
        assert_eq!(s.topic_for("reminder.due"), "ontask.reminders.due.v1");
        assert_eq!(s.topic_for("reminder.sent"), "ontask.reminders.due.v1");
        assert_eq!(s.topic_for("task.completed"), "ontask.tasks.events.v1");
        assert_eq!(s.topic_for("task.archived"), "ontask.tasks.events.v1", "a type newer than this build");
    }

    #[test]
    fn credentials_never_print() {
        let mut s = KafkaSettings::new("k:9092");
        s.properties.insert("sasl.username".into(), "svc-ontask".into());
        s.properties.insert("sasl.password".into(), "hunter2-hunter2".into());
        s.properties.insert("ssl.key.password".into(), "pem-pass-phrase".into());
        s.properties.insert("sasl.oauthbearer.client.secret".into(), "oauth-client-secret".into());
        let printed = format!("{s:?}");
        assert!(printed.contains("svc-ontask"));
        for secret in ["hunter2", "pem-pass-phrase", "oauth-client-secret"] {
            assert!(!printed.contains(secret), "{secret} printed: {printed}");
        }
        assert!(!is_secret_property("security.protocol") && !is_secret_property("ssl.ca.location"));
    }
}
