//! How due reminders get noticed: the scheduler's own polling loop, or an
//! outside clock (the Dapr Jobs API) that is told each instant and calls back.
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ontask_bus::DaprBus;
use serde_json::json;

/// An outside clock for reminders. When it calls back, the caller runs
/// [`crate::Scheduler::fire_due`], whose conditional claim fires each reminder
/// once however many callbacks arrive.
#[async_trait]
pub trait ReminderTrigger: Send + Sync + 'static {
    /// Asks for a call back at `at`. Called after the schedule change committed.
    async fn due_at(&self, at: DateTime<Utc>) -> Result<(), String>;
}

/// What drives the firing of reminders in this process.
#[derive(Clone, Default)]
pub enum ReminderClock {
    /// The scheduler role polls the schedule, woken early by changes made in
    /// this process.
    #[default]
    Poll,
    /// Reminder instants go to an outside clock, which calls back; no process
    /// polls (a periodic scan, e.g. a cron binding, is the safety net).
    External(Arc<dyn ReminderTrigger>),
}

impl ReminderClock {
    pub fn trigger(&self) -> Option<Arc<dyn ReminderTrigger>> {
        match self {
            Self::Poll => None,
            Self::External(t) => Some(t.clone()),
        }
    }
}

/// Job names are per instant: reminders due at the same moment share a job, and
/// rescheduling an unchanged reminder replaces its job instead of adding one.
pub fn job_name(at: DateTime<Utc>) -> String {
    format!("ontask-reminders-{}", at.timestamp_millis())
}

#[async_trait]
impl ReminderTrigger for DaprBus {
    async fn due_at(&self, at: DateTime<Utc>) -> Result<(), String> {
        // A reminder already due (the consumer lagged) still gets a callback soon.
        let due = at.max(Utc::now() + chrono::Duration::seconds(1));
        self.schedule_job(&job_name(at), due, json!({ "fire_at": at })).await.map_err(|e| e.to_string())
    }
}
