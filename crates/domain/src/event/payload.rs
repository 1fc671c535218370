//! What each kind of event carries in its `data`: one type per event, written
//! and read as the version 1 JSON that the log, the bus and webhooks have
//! always carried.
use chrono::{DateTime, Utc};
use serde::de::{Deserialize, Deserializer};
use serde::{Serialize, Serializer};

use crate::{
    Comment, ImportJobId, Member, Notification, Project, ProjectId, ProjectRole, Section, SectionId, TaskId,
    TaskSnapshot, UserId,
};

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

/// `data` of `task.moved`: the task in its new place (a move of a parent moves
/// its subtasks with it, one event each), and where it was.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskMoved {
    pub task: TaskSnapshot,
    pub from: TaskPlace,
}

/// Where a task was: its project, section and parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskPlace {
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Uuid))]
    pub project_id: Option<ProjectId>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Uuid))]
    pub section_id: Option<SectionId>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Uuid))]
    pub parent_id: Option<TaskId>,
}

impl From<&TaskSnapshot> for TaskPlace {
    fn from(t: &TaskSnapshot) -> Self {
        Self { project_id: t.project_id, section_id: t.section_id, parent_id: t.parent_id }
    }
}

impl From<crate::Placement> for TaskPlace {
    fn from(p: crate::Placement) -> Self {
        Self { project_id: Some(p.project_id), section_id: p.section_id, parent_id: p.parent_id }
    }
}

/// `data` of `task.assigned`: the task with its new assignee (none when it
/// was unassigned), and who had it before.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskAssigned {
    pub task: TaskSnapshot,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Uuid))]
    pub previous_assignee_id: Option<UserId>,
}

/// `data` of `project.created`, `project.updated`, `project.archived`,
/// `project.unarchived` and `project.deleted`: the project after the change
/// (before it, for a delete).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProjectState {
    pub project: Project,
}

/// `data` of `section.created`, `section.updated` and `section.deleted`.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SectionState {
    pub section: Section,
}

/// `data` of `member.added`, `member.role_changed` and `member.removed`: the
/// membership after the change (before it, for a removal), and the role it had.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemberChange {
    pub member: Member,
    pub previous_role: Option<ProjectRole>,
}

/// `data` of `comment.added`, `comment.edited` and `comment.deleted`: the
/// comment after the change (before it, for a delete).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CommentState {
    pub comment: Comment,
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

/// `data` of `import.progressed`: how far an import job has come, at most
/// twice a second while it runs, and once when it ends; on the importing
/// person's realtime stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportProgressed {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
    pub job_id: ImportJobId,
    pub status: ImportStatus,
    /// Items (projects, sections, tasks, comments) looked at so far.
    pub done: u64,
    pub total: u64,
}

/// Where an import job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ImportStatus {
    Running,
    /// Over; its report says what was created and what was not.
    Done,
    /// Stopped by an error, which the job's report gives.
    Failed,
}

impl ImportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "running" => Some(Self::Running),
            "done" => Some(Self::Done),
            "failed" => Some(Self::Failed),
            _ => None,
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

/// Declares every kind of event once: its variant of [`EventType`] and of
/// [`Event`], the type of its `data`, and its wire name. Reading, writing
/// and naming events all come from this list.
macro_rules! event_kinds {
    ($($(#[$doc:meta])* $variant:ident($payload:ty) => $name:literal,)*) => {
        /// The kinds of event ontask emits. The wire name (`task.created`) is
        /// what goes in `event_type`; an event of a name this build does not
        /// know (from a newer writer) is kept as [`Event::Other`], so old
        /// readers skip it instead of failing.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum EventType {
            $($(#[$doc])* $variant,)*
        }

        impl EventType {
            pub const ALL: [EventType; [$($name),*].len()] = [$(Self::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }
        }

        /// One change, as its `event_type` and `data` say it.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Event {
            $($(#[$doc])* $variant($payload),)*
            Malformed(MalformedEvent),
            Other(OtherEvent),
        }

        impl Event {
            /// The kind, or `None` for a type this build does not know.
            pub fn kind(&self) -> Option<EventType> {
                Some(match self {
                    $(Self::$variant(_) => EventType::$variant,)*
                    Self::Malformed(m) => m.kind,
                    Self::Other(_) => return None,
                })
            }

            fn typed<'de, D: Deserializer<'de>>(kind: EventType, data: D) -> Result<Self, D::Error> {
                Ok(match kind {
                    $(EventType::$variant => Self::$variant(<$payload>::deserialize(data)?),)*
                })
            }
        }

        impl Serialize for Data<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self.0 {
                    $(Event::$variant(d) => d.serialize(s),)*
                    Event::Malformed(d) => d.data.serialize(s),
                    Event::Other(d) => d.data.serialize(s),
                }
            }
        }
    };
}

event_kinds! {
    TaskCreated(TaskState) => "task.created",
    TaskUpdated(TaskUpdated) => "task.updated",
    TaskCompleted(TaskState) => "task.completed",
    TaskReopened(TaskState) => "task.reopened",
    TaskDeleted(TaskState) => "task.deleted",
    TaskMoved(TaskMoved) => "task.moved",
    TaskAssigned(TaskAssigned) => "task.assigned",
    ReminderDue(ReminderDue) => "reminder.due",
    ReminderSent(ReminderSent) => "reminder.sent",
    ProjectCreated(ProjectState) => "project.created",
    ProjectUpdated(ProjectState) => "project.updated",
    ProjectArchived(ProjectState) => "project.archived",
    ProjectUnarchived(ProjectState) => "project.unarchived",
    ProjectDeleted(ProjectState) => "project.deleted",
    SectionCreated(SectionState) => "section.created",
    SectionUpdated(SectionState) => "section.updated",
    SectionDeleted(SectionState) => "section.deleted",
    MemberAdded(MemberChange) => "member.added",
    MemberRoleChanged(MemberChange) => "member.role_changed",
    MemberRemoved(MemberChange) => "member.removed",
    CommentAdded(CommentState) => "comment.added",
    CommentEdited(CommentState) => "comment.edited",
    CommentDeleted(CommentState) => "comment.deleted",
    ImportProgressed(ImportProgressed) => "import.progressed",
}

impl Event {
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
            Self::TaskMoved(m) => Some(&m.task),
            Self::TaskAssigned(a) => Some(&a.task),
            _ => None,
        }
    }

    /// The project the event is about, when its data names one. (A reminder's
    /// writer names its task's project on the envelope itself.)
    pub fn project_id(&self) -> Option<ProjectId> {
        match self {
            Self::ProjectCreated(p)
            | Self::ProjectUpdated(p)
            | Self::ProjectArchived(p)
            | Self::ProjectUnarchived(p)
            | Self::ProjectDeleted(p) => Some(p.project.id),
            Self::SectionCreated(s) | Self::SectionUpdated(s) | Self::SectionDeleted(s) => Some(s.section.project_id),
            Self::MemberAdded(m) | Self::MemberRoleChanged(m) | Self::MemberRemoved(m) => Some(m.member.project_id),
            Self::CommentAdded(c) | Self::CommentEdited(c) | Self::CommentDeleted(c) => Some(c.comment.project_id),
            task => task.task().and_then(|t| t.project_id),
        }
    }

    /// The task the event is about: the envelope's `task_id`, the partition key.
    pub fn task_id(&self) -> Option<TaskId> {
        match self {
            Self::ReminderDue(r) => Some(r.task_id),
            Self::ReminderSent(r) => r.notification.task_id,
            Self::CommentAdded(c) | Self::CommentEdited(c) | Self::CommentDeleted(c) => Some(c.comment.task_id),
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
