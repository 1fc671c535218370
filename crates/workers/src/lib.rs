//! The background side of ontask: the relay that moves committed events from the
//! outbox to the bus, the consumers that react to them (recurrence, reminder
//! scheduling, notifications), the scheduler that fires due reminders, and the
//! housekeeping that deletes what has outlived its retention.
//!
//! Every loop takes a cancellation token and finishes the item in hand before it
//! stops. Consumers return an explicit [`Outcome`] for each event.
#![forbid(unsafe_code)]

mod consumer;
mod email;
mod housekeeping;
mod lag;
mod notifications;
mod outbox;
mod push;
mod recurrence;
mod redrive;
mod relay;
mod reminders;
mod scheduler;
mod trigger;
mod webhooks;

use std::sync::Arc;

pub use consumer::{Consumer, ConsumerRunner, HandlerError, Outcome, RetryPolicy};
pub use email::{EmailConsumer, Mailer};
pub use housekeeping::{Deleted, Housekeeping, Retention};
pub use lag::run_lag_monitor;
pub use notifications::NotificationConsumer;
use ontask_app::App;
use ontask_bus::EventBus;
pub use push::PushSender;
pub use recurrence::RecurrenceConsumer;
pub use redrive::{Redriven, consumer_named, redrive};
pub use relay::Relay;
pub use reminders::ReminderScheduleConsumer;
pub use scheduler::Scheduler;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
pub use trigger::{ReminderClock, ReminderTrigger, job_name};
pub use webhooks::{WebhookConsumer, WebhookDeliverer};

/// Which background loops a process runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct WorkerRoles {
    pub relay: bool,
    pub consumers: bool,
    pub scheduler: bool,
}

/// Starts the loops for the given roles on `tracker`; they stop when `cancel` fires.
pub fn spawn(app: &App, bus: Arc<dyn EventBus>, roles: WorkerRoles, cancel: &CancellationToken, tracker: &TaskTracker) {
    spawn_with_clock(app, bus, roles, ReminderClock::Poll, Retention::default(), cancel, tracker);
}

/// [`spawn`], with the given way of noticing due reminders and retention: with
/// an external clock the scheduler role runs no polling loop (the clock's
/// callbacks call [`Scheduler::fire_due`]), but still runs housekeeping.
pub fn spawn_with_clock(
    app: &App,
    bus: Arc<dyn EventBus>,
    roles: WorkerRoles,
    clock: ReminderClock,
    retention: Retention,
    cancel: &CancellationToken,
    tracker: &TaskTracker,
) {
    // Lets the reminder consumer wake the scheduler when the schedule changes
    // (in one process; across processes the scheduler's short poll covers it).
    let schedule_changed = Arc::new(Notify::new());
    // Consumers and the scheduler append events too (next occurrences,
    // `reminder.sent`, `reminder.due`) as they finish the work in hand. The
    // relay stops only after they have, so its final flush publishes those as well.
    let appenders = TaskTracker::new();
    let relay_cancel = CancellationToken::new();
    if roles.relay {
        let relay = Relay::new(app.db().clone(), bus.clone());
        tracker.spawn(relay.run(relay_cancel.clone()));
        tracker.spawn(run_lag_monitor(app.db().clone(), cancel.clone()));
    }
    if roles.consumers {
        // The notifications consumer queues push messages and wakes the sender.
        let push_queued = Arc::new(Notify::new());
        let mut consumers: Vec<Arc<dyn Consumer>> = vec![
            Arc::new(RecurrenceConsumer::new(app.clone())),
            Arc::new(ReminderScheduleConsumer::new(schedule_changed.clone()).with_trigger(clock.trigger())),
            Arc::new(
                NotificationConsumer::new(app.source().clone())
                    .with_push(app.outbound().vapid.is_some().then(|| push_queued.clone())),
            ),
        ];
        consumers.extend(spawn_outbound(app, push_queued, cancel, tracker));
        for consumer in consumers {
            let runner = ConsumerRunner::new(app.db().clone(), bus.clone(), consumer, RetryPolicy::default());
            appenders.spawn(runner.run(cancel.clone()));
        }
    }
    if roles.scheduler && matches!(clock, ReminderClock::Poll) {
        let scheduler = Scheduler::new(app.db().clone(), app.source().clone(), schedule_changed);
        appenders.spawn(scheduler.run(cancel.clone()));
    }
    if roles.scheduler {
        // Appends no events, so it need not finish before the relay's last flush.
        tracker.spawn(Housekeeping::new(app.db().clone(), retention).run(cancel.clone()));
    }
    appenders.close();
    let cancel = cancel.clone();
    tracker.spawn(async move {
        cancel.cancelled().await;
        appenders.wait().await;
        relay_cancel.cancel();
    });
}

