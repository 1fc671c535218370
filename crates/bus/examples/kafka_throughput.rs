//! Publish and consume throughput of the Kafka bus against a real broker:
//!
//! ```sh
//! cargo run -p ontask-bus --example kafka_throughput [events] [batch]
//! ```
//!
//! Uses `ONTASK_TEST_KAFKA_BROKERS` when set, else starts a broker
//! (`ontask-testkit`). Events are `task.updated` over 1,000 tasks, so each one is
//! two messages (task events and updates topics); the batch size is what the
//! relay hands to `publish` (it reads up to 1,000 at a time).
use std::time::Instant;

use ontask_bus::{EventBus, KafkaBus, KafkaSettings, StoredEvent};
use ontask_domain::{EventEnvelope, EventMetadata, EventType, TaskId, UserId};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let total: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(50_000);
    let batch: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(500);
    let brokers = tokio::task::spawn_blocking(ontask_testkit::kafka::shared).await??;
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let mut settings = KafkaSettings::new(brokers);
    settings.group_prefix = format!("bench-{tag}");
    settings.topic_task_events = format!("bench.{tag}.tasks.events");
    settings.topic_reminders = format!("bench.{tag}.reminders.due");
    settings.topic_task_updates = format!("bench.{tag}.tasks.updates");
    let bus = KafkaBus::connect(settings).await?;

    let user = UserId::new();
    let tasks: Vec<TaskId> = (0..1000).map(|_| TaskId::new()).collect();
    let events: Vec<StoredEvent> = (0..total)
        .map(|i| StoredEvent {
            seq: i as i64 + 1,
            envelope: EventEnvelope::new(
                ontask_testkit::events::of_kind(
                    EventType::TaskUpdated,
                    user,
                    tasks[i % tasks.len()],
                    &format!("task {i}"),
                ),
                "bench",
                user,
                EventMetadata { correlation_id: format!("bench-{i}"), ..Default::default() },
            ),
        })
        .collect();

    let started = Instant::now();
    for chunk in events.chunks(batch) {
        bus.publish(chunk).await?;
    }
    let publish = started.elapsed();
    println!(
        "publish: {total} events in batches of {batch}: {:.2} s, {:.0} events/s ({:.0} messages/s)",
        publish.as_secs_f64(),
        total as f64 / publish.as_secs_f64(),
        2.0 * total as f64 / publish.as_secs_f64()
    );

    let mut sub = bus.subscribe("bench").await?;
    let started = Instant::now();
    let mut seen = 0;
    while seen < total {
        let got = sub.next(1000).await?;
        seen += got.len();
        if let Some(last) = got.last() {
            sub.ack(last.seq).await?;
        }
    }
    let consume = started.elapsed();
    println!(
        "consume: {seen} events, batches of up to 1000 acknowledged (committed) each: {:.2} s, {:.0} events/s",
        consume.as_secs_f64(),
        seen as f64 / consume.as_secs_f64()
    );
    Ok(())
}
