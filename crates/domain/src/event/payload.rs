//! What each kind of event carries in its `data`: one type per event, written
//! and read as the version 1 JSON that the log, the bus and webhooks have
//! always carried.
use chrono::{DateTime, Utc};
use serde::de::{Deserialize, Deserializer};
use serde::{Serialize, Serializer};

use super::EventType;
use crate::{Notification, TaskId, TaskSnapshot};

/// `data` of `task.created`, `task.completed`, `task.reopened` and
/// `task.deleted`: the task as it is after the change (before it, for a delete).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskState {
    pub task: TaskSnapshot,
}

/// `data` of `task.updated`: the task after the change and which fields changed.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskUpdated {
    pub task: TaskSnapshot,
    pub changes: Vec<TaskField>,
}

/// A field of a task that a change can set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TaskField {
    Title,
    Description,
    Priority,
    Tags,
    Due,
    Reminders,
    Recurrence,
    Position,
}

impl TaskField {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Title => "title",
            Self::Description => "description",
            Self::Priority => "priority",
            Self::Tags => "tags",
            Self::Due => "due",
            Self::Reminders => "reminders",
            Self::Recurrence => "recurrence",
            Self::Position => "position",
        }
    }
}

/// `data` of `reminder.due`: a reminder of an open task has come due.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReminderDue {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
    pub task_id: TaskId,
    pub title: String,
    /// The task's due, as [`TaskSnapshot::due`] writes it.
    pub due: Option<String>,
    /// The instant the reminder was set for.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub fire_at: DateTime<Utc>,
}

/// `data` of `reminder.sent`: a reminder reached the person.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReminderSent {
    pub notification: Notification,
    pub channel: Channel,
}

/// Where a reminder was delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Channel {
    /// The person's in-app inbox (and any open page, live).
    InApp,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InApp => "in_app",
        }
    }
}

/// An event of a type this build does not know, written by a newer one: kept
/// exactly as it came, so it can be stored, relayed and skipped, never lost.
#[derive(Debug, Clone, PartialEq)]
pub struct OtherEvent {
    pub event_type: String,
    pub data: serde_json::Value,
}

/// An event of a known type whose data does not have that type's shape (a
/// bug, or a row changed by hand): kept as it came, with why it could not be
/// read, so its consumers can dead-letter it and a repair can redrive it.
#[derive(Debug, Clone, PartialEq)]
pub struct MalformedEvent {
    pub kind: EventType,
    pub data: serde_json::Value,
    pub error: String,
}

/// One change, as its `event_type` and `data` say it.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    TaskCreated(TaskState),
    TaskUpdated(TaskUpdated),
    TaskCompleted(TaskState),
    TaskReopened(TaskState),
    TaskDeleted(TaskState),
    ReminderDue(ReminderDue),
    ReminderSent(ReminderSent),
    Malformed(MalformedEvent),
    Other(OtherEvent),
}

impl Event {
    /// The kind, or `None` for a type this build does not know.
    pub fn kind(&self) -> Option<EventType> {
        Some(match self {
            Self::TaskCreated(_) => EventType::TaskCreated,
            Self::TaskUpdated(_) => EventType::TaskUpdated,
            Self::TaskCompleted(_) => EventType::TaskCompleted,
            Self::TaskReopened(_) => EventType::TaskReopened,
            Self::TaskDeleted(_) => EventType::TaskDeleted,
            Self::ReminderDue(_) => EventType::ReminderDue,
            Self::ReminderSent(_) => EventType::ReminderSent,
            Self::Malformed(m) => m.kind,
            Self::Other(_) => return None,
        })
    }

    /// The wire name: `event_type` in the envelope, the log and the bus.
    pub fn name(&self) -> &str {
        match self {
            Self::Other(other) => &other.event_type,
            known => known.kind().map_or("", EventType::as_str),
        }
    }

