//! iCalendar to tasks: every `VTODO` of a `VCALENDAR` becomes the draft of a
//! task, with the list of what of it could not be carried over. Nothing is
//! dropped without being named: a property ontask has no field for, a value
//! that does not parse, and a component that is not a `VTODO` are all listed.
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use icalendar::parser::{Component, Property, read_calendar, unfold};
use ontask_domain::{Description, Due, Recurrence, Reminder, Status, Tag, Tags, TaskDraft, Title};
use thiserror::Error;

use crate::priority;
use crate::text::split_list;

/// Why a file is not read at all.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum IcsError {
    #[error("not an iCalendar file: it does not begin with BEGIN:VCALENDAR")]
    NotCalendar,
    #[error("not a valid iCalendar file: {0}")]
    Syntax(String),
}

/// Something of the file that did not become part of a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmapped {
    /// The line of the file (1-based) where the component it belongs to begins.
    pub line: usize,
    /// The property or component (`X-APPLE-SORT-ORDER`, `VEVENT`, `TRIGGER`).
    pub what: String,
    pub reason: String,
}

/// A `VTODO`, as a task to create.
#[derive(Debug, Clone)]
pub struct ImportedTodo {
    /// The line of the file (1-based) of its `BEGIN:VTODO`.
    pub line: usize,
    pub uid: Option<String>,
    /// The `UID` its `RELATED-TO` (parent) names.
    pub parent_uid: Option<String>,
    /// The task's fields; `title` is always present. Project, section and
    /// parent are left for the importer to place.
    pub draft: TaskDraft,
    pub status: Status,
    pub completed_at: Option<DateTime<Utc>>,
    /// What of this VTODO was not carried over, or was read under an assumption.
    pub unmapped: Vec<Unmapped>,
}

/// What a file holds: its tasks, and what was left out of it whole.
#[derive(Debug, Clone, Default)]
pub struct Read {
    pub todos: Vec<ImportedTodo>,
    /// Components not imported at all (a `VEVENT`, a `VTODO` without a title).
    pub skipped: Vec<Unmapped>,
}

/// Properties that describe the file's copy rather than the task; reading
/// them would change nothing, so they are passed over without a note.
const BOOKKEEPING: &[&str] = &["DTSTAMP", "CREATED", "LAST-MODIFIED", "SEQUENCE", "UID"];

/// Reads a `VCALENDAR`. A floating time (no zone, no `Z`) is read in
/// `floating_zone`, and so is a `TZID` the tz database does not know (each
/// noted in the todo's `unmapped`).
pub fn read(text: &str, floating_zone: Tz) -> Result<Read, IcsError> {
    let text = text.trim_start_matches('\u{feff}');
    if !text.trim_start().get(..15).is_some_and(|head| head.eq_ignore_ascii_case("BEGIN:VCALENDAR")) {
        return Err(IcsError::NotCalendar);
    }
    let unfolded = unfold(text);
    let calendar = read_calendar(&unfolded).map_err(|e| IcsError::Syntax(first_line(&e)))?;
    let mut lines = ComponentLines::new(text);
    let mut read = Read::default();
    for c in &calendar.components {
        let name = c.name.as_str().to_ascii_uppercase();
        let line = lines.next_of(&name);
        match name.as_str() {
            "VTODO" => match todo(c, line, floating_zone) {
                Ok(t) => read.todos.push(t),
                Err(reason) => read.skipped.push(Unmapped { line, what: name, reason }),
            },
            // A zone's definition is read through its TZID, from the tz database.
            "VTIMEZONE" => {}
            _ => read.skipped.push(Unmapped { line, what: name, reason: "only VTODO components become tasks".into() }),
        }
    }
    Ok(read)
}

fn first_line(message: &str) -> String {
    message.lines().map(str::trim).find(|l| !l.is_empty() && *l != "error:").unwrap_or(message).to_owned()
}

