//! Input as clients send it (plain strings), and its parsing into domain values
//! with every field's error collected.
use ontask_domain::quick::QuickTask;
use ontask_domain::{
    Description, Due, Priority, ProjectId, Recurrence, Reminder, RepeatFrom, SectionId, Tags, TaskDraft, TaskId,
    TaskPatch, Title, UserId, ValidationErrors,
};
use serde::{Deserialize, Deserializer};

/// A new task.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskInput {
    /// 1 to 500 characters on one line, not all blank. Read as optional so
    /// that a missing title is a 422 naming it.
    #[cfg_attr(feature = "openapi", schema(example = "Pay rent", value_type = String, required = true,
        min_length = 1, max_length = 500, pattern = r"^\s*[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*\s*$"))]
    pub title: Option<String>,
    /// Markdown, up to 20,000 characters.
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 20000, pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$")
    )]
    pub description: Option<String>,
    /// none, low, medium, high or urgent.
    #[cfg_attr(feature = "openapi", schema(example = "high", value_type = Option<ontask_domain::Priority>))]
    pub priority: Option<String>,
    #[cfg_attr(feature = "openapi", schema(example = json!(["home"])))]
    pub tags: Option<Vec<String>>,
    /// `2026-11-24`, `2026-11-24T09:00:00Z` or `2026-11-24T09:00[Europe/Berlin]`.
    #[cfg_attr(feature = "openapi", schema(example = "2026-12-01T09:00[Europe/Berlin]"))]
    pub due: Option<String>,
    /// RFC 3339 instants or ISO 8601 durations before due (`PT15M`).
    #[cfg_attr(feature = "openapi", schema(example = json!(["P1D"])))]
    pub reminders: Option<Vec<String>>,
    /// An RFC 5545 RRULE.
    #[cfg_attr(feature = "openapi", schema(example = "FREQ=MONTHLY"))]
    pub recurrence: Option<String>,
    /// What the next occurrence counts from: `due` (a fixed schedule, the
    /// default) or `completion` (from the day it is done; no COUNT then).
    #[cfg_attr(feature = "openapi", schema(example = "completion", value_type = Option<ontask_domain::RepeatFrom>))]
    pub repeat_from: Option<String>,
    #[serde(default, deserialize_with = "whole")]
    pub position: Option<i64>,
    /// The project to create the task in; the Inbox when left out.
    #[cfg_attr(feature = "openapi", schema(format = Uuid))]
    pub project_id: Option<String>,
    /// A section of that project.
    #[cfg_attr(feature = "openapi", schema(format = Uuid))]
    pub section_id: Option<String>,
    /// Makes the task a subtask of this one (in the same project; at most 4 levels deep).
    #[cfg_attr(feature = "openapi", schema(format = Uuid))]
    pub parent_id: Option<String>,
    /// A member of the project.
    #[cfg_attr(feature = "openapi", schema(format = Uuid))]
    pub assignee_id: Option<String>,
}

/// A partial update (JSON merge patch): absent fields stay, `null` clears.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskPatchInput {
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = false,
        min_length = 1, max_length = 500, pattern = r"^\s*[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*\s*$"))]
    pub title: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, max_length = 20000, pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"))]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<ontask_domain::Priority>))]
    pub priority: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<String>>))]
    pub tags: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub due: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<String>>))]
    pub reminders: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub recurrence: Option<Option<String>>,
    /// `due` or `completion`; a new `recurrence` alone keeps the task's.
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<ontask_domain::RepeatFrom>))]
    pub repeat_from: Option<Option<String>>,
    #[serde(default, deserialize_with = "present_whole")]
    #[cfg_attr(feature = "openapi", schema(value_type = i64, required = false))]
    pub position: Option<Option<i64>>,
    /// Moves the task, with its subtasks, to another project (at its top, in no
    /// section, unless `section_id` names one of the new project's sections).
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid, required = false))]
    pub project_id: Option<Option<String>>,
    /// `null` takes the task out of its section.
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Uuid))]
    pub section_id: Option<Option<String>>,
    /// `null` makes a subtask a top-level task.
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Uuid))]
    pub parent_id: Option<Option<String>>,
    /// `null` unassigns the task.
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Uuid))]
    pub assignee_id: Option<Option<String>>,
}

/// Parses an id a client sent; `field` names it in the error.
fn parse_id<T>(e: &mut ValidationErrors, field: &str, raw: &str, from: fn(uuid::Uuid) -> T) -> Option<T> {
    e.check(field, uuid::Uuid::parse_str(raw.trim()).map_err(|_| "is not a valid id (a UUID)")).map(from)
}

