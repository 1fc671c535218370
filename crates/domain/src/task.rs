use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    Description, Due, Priority, ProjectId, Recurrence, Reminder, RepeatFrom, SectionId, Tags, TaskField, TaskId, Title,
    UserId, ValidationErrors, reminder::MAX_REMINDERS,
};

/// How deep subtasks nest: a top-level task, and at most this many levels below it.
pub const MAX_SUBTASK_DEPTH: usize = 4;

/// Why an occurrence cannot be skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SkipError {
    #[error("only a recurring task has occurrences to skip")]
    NotRecurring,
    #[error("a completed task has no occurrence left to skip; reopen it first")]
    Completed,
    #[error("a recurring task without a due date has no occurrence to skip")]
    NoDue,
    #[error("this is the series' last occurrence (its COUNT or UNTIL ends it); complete or delete the task instead")]
    SeriesOver,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Status {
    #[default]
    Open,
    Completed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Completed => "completed",
        }
    }

    /// Case-blind, without allocating: the store decodes every listed task's status with it.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("open") {
            Some(Self::Open)
        } else if s.eq_ignore_ascii_case("completed") || s.eq_ignore_ascii_case("done") {
            Some(Self::Completed)
        } else {
            None
        }
    }
}

/// Everything needed to create a task, already parsed.
#[derive(Debug, Clone, Default)]
pub struct TaskDraft {
    pub title: Option<Title>,
    pub description: Description,
    pub priority: Priority,
    pub tags: Tags,
    pub due: Option<Due>,
    pub reminders: Vec<Reminder>,
    pub recurrence: Option<Recurrence>,
    pub position: Option<i64>,
    /// The project to create it in; the creator's Inbox when `None`.
    pub project: Option<ProjectId>,
    pub section: Option<SectionId>,
    /// The task this one is a subtask of (in the same project).
    pub parent: Option<TaskId>,
    /// A member of the project to assign it to.
    pub assignee: Option<UserId>,
}

/// Where a task sits: its project, and in it its section and parent. The
/// application checks a placement (the section and the parent belong to the
/// project, subtasks nest at most [`MAX_SUBTASK_DEPTH`] deep) before a task
/// takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    pub project_id: ProjectId,
    pub section_id: Option<SectionId>,
    pub parent_id: Option<TaskId>,
}

impl Placement {
    /// At the top of a project, in no section.
    pub fn project(project_id: ProjectId) -> Self {
        Self { project_id, section_id: None, parent_id: None }
    }
}

/// A partial update, already parsed. `None` leaves a field alone; for the
/// clearable fields `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct TaskPatch {
    pub title: Option<Title>,
    pub description: Option<Description>,
    pub priority: Option<Priority>,
    pub tags: Option<Tags>,
    pub due: Option<Option<Due>>,
    pub reminders: Option<Vec<Reminder>>,
    /// A new rule keeps what the task's series counted from, unless
    /// `repeat_from` says otherwise.
    pub recurrence: Option<Option<Recurrence>>,
    /// Changes what the (new or current) rule counts from.
    pub repeat_from: Option<RepeatFrom>,
    pub position: Option<i64>,
    /// Moves the task (and its subtasks) to another project.
    pub project: Option<ProjectId>,
    pub section: Option<Option<SectionId>>,
    pub parent: Option<Option<TaskId>>,
    pub assignee: Option<Option<UserId>>,
}

impl TaskPatch {
    /// Whether the patch moves the task.
    pub fn moves(&self) -> bool {
        self.project.is_some() || self.section.is_some() || self.parent.is_some()
    }

    pub fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.description.is_none()
            && self.priority.is_none()
            && self.tags.is_none()
            && self.due.is_none()
            && self.reminders.is_none()
            && self.recurrence.is_none()
            && self.repeat_from.is_none()
            && self.position.is_none()
            && !self.moves()
            && self.assignee.is_none()
    }
}