/// Where each top-level component begins in the original text (folded
/// lines counted as they are in the file).
struct ComponentLines {
    begins: Vec<(String, usize)>,
    next: usize,
}

impl ComponentLines {
    fn new(text: &str) -> Self {
        let mut begins = Vec::new();
        let mut depth = 0usize;
        for (i, line) in text.lines().enumerate() {
            let upper = line.trim_end().to_ascii_uppercase();
            if let Some(name) = upper.strip_prefix("BEGIN:") {
                // Depth 1 is inside the VCALENDAR.
                if depth == 1 {
                    begins.push((name.to_owned(), i + 1));
                }
                depth += 1;
            } else if upper.starts_with("END:") {
                depth = depth.saturating_sub(1);
            }
        }
        Self { begins, next: 0 }
    }

    fn next_of(&mut self, name: &str) -> usize {
        while let Some((found, line)) = self.begins.get(self.next) {
            self.next += 1;
            if found == name {
                return *line;
            }
        }
        0
    }
}

fn param<'a>(p: &'a Property<'_>, key: &str) -> Option<&'a str> {
    p.params.iter().find(|x| x.key.as_str().eq_ignore_ascii_case(key)).and_then(|x| x.val.as_ref()).map(|v| v.as_str())
}

/// A date, or a date-time as the instant and zone ontask keeps; with a note
/// when the zone was assumed.
fn date_value(p: &Property<'_>, floating_zone: Tz) -> Result<(Due, Option<String>), String> {
    let raw = p.val.as_str().trim();
    let is_date = param(p, "VALUE").is_some_and(|v| v.eq_ignore_ascii_case("DATE")) || raw.len() == 8;
    if is_date {
        let date = NaiveDate::parse_from_str(raw, "%Y%m%d").map_err(|_| format!("{raw:?} is not a date"))?;
        return Ok((Due::Date(date), None));
    }
    if let Some(utc) = raw.strip_suffix(['Z', 'z']) {
        let at = NaiveDateTime::parse_from_str(utc, "%Y%m%dT%H%M%S").map_err(|_| format!("{raw:?} is not a time"))?;
        return Ok((Due::at(at.and_utc(), Tz::UTC), None));
    }
    let local = NaiveDateTime::parse_from_str(raw, "%Y%m%dT%H%M%S").map_err(|_| format!("{raw:?} is not a time"))?;
    let (tz, note) = match param(p, "TZID") {
        Some(id) => {
            let id = id.trim_matches('"').trim_start_matches('/');
            match id.parse::<Tz>() {
                Ok(tz) => (tz, None),
                Err(_) => {
                    (floating_zone, Some(format!("the zone {id:?} is not in the tz database; read in {floating_zone}")))
                }
            }
        }
        None => (floating_zone, Some(format!("a floating time (no zone) was read in {floating_zone}"))),
    };
    let text = format!("{}[{}]", local.format("%Y-%m-%dT%H:%M:%S"), tz.name());
    let due = Due::parse(&text).map_err(|e| e.to_string())?;
    Ok((due, note))
}

fn utc_value(p: &Property<'_>) -> Option<DateTime<Utc>> {
    let raw = p.val.as_str().trim();
    let body = raw.strip_suffix(['Z', 'z']).unwrap_or(raw);
    NaiveDateTime::parse_from_str(body, "%Y%m%dT%H%M%S").ok().map(|t| Utc.from_utc_datetime(&t))
}

/// An RFC 5545 duration (`-PT15M`, `+P1D`, `PT0S`) in seconds.
fn signed_duration(raw: &str) -> Option<Duration> {
    let raw = raw.trim();
    let (negative, body) = match raw.as_bytes().first()? {
        b'-' => (true, &raw[1..]),
        b'+' => (false, &raw[1..]),
        _ => (false, raw),
    };
    if body.eq_ignore_ascii_case("PT0S") || body.eq_ignore_ascii_case("P0D") {
        return Some(Duration::zero());
    }
    match Reminder::parse(body).ok()? {
        Reminder::BeforeDue(d) => Some(if negative { -d } else { d }),
        Reminder::At(_) => None,
    }
}

