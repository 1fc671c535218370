//! What the templates show: tasks, dues, recurrences and history in words a
//! person reads, in the viewer's time zone.
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use ontask_domain::{Due, Reminder, RepeatFrom, Status, TaskSnapshot};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct TaskView {
    pub id: String,
    pub title: String,
    pub description: String,
    pub description_html: String,
    pub has_description: bool,
    pub done: bool,
    pub priority: &'static str,
    pub tags: Vec<String>,
    pub due: Option<String>,
    pub due_label: Option<String>,
    /// An RFC 3339 instant, for `<time datetime>`.
    pub due_iso: Option<String>,
    /// `overdue`, `today` or empty.
    pub due_state: &'static str,
    pub due_date: String,
    pub due_time: String,
    pub due_zone: String,
    pub recurrence: Option<String>,
    /// "Every 3 days", with "after each completion" for a series that
    /// repeats from completion.
    pub recurrence_label: Option<String>,
    pub repeats_from_completion: bool,
    pub reminders: Vec<ReminderView>,
    pub reminders_raw: Vec<String>,
    pub version: i64,
    pub created_label: String,
    pub completed_label: Option<String>,
    pub recurs_from: Option<String>,
    /// Manual order (ascending), for dropping a card between two others.
    pub position: i64,
    pub project_id: Option<String>,
    pub section_id: Option<String>,
    pub parent_id: Option<String>,
    pub assignee_id: Option<String>,
    /// Filled in by the page that knows the project's members (`tree::assignees`).
    pub assignee_initials: Option<String>,
    pub assignee_name: Option<String>,
    /// The viewer may only read this task (a viewer of its project): rows show
    /// no controls. The server refuses a change anyway.
    pub readonly: bool,
    /// Where the row sits in its subtask tree (`tree::nest`): 0 at the top.
    pub depth: usize,
    /// The ids of its ancestors, top first, `/`-separated: collapsing one hides
    /// every row whose path holds its id.
    pub path: String,
    pub subtasks_total: usize,
    pub subtasks_done: usize,
}

#[derive(Debug, Serialize)]
pub struct ReminderView {
    pub raw: String,
    pub label: String,
}

pub fn day_label(date: NaiveDate, today: NaiveDate) -> String {
    let diff = (date - today).num_days();
    match diff {
        0 => "Today".into(),
        1 => "Tomorrow".into(),
        -1 => "Yesterday".into(),
        2..=6 => date.format("%A").to_string(),
        _ if date.year() == today.year() => date.format("%a %-d %b").to_string(),
        _ => date.format("%-d %b %Y").to_string(),
    }
}

pub fn instant_label(at: DateTime<Utc>, tz: Tz, now: DateTime<Utc>) -> String {
    let local = at.with_timezone(&tz);
    let today = now.with_timezone(&tz).date_naive();
    format!("{} {}", day_label(local.date_naive(), today), local.format("%H:%M"))
}

/// "Every 2 weeks on Mon, Wed", "Every weekday", "Monthly", ...
/// A rule in words, with what it counts from: "Every 3 days, after each completion".
pub fn describe_recurrence(rule: &str, from: RepeatFrom) -> String {
    match from {
        RepeatFrom::Due => describe_rrule(rule),
        RepeatFrom::Completion => format!("{}, after each completion", describe_rrule(rule)),
    }
}