/// A task, always in a valid state: its fields are parsed values, and the rules
/// that span fields (an offset reminder needs a due) hold after every change.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub id: TaskId,
    /// Who created the task.
    pub owner: UserId,
    pub project_id: ProjectId,
    pub section_id: Option<SectionId>,
    /// The task this one is a subtask of.
    pub parent_id: Option<TaskId>,
    pub assignee_id: Option<UserId>,
    pub title: Title,
    pub description: Description,
    pub status: Status,
    pub completed_at: Option<DateTime<Utc>>,
    pub priority: Priority,
    pub tags: Tags,
    pub due: Option<Due>,
    pub reminders: Vec<Reminder>,
    pub recurrence: Option<Recurrence>,
    /// The due the recurrence series started from; `COUNT`/`UNTIL` count from it.
    pub recurrence_anchor: Option<Due>,
    /// The task whose completion created this one (recurring series).
    pub recurs_from: Option<TaskId>,
    pub position: i64,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Task {
    /// Creates a task from a draft at a checked placement (the draft's own
    /// `project`, `section` and `parent` are what the placement was made
    /// from). `draft.title` must be present.
    pub fn create(
        owner: UserId,
        at: Placement,
        draft: TaskDraft,
        now: DateTime<Utc>,
    ) -> Result<Self, ValidationErrors> {
        let Some(title) = draft.title else {
            return Err(ValidationErrors::single("title", "is required"));
        };
        let task = Self {
            id: TaskId::new(),
            owner,
            project_id: at.project_id,
            section_id: at.section_id,
            parent_id: at.parent_id,
            assignee_id: draft.assignee,
            title,
            description: draft.description,
            status: Status::Open,
            completed_at: None,
            priority: draft.priority,
            tags: draft.tags,
            recurrence_anchor: draft.recurrence.as_ref().and(draft.due),
            due: draft.due,
            reminders: normalise_reminders(draft.reminders),
            recurrence: draft.recurrence,
            recurs_from: None,
            // Newest first by default: a later creation sorts before an earlier one.
            position: draft.position.unwrap_or(-now.timestamp_millis()),
            version: 1,
            created_at: now,
            updated_at: now,
        };
        task.check_invariants()?;
        Ok(task)
    }

    /// Applies a patch's content fields; returns the names of the fields that
    /// really changed (empty when the patch changed nothing, in which case the
    /// version stays). Moving and assigning are [`Task::move_to`] and
    /// [`Task::assign`], once the application has checked them.
    pub fn apply(&mut self, patch: TaskPatch, now: DateTime<Utc>) -> Result<Vec<TaskField>, ValidationErrors> {
        let mut next = self.clone();
        let mut changes = Vec::new();
        macro_rules! set {
            ($field:ident, $name:expr) => {
                if let Some(value) = patch.$field {
                    if next.$field != value {
                        next.$field = value;
                        changes.push($name);
                    }
                }
            };
        }
        set!(title, TaskField::Title);
        set!(description, TaskField::Description);
        set!(priority, TaskField::Priority);
        set!(tags, TaskField::Tags);
        set!(due, TaskField::Due);
        if let Some(reminders) = patch.reminders {
            let reminders = normalise_reminders(reminders);
            if next.reminders != reminders {
                next.reminders = reminders;
                changes.push(TaskField::Reminders);
            }
        }
        if let Some(recurrence) = self.patched_recurrence(patch.recurrence, patch.repeat_from)?
            && next.recurrence != recurrence
        {
            next.recurrence = recurrence;
            changes.push(TaskField::Recurrence);
        }
        set!(position, TaskField::Position);
        if changes.contains(&TaskField::Due) || changes.contains(&TaskField::Recurrence) {
            next.recurrence_anchor = next.recurrence.as_ref().and(next.due);
        }
        next.check_invariants()?;
        if !changes.is_empty() {
            next.version += 1;
            next.updated_at = now;
        }
        *self = next;
        Ok(changes)
    }

    /// The recurrence a patch sets, if it sets one: a new rule keeps what the
    /// current series counts from unless the patch names it.
    fn patched_recurrence(
        &self,
        rule: Option<Option<Recurrence>>,
        from: Option<RepeatFrom>,
    ) -> Result<Option<Option<Recurrence>>, ValidationErrors> {
        let current_from = self.recurrence.as_ref().map(Recurrence::repeat_from).unwrap_or_default();
        let (field, recurrence) = match (rule, from) {
            (None, None) => return Ok(None),
            (Some(None), _) => return Ok(Some(None)),
            (Some(Some(rule)), from) => ("recurrence", rule.repeating_from(from.unwrap_or(current_from))),
            (None, Some(from)) => match self.recurrence.clone() {
                Some(rule) => ("repeat_from", rule.repeating_from(from)),
                None if from == RepeatFrom::Due => return Ok(None),
                None => return Err(ValidationErrors::single("repeat_from", "needs a recurrence")),
            },
        };
        recurrence.map(|r| Some(Some(r))).map_err(|e| ValidationErrors::single(field, e.to_string()))
    }

    /// Moves the task to a checked placement; returns whether it moved.
    pub fn move_to(&mut self, at: Placement, now: DateTime<Utc>) -> bool {
        if self.placement() == at {
            return false;
        }
        self.project_id = at.project_id;
        self.section_id = at.section_id;
        self.parent_id = at.parent_id;
        self.touch(now);
        true
    }

    /// Assigns the task to a member (the application checks membership), or
    /// to nobody; returns whether that changed it.
    pub fn assign(&mut self, assignee: Option<UserId>, now: DateTime<Utc>) -> bool {
        if self.assignee_id == assignee {
            return false;
        }
        self.assignee_id = assignee;
        self.touch(now);
        true
    }

    pub fn placement(&self) -> Placement {
        Placement { project_id: self.project_id, section_id: self.section_id, parent_id: self.parent_id }
    }

    fn touch(&mut self, now: DateTime<Utc>) {
        self.version += 1;
        self.updated_at = now;
    }

    /// Marks the task completed. Returns false (and changes nothing) if it already was.
    pub fn complete(&mut self, now: DateTime<Utc>) -> bool {
        if self.status == Status::Completed {
            return false;
        }
        self.status = Status::Completed;
        self.completed_at = Some(now);
        self.touch(now);
        true
    }

    /// Reopens a completed task. Returns false (and changes nothing) if it was open.
    pub fn reopen(&mut self, now: DateTime<Utc>) -> bool {
        if self.status == Status::Open {
            return false;
        }
        self.status = Status::Open;
        self.completed_at = None;
        self.touch(now);
        true
    }

    /// The task that follows this one in its recurring series, created at `now`,
    /// or `None` if the task does not recur or the series is over.
    pub fn next_occurrence(&self, now: DateTime<Utc>) -> Option<Task> {
        let recurrence = self.recurrence.as_ref()?;
        let (next_due, anchor) = recurrence.following(self.due, self.recurrence_anchor, now)?;
        Some(Task {
            id: TaskId::new(),
            status: Status::Open,
            completed_at: None,
            due: Some(next_due),
            recurrence_anchor: Some(anchor),
            recurs_from: Some(self.id),
            version: 1,
            created_at: now,
            updated_at: now,
            // Absolute reminders belonged to this occurrence; offsets carry over.
            reminders: self.reminders.iter().copied().filter(Reminder::is_relative).collect(),
            ..self.clone()
        })
    }

    /// Skips this occurrence of a recurring series: the task stays open and
    /// takes the next occurrence's due (after its due and after `now`, as
    /// completing would), keeping its reminder offsets; absolute reminders
    /// belonged to the skipped occurrence. Returns the fields it changed.
    pub fn skip(&mut self, now: DateTime<Utc>) -> Result<Vec<TaskField>, SkipError> {
        let recurrence = self.recurrence.as_ref().ok_or(SkipError::NotRecurring)?;
        if self.status == Status::Completed {
            return Err(SkipError::Completed);
        }
        let due = self.due.ok_or(SkipError::NoDue)?;
        let (next, anchor) =
            recurrence.following(Some(due), self.recurrence_anchor, now).ok_or(SkipError::SeriesOver)?;
        let mut changes = vec![TaskField::Due];
        self.due = Some(next);
        self.recurrence_anchor = Some(anchor);
        let kept: Vec<Reminder> = self.reminders.iter().copied().filter(Reminder::is_relative).collect();
        if kept != self.reminders {
            self.reminders = kept;
            changes.push(TaskField::Reminders);
        }
        self.touch(now);
        Ok(changes)
    }

    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.status == Status::Open && self.due.is_some_and(|d| d.is_overdue(now))
    }

    /// The instants at which this task's reminders fire (deduplicated, sorted).
    pub fn reminder_times(&self) -> Vec<DateTime<Utc>> {
        let mut times: Vec<_> = self.reminders.iter().filter_map(|r| r.fire_at(self.due.as_ref())).collect();
        times.sort();
        times.dedup();
        times
    }

    fn check_invariants(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if self.reminders.len() > MAX_REMINDERS {
            errors.push("reminders", format!("at most {MAX_REMINDERS} reminders are allowed"));
        }
        if self.due.is_none() && self.reminders.iter().any(Reminder::is_relative) {
            errors.push("reminders", "a reminder relative to the due date needs a due date");
        }
        errors.into_result()
    }
}

