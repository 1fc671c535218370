//! Creating the topics ontask uses, with their dead-letter topics.
use super::*;

#[tracing::instrument(skip_all)]
pub(super) async fn create_topics(settings: &KafkaSettings) -> Result<(), BusError> {
    let admin: AdminClient<DefaultClientContext> =
        settings.client_config(&[("client.id", "ontask-admin")], &[]).create().map_err(config_error)?;
    let names = [
        settings.topic_task_events.clone(),
        settings.topic_reminders.clone(),
        settings.topic_task_updates.clone(),
        KafkaSettings::dead_letter_topic(&settings.topic_task_events),
        KafkaSettings::dead_letter_topic(&settings.topic_reminders),
    ];
    let topics: Vec<NewTopic<'_>> = names
        .iter()
        .map(|name| NewTopic::new(name, settings.partitions, TopicReplication::Fixed(settings.replication_factor)))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(ADMIN_TIMEOUT)).request_timeout(Some(ADMIN_TIMEOUT));
    let results = admin.create_topics(&topics, &options).await.map_err(|e| unavailable("creating topics", &e))?;
    for result in results {
        match result {
            Ok(topic) => tracing::info!(topic, partitions = settings.partitions, "created topic"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            // Not fatal: without the right to create topics (typical where an
            // operator manages them) they may well exist; producing will tell.
            Err((topic, code)) => tracing::warn!(topic, error = %code, "cannot create topic"),
        }
    }
    // A new topic takes a moment to reach every broker's metadata. A consumer
    // that subscribes before then gets no partitions and only learns of them
    // at its next metadata refresh, minutes later: wait until they are known.
    tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + ADMIN_TIMEOUT;
        for name in &names[..3] {
            loop {
                let known = admin
                    .inner()
                    .fetch_metadata(Some(name), WATERMARK_TIMEOUT)
                    .is_ok_and(|m| m.topics().iter().any(|t| t.error().is_none() && !t.partitions().is_empty()));
                if known || Instant::now() >= deadline {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    })
    .await
    .map_err(|e| BusError::Unavailable(format!("waiting for topic metadata: {e}")))?;
    Ok(())
}
