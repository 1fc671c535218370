use std::sync::Arc;

use async_trait::async_trait;
use ontask_bus::StoredEvent;
use ontask_domain::{
    Channel, Event, EventActor, EventEnvelope, EventType, Notification, NotificationId, NotificationKind, ReminderSent,
};
use ontask_store::notifications;
use ontask_store::{WriteTx, events};

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
        let Event::ReminderDue(reminder) = &e.event else { return Ok(()) };
        let body = match &reminder.due {
            Some(due) => format!("Due {due}"),
            None => "Reminder".to_owned(),
        };
        let notification = Notification {
            id: NotificationId::new(),
            user_id: e.user_id,
            kind: NotificationKind::Reminder,
            title: reminder.title.clone(),
            body,
            task_id: Some(reminder.task_id),
            event_id: e.event_id,
            created_at: ontask_app::now(),
            read_at: None,
        };
        if notifications::insert(tx, &notification).await? {
            let mut metadata = e.metadata.clone();
            metadata.causation_id = Some(e.event_id);
            metadata.actor = Some(EventActor::Notifications);
            let sent = EventEnvelope::new(
                Event::ReminderSent(ReminderSent { notification, channel: Channel::InApp }),
                &self.source,
                e.user_id,
                metadata,
            );
            events::append(tx, &sent).await?;
        }
        Ok(())
    }
}