    /// The task a task event carries: its state after the change.
    pub fn task(&self) -> Option<&TaskSnapshot> {
        match self {
            Self::TaskCreated(s) | Self::TaskCompleted(s) | Self::TaskReopened(s) | Self::TaskDeleted(s) => {
                Some(&s.task)
            }
            Self::TaskUpdated(u) => Some(&u.task),
            Self::ReminderDue(_) | Self::ReminderSent(_) | Self::Malformed(_) | Self::Other(_) => None,
        }
    }

    /// The task the event is about: the envelope's `task_id`, the partition key.
    pub fn task_id(&self) -> Option<TaskId> {
        match self {
            Self::ReminderDue(r) => Some(r.task_id),
            Self::ReminderSent(r) => r.notification.task_id,
            Self::Malformed(_) | Self::Other(_) => None,
            task => task.task().map(|t| t.id),
        }
    }

    /// Reads `data` for an event of type `event_type`: a known type into its
    /// payload type (or [`Event::Malformed`] when the data has another shape),
    /// an unknown one as [`Event::Other`]. Fails only when `data` is not JSON.
    pub fn from_json(event_type: &str, data: &str) -> serde_json::Result<Self> {
        let Some(kind) = EventType::parse(event_type) else {
            return Ok(Self::Other(OtherEvent {
                event_type: event_type.to_owned(),
                data: serde_json::from_str(data)?,
            }));
        };
        let typed = {
            let mut de = serde_json::Deserializer::from_str(data);
            Self::typed(kind, &mut de).and_then(|event| de.end().map(|()| event))
        };
        typed.or_else(|error| {
            let data = serde_json::from_str(data)?;
            Ok(Self::Malformed(MalformedEvent { kind, data, error: error.to_string() }))
        })
    }

    /// [`Event::from_json`] for data already parsed.
    pub fn from_value(event_type: &str, data: serde_json::Value) -> Self {
        let Some(kind) = EventType::parse(event_type) else {
            return Self::Other(OtherEvent { event_type: event_type.to_owned(), data });
        };
        Self::typed(kind, &data)
            .unwrap_or_else(|error| Self::Malformed(MalformedEvent { kind, data, error: error.to_string() }))
    }

    fn typed<'de, D: Deserializer<'de>>(kind: EventType, data: D) -> Result<Self, D::Error> {
        Ok(match kind {
            EventType::TaskCreated => Self::TaskCreated(TaskState::deserialize(data)?),
            EventType::TaskUpdated => Self::TaskUpdated(TaskUpdated::deserialize(data)?),
            EventType::TaskCompleted => Self::TaskCompleted(TaskState::deserialize(data)?),
            EventType::TaskReopened => Self::TaskReopened(TaskState::deserialize(data)?),
            EventType::TaskDeleted => Self::TaskDeleted(TaskState::deserialize(data)?),
            EventType::ReminderDue => Self::ReminderDue(ReminderDue::deserialize(data)?),
            EventType::ReminderSent => Self::ReminderSent(ReminderSent::deserialize(data)?),
        })
    }

    /// `data` as JSON text.
    pub fn data_json(&self) -> serde_json::Result<String> {
        serde_json::to_string(&Data(self))
    }

    /// `data`, for [`Serialize`] implementations that write the envelope.
    pub(super) fn data(&self) -> impl Serialize + '_ {
        Data(self)
    }
}

/// Serialises an event's `data` alone.
struct Data<'a>(&'a Event);

impl Serialize for Data<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Event::TaskCreated(d) | Event::TaskCompleted(d) | Event::TaskReopened(d) | Event::TaskDeleted(d) => {
                d.serialize(s)
            }
            Event::TaskUpdated(d) => d.serialize(s),
            Event::ReminderDue(d) => d.serialize(s),
            Event::ReminderSent(d) => d.serialize(s),
            Event::Malformed(d) => d.data.serialize(s),
            Event::Other(d) => d.data.serialize(s),
        }
    }
}