/// A VALARM as a reminder of a task due at `due` (and starting at `start`).
fn reminder(alarm: &Component<'_>, due: Option<&Due>, start: Option<&Due>) -> Result<Reminder, String> {
    let trigger = alarm.find_prop("TRIGGER").ok_or("has no TRIGGER")?;
    if param(trigger, "VALUE").is_some_and(|v| v.eq_ignore_ascii_case("DATE-TIME")) {
        return utc_value(trigger).map(Reminder::At).ok_or_else(|| "its TRIGGER is not a UTC time".to_owned());
    }
    let offset = signed_duration(trigger.val.as_str()).ok_or("its TRIGGER is not a duration")?;
    let related_end = param(trigger, "RELATED").is_some_and(|r| r.eq_ignore_ascii_case("END"));
    match (related_end, start, due) {
        // Before the start, when the task starts before it is due: a fixed instant.
        (false, Some(start), Some(due)) if start != due => Ok(Reminder::At(start.reminder_anchor() + offset)),
        (_, _, Some(_)) if offset <= Duration::zero() => Ok(Reminder::BeforeDue(-offset)),
        (_, _, Some(_)) => Err("fires after the due; ontask reminds before it".into()),
        (_, _, None) => Err("is relative to a due the task does not have".into()),
    }
}