pub fn describe_rrule(rule: &str) -> String {
    let mut freq = "";
    let mut interval = 1u32;
    let mut byday: Vec<&str> = Vec::new();
    let mut bymonthday: Option<&str> = None;
    let mut count = None;
    let mut until = None;
    let mut other = false;
    for part in rule.trim_start_matches("RRULE:").split(';') {
        let Some((k, v)) = part.split_once('=') else { continue };
        match k.to_ascii_uppercase().as_str() {
            "FREQ" => freq = v,
            "INTERVAL" => interval = v.parse().unwrap_or(1),
            "BYDAY" => byday = v.split(',').collect(),
            "BYMONTHDAY" => bymonthday = Some(v),
            "COUNT" => count = Some(v),
            "UNTIL" => until = Some(v),
            "WKST" => {}
            _ => other = true,
        }
    }
    let unit = match freq.to_ascii_uppercase().as_str() {
        "HOURLY" => "hour",
        "DAILY" => "day",
        "WEEKLY" => "week",
        "MONTHLY" => "month",
        "YEARLY" => "year",
        _ => return rule.to_owned(),
    };
    let names: Vec<&str> = byday
        .iter()
        .map(|d| {
            match d
                .trim_start_matches(|c: char| c == '+' || c == '-' || c.is_ascii_digit())
                .to_ascii_uppercase()
                .as_str()
            {
                "MO" => "Mon",
                "TU" => "Tue",
                "WE" => "Wed",
                "TH" => "Thu",
                "FR" => "Fri",
                "SA" => "Sat",
                "SU" => "Sun",
                _ => "?",
            }
        })
        .collect();
    let mut out = if unit == "week" && interval == 1 && names == ["Mon", "Tue", "Wed", "Thu", "Fri"] {
        "Every weekday".to_owned()
    } else if unit == "week" && interval == 1 && names == ["Sat", "Sun"] {
        "Every weekend".to_owned()
    } else {
        let mut s = match (interval, unit) {
            (1, "day") => "Daily".to_owned(),
            (1, "week") if names.is_empty() => "Weekly".to_owned(),
            (1, "week") => "Every week".to_owned(),
            (1, "month") => "Monthly".to_owned(),
            (1, "year") => "Yearly".to_owned(),
            (1, "hour") => "Hourly".to_owned(),
            (2, u) => format!("Every other {u}"),
            (n, u) => format!("Every {n} {u}s"),
        };
        if !names.is_empty() {
            s.push_str(" on ");
            s.push_str(&names.join(", "));
        }
        s
    };
    if let Some(days) = bymonthday {
        let days: Vec<String> =
            days.split(',').map(|d| if d == "-1" { "the last day".to_owned() } else { format!("day {d}") }).collect();
        out.push_str(&format!(" on {}", days.join(", ")));
    }
    if let Some(c) = count {
        out.push_str(&format!(", {c} times"));
    }
    if let Some(u) = until {
        out.push_str(&format!(
            ", until {}",
            u.get(..8)
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y%m%d").ok())
                .map_or(u.to_owned(), |d| d.to_string())
        ));
    }
    if other {
        out.push_str(&format!(" ({rule})"));
    }
    out
}

pub fn describe_reminder(raw: &str, tz: Tz, now: DateTime<Utc>) -> String {
    match Reminder::parse(raw) {
        Ok(Reminder::At(at)) => instant_label(at, tz, now),
        Ok(Reminder::BeforeDue(d)) if d.is_zero() => "At due time".into(),
        Ok(Reminder::BeforeDue(d)) => format!("{} before", span(d)),
        Err(_) => raw.to_owned(),
    }
}

fn span(d: Duration) -> String {
    let plural = |n: i64, u: &str| if n == 1 { format!("1 {u}") } else { format!("{n} {u}s") };
    let m = d.num_minutes();
    if m % (60 * 24 * 7) == 0 {
        plural(m / (60 * 24 * 7), "week")
    } else if m % (60 * 24) == 0 {
        plural(m / (60 * 24), "day")
    } else if m % 60 == 0 {
        plural(m / 60, "hour")
    } else {
        plural(m, "minute")
    }
}

/// The due as the form fields of the editor show it.
fn due_fields(due: &Due, viewer: Tz) -> (String, String, String) {
    match due {
        Due::Date(d) => (d.to_string(), String::new(), viewer.name().to_owned()),
        Due::At { at, tz } => {
            let local = at.with_timezone(tz);
            (local.date_naive().to_string(), local.format("%H:%M").to_string(), tz.name().to_owned())
        }
    }
}