/// An optional whole number, written `3` or `3.0`: JSON Schema counts both
/// as an integer (and clients in JavaScript may send either), while serde's
/// `i64` would refuse the second. Use with `#[serde(default, deserialize_with = ...)]`.
pub fn whole<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let Some(number) = Option::<serde_json::Number>::deserialize(d)? else { return Ok(None) };
    if let Some(n) = number.as_i64() {
        return Ok(Some(n));
    }
    // Past 2^53 a float is not exact: an integer outside i64 (read as a
    // float) could round into its range, so only the exact ones are read.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    match number.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() <= EXACT => Ok(Some(f as i64)),
        _ => Err(serde::de::Error::custom(format!("expected a whole number from -2^63 to 2^63-1, got {number}"))),
    }
}

/// [`whole`] for a merge-patch field, where `null` (`Some(None)`) differs from left out.
fn present_whole<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    whole(d).map(Some)
}

/// A field that may be left out (`None`) but not sent as `null`: the schema
/// says it is not nullable, and `null` is refused (422) rather than read as absent.
pub(crate) fn non_null<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// Distinguishes a field sent as `null` (`Some(None)`) from one left out (`None`).
pub(crate) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

fn parse_reminders(errors: &mut ValidationErrors, raw: &[String]) -> Option<Vec<Reminder>> {
    let mut out = Vec::with_capacity(raw.len());
    for (i, r) in raw.iter().enumerate() {
        out.push(errors.check(&format!("reminders[{i}]"), Reminder::parse(r))?);
    }
    Some(out)
}

impl TaskInput {
    pub fn parse(self) -> Result<TaskDraft, ValidationErrors> {
        let mut e = ValidationErrors::new();
        let title = match self.title.as_deref() {
            Some(t) => e.check("title", Title::parse(t)),
            None => {
                e.push("title", "is required");
                None
            }
        };
        let description = self.description.as_deref().map(|d| e.check("description", Description::parse(d)));
        let priority = self.priority.as_deref().map(|p| e.check("priority", Priority::parse(p)));
        let tags = self.tags.as_deref().map(|t| e.check("tags", Tags::parse(t)));
        let due = self.due.as_deref().map(|d| e.check("due", Due::parse(d)));
        let reminders = self.reminders.as_deref().map(|r| parse_reminders(&mut e, r));
        let recurrence = self.recurrence.as_deref().map(|r| e.check("recurrence", Recurrence::parse(r)));
        let repeat_from = self.repeat_from.as_deref().and_then(|f| e.check("repeat_from", RepeatFrom::parse(f)));
        let recurrence = match (recurrence.flatten(), repeat_from) {
            (Some(rule), Some(from)) => e.check("recurrence", rule.repeating_from(from)),
            (None, Some(RepeatFrom::Completion)) if self.recurrence.is_none() => {
                e.push("repeat_from", "needs a recurrence");
                None
            }
            (rule, _) => rule,
        };
        let project =
            self.project_id.as_deref().and_then(|id| parse_id(&mut e, "project_id", id, ProjectId::from_uuid));
        let section =
            self.section_id.as_deref().and_then(|id| parse_id(&mut e, "section_id", id, SectionId::from_uuid));
        let parent = self.parent_id.as_deref().and_then(|id| parse_id(&mut e, "parent_id", id, TaskId::from_uuid));
        let assignee =
            self.assignee_id.as_deref().and_then(|id| parse_id(&mut e, "assignee_id", id, UserId::from_uuid));
        e.into_result()?;
        Ok(TaskDraft {
            title,
            description: description.flatten().unwrap_or_default(),
            priority: priority.flatten().unwrap_or_default(),
            tags: tags.flatten().unwrap_or_default(),
            due: due.flatten(),
            reminders: reminders.flatten().unwrap_or_default(),
            recurrence,
            position: self.position,
            project,
            section,
            parent,
            assignee,
        })
    }
}

/// The create request a line of quick-add text stands for; parsing it
/// validates every field as for any other create.
impl From<&QuickTask> for TaskInput {
    fn from(q: &QuickTask) -> Self {
        TaskInput {
            title: Some(q.title.clone()),
            priority: q.priority.clone(),
            tags: (!q.tags.is_empty()).then(|| q.tags.clone()),
            due: q.due.clone(),
            reminders: (!q.reminders.is_empty()).then(|| q.reminders.clone()),
            recurrence: q.recurrence.clone(),
            repeat_from: q.repeat_from.map(|f| f.as_str().to_owned()),
            ..TaskInput::default()
        }
    }
}

