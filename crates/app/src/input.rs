//! Input as clients send it (plain strings), and its parsing into domain values
//! with every field's error collected.
use ontask_domain::quick::QuickTask;
use ontask_domain::{
    Description, Due, Priority, Recurrence, Reminder, Tags, TaskDraft, TaskPatch, Title, ValidationErrors,
};
use serde::{Deserialize, Deserializer};

/// A new task.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskInput {
    /// 1 to 500 characters.
    #[cfg_attr(feature = "openapi", schema(example = "Pay rent"))]
    pub title: Option<String>,
    /// Markdown, up to 20,000 characters.
    pub description: Option<String>,
    /// none, low, medium, high or urgent.
    #[cfg_attr(feature = "openapi", schema(example = "high"))]
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
    pub position: Option<i64>,
}

/// A partial update (JSON merge patch): absent fields stay, `null` clears.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskPatchInput {
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub title: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
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
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub position: Option<Option<i64>>,
}

/// Distinguishes a field sent as `null` (`Some(None)`) from one left out (`None`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
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
        e.into_result()?;
        Ok(TaskDraft {
            title,
            description: description.flatten().unwrap_or_default(),
            priority: priority.flatten().unwrap_or_default(),
            tags: tags.flatten().unwrap_or_default(),
            due: due.flatten(),
            reminders: reminders.flatten().unwrap_or_default(),
            recurrence: recurrence.flatten(),
            position: self.position,
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
        let position = match self.position {
            Some(None) => {
                e.push("position", "cannot be removed");
                None
            }
            Some(Some(p)) => Some(p),
            None => None,
        };
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
            position,
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
