use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ontask_bus::StoredEvent;
use ontask_domain::{Event, EventType, Status, Task};
use ontask_store::{WriteTx, reminders};
use tokio::sync::Notify;

use crate::recurrence::task_of;
use crate::{Consumer, HandlerError, ReminderTrigger};

/// Keeps the reminder schedule in step with the tasks: every task change
/// replaces the task's pending reminders.
pub struct ReminderScheduleConsumer {
    schedule_changed: Arc<Notify>,
    trigger: Option<Arc<dyn ReminderTrigger>>,
    /// Instants written by `handle` and not yet passed to the trigger. A
    /// rolled-back transaction may leave some here: an extra callback only
    /// finds nothing due.
    unannounced: Mutex<BTreeSet<DateTime<Utc>>>,
}

impl ReminderScheduleConsumer {
    pub fn new(schedule_changed: Arc<Notify>) -> Self {
        Self { schedule_changed, trigger: None, unannounced: Mutex::new(BTreeSet::new()) }
    }

    /// Also tells `trigger` each reminder instant, once the change committed.
    pub fn with_trigger(mut self, trigger: Option<Arc<dyn ReminderTrigger>>) -> Self {
        self.trigger = trigger;
        self
    }
}

#[async_trait]
impl Consumer for ReminderScheduleConsumer {
    fn name(&self) -> &'static str {
        "reminders"
    }

    fn wants(&self, event: &StoredEvent) -> bool {
        match &event.envelope.event {
            // A new task without reminders has nothing to schedule or cancel.
            Event::TaskCreated(created) => !created.task.reminders.is_empty(),
            other => other.kind().is_some_and(EventType::is_task_change),
        }
    }

    async fn handle(&self, tx: &mut WriteTx, event: &StoredEvent) -> Result<(), HandlerError> {
        let snapshot = task_of(event)?;
        let gone = matches!(event.envelope.event, Event::TaskDeleted(_)) || snapshot.status == Status::Completed;
        let times = if gone {
            Vec::new()
        } else {
            let task = Task::try_from(snapshot).map_err(|e| HandlerError::Permanent(e.to_string()))?;
            // A reminder set for a moment already past when the change was made
            // is not a reminder anyone waits for. One that passed while this
            // consumer lagged (or the process was down) still fires.
            let made_at = event.envelope.timestamp - chrono::Duration::seconds(1);
            task.reminder_times().into_iter().filter(|t| *t >= made_at).collect()
        };
        reminders::replace_pending(tx, snapshot.id, snapshot.owner_id, &times).await?;
        if self.trigger.is_some() {
            self.unannounced.lock().unwrap_or_else(|p| p.into_inner()).extend(times);
        }
        Ok(())
    }

    fn committed(&self) {
        // After the commit, so the scheduler reads the new schedule.
        self.schedule_changed.notify_one();
        let Some(trigger) = self.trigger.clone() else { return };
        let instants = std::mem::take(&mut *self.unannounced.lock().unwrap_or_else(|p| p.into_inner()));
        if instants.is_empty() {
            return;
        }
        // Off the consumer's path: a slow clock must not hold up the events.
        tokio::spawn(async move {
            for at in instants {
                if let Err(e) = trigger.due_at(at).await {
                    // The periodic scan still fires it, only later.
                    tracing::warn!(error = %e, fire_at = %at, "cannot schedule the reminder callback");
                }
            }
        });
    }
}
