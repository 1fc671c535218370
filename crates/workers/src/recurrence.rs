use async_trait::async_trait;
use ontask_app::{App, Context};
use ontask_bus::StoredEvent;
use ontask_domain::{Event, EventActor, EventType, Task, TaskSnapshot};
use ontask_store::{WriteTx, tasks};

use crate::{Consumer, HandlerError};

/// Completing a recurring task creates its next occurrence, linked to the
/// completion by causation id. The inbox absorbs redeliveries; the unique
/// `recurs_from` column absorbs a task completed, reopened and completed again.
pub struct RecurrenceConsumer {
    app: App,
}

impl RecurrenceConsumer {
    pub fn new(app: App) -> Self {
        Self { app }
    }
}

/// The task a task event carries; any other event is a permanent error.
pub(crate) fn task_of(event: &StoredEvent) -> Result<&TaskSnapshot, HandlerError> {
    let e = &event.envelope;
    e.event.task().ok_or_else(|| {
        let why = match &e.event {
            Event::Malformed(m) => m.error.as_str(),
            _ => "it is not a task event",
        };
        HandlerError::Permanent(format!("event {} ({}) has no valid task: {why}", e.event_id, e.event_type()))
    })
}

#[async_trait]
impl Consumer for RecurrenceConsumer {
    fn name(&self) -> &'static str {
        "recurrence"
    }

    fn wants(&self, event: &StoredEvent) -> bool {
        event.envelope.kind() == Some(EventType::TaskCompleted)
    }

    async fn handle(&self, tx: &mut WriteTx, event: &StoredEvent) -> Result<(), HandlerError> {
        let snapshot = task_of(event)?;
        if snapshot.recurrence.is_none() {
            return Ok(());
        }
        if tasks::find_next_occurrence(tx.conn(), snapshot.id).await?.is_some() {
            return Ok(());
        }
        let task = Task::try_from(snapshot).map_err(|e| HandlerError::Permanent(e.to_string()))?;
        let Some(next) = task.next_occurrence(ontask_app::now()) else {
            tracing::info!(task = %task.id, "recurring series ended");
            return Ok(());
        };
        let ctx = Context {
            correlation_id: event.envelope.metadata.correlation_id.clone(),
            causation_id: Some(event.envelope.event_id),
            traceparent: event.envelope.metadata.traceparent.clone(),
            actor: EventActor::Recurrence,
            conversation_id: None,
        };
        self.app.tasks().insert_in(tx, &ctx, &TaskSnapshot::from(&next)).await?;
        tracing::info!(previous = %task.id, next = %next.id, "created the next occurrence");
        Ok(())
    }
}