fn todo(c: &Component<'_>, line: usize, floating_zone: Tz) -> Result<ImportedTodo, String> {
    let note = |what: &str, reason: String| Unmapped { line, what: what.to_owned(), reason };
    let summary = c.find_prop("SUMMARY").map(|p| p.val.as_str().trim()).unwrap_or_default();
    let title = Title::parse(summary).map_err(|e| format!("its SUMMARY (the title) {e}"))?;
    let mut draft = TaskDraft { title: Some(title), ..TaskDraft::default() };
    let mut out = ImportedTodo {
        line,
        uid: None,
        parent_uid: None,
        draft: TaskDraft::default(),
        status: Status::Open,
        completed_at: None,
        unmapped: Vec::new(),
    };
    let mut start = None;
    let mut tags = Vec::new();
    let mut cancelled = false;
    let mut status_given = false;
    let mut percent_done = false;
    for p in &c.properties {
        let name = p.name.as_str().to_ascii_uppercase();
        let value = p.val.as_str();
        match name.as_str() {
            "UID" => out.uid = Some(value.trim().to_owned()),
            "SUMMARY" => {}
            "DESCRIPTION" => match Description::parse(value) {
                Ok(d) => draft.description = d,
                Err(e) => out.unmapped.push(note(&name, format!("the description {e}"))),
            },
            "DUE" | "DTSTART" => match date_value(p, floating_zone) {
                Ok((due, assumed)) => {
                    if let Some(reason) = assumed {
                        out.unmapped.push(note(&name, reason));
                    }
                    if name == "DUE" { draft.due = Some(due) } else { start = Some(due) }
                }
                Err(reason) => out.unmapped.push(note(&name, reason)),
            },
            "PRIORITY" => match value.trim().parse::<u8>().ok().and_then(priority::from_ical) {
                Some(p) => draft.priority = p,
                None => out.unmapped.push(note(&name, format!("{value:?} is not a priority from 0 to 9"))),
            },
            "STATUS" => {
                status_given = true;
                match value.trim().to_ascii_uppercase().as_str() {
                    "NEEDS-ACTION" | "IN-PROCESS" => out.status = Status::Open,
                    "COMPLETED" => out.status = Status::Completed,
                    "CANCELLED" => {
                        out.status = Status::Completed;
                        cancelled = true;
                    }
                    other => out.unmapped.push(note(&name, format!("{other:?} is not a VTODO status"))),
                }
            }
            "COMPLETED" => match utc_value(p) {
                Some(at) => out.completed_at = Some(at),
                None => out.unmapped.push(note(&name, format!("{value:?} is not a UTC time"))),
            },
            // Some clients (Thunderbird's progress bar, DAVx5's task apps)
            // mark a task done with 100 percent and no STATUS.
            "PERCENT-COMPLETE" => match value.trim().parse::<u8>() {
                Ok(100) => percent_done = true,
                Ok(0..=99) => {}
                _ => out.unmapped.push(note(&name, format!("{value:?} is not a percentage"))),
            },
            "CATEGORIES" => tags.extend(split_list(value)),
            "RRULE" => match Recurrence::parse(value) {
                Ok(r) => draft.recurrence = Some(r),
                Err(e) => out.unmapped.push(note(&name, e.to_string())),
            },
            "RELATED-TO" => match param(p, "RELTYPE").map(str::to_ascii_uppercase).as_deref() {
                None | Some("PARENT") => out.parent_uid = Some(value.trim().to_owned()),
                Some(other) => out.unmapped.push(note(&name, format!("RELTYPE={other} has no ontask meaning"))),
            },
            n if BOOKKEEPING.contains(&n) => {}
            _ => out.unmapped.push(note(&name, "ontask has no field for it".into())),
        }
    }
    // Without a STATUS, a completion time or 100 percent says it is done
    // (RFC 5545 section 3.8.2.1: COMPLETED is when it was).
    if !status_given && (out.completed_at.is_some() || percent_done) {
        out.status = Status::Completed;
    }
    if cancelled {
        out.unmapped.push(note("STATUS", "CANCELLED was imported as completed".into()));
    }
    if out.status == Status::Open && out.completed_at.take().is_some() {
        out.unmapped
            .push(note("COMPLETED", "the task is not completed (STATUS), so its completion time was left out".into()));
    }
    // DTSTART only matters as the start of a series (which ontask counts
    // from the due) or as what a reminder is relative to.
    if let Some(s) = &start
        && draft.recurrence.is_none()
        && draft.due.as_ref() != Some(s)
        && !c.components.iter().any(|a| a.name.as_str().eq_ignore_ascii_case("VALARM"))
    {
        out.unmapped.push(note("DTSTART", format!("ontask has no start date (was {s})")));
    }
    let mut valid_tags = Vec::new();
    for t in tags {
        match Tag::parse(&t) {
            Ok(_) => valid_tags.push(t),
            Err(e) => out.unmapped.push(note("CATEGORIES", format!("{t:?}: {e}"))),
        }
    }
    match Tags::parse(&valid_tags) {
        Ok(t) => draft.tags = t,
        Err(e) => out.unmapped.push(note("CATEGORIES", e.to_string())),
    }
    for alarm in &c.components {
        let kind = alarm.name.as_str().to_ascii_uppercase();
        if kind != "VALARM" {
            out.unmapped.push(note(&kind, "only VALARM components are read inside a VTODO".into()));
            continue;
        }
        match reminder(alarm, draft.due.as_ref(), start.as_ref()) {
            Ok(r) if draft.reminders.len() < ontask_domain::MAX_REMINDERS => draft.reminders.push(r),
            Ok(_) => out.unmapped.push(note("VALARM", "a task has at most 10 reminders".into())),
            Err(reason) => out.unmapped.push(note("VALARM", format!("the alarm {reason}"))),
        }
        if alarm.find_prop("REPEAT").is_some() {
            out.unmapped.push(note("VALARM", "REPEAT and DURATION (a repeating alarm) are not kept".into()));
        }
    }
    out.draft = draft;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ontask_domain::Priority;

    const FILE: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n\
BEGIN:VEVENT\r\nUID:e1\r\nSUMMARY:Lunch\r\nEND:VEVENT\r\n\
BEGIN:VTODO\r\nUID:p1\r\nSUMMARY:Move\\, finally\r\nDUE;TZID=Europe/Berlin:20261025T023000\r\nPRIORITY:2\r\n\
CATEGORIES:home,big move\r\nRRULE:FREQ=WEEKLY;BYDAY=MO\r\nX-APPLE-SORT-ORDER:3\r\n\
BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER;RELATED=END:-PT15M\r\nEND:VALARM\r\nEND:VTODO\r\n\
BEGIN:VTODO\r\nUID:c1\r\nSUMMARY:Boxes\r\nRELATED-TO:p1\r\nDUE:20261120T100000\r\nSTATUS:COMPLETED\r\n\
COMPLETED:20261101T080000Z\r\nEND:VTODO\r\n\
BEGIN:VTODO\r\nUID:x\r\nDESCRIPTION:no title\r\nEND:VTODO\r\nEND:VCALENDAR\r\n";

    #[test]
    fn reads_every_mapped_field_and_names_the_rest() {
        let read = read(FILE, chrono_tz::Europe::Lisbon).unwrap();
        assert_eq!(read.todos.len(), 2);
        let parent = &read.todos[0];
        assert_eq!(parent.line, 8);
        assert_eq!(parent.draft.title.as_ref().unwrap().as_str(), "Move, finally");
        // 02:30 happens twice that night; ontask takes the earlier instant.
        assert_eq!(parent.draft.due.unwrap().to_string(), "2026-10-25T02:30:00+02:00[Europe/Berlin]");
        assert_eq!(parent.draft.priority, Priority::Urgent);
        assert_eq!(parent.draft.tags.to_strings(), ["big-move", "home"]);
        assert!(parent.draft.recurrence.is_some());
        assert_eq!(parent.draft.reminders, [Reminder::parse("PT15M").unwrap()]);
        assert_eq!(parent.unmapped.iter().map(|u| u.what.as_str()).collect::<Vec<_>>(), ["X-APPLE-SORT-ORDER"]);
        let child = &read.todos[1];
        assert_eq!(child.parent_uid.as_deref(), Some("p1"));
        assert_eq!(child.status, Status::Completed);
        assert_eq!(child.completed_at.unwrap().to_rfc3339(), "2026-11-01T08:00:00+00:00");
        assert_eq!(child.draft.due.unwrap().to_string(), "2026-11-20T10:00:00+00:00[Europe/Lisbon]");
        assert!(child.unmapped[0].reason.contains("floating"), "{:?}", child.unmapped);
        let skipped: Vec<_> = read.skipped.iter().map(|s| (s.what.as_str(), s.line)).collect();
        assert_eq!(skipped, [("VEVENT", 4), ("VTODO", 29)]);
    }

    #[test]
    fn a_completion_time_or_full_percentage_without_status_completes() {
        let todo = |props: &str| {
            let text = format!(
                "BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\nUID:a\r\nSUMMARY:A\r\n{props}END:VTODO\r\nEND:VCALENDAR\r\n"
            );
            read(&text, Tz::UTC).unwrap().todos.remove(0)
        };
        assert_eq!(todo("COMPLETED:20261101T080000Z\r\n").status, Status::Completed);
        assert_eq!(todo("PERCENT-COMPLETE:100\r\n").status, Status::Completed);
        assert_eq!(todo("PERCENT-COMPLETE:40\r\n").status, Status::Open);
        // STATUS says what it is when given.
        assert_eq!(todo("STATUS:NEEDS-ACTION\r\nPERCENT-COMPLETE:100\r\n").status, Status::Open);
        assert!(todo("PERCENT-COMPLETE:lots\r\n").unmapped.iter().any(|u| u.what == "PERCENT-COMPLETE"));
    }

    #[test]
    fn refuses_what_is_not_icalendar() {
        assert_eq!(read("TYPE,CONTENT\ntask,x\n", Tz::UTC).unwrap_err(), IcsError::NotCalendar);
        assert!(matches!(read("BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\n", Tz::UTC), Err(IcsError::Syntax(_))));
    }
}