/// Starts the webhook delivery loop and, with SMTP configured, the mailer,
/// and with push on, the push sender;
/// returns the consumers that feed them (the e-mail one runs idle without
/// SMTP). They append no events, so they stop with the other loops rather than
/// before the relay.
fn spawn_outbound(
    app: &App,
    push_queued: Arc<Notify>,
    cancel: &CancellationToken,
    tracker: &TaskTracker,
) -> Vec<Arc<dyn Consumer>> {
    let mut consumers: Vec<Arc<dyn Consumer>> = Vec::new();
    let wake = Arc::new(Notify::new());
    let deliverer = WebhookDeliverer::new(
        app.db().clone(),
        app.outbound().webhooks.clone(),
        app.sealer().clone(),
        app.breakers().clone(),
        wake.clone(),
    );
    match deliverer {
        Ok(deliverer) => {
            consumers.push(Arc::new(WebhookConsumer::new(wake)));
            tracker.spawn(deliverer.run(cancel.clone()));
        }
        Err(e) => {
            tracing::error!(error = %ontask_telemetry::error_chain(&e), "cannot build the webhook HTTP client; webhooks are not delivered")
        }
    }
    let wake = Arc::new(Notify::new());
    let smtp = &app.outbound().smtp;
    let mailer = smtp.relay().and_then(|_| match Mailer::new(app.db().clone(), smtp.clone(), app.breakers(), wake.clone()) {
        Ok(mailer) => Some(mailer),
        Err(e) => {
            tracing::error!(error = %ontask_telemetry::error_chain(&e), "cannot set up SMTP; reminder e-mails are not sent");
            None
        }
    });
    consumers.push(Arc::new(EmailConsumer::new(wake).enabled(mailer.is_some())));
    if let Some(mailer) = mailer {
        tracker.spawn(mailer.run(cancel.clone()));
    }
    // Push messages are queued by the notifications consumer, which wakes the
    // sender once they are committed.
    if let Some(vapid) = &app.outbound().vapid {
        match PushSender::new(app.db().clone(), app.outbound().push.clone(), vapid.clone(), push_queued) {
            Ok(sender) => {
                tracker.spawn(sender.run(cancel.clone()));
            }
            Err(e) => {
                tracing::error!(error = %ontask_telemetry::error_chain(&e), "push messages are not sent")
            }
        }
    }
    consumers
}

/// Exponential backoff with full jitter: a random delay in `[0, min(cap, base * 2^attempt)]`.
pub(crate) fn backoff(attempt: u32, base: std::time::Duration, cap: std::time::Duration) -> std::time::Duration {
    use rand::Rng;
    let exp = base.saturating_mul(2u32.saturating_pow(attempt.min(16)));
    let ceiling = exp.min(cap);
    let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX).max(1);
    std::time::Duration::from_millis(rand::thread_rng().gen_range(millis / 2..=millis))
}

/// An event's span for one hop (the relay sending it, a consumer acting on
/// it), in the trace of the request that wrote it.
pub(crate) fn message_span(
    bus: &dyn ontask_bus::EventBus,
    hop: ontask_telemetry::trace::MessageHop,
    event: &ontask_bus::StoredEvent,
    consumer: Option<&str>,
) -> tracing::Span {
    ontask_telemetry::trace::message_span(
        hop,
        ontask_telemetry::trace::Message {
            system: bus.kind(),
            destination: bus.destination(event),
            id: &event.envelope.event_id,
            traceparent: event.envelope.metadata.traceparent.as_deref(),
            consumer,
        },
    )
}
