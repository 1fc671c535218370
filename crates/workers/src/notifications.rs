use std::sync::Arc;

use async_trait::async_trait;
use ontask_bus::StoredEvent;
use ontask_domain::{EventEnvelope, EventType};
use ontask_store::notifications::{self, Notification};
use ontask_store::{WriteTx, events};
use serde_json::json;

use crate::{Consumer, HandlerError};

/// Turns `reminder.due` into an in-app notification, and announces it with a
/// `reminder.sent` event so open pages show it at once.
pub struct NotificationConsumer {
    source: Arc<str>,
}

impl NotificationConsumer {
    pub fn new(source: Arc<str>) -> Self {
        Self { source }
    }
}

#[async_trait]
impl Consumer for NotificationConsumer {
    fn name(&self) -> &'static str {
        "notifications"
    }

    fn wants(&self, event: &StoredEvent) -> bool {
        event.envelope.kind() == Some(EventType::ReminderDue)
    }

    async fn handle(&self, tx: &mut WriteTx, event: &StoredEvent) -> Result<(), HandlerError> {
        let e = &event.envelope;
        let title = e.data["title"].as_str().unwrap_or("A task").to_owned();
        let body = match e.data["due"].as_str() {
            Some(due) => format!("Due {due}"),
            None => "Reminder".to_owned(),
        };
        let notification = Notification {
            id: uuid::Uuid::now_v7().to_string(),
            user_id: e.user_id,
            kind: "reminder".into(),
            title,
            body,
            task_id: e.task_id,
            event_id: e.event_id.to_string(),
            created_at: ontask_app::now(),
            read_at: None,
        };
        if notifications::insert(tx, &notification).await? {
            let mut metadata = e.metadata.clone();
            metadata.causation_id = Some(e.event_id);
            metadata.actor = Some("system:notifications".into());
            let sent = EventEnvelope::new(
                EventType::ReminderSent,
                &self.source,
                e.user_id,
                e.task_id,
                json!({ "notification": notification, "channel": "in_app" }),
                metadata,
            );
            events::append(tx, &sent).await?;
        }
        Ok(())
    }
}