impl TaskPatchInput {
    pub fn parse(self) -> Result<TaskPatch, ValidationErrors> {
        let mut e = ValidationErrors::new();
        let title = match self.title {
            Some(Some(t)) => e.check("title", Title::parse(&t)),
            Some(None) => {
                e.push("title", "cannot be removed");
                None
            }
            None => None,
        };
        let description =
            self.description.map(|d| e.check("description", Description::parse(d.as_deref().unwrap_or(""))));
        let priority = self.priority.map(|p| e.check("priority", Priority::parse(p.as_deref().unwrap_or("none"))));
        let tags = self.tags.map(|t| e.check("tags", Tags::parse(&t.unwrap_or_default())));
        let due = self.due.map(|d| d.map(|d| e.check("due", Due::parse(&d))));
        let reminders = self.reminders.map(|r| parse_reminders(&mut e, &r.unwrap_or_default()));
        let recurrence = self.recurrence.map(|r| r.map(|r| e.check("recurrence", Recurrence::parse(&r))));
        // `null` is the default, a fixed schedule.
        let repeat_from = self
            .repeat_from
            .map(|f| f.map_or(Some(RepeatFrom::Due), |f| e.check("repeat_from", RepeatFrom::parse(&f))));
        let position = match self.position {
            Some(None) => {
                e.push("position", "cannot be removed");
                None
            }
            Some(Some(p)) => Some(p),
            None => None,
        };
        let project = match self.project_id {
            Some(None) => {
                e.push("project_id", "cannot be removed (every task is in a project)");
                None
            }
            Some(Some(id)) => parse_id(&mut e, "project_id", &id, ProjectId::from_uuid),
            None => None,
        };
        let clearable = |field: &str, raw: Option<Option<String>>, e: &mut ValidationErrors| match raw {
            None => None,
            Some(None) => Some(None),
            Some(Some(id)) => parse_id(e, field, &id, |u| u).map(Some),
        };
        let section = clearable("section_id", self.section_id, &mut e).map(|s| s.map(SectionId::from_uuid));
        let parent = clearable("parent_id", self.parent_id, &mut e).map(|p| p.map(TaskId::from_uuid));
        let assignee = clearable("assignee_id", self.assignee_id, &mut e).map(|a| a.map(UserId::from_uuid));
        e.into_result()?;
        let patch = TaskPatch {
            title,
            description: description.flatten(),
            priority: priority.flatten(),
            tags: tags.flatten(),
            // `Some(None)` clears; `Some(Some(None))` cannot remain after a clean parse.
            due: due.map(Option::flatten),
            reminders: reminders.flatten(),
            recurrence: recurrence.map(Option::flatten),
            repeat_from: repeat_from.flatten(),
            position,
            project,
            section,
            parent,
            assignee,
        };
        Ok(patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_add_text_becomes_a_create_request_that_parses() {
        use chrono::TimeZone;
        let now = chrono_tz::Europe::Berlin.with_ymd_and_hms(2026, 11, 24, 8, 0, 0).unwrap();
        for text in [
            "Pay rent tomorrow 9am !high #home every month",
            "x every day",
            "x every other week",
            "standup every mon and wed 9:30am",
            "x weekdays",
        ] {
            let quick = ontask_domain::quick::parse(text, now);
            assert!(TaskInput::from(&quick).parse().is_ok(), "{text}");
        }
        let untitled = ontask_domain::quick::parse("tomorrow !high", now);
        assert_eq!(TaskInput::from(&untitled).parse().unwrap_err().fields()[0].field, "title");
    }

    #[test]
    fn create_collects_every_error() {
        let input: TaskInput = serde_json::from_value(serde_json::json!({
            "title": " ", "priority": "huge", "due": "someday", "reminders": ["PT5M", "later"], "recurrence": "sometimes"
        }))
        .unwrap();
        let errors = input.parse().unwrap_err();
        let fields: Vec<_> = errors.fields().iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["title", "priority", "due", "reminders[1]", "recurrence"]);
    }

    #[test]
    fn patch_distinguishes_null_from_absent() {
        let patch: TaskPatchInput =
            serde_json::from_value(serde_json::json!({"due": null, "priority": "low"})).unwrap();
        let patch = patch.parse().unwrap();
        assert_eq!(patch.due, Some(None));
        assert_eq!(patch.priority, Some(Priority::Low));
        assert!(patch.title.is_none() && patch.recurrence.is_none());
        let bad: TaskPatchInput = serde_json::from_value(serde_json::json!({"title": null})).unwrap();
        assert_eq!(bad.parse().unwrap_err().fields()[0].field, "title");
    }

    #[test]
    fn unknown_fields_are_rejected() {
        assert!(serde_json::from_value::<TaskInput>(serde_json::json!({"title": "a", "titel": "b"})).is_err());
    }
}