fn normalise_reminders(mut reminders: Vec<Reminder>) -> Vec<Reminder> {
    reminders.sort();
    reminders.dedup();
    reminders
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(title: &str) -> TaskDraft {
        TaskDraft { title: Some(Title::parse(title).unwrap()), ..Default::default() }
    }

    fn create(d: TaskDraft, now: DateTime<Utc>) -> Result<Task, ValidationErrors> {
        Task::create(UserId::new(), Placement::project(ProjectId::new()), d, now)
    }

    #[test]
    fn a_status_is_read_without_regard_to_case_or_surrounding_space() {
        for (raw, status) in [
            ("open", Status::Open),
            (" OPEN ", Status::Open),
            ("completed", Status::Completed),
            ("Done", Status::Completed),
        ] {
            assert_eq!(Status::parse(raw), Some(status), "{raw:?}");
        }
        for raw in ["", "opened", "clos", "don"] {
            assert_eq!(Status::parse(raw), None, "{raw:?}");
        }
        assert_eq!(Status::parse(Status::Completed.as_str()), Some(Status::Completed));
    }

    #[test]
    fn moving_and_assigning_change_the_version_only_when_they_change_something() {
        let now = Utc::now();
        let mut task = create(draft("a"), now).unwrap();
        assert!(!task.move_to(task.placement(), now));
        let elsewhere = Placement::project(ProjectId::new());
        assert!(task.move_to(elsewhere, now));
        assert_eq!((task.project_id, task.version), (elsewhere.project_id, 2));
        let someone = UserId::new();
        assert!(task.assign(Some(someone), now));
        assert!(!task.assign(Some(someone), now));
        assert_eq!((task.assignee_id, task.version), (Some(someone), 3));
    }

    #[test]
    fn patch_reports_only_real_changes() {
        let now = Utc::now();
        let mut task = create(draft("a"), now).unwrap();
        let same = TaskPatch { title: Some(Title::parse("a").unwrap()), ..Default::default() };
        assert!(task.apply(same, now).unwrap().is_empty());
        assert_eq!(task.version, 1);
        let change = TaskPatch { priority: Some(Priority::High), ..Default::default() };
        assert_eq!(task.apply(change, now).unwrap(), vec![TaskField::Priority]);
        assert_eq!(task.version, 2);
    }

    #[test]
    fn relative_reminder_needs_due() {
        let mut d = draft("a");
        d.reminders = vec![Reminder::parse("PT15M").unwrap()];
        let err = create(d, Utc::now()).unwrap_err();
        assert_eq!(err.fields()[0].field, "reminders");
    }

    #[test]
    fn clearing_due_keeps_invariants() {
        let mut d = draft("a");
        d.due = Some(Due::parse("2026-11-24T09:00:00Z").unwrap());
        d.reminders = vec![Reminder::parse("PT15M").unwrap()];
        let mut task = create(d, Utc::now()).unwrap();
        let before = task.clone();
        assert!(task.apply(TaskPatch { due: Some(None), ..Default::default() }, Utc::now()).is_err());
        assert_eq!(task, before, "a rejected patch leaves the task untouched");
    }

    #[test]
    fn completing_twice_is_a_no_op() {
        let now = Utc::now();
        let mut task = create(draft("a"), now).unwrap();
        assert!(task.complete(now));
        assert!(!task.complete(now));
        assert_eq!(task.version, 2);
        assert!(task.reopen(now));
        assert_eq!(task.status, Status::Open);
    }

    #[test]
    fn skipping_moves_to_the_next_occurrence_and_keeps_the_task_open() {
        let now: DateTime<Utc> = "2026-11-20T12:00:00Z".parse().unwrap();
        let mut d = draft("stand-up");
        d.due = Some(Due::parse("2026-11-23T09:00:00Z").unwrap());
        d.recurrence = Some(Recurrence::parse("FREQ=DAILY;COUNT=2").unwrap());
        d.reminders = vec![Reminder::parse("PT10M").unwrap(), Reminder::parse("2026-11-23T08:00:00Z").unwrap()];
        let mut task = create(d, now).unwrap();
        let version = task.version;
        assert_eq!(task.skip(now), Ok(vec![TaskField::Due, TaskField::Reminders]));
        assert_eq!(task.due.unwrap().to_string(), "2026-11-24T09:00:00Z");
        assert_eq!((task.status, task.version), (Status::Open, version + 1));
        assert_eq!(task.reminders, vec![Reminder::parse("PT10M").unwrap()]);
        // COUNT=2: the second occurrence is the last one.
        assert_eq!(task.skip(now), Err(SkipError::SeriesOver));

        let mut plain = create(draft("once"), now).unwrap();
        assert_eq!(plain.skip(now), Err(SkipError::NotRecurring));
        let mut undated = draft("whenever");
        undated.recurrence = Some(Recurrence::parse("FREQ=WEEKLY").unwrap());
        assert_eq!(create(undated, now).unwrap().skip(now), Err(SkipError::NoDue));
    }

    #[test]
    fn next_occurrence_follows_the_rule() {
        // Done on time, in October: the next one is the next month's.
        let now: DateTime<Utc> = "2026-10-31T12:00:00Z".parse().unwrap();
        let mut d = draft("rent");
        d.due = Some(Due::parse("2026-11-01T09:00[Europe/Berlin]").unwrap());
        d.recurrence = Some(Recurrence::parse("FREQ=MONTHLY").unwrap());
        d.reminders = vec![Reminder::parse("P1D").unwrap(), Reminder::parse("2026-10-30T10:00:00Z").unwrap()];
        let task = create(d, now).unwrap();
        let next = task.next_occurrence(now).unwrap();
        assert_eq!(next.due.unwrap().to_string(), "2026-12-01T09:00:00+01:00[Europe/Berlin]");
        assert_eq!(next.recurs_from, Some(task.id));
        assert_eq!(next.reminders, vec![Reminder::parse("P1D").unwrap()]);
        assert_ne!(next.id, task.id);
    }

    #[test]
    fn a_patch_keeps_or_changes_what_the_series_counts_from() {
        let now = Utc::now();
        let mut d = draft("water plants");
        d.due = Some(Due::parse("2026-11-01T09:00:00Z").unwrap());
        d.recurrence = Some(Recurrence::parse("FREQ=DAILY").unwrap());
        let mut task = create(d, now).unwrap();
        let from = |t: &Task| t.recurrence.as_ref().map(Recurrence::repeat_from);

        let to_completion = TaskPatch { repeat_from: Some(RepeatFrom::Completion), ..Default::default() };
        assert_eq!(task.apply(to_completion.clone(), now).unwrap(), vec![TaskField::Recurrence]);
        assert!(task.apply(to_completion, now).unwrap().is_empty());
        // A new rule alone keeps counting from completion.
        let weekly =
            TaskPatch { recurrence: Some(Some(Recurrence::parse("FREQ=WEEKLY").unwrap())), ..Default::default() };
        task.apply(weekly, now).unwrap();
        assert_eq!(
            (task.recurrence.as_ref().unwrap().as_str(), from(&task)),
            ("FREQ=WEEKLY", Some(RepeatFrom::Completion))
        );
        // COUNT cannot end it, and the refused patch changes nothing.
        let count = TaskPatch {
            recurrence: Some(Some(Recurrence::parse("FREQ=DAILY;COUNT=3").unwrap())),
            ..Default::default()
        };
        let before = task.clone();
        assert_eq!(task.apply(count, now).unwrap_err().fields()[0].field, "recurrence");
        assert_eq!(task, before);

        let mut plain = create(draft("plain"), now).unwrap();
        let orphan = TaskPatch { repeat_from: Some(RepeatFrom::Completion), ..Default::default() };
        assert_eq!(plain.apply(orphan, now).unwrap_err().fields()[0].field, "repeat_from");
    }

    #[test]
    fn the_next_occurrence_of_a_series_from_completion_counts_from_the_completion() {
        let mut d = draft("haircut");
        d.due = Some(Due::parse("2026-11-01").unwrap());
        d.recurrence =
            Some(Recurrence::parse("FREQ=WEEKLY;INTERVAL=4").unwrap().repeating_from(RepeatFrom::Completion).unwrap());
        let done: DateTime<Utc> = "2026-11-10T12:00:00Z".parse().unwrap();
        let task = create(d, done).unwrap();
        let next = task.next_occurrence(done).unwrap();
        assert_eq!(next.due.unwrap().to_string(), "2026-12-08");
        assert_eq!(next.recurrence_anchor, next.due);
        assert_eq!(next.recurrence, task.recurrence);
    }
}
