//! Chooses the event bus backend from the configuration.
use std::sync::Arc;

use anyhow::Context as _;
use ontask_bus::{EventBus, KafkaBus, KafkaSettings, LogBus};
use ontask_store::Db;

use crate::config::{BusKind, Config, ConfigError};

/// Connects the configured bus: the embedded log, Kafka or the Dapr sidecar.
pub async fn connect(config: &Config, db: &Db) -> anyhow::Result<Arc<dyn EventBus>> {
    match config.bus.kind {
        BusKind::Log => Ok(Arc::new(LogBus::open(db.clone()).await.context("opening the event log")?)),
        BusKind::Kafka => {
            let bus = KafkaBus::connect(kafka_settings(config)).await.context("connecting to Kafka")?;
            Ok(Arc::new(bus))
        }
        // Being built (issue 4): each arm is filled in by its backend.
        BusKind::Dapr => Err(ConfigError(format!(
            "bus.kind = {:?} is not available in this build yet; use \"log\"",
            config.bus.kind
        ))
        .into()),
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
    settings
}