pub fn task_view(t: &TaskSnapshot, tz: Tz, now: DateTime<Utc>, with_html: bool) -> TaskView {
    let today = now.with_timezone(&tz).date_naive();
    let done = t.status == Status::Completed;
    let parsed = t.due.as_deref().and_then(|d| Due::parse(d).ok());
    let (due_label, due_iso, due_state, fields) = match &parsed {
        None => (None, None, "", (String::new(), String::new(), tz.name().to_owned())),
        Some(due) => {
            let (label, local_date, overdue) = match due {
                Due::Date(d) => (day_label(*d, today), *d, *d < today),
                Due::At { at, tz: due_tz } => {
                    let mut label = instant_label(*at, tz, now);
                    if *due_tz != tz && *due_tz != Tz::UTC {
                        label.push_str(&format!(" ({} {})", at.with_timezone(due_tz).format("%H:%M"), due_tz.name()));
                    }
                    (label, at.with_timezone(&tz).date_naive(), *at < now)
                }
            };
            let state = if done {
                ""
            } else if overdue {
                "overdue"
            } else if local_date == today {
                "today"
            } else {
                ""
            };
            (Some(label), Some(due.instant().to_rfc3339()), state, due_fields(due, tz))
        }
    };
    TaskView {
        id: t.id.to_string(),
        title: t.title.clone(),
        description: t.description.clone(),
        description_html: if with_html { crate::markdown::render(&t.description) } else { String::new() },
        has_description: !t.description.trim().is_empty(),
        done,
        priority: t.priority.as_str(),
        tags: t.tags.clone(),
        due: t.due.clone(),
        due_label,
        due_iso,
        due_state,
        due_date: fields.0,
        due_time: fields.1,
        due_zone: fields.2,
        recurrence: t.recurrence.clone(),
        recurrence_label: t.recurrence.as_deref().map(|rule| describe_recurrence(rule, t.repeat_from)),
        repeats_from_completion: t.repeat_from == RepeatFrom::Completion,
        reminders: t
            .reminders
            .iter()
            .map(|r| ReminderView { raw: r.clone(), label: describe_reminder(r, tz, now) })
            .collect(),
        reminders_raw: t.reminders.clone(),
        version: t.version,
        created_label: instant_label(t.created_at, tz, now),
        completed_label: t.completed_at.map(|c| instant_label(c, tz, now)),
        recurs_from: t.recurs_from.map(|id| id.to_string()),
        position: t.position,
        project_id: t.project_id.map(|id| id.to_string()),
        section_id: t.section_id.map(|id| id.to_string()),
        parent_id: t.parent_id.map(|id| id.to_string()),
        assignee_id: t.assignee_id.map(|id| id.to_string()),
        assignee_initials: None,
        assignee_name: None,
        readonly: false,
        depth: 0,
        path: String::new(),
        subtasks_total: 0,
        subtasks_done: 0,
    }
}

#[derive(Debug, Serialize)]
pub struct HistoryItem {
    pub kind: String,
    pub label: String,
    pub detail: String,
    pub actor: String,
    pub when: String,
    pub iso: String,
}

