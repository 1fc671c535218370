//! Another try for dead letters (`ontask dlq redrive`): the consumer that gave
//! up on an event handles it again, once the cause is fixed (a bug deployed
//! away, data repaired). Runs in any process with database access; it needs no
//! bus, because the event is read from the log.
use std::sync::Arc;

use ontask_app::App;
use ontask_store::events::{self, DeadLetter};
use tokio::sync::Notify;

use crate::consumer::{Consumer, HandlerError};
use crate::{EmailConsumer, NotificationConsumer, RecurrenceConsumer, ReminderScheduleConsumer, WebhookConsumer};

/// What became of one dead letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redriven {
    /// Handled this time; the dead letter is gone.
    Handled,
    /// Failed again; the dead letter stays with the new error.
    FailedAgain(String),
    /// Already redriven by someone else, or its consumer is unknown here.
    Skipped(String),
}

/// The consumer called `name`, as the worker role runs it.
pub fn consumer_named(app: &App, name: &str) -> Option<Arc<dyn Consumer>> {
    let consumer: Arc<dyn Consumer> = match name {
        "recurrence" => Arc::new(RecurrenceConsumer::new(app.clone())),
        // The scheduler (in the worker process) polls the schedule, so nobody
        // needs waking here.
        "reminders" => Arc::new(ReminderScheduleConsumer::new(Arc::new(Notify::new()))),
        "notifications" => Arc::new(NotificationConsumer::new(app.source().clone())),
        // These only enqueue deliveries; the worker's delivery loops pick them
        // up on their next poll.
        "webhooks" => Arc::new(WebhookConsumer::new(Arc::new(Notify::new()))),
        "email" => Arc::new(EmailConsumer::new(Arc::new(Notify::new()))),
        _ => return None,
    };
    Some(consumer)
}

/// Handles a dead-lettered event again with its consumer, in one transaction
/// with removing the dead letter (so it is handled once however often this runs).
#[tracing::instrument(skip_all, fields(consumer = %dead.consumer, event_id = %dead.event_id))]
pub async fn redrive(app: &App, dead: &DeadLetter) -> Result<Redriven, HandlerError> {
    let Some(consumer) = consumer_named(app, &dead.consumer) else {
        return Ok(Redriven::Skipped(format!("no consumer named {:?} in this build", dead.consumer)));
    };
    let event = {
        let mut conn = app.db().read().await?;
        events::by_event_id(&mut conn, dead.event_id).await?
    };
    let Some(event) = event else {
        return Ok(Redriven::Skipped("the event is no longer in the log".into()));
    };
    let mut tx = app.db().begin().await?;
    if !events::take_dead_letter(&mut tx, dead).await? {
        return Ok(Redriven::Skipped("already redriven".into()));
    }
    events::inbox_claim(&mut tx, &dead.consumer, event.envelope.event_id, ontask_app::now()).await?;
    match consumer.handle(&mut tx, &event).await {
        Ok(()) => {
            tx.commit().await?;
            consumer.committed();
            Ok(Redriven::Handled)
        }
        Err(e) => {
            drop(tx);
            let error = e.to_string();
            let mut tx = app.db().begin().await?;
            events::dead_letter_failed_again(&mut tx, dead.id, &error).await?;
            tx.commit().await?;
            Ok(Redriven::FailedAgain(error))
        }
    }
}
