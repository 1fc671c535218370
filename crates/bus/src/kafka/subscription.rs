//! A consumer group's subscription: batches handed to the consumer runner,
//! offsets committed only once their effect has.
use super::*;

/// Where a delivered message came from.
#[derive(Debug, Clone)]
pub(super) struct Origin {
    pub(super) topic: String,
    pub(super) partition: Option<i32>,
    pub(super) offset: Option<i64>,
}

/// A message handed to the consumer and not acknowledged yet.
pub(super) struct Entry {
    /// `None` for a malformed message, which was dead-lettered on arrival and is
    /// committed along with the next acknowledgement.
    pub(super) seq: Option<i64>,
    pub(super) event_id: Option<Uuid>,
    pub(super) origin: Origin,
    /// The rebalance epoch it was delivered in.
    pub(super) epoch: u64,
}

#[derive(Default)]
pub(super) struct Delivered {
    pub(super) entries: VecDeque<Entry>,
}

/// Counts partition revocations, so a subscription knows which of its
/// un-acknowledged messages belong to partitions it may no longer own.
pub(super) struct GroupContext {
    pub(super) epoch: AtomicU64,
}

impl ClientContext for GroupContext {}

impl ConsumerContext for GroupContext {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(partitions) = rebalance {
            // Runs inside the poll that `next` drives, so every message handed
            // out before this point is from the old epoch.
            self.epoch.fetch_add(1, Ordering::SeqCst);
            tracing::info!(
                partitions = partitions.count(),
                "partitions revoked; un-acknowledged events will be redelivered"
            );
        }
    }
}

pub(super) struct KafkaSubscription {
    pub(super) consumer: Arc<StreamConsumer<GroupContext>>,
    pub(super) name: String,
    pub(super) delivered: Arc<Mutex<Delivered>>,
    /// Offsets acknowledged but not yet committed (a commit failed); merged into
    /// the next commit.
    pub(super) uncommitted: BTreeMap<(String, i32), i64>,
    pub(super) committed_epoch: u64,
    pub(super) producer: FutureProducer,
}

impl KafkaSubscription {
    fn epoch(&self) -> u64 {
        self.consumer.context().epoch.load(Ordering::SeqCst)
    }

    fn delivered(&self) -> std::sync::MutexGuard<'_, Delivered> {
        self.delivered.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a message and returns its event, or dead-letters it when it is
    /// not an ontask event (written by something else, or corrupted).
    async fn take(&mut self, message: &BorrowedMessage<'_>) -> Option<StoredEvent> {
        let origin = Origin {
            topic: message.topic().to_owned(),
            partition: Some(message.partition()),
            offset: Some(message.offset()),
        };
        let epoch = self.epoch();
        match decode(message) {
            Ok(event) => {
                self.delivered().entries.push_back(Entry {
                    seq: Some(event.seq),
                    event_id: Some(event.envelope.event_id),
                    origin,
                    epoch,
                });
                Some(event)
            }
            Err(error) => {
                tracing::error!(topic = %origin.topic, partition = ?origin.partition, offset = ?origin.offset, error, "malformed message; dead-lettering it");
                metrics::counter!(m::KAFKA_MALFORMED_MESSAGES_TOTAL, "consumer" => self.name.clone()).increment(1);
                self.forward_malformed(message, &error).await;
                self.delivered().entries.push_back(Entry { seq: None, event_id: None, origin, epoch });
                None
            }
        }
    }

    async fn forward_malformed(&self, message: &BorrowedMessage<'_>, error: &str) {
        let topic = KafkaSettings::dead_letter_topic(message.topic());
        let partition = message.partition().to_string();
        let offset = message.offset().to_string();
        let mut headers = message.headers().map(|h| h.detach()).unwrap_or_else(|| OwnedHeaders::new_with_capacity(5));
        headers = headers
            .insert(Header { key: headers::ERROR, value: Some(error) })
            .insert(Header { key: headers::CONSUMER, value: Some(&self.name) })
            .insert(Header { key: headers::ATTEMPTS, value: Some("1") })
            .insert(Header { key: headers::ORIGINAL_TOPIC, value: Some(message.topic()) })
            .insert(Header { key: headers::ORIGINAL_PARTITION, value: Some(&partition) })
            .insert(Header { key: headers::ORIGINAL_OFFSET, value: Some(&offset) });
        let mut record = FutureRecord::to(&topic).headers(headers);
        if let Some(key) = message.key() {
            record = record.key(key);
        }
        if let Some(payload) = message.payload() {
            record = record.payload(payload);
        }
        // Losing a dead letter of garbage is logged, not fatal: the original
        // stays in its topic at the offset logged above.
        if let Err((e, _)) = self.producer.send(record, Duration::from_secs(10)).await {
            tracing::error!(error = %ontask_telemetry::error_chain(&e), topic, "could not dead-letter a malformed message");
        }
    }