/// One line of a task's history. `by_other` names the member who made the
/// change when it was not the person looking (shared projects).
pub fn history_item(
    e: &ontask_domain::EventEnvelope,
    tz: Tz,
    now: DateTime<Utc>,
    by_other: Option<&str>,
) -> HistoryItem {
    use ontask_domain::{Event, EventActor};
    let actor = e.metadata.actor.as_ref();
    let (label, detail) = match &e.event {
        Event::TaskCreated(_) if actor == Some(&EventActor::Recurrence) => {
            ("Next occurrence created".into(), String::new())
        }
        Event::TaskCreated(created) => ("Created".into(), created.task.title.clone()),
        Event::TaskUpdated(updated) => {
            let changes: Vec<String> = updated.changes.iter().map(|c| c.as_str().replace('_', " ")).collect();
            ("Changed".into(), changes.join(", "))
        }
        Event::TaskCompleted(_) => ("Completed".into(), String::new()),
        Event::TaskReopened(_) => ("Reopened".into(), String::new()),
        Event::TaskDeleted(_) => ("Deleted".into(), String::new()),
        Event::TaskMoved(_) => ("Moved".into(), String::new()),
        Event::TaskAssigned(a) if a.task.assignee_id.is_none() => ("Unassigned".into(), String::new()),
        Event::TaskAssigned(_) => ("Assigned".into(), String::new()),
        Event::CommentAdded(_) => ("Commented".into(), String::new()),
        Event::CommentEdited(_) => ("Edited a comment".into(), String::new()),
        Event::CommentDeleted(_) => ("Deleted a comment".into(), String::new()),
        Event::ReminderDue(_) => ("Reminder due".into(), String::new()),
        Event::ReminderSent(sent) => ("Reminder sent".into(), sent.channel.as_str().replace('_', "-")),
        // Not about a task: a project's activity shows these.
        Event::ProjectCreated(p) => ("Created the project".into(), p.project.name.as_str().to_owned()),
        Event::ProjectUpdated(p) => ("Changed the project".into(), p.project.name.as_str().to_owned()),
        Event::ProjectArchived(_) => ("Archived the project".into(), String::new()),
        Event::ProjectUnarchived(_) => ("Unarchived the project".into(), String::new()),
        Event::ProjectDeleted(_) => ("Deleted the project".into(), String::new()),
        Event::SectionCreated(_) => ("Added the section".into(), String::new()),
        Event::SectionUpdated(_) => ("Changed the section".into(), String::new()),
        Event::SectionDeleted(_) => ("Deleted the section".into(), String::new()),
        Event::MemberAdded(_) => ("Added".into(), String::new()),
        Event::MemberRoleChanged(_) => ("Changed the role of".into(), String::new()),
        Event::MemberRemoved(m) if m.member.user_id == e.user_id => ("Left".into(), String::new()),
        Event::MemberRemoved(_) => ("Removed".into(), String::new()),
        // A person's own import; no task's history or project's activity has one.
        Event::ImportProgressed(p) => ("Import".into(), p.status.as_str().to_owned()),
        Event::Malformed(m) => (m.kind.as_str().to_owned(), String::new()),
        Event::Other(other) => (other.event_type.clone(), String::new()),
    };
    let actor = match (actor, by_other) {
        (Some(EventActor::User | EventActor::ApiToken) | None, Some(name)) => name.to_owned(),
        (Some(EventActor::User) | None, None) => "you".to_owned(),
        (Some(EventActor::ApiToken), None) => "an API token".to_owned(),
        (Some(a), _) => a.as_str().trim_start_matches("system:").to_owned(),
    };
    HistoryItem {
        kind: e.event_type().replace('.', "-"),
        label,
        detail,
        actor,
        when: instant_label(e.timestamp, tz, now),
        iso: e.timestamp.to_rfc3339(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_names_who_changed_a_shared_task() {
        let user = ontask_domain::UserId::new();
        let event = ontask_testkit::events::of_kind(
            ontask_domain::EventType::TaskCompleted,
            user,
            ontask_domain::TaskId::new(),
            "t",
        );
        let metadata =
            ontask_domain::EventMetadata { actor: Some(ontask_domain::EventActor::User), ..Default::default() };
        let e = ontask_domain::EventEnvelope::new(event, "api", user, metadata);
        let now = Utc::now();
        assert_eq!(history_item(&e, chrono_tz::UTC, now, None).actor, "you");
        assert_eq!(history_item(&e, chrono_tz::UTC, now, Some("Sam")).actor, "Sam");
        let mut by_system = e.clone();
        by_system.metadata.actor = Some(ontask_domain::EventActor::Recurrence);
        assert_eq!(history_item(&by_system, chrono_tz::UTC, now, Some("Sam")).actor, "recurrence");
    }

    #[test]
    fn rules_read_as_words() {
        assert_eq!(describe_rrule("FREQ=MONTHLY"), "Monthly");
        assert_eq!(describe_rrule("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"), "Every weekday");
        assert_eq!(describe_rrule("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE"), "Every other week on Mon, Wed");
        assert_eq!(describe_rrule("FREQ=DAILY;INTERVAL=3;COUNT=5"), "Every 3 days, 5 times");
        assert_eq!(describe_rrule("FREQ=YEARLY;UNTIL=20300101T000000Z"), "Yearly, until 2030-01-01");
        assert_eq!(describe_rrule("FREQ=MONTHLY;BYMONTHDAY=1"), "Monthly on day 1");
        assert_eq!(describe_rrule("nonsense"), "nonsense");
    }

    #[test]
    fn days_relative_to_today() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        assert_eq!(day_label(today, today), "Today");
        assert_eq!(day_label(today.succ_opt().unwrap(), today), "Tomorrow");
        assert_eq!(day_label(NaiveDate::from_ymd_opt(2026, 11, 27).unwrap(), today), "Friday");
        assert_eq!(day_label(NaiveDate::from_ymd_opt(2027, 2, 1).unwrap(), today), "1 Feb 2027");
    }

    #[test]
    fn reminders_read_as_words() {
        let now = Utc::now();
        assert_eq!(describe_reminder("PT15M", Tz::UTC, now), "15 minutes before");
        assert_eq!(describe_reminder("P1D", Tz::UTC, now), "1 day before");
        assert_eq!(describe_reminder("PT0S", Tz::UTC, now), "At due time");
    }
}
