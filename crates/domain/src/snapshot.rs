use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    Description, Due, Priority, ProjectId, Recurrence, Reminder, RepeatFrom, SectionId, Status, Tags, Task, TaskId,
    Title, UserId, ValidationErrors,
};

/// A task in plain, serialisable form: the REST representation, the `data.task` of
/// task events, and what the store returns for reads. Converting back to a
/// [`Task`] parses every field again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskSnapshot {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
    pub id: TaskId,
    /// Who created the task.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
    pub owner_id: UserId,
    /// The project the task is in. Absent only in events written before
    /// projects existed (version 1 events of 2026-11); every stored task has one.
    /// (These four are left out when empty, as events before them were.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Uuid))]
    pub project_id: Option<ProjectId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Uuid))]
    pub section_id: Option<SectionId>,
    /// The task this one is a subtask of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Uuid))]
    pub parent_id: Option<TaskId>,
    /// The member the task is assigned to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Uuid))]
    pub assignee_id: Option<UserId>,
    pub title: String,
    /// Markdown.
    pub description: String,
    pub status: Status,
    #[serde(serialize_with = "crate::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub completed_at: Option<DateTime<Utc>>,
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "high"))]
    pub priority: Priority,
    pub tags: Vec<String>,
    /// `2026-11-24`, `2026-11-24T09:00:00Z` or `2026-11-24T09:00:00+01:00[Europe/Berlin]`.
    pub due: Option<String>,
    /// The instant the due stands for (end of day for a whole-day due).
    #[serde(serialize_with = "crate::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub due_at: Option<DateTime<Utc>>,
    /// Instants (RFC 3339) or ISO 8601 durations before due (`PT15M`).
    pub reminders: Vec<String>,
    /// RFC 5545 RRULE, e.g. `FREQ=WEEKLY;BYDAY=MO`.
    pub recurrence: Option<String>,
    /// What the next occurrence counts from: `due` (a fixed schedule, the
    /// default; left out) or `completion`.
    #[serde(default, skip_serializing_if = "RepeatFrom::is_due")]
    pub repeat_from: RepeatFrom,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurrence_anchor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Uuid))]
    pub recurs_from: Option<TaskId>,
    pub position: i64,
    pub version: i64,
    #[serde(serialize_with = "crate::rfc3339::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::rfc3339::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: DateTime<Utc>,
}

impl From<&Task> for TaskSnapshot {
    fn from(t: &Task) -> Self {
        Self {
            id: t.id,
            owner_id: t.owner,
            project_id: Some(t.project_id),
            section_id: t.section_id,
            parent_id: t.parent_id,
            assignee_id: t.assignee_id,
            title: t.title.as_str().to_owned(),
            description: t.description.as_str().to_owned(),
            status: t.status,
            completed_at: t.completed_at,
            priority: t.priority,
            tags: t.tags.to_strings(),
            due: t.due.map(|d| d.to_string()),
            due_at: t.due.map(|d| d.instant()),
            reminders: t.reminders.iter().map(ToString::to_string).collect(),
            recurrence: t.recurrence.as_ref().map(ToString::to_string),
            repeat_from: t.recurrence.as_ref().map(Recurrence::repeat_from).unwrap_or_default(),
            recurrence_anchor: t.recurrence_anchor.map(|d| d.to_string()),
            recurs_from: t.recurs_from,
            position: t.position,
            version: t.version,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

impl TryFrom<&TaskSnapshot> for Task {
    type Error = ValidationErrors;

    fn try_from(s: &TaskSnapshot) -> Result<Self, Self::Error> {
        let mut errors = ValidationErrors::new();
        let title = errors.check("title", Title::parse(&s.title));
        let description = errors.check("description", Description::parse(&s.description));
        let tags = errors.check("tags", Tags::parse(&s.tags));
        let due = s.due.as_deref().map(|d| errors.check("due", Due::parse(d)));
        let anchor = s.recurrence_anchor.as_deref().map(|d| errors.check("recurrence_anchor", Due::parse(d)));
        let recurrence = s
            .recurrence
            .as_deref()
            .map(|r| errors.check("recurrence", Recurrence::parse(r).and_then(|r| r.repeating_from(s.repeat_from))));
        let reminders: Vec<_> = s.reminders.iter().map(|r| errors.check("reminders", Reminder::parse(r))).collect();
        if s.project_id.is_none() {
            errors.push("project_id", "is required");
        }
        let (Some(title), Some(description), Some(tags), Some(project_id)) = (title, description, tags, s.project_id)
        else {
            return Err(errors);
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Task {
            id: s.id,
            owner: s.owner_id,
            project_id,
            section_id: s.section_id,
            parent_id: s.parent_id,
            assignee_id: s.assignee_id,
            title,
            description,
            status: s.status,
            completed_at: s.completed_at,
            priority: s.priority,
            tags,
            due: due.flatten(),
            reminders: reminders.into_iter().flatten().collect(),
            recurrence: recurrence.flatten(),
            recurrence_anchor: anchor.flatten(),
            recurs_from: s.recurs_from,
            position: s.position,
            version: s.version,
            created_at: s.created_at,
            updated_at: s.updated_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TaskDraft;

    #[test]
    fn snapshot_round_trips() {
        let draft = TaskDraft {
            title: Some(Title::parse("Pay rent").unwrap()),
            description: Description::parse("**now**").unwrap(),
            priority: Priority::High,
            tags: Tags::parse(&["home"]).unwrap(),
            due: Some(Due::parse("2026-12-01T09:00[Europe/Berlin]").unwrap()),
            reminders: vec![Reminder::parse("P1D").unwrap()],
            recurrence: Some(Recurrence::parse("FREQ=MONTHLY").unwrap()),
            ..Default::default()
        };
        let at = crate::Placement { project_id: ProjectId::new(), section_id: Some(SectionId::new()), parent_id: None };
        let task = Task::create(UserId::new(), at, draft, Utc::now()).unwrap();
        let snap = TaskSnapshot::from(&task);
        let json = serde_json::to_string(&snap).unwrap();
        let back: TaskSnapshot = serde_json::from_str(&json).unwrap();
        assert_eq!(Task::try_from(&back).unwrap(), task);
    }
}