    /// Called when a new batch is requested while messages of the last one are
    /// still unacknowledged: the consumer failed mid-batch. Like the embedded
    /// log, it resumes after the last acknowledged event, so the consumer
    /// position goes back to the first unacknowledged message of each partition.
    async fn rewind(&mut self) -> Result<(), BusError> {
        let epoch = self.epoch();
        let mut first: BTreeMap<(String, i32), i64> = BTreeMap::new();
        for entry in self.delivered().entries.drain(..) {
            // Partitions revoked since are re-read from their committed offset anyway.
            if entry.epoch != epoch {
                continue;
            }
            if let (Some(partition), Some(offset)) = (entry.origin.partition, entry.origin.offset) {
                first.entry((entry.origin.topic, partition)).or_insert(offset);
            }
        }
        if first.is_empty() {
            return Ok(());
        }
        tracing::info!(consumer = self.name, partitions = first.len(), "rewinding to the first unacknowledged events");
        let consumer = self.consumer.clone();
        tokio::task::spawn_blocking(move || {
            for ((topic, partition), offset) in first {
                consumer.seek(&topic, partition, Offset::Offset(offset), ADMIN_TIMEOUT)?;
            }
            Ok::<_, KafkaError>(())
        })
        .await
        .map_err(|e| BusError::Unavailable(e.to_string()))?
        .map_err(|e| unavailable("rewinding", &e))
    }
}

#[async_trait]
impl Subscription for KafkaSubscription {
    #[tracing::instrument(skip_all, fields(consumer = self.name))]
    async fn next(&mut self, max: usize) -> Result<Vec<StoredEvent>, BusError> {
        if !self.delivered().entries.iter().all(|e| e.seq.is_none()) {
            self.rewind().await?;
        }
        let max = max.max(1);
        let mut batch = Vec::new();
        // Wait for the first event, then take what is already fetched.
        while batch.is_empty() {
            let consumer = self.consumer.clone();
            let message = consumer.recv().await.map_err(|e| unavailable("consuming", &e))?;
            batch.extend(self.take(&message).await);
            while batch.len() < max {
                let Some(next) = consumer.recv().now_or_never() else { break };
                match next {
                    Ok(message) => batch.extend(self.take(&message).await),
                    // Hand out what arrived; the error shows again on the next call.
                    Err(e) if !batch.is_empty() => {
                        tracing::debug!(error = %ontask_telemetry::error_chain(&e), "consuming stopped early");
                        break;
                    }
                    Err(e) => return Err(unavailable("consuming", &e)),
                }
            }
        }
        Ok(batch)
    }

    #[tracing::instrument(skip_all, fields(consumer = self.name, seq))]
    async fn ack(&mut self, seq: i64) -> Result<(), BusError> {
        let epoch = self.epoch();
        if epoch != self.committed_epoch {
            // Revoked partitions may belong to another member now; their
            // pending offsets are left for it (it redelivers, the inbox skips).
            self.uncommitted.clear();
            self.committed_epoch = epoch;
        }
        let acked: Vec<Entry> = {
            let mut delivered = self.delivered();
            let Some(upto) = delivered.entries.iter().position(|e| e.seq == Some(seq)) else { return Ok(()) };
            delivered.entries.drain(..=upto).collect()
        };
        for entry in acked.into_iter().filter(|e| e.epoch == epoch) {
            if let (Some(partition), Some(offset)) = (entry.origin.partition, entry.origin.offset) {
                let next = self.uncommitted.entry((entry.origin.topic, partition)).or_insert(offset + 1);
                *next = (*next).max(offset + 1);
            }
        }
        if self.uncommitted.is_empty() {
            return Ok(());
        }
        let mut offsets = TopicPartitionList::new();
        for ((topic, partition), offset) in &self.uncommitted {
            offsets
                .add_partition_offset(topic, *partition, Offset::Offset(*offset))
                .map_err(|e| unavailable("committing", &e))?;
        }
        let consumer = self.consumer.clone();
        let committed = tokio::task::spawn_blocking(move || consumer.commit(&offsets, CommitMode::Sync))
            .await
            .map_err(|e| BusError::Unavailable(e.to_string()))?;
        match committed {
            Ok(()) => self.uncommitted.clear(),
            // The effects are committed in the database, so a lost offset commit
            // costs only a redelivery; the next acknowledgement tries again.
            Err(e) => {
                tracing::warn!(error = %ontask_telemetry::error_chain(&e), "committing offsets failed; will retry with the next acknowledgement")
            }
        }
        Ok(())
    }
}
