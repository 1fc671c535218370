use std::sync::Arc;
use std::time::Duration;

use ontask_domain::{Event, EventActor, EventEnvelope, EventMetadata, ReminderDue};
use ontask_store::{Db, StoreError, events, reminders, tasks};
use ontask_telemetry::metrics as m;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The longest the scheduler sleeps without looking at the schedule, so that a
/// change made by another process is picked up promptly.
const MAX_SLEEP: Duration = Duration::from_secs(1);

/// Fires `reminder.due` when a reminder's instant arrives, including reminders
/// whose instant passed while no scheduler ran. Several schedulers may run: the
/// conditional claim lets exactly one of them fire each reminder.
pub struct Scheduler {
    db: Db,
    source: Arc<str>,
    wake: Arc<Notify>,
}

impl Scheduler {
    pub fn new(db: Db, source: Arc<str>, wake: Arc<Notify>) -> Self {
        Self { db, source, wake }
    }

    pub async fn run(self, cancel: CancellationToken) {
        tracing::info!("scheduler started");
        loop {
            let sleep = match self.fire_due().await {
                Ok(next) => next,
                Err(e) => {
                    tracing::warn!(error = %ontask_telemetry::error_chain(&e), "firing reminders failed; retrying");
                    MAX_SLEEP
                }
            };
            tokio::select! {
                () = cancel.cancelled() => break,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(sleep) => {}
            }
        }
        tracing::info!("scheduler stopped");
    }

    /// Fires every due reminder; returns how long to sleep until the next one.
    pub async fn fire_due(&self) -> Result<Duration, StoreError> {
        loop {
            let now = ontask_app::now();
            let due = {
                let mut conn = self.db.read().await?;
                reminders::due(&mut conn, now, 100).await?
            };
            for reminder in &due {
                self.fire(reminder).await?;
            }
            if due.len() < 100 {
                break;
            }
        }
        let mut conn = self.db.read().await?;
        let next = reminders::next_fire_at(&mut conn).await?;
        let now = ontask_app::now();
        Ok(match next {
            Some(at) if at > now => (at - now).to_std().unwrap_or(MAX_SLEEP).min(MAX_SLEEP),
            Some(_) => Duration::ZERO,
            None => MAX_SLEEP,
        })
    }

    #[tracing::instrument(skip_all, fields(task = %reminder.task_id))]
    async fn fire(&self, reminder: &reminders::PendingReminder) -> Result<(), StoreError> {
        let now = ontask_app::now();
        let mut tx = self.db.begin().await?;
        if !reminders::claim(&mut tx, reminder, now).await? {
            return Ok(());
        }
        let task = tasks::get(tx.conn(), reminder.task_id).await?;
        if let Some(task) = task.filter(|t| t.status == ontask_domain::Status::Open) {
            let due = ReminderDue { task_id: task.id, title: task.title, due: task.due, fire_at: reminder.fire_at };
            let event = EventEnvelope::new(
                Event::ReminderDue(due),
                &self.source,
                // In a shared project the reminder is the assignee's.
                task.assignee_id.unwrap_or(task.owner_id),
                EventMetadata {
                    correlation_id: uuid::Uuid::now_v7().to_string(),
                    actor: Some(EventActor::Scheduler),
                    ..Default::default()
                },
            )
            .in_project(task.project_id);
            events::append(&mut tx, &event).await?;
            metrics::counter!(m::REMINDERS_FIRED_TOTAL).increment(1);
            tracing::info!(late_ms = (now - reminder.fire_at).num_milliseconds(), "reminder fired");
        }
        tx.commit().await?;
        Ok(())
    }
}
