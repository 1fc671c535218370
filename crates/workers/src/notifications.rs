use std::sync::Arc;

use async_trait::async_trait;
use ontask_bus::StoredEvent;
use ontask_domain::{
    Channel, Event, EventActor, EventEnvelope, EventType, Notification, NotificationId, NotificationKind, ReminderSent,
};
use ontask_store::notifications;
use ontask_store::{WriteTx, events};

use tokio::sync::Notify;

use crate::{Consumer, HandlerError};

/// Turns events that concern someone into in-app notifications: a
/// `reminder.due` (announced with a `reminder.sent` event so open pages show
/// it at once), a task assigned to them by someone else, a comment that
/// mentions them.
///
/// With push on, each notification is also queued as a push message to every
/// device of its person, in the same transaction (`crate::push`).
pub struct NotificationConsumer {
    source: Arc<str>,
    /// Push is on: wakes the push sender after a commit.
    push: Option<Arc<Notify>>,
}

impl NotificationConsumer {
    pub fn new(source: Arc<str>) -> Self {
        Self { source, push: None }
    }

    /// Queues push messages too, and wakes `sender` once they are committed.
    pub fn with_push(mut self, sender: Option<Arc<Notify>>) -> Self {
        self.push = sender;
        self
    }

    /// Writes `n`; true if it is new (not from a redelivered event).
    async fn deliver(&self, tx: &mut WriteTx, n: &Notification) -> Result<bool, HandlerError> {
        if !notifications::insert(tx, n).await? {
            return Ok(false);
        }
        if self.push.is_some() {
            crate::push::queue(tx, n).await?;
        }
        Ok(true)
    }
}

#[async_trait]
impl Consumer for NotificationConsumer {
    fn name(&self) -> &'static str {
        "notifications"
    }

    fn wants(&self, event: &StoredEvent) -> bool {
        matches!(
            event.envelope.kind(),
            Some(EventType::ReminderDue | EventType::TaskAssigned | EventType::CommentAdded)
        )
    }

    async fn handle(&self, tx: &mut WriteTx, event: &StoredEvent) -> Result<(), HandlerError> {
        let e = &event.envelope;
        let notify = |user_id, kind, title: &str, body: String, task_id| Notification {
            id: NotificationId::new(),
            user_id,
            kind,
            title: title.to_owned(),
            body,
            task_id: Some(task_id),
            event_id: e.event_id,
            created_at: ontask_app::now(),
            read_at: None,
        };
        match &e.event {
            Event::TaskAssigned(a) => {
                // Taking a task oneself needs no notice.
                if let Some(assignee) = a.task.assignee_id.filter(|u| *u != e.user_id) {
                    let n = notify(
                        assignee,
                        NotificationKind::Assigned,
                        &a.task.title,
                        "Assigned to you".into(),
                        a.task.id,
                    );
                    self.deliver(tx, &n).await?;
                }
                return Ok(());
            }
            Event::CommentAdded(c) => {
                let excerpt: String = c.comment.body.as_str().chars().take(200).collect();
                for user in &c.comment.mentioned {
                    let n = notify(
                        *user,
                        NotificationKind::Mention,
                        "You were mentioned",
                        excerpt.clone(),
                        c.comment.task_id,
                    );
                    self.deliver(tx, &n).await?;
                }
                return Ok(());
            }
            _ => {}
        }
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
        if self.deliver(tx, &notification).await? {
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

    fn committed(&self) {
        if let Some(sender) = &self.push {
            sender.notify_one();
        }
    }
}
