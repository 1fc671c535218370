//! Chooses the event bus backend from the configuration.
use std::sync::Arc;

use anyhow::Context as _;
use ontask_bus::{DaprBus, DaprSettings, DaprTopics, EventBus, KafkaBus, KafkaSettings, LogBus};
use ontask_store::Db;
use ontask_telemetry::breaker::{Breakers, Peer};

use crate::config::{BusKind, Config};

/// Connects the configured bus: the embedded log, Kafka or the Dapr sidecar.
pub async fn connect(config: &Config, db: &Db, breakers: &Breakers) -> anyhow::Result<Arc<dyn EventBus>> {
    match config.bus.kind {
        BusKind::Log => Ok(Arc::new(LogBus::open(db.clone()).await.context("opening the event log")?)),
        BusKind::Kafka => {
            let bus = KafkaBus::connect(kafka_settings(config)).await.context("connecting to Kafka")?;
            Ok(Arc::new(bus))
        }
        BusKind::Dapr => Ok(dapr(config, breakers)?),
    }
}

/// The Kafka settings: brokers, topic names, groups and librdkafka properties.
pub fn kafka_settings(config: &Config) -> KafkaSettings {
    let mut settings = KafkaSettings::new(config.kafka.brokers.clone().unwrap_or_default());
    if let Some(prefix) = config.kafka.group_prefix.as_ref().filter(|p| !p.is_empty()) {
        settings.group_prefix = prefix.clone();
    }
    settings.topic_task_events = config.bus.topic_task_events.clone();
    settings.topic_reminders = config.bus.topic_reminders.clone();
    settings.topic_task_updates = config.bus.topic_task_updates.clone();
    settings.partitions = config.kafka.partitions;
    settings.replication_factor = config.kafka.replication_factor;
    settings.create_topics = config.kafka.create_topics;
    settings.properties = config.kafka.properties.as_map().clone();
    // Worker, relay and scheduler processes serve no realtime streams.
    settings.live_updates = config.role.serves_api();
    settings
}

/// The Dapr sidecar bus. The caller keeps the concrete type: the sidecar's
/// routes and the reminder clock (Jobs API) use more than the bus trait.
pub fn dapr(config: &Config, breakers: &Breakers) -> anyhow::Result<Arc<DaprBus>> {
    let roles = config.role;
    let token = |s: &Option<crate::config::Secret>| s.as_ref().map(|s| s.expose().to_owned()).filter(|s| !s.is_empty());
    let settings = DaprSettings {
        endpoint: config.dapr_endpoint(),
        pubsub_name: config.dapr.pubsub_name.clone(),
        broadcast_pubsub_name: config.dapr.broadcast_pubsub_name.clone(),
        api_token: token(&config.dapr.api_token),
        topics: DaprTopics {
            task_events: config.bus.topic_task_events.clone(),
            reminders: config.bus.topic_reminders.clone(),
            task_updates: config.bus.topic_task_updates.clone(),
        },
        consume_events: roles.worker,
        consume_updates: roles.serves_api(),
        // Inside the sidecar's default app timeout, so our RETRY arrives first.
        delivery_timeout: std::time::Duration::from_secs(5),
    };
    let breaker = breakers.of(Peer::Dapr, "");
    Ok(Arc::new(DaprBus::new(settings, breaker).context("setting up the Dapr bus")?))
}
