use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{TaskId, UserId};

/// The kinds of event ontask emits. The wire name (`task.created`) is what goes in
/// `event_type`; unknown names from newer writers are kept as plain strings by the
/// envelope, so old readers skip them instead of failing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    TaskCreated,
    TaskUpdated,
    TaskCompleted,
    TaskReopened,
    TaskDeleted,
    ReminderDue,
    ReminderSent,
}

impl EventType {
    pub const ALL: [EventType; 7] = [
        Self::TaskCreated,
        Self::TaskUpdated,
        Self::TaskCompleted,
        Self::TaskReopened,
        Self::TaskDeleted,
        Self::ReminderDue,
        Self::ReminderSent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::TaskCreated => "task.created",
            Self::TaskUpdated => "task.updated",
            Self::TaskCompleted => "task.completed",
            Self::TaskReopened => "task.reopened",
            Self::TaskDeleted => "task.deleted",
            Self::ReminderDue => "reminder.due",
            Self::ReminderSent => "reminder.sent",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Whether the event changes a task's state (and so takes part in replay).
    pub fn is_task_change(self) -> bool {
        !matches!(self, Self::ReminderDue | Self::ReminderSent)
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Tracing and provenance of an event (FR-020 `metadata`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventMetadata {
    /// Shared by every event caused, directly or not, by one request.
    pub correlation_id: String,
    /// The event that caused this one, if any (e.g. `task.completed` for the next
    /// occurrence of a recurring task).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<Uuid>,
    /// W3C trace context of the request that wrote the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    /// Who made the change: `user`, `agent`, `system:recurrence`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// For changes made in a chat with the agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
}

/// One event as written to the log and sent on the bus (ARCHITECTURE.md, FR-020).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventEnvelope {
    /// UUIDv7: unique, and ordered by creation time.
    pub event_id: Uuid,
    /// `task.created`, `task.updated`, ... (see [`EventType`]).
    pub event_type: String,
    pub event_version: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub timestamp: DateTime<Utc>,
    /// The role that wrote the event (`api`, `worker`, `scheduler`, ...).
    pub source: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
    pub user_id: UserId,
    /// The task the event is about; the partition key on the bus.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Uuid))]
    pub task_id: Option<TaskId>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub data: serde_json::Value,
    pub metadata: EventMetadata,
}

pub const EVENT_VERSION: &str = "1";

impl EventEnvelope {
    pub fn new(
        event_type: EventType,
        source: &str,
        user_id: UserId,
        task_id: Option<TaskId>,
        data: serde_json::Value,
        metadata: EventMetadata,
    ) -> Self {
        Self {
            event_id: Uuid::now_v7(),
            event_type: event_type.as_str().to_owned(),
            event_version: EVENT_VERSION.to_owned(),
            // Microseconds: what every store keeps.
            timestamp: Utc::now().trunc_subsecs(6),
            source: source.to_owned(),
            user_id,
            task_id,
            data,
            metadata,
        }
    }

    pub fn kind(&self) -> Option<EventType> {
        EventType::parse(&self.event_type)
    }
}

/// What changed in a task, for `task.updated` events.
pub type TaskChange = &'static str;
