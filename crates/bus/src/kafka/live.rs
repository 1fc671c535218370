//! The live feed of an API process: the updates topic, read by a consumer of
//! its own, pushed to this process's SSE and WebSocket clients.
use super::*;

/// Readiness of the live consumer.
pub(super) struct LiveContext {
    ready: watch::Sender<bool>,
}

impl ClientContext for LiveContext {}

impl ConsumerContext for LiveContext {
    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Assign(assigned) = rebalance else { return };
        if assigned.count() == 0 {
            // The topic is not in the metadata yet; the real assignment follows.
            return;
        }
        // `auto.offset.reset=latest` is resolved only when fetching starts, a
        // moment after the assignment, and whatever is published in between is
        // skipped. Pinning each partition at its high watermark now makes
        // "ready" exact: every update published from here on is seen.
        let mut pinned = TopicPartitionList::new();
        for partition in assigned.elements() {
            let (topic, p) = (partition.topic(), partition.partition());
            let start = match consumer.fetch_watermarks(topic, p, WATERMARK_TIMEOUT) {
                Ok((_, high)) => Offset::Offset(high),
                Err(e) => {
                    tracing::warn!(topic, partition = p, error = %ontask_telemetry::error_chain(&e), "no high watermark; starting at the end");
                    Offset::End
                }
            };
            if let Err(e) = pinned.add_partition_offset(topic, p, start) {
                tracing::warn!(topic, partition = p, error = %ontask_telemetry::error_chain(&e), "cannot pin the live consumer's start");
            }
        }
        if let Err(e) = consumer.assign(&pinned) {
            tracing::warn!(error = %ontask_telemetry::error_chain(&e), "cannot pin the live consumer's start; it starts at the end");
        }
        self.ready.send_replace(true);
    }
}

pub(super) fn live_consumer(
    settings: &KafkaSettings,
    ready: watch::Sender<bool>,
) -> Result<StreamConsumer<LiveContext>, BusError> {
    // A group of its own per process: every replica gets every update. Nothing
    // is committed; a restarted replica starts at the end, and clients resume
    // what they missed from the log by position.
    let group = format!("{}.realtime.{}", settings.group_prefix, Uuid::new_v4().simple());
    let consumer: StreamConsumer<LiveContext> = settings
        .client_config(
            &[("client.id", "ontask-realtime")],
            &[
                ("group.id", &group),
                ("enable.auto.commit", "false"),
                ("enable.auto.offset.store", "false"),
                ("auto.offset.reset", "latest"),
            ],
        )
        .create_with_context(LiveContext { ready })
        .map_err(config_error)?;
    // The updates topic alone: it carries every event (reminders too, which
    // the browser shows as they happen), keyed by the user who made it, so
    // each writer's events arrive in log order; streams dedupe by position.
    consumer.subscribe(&[&settings.topic_task_updates]).map_err(|e| unavailable("subscribing to updates", &e))?;
    Ok(consumer)
}

pub(super) async fn feed_live(
    consumer: StreamConsumer<LiveContext>,
    live: broadcast::Sender<Arc<StoredEvent>>,
    stop: CancellationToken,
) {
    loop {
        let received = tokio::select! {
            () = stop.cancelled() => break,
            received = consumer.recv() => received,
        };
        match received {
            Ok(message) => match decode(&message) {
                // No receivers is fine: nobody is listening live right now.
                Ok(event) => drop(live.send(Arc::new(event))),
                Err(error) => tracing::debug!(error, "skipping a malformed update"),
            },
            Err(e) => {
                tracing::warn!(error = %ontask_telemetry::error_chain(&e), "reading the updates topic failed");
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = tokio::time::sleep(Duration::from_millis(500)) => {}
                }
            }
        }
    }
    // Leaving the group blocks for a moment; keep it off the async workers.
    let _ = tokio::task::spawn_blocking(move || drop(consumer)).await;
}
