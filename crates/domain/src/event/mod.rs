//! Events: every change ontask makes, as it is written to the log, sent on
//! the bus and delivered to webhooks.
use chrono::{DateTime, SubsecRound, Utc};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use crate::{ProjectId, TaskId, UserId};

mod actor;
mod payload;

pub use actor::EventActor;
pub use payload::{
    Channel, CommentState, Event, EventType, ImportProgressed, ImportStatus, MalformedEvent, MemberChange, OtherEvent,
    ProjectState, ReminderDue, ReminderSent, SectionState, TaskAssigned, TaskField, TaskMoved, TaskPlace, TaskState,
    TaskUpdated,
};

impl EventType {
    /// Whether the event changes a task's state (and so takes part in replay).
    pub fn is_task_change(self) -> bool {
        matches!(
            self,
            Self::TaskCreated
                | Self::TaskUpdated
                | Self::TaskCompleted
                | Self::TaskReopened
                | Self::TaskDeleted
                | Self::TaskMoved
                | Self::TaskAssigned
        )
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
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
    /// Who made the change: `user`, `api-token`, `agent`, `system:recurrence`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub actor: Option<EventActor>,
    /// For changes made in a chat with the agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
}

/// One event as written to the log and sent on the bus (docs/events/README.md, FR-020).
///
/// On the wire `event` is two fields, `event_type` and `data`, in the order
/// the envelope has always had them.
#[derive(Debug, Clone, PartialEq)]
pub struct EventEnvelope {
    /// UUIDv7: unique, and ordered by creation time.
    pub event_id: Uuid,
    pub event_version: String,
    pub timestamp: DateTime<Utc>,
    /// The role that wrote the event (`api`, `worker`, `scheduler`, ...).
    pub source: String,
    pub user_id: UserId,
    /// The task the event is about; the partition key on the bus.
    pub task_id: Option<TaskId>,
    /// The project the event is about: its members see it.
    pub project_id: Option<ProjectId>,
    pub event: Event,
    pub metadata: EventMetadata,
}

pub const EVENT_VERSION: &str = "1";

impl EventEnvelope {
    /// A new event about `event`'s task (if it has one), by `user_id`.
    pub fn new(event: Event, source: &str, user_id: UserId, metadata: EventMetadata) -> Self {
        Self {
            event_id: Uuid::now_v7(),
            event_version: EVENT_VERSION.to_owned(),
            // Microseconds: what every store keeps.
            timestamp: Utc::now().trunc_subsecs(6),
            source: source.to_owned(),
            user_id,
            task_id: event.task_id(),
            project_id: event.project_id(),
            event,
            metadata,
        }
    }

    /// Names the project of an event whose data does not (a reminder's).
    pub fn in_project(mut self, project_id: Option<ProjectId>) -> Self {
        self.project_id = self.project_id.or(project_id);
        self
    }

    /// `task.created`, `task.updated`, ...: the `event_type` on the wire.
    pub fn event_type(&self) -> &str {
        self.event.name()
    }

    pub fn kind(&self) -> Option<EventType> {
        self.event.kind()
    }
}

impl Serialize for EventEnvelope {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = s.serialize_struct("EventEnvelope", 9 + usize::from(self.project_id.is_some()))?;
        out.serialize_field("event_id", &self.event_id)?;
        out.serialize_field("event_type", self.event.name())?;
        out.serialize_field("event_version", &self.event_version)?;
        out.serialize_field("timestamp", &self.timestamp)?;
        out.serialize_field("source", &self.source)?;
        out.serialize_field("user_id", &self.user_id)?;
        out.serialize_field("task_id", &self.task_id)?;
        if let Some(project) = &self.project_id {
            out.serialize_field("project_id", project)?;
        }
        out.serialize_field("data", &self.event.data())?;
        out.serialize_field("metadata", &self.metadata)?;
        out.end()
    }
}

/// The envelope as it is on the wire. Also what the OpenAPI document shows.
#[derive(Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = EventEnvelope))]
struct WireEnvelope {
    /// UUIDv7: unique, and ordered by creation time.
    event_id: Uuid,
    /// `task.created`, `task.updated`, ... (see the AsyncAPI document, `/asyncapi.json`).
    event_type: String,
    event_version: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    timestamp: DateTime<Utc>,
    /// The role that wrote the event (`api`, `worker`, `scheduler`, ...).
    source: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
    user_id: UserId,
    /// The task the event is about; the partition key on the bus.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Uuid))]
    task_id: Option<TaskId>,
    /// The project the event is about (absent for events about no project,
    /// and in events written before projects existed).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Uuid))]
    project_id: Option<ProjectId>,
    /// The event's payload; its shape depends on `event_type`.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    data: serde_json::Value,
    metadata: EventMetadata,
}

impl<'de> Deserialize<'de> for EventEnvelope {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let wire = WireEnvelope::deserialize(d)?;
        let event = Event::from_value(&wire.event_type, wire.data);
        Ok(Self {
            event_id: wire.event_id,
            event_version: wire.event_version,
            timestamp: wire.timestamp,
            source: wire.source,
            user_id: wire.user_id,
            task_id: wire.task_id,
            project_id: wire.project_id,
            event,
            metadata: wire.metadata,
        })
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for EventEnvelope {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        WireEnvelope::schema()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for EventEnvelope {
    fn schemas(schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>) {
        WireEnvelope::schemas(schemas);
    }
}
