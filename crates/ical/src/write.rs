//! Tasks to iCalendar: one `VTODO` per task, and a `VTIMEZONE` for every
//! zone a due uses.
//!
//! | task | VTODO |
//! |---|---|
//! | id | `UID` |
//! | title | `SUMMARY` |
//! | description | `DESCRIPTION` (Markdown as plain text) |
//! | due (whole day) | `DUE;VALUE=DATE:20261124` |
//! | due (UTC) | `DUE:20261124T090000Z` |
//! | due (zoned) | `DUE;TZID=Europe/Berlin:20261124T090000` and the zone's `VTIMEZONE` |
//! | priority | `PRIORITY` (see [`crate::priority`]) |
//! | status, completed_at | `STATUS:NEEDS-ACTION` or `STATUS:COMPLETED` with `COMPLETED` |
//! | tags | `CATEGORIES` |
//! | recurrence | `RRULE`, with `DTSTART` equal to the due (RFC 5545 counts a series from `DTSTART`) |
//! | reminders | one `VALARM` each: `TRIGGER;RELATED=END:-PT15M` (before due) or `TRIGGER;VALUE=DATE-TIME:...Z` |
//! | parent | `RELATED-TO;RELTYPE=PARENT:<parent's UID>` |
//! | version | `SEQUENCE` (version - 1) |
//! | created_at, updated_at | `CREATED`, `LAST-MODIFIED`, `DTSTAMP` |
use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;
use icalendar::parser::{Calendar, Component};
use ontask_domain::{Due, Reminder, Status, Task, TaskId};

use crate::text::{component, escape, prop, with_param};
use crate::{priority, uid_of, zone};

/// Years of zone transitions written past the last due of a recurring task,
/// so that the occurrences a client expands from the rule resolve right too.
const RECURRING_YEARS_AHEAD: i32 = 5;

/// What a calendar is called, for the programs that show a name (`X-WR-CALNAME`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Feed<'a> {
    pub name: Option<&'a str>,
}

fn utc(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%SZ").to_string()
}

/// The `DUE` (or `DTSTART`) property of a due.
fn due_property(name: &str, due: &Due) -> icalendar::parser::Property<'static> {
    match due {
        Due::Date(date) => with_param(prop(name, date.format("%Y%m%d").to_string()), "VALUE", "DATE"),
        Due::At { at, tz } if *tz == Tz::UTC => prop(name, utc(*at)),
        Due::At { at, tz } => {
            let local = at.with_timezone(tz).naive_local().format("%Y%m%dT%H%M%S").to_string();
            with_param(prop(name, local), "TZID", tz.name())
        }
    }
}

fn alarm(task: &Task, reminder: &Reminder) -> Component<'static> {
    let mut c = component("VALARM");
    c.properties.push(prop("ACTION", "DISPLAY"));
    c.properties.push(prop("DESCRIPTION", escape(task.title.as_str())));
    c.properties.push(match reminder {
        Reminder::At(at) => with_param(prop("TRIGGER", utc(*at)), "VALUE", "DATE-TIME"),
        // RELATED=END: a VTODO's end is its DUE.
        Reminder::BeforeDue(offset) if offset.is_zero() => with_param(prop("TRIGGER", "PT0S"), "RELATED", "END"),
        Reminder::BeforeDue(_) => with_param(prop("TRIGGER", format!("-{reminder}")), "RELATED", "END"),
    });
    c
}

/// One task as a `VTODO`.
pub fn vtodo(task: &Task) -> Component<'static> {
    vtodo_with(task, &uid_of)
}

/// One task as a `VTODO`, its `UID` and its parent's (`RELATED-TO`) given by
/// `uid`: a CalDAV client that created a task under a UID of its own must see
/// that UID again, or it would take the task for another one.
pub fn vtodo_with(task: &Task, uid: &dyn Fn(TaskId) -> String) -> Component<'static> {
    let mut c = component("VTODO");
    let p = &mut c.properties;
    // A client's UID is written back as it sent it: `read` keeps the value
    // as it was in the file, escapes and all.
    p.push(prop("UID", uid(task.id)));
    p.push(prop("DTSTAMP", utc(task.updated_at)));
    p.push(prop("CREATED", utc(task.created_at)));
    p.push(prop("LAST-MODIFIED", utc(task.updated_at)));
    p.push(prop("SEQUENCE", (task.version - 1).max(0).to_string()));
    p.push(prop("SUMMARY", escape(task.title.as_str())));
    if !task.description.is_empty() {
        p.push(prop("DESCRIPTION", escape(task.description.as_str())));
    }
    if let Some(due) = &task.due {
        if task.recurrence.is_some() {
            p.push(due_property("DTSTART", due));
        }
        p.push(due_property("DUE", due));
    }
    if let Some(value) = priority::to_ical(task.priority) {
        p.push(prop("PRIORITY", value.to_string()));
    }
    match task.status {
        Status::Open => p.push(prop("STATUS", "NEEDS-ACTION")),
        Status::Completed => {
            p.push(prop("STATUS", "COMPLETED"));
            if let Some(at) = task.completed_at {
                p.push(prop("COMPLETED", utc(at)));
            }
        }
    }
    if !task.tags.is_empty() {
        let list: Vec<String> = task.tags.iter().map(|t| escape(t.as_str())).collect();
        p.push(prop("CATEGORIES", list.join(",")));
    }
    if let Some(rule) = &task.recurrence {
        p.push(prop("RRULE", rule.as_str()));
    }
    if let Some(parent) = task.parent_id {
        p.push(with_param(prop("RELATED-TO", uid(parent)), "RELTYPE", "PARENT"));
    }
    c.components = task.reminders.iter().map(|r| alarm(task, r)).collect();
    c
}

/// The years each zone's definition covers: every zoned due, a year before
/// it, and for a recurring task the years its series may run into.
fn zone_spans(tasks: &[Task]) -> BTreeMap<&'static str, (Tz, i32, i32)> {
    let mut spans: BTreeMap<&'static str, (Tz, i32, i32)> = BTreeMap::new();
    for task in tasks {
        let Some(Due::At { at, tz }) = task.due else { continue };
        if tz == Tz::UTC {
            continue;
        }
        let year = at.with_timezone(&tz).year();
        let last = if task.recurrence.is_some() { year + RECURRING_YEARS_AHEAD } else { year };
        let span = spans.entry(tz.name()).or_insert((tz, year - 1, last));
        span.1 = span.1.min(year - 1);
        span.2 = span.2.max(last);
    }
    spans
}

fn calendar_properties(feed: Feed<'_>) -> Vec<icalendar::parser::Property<'static>> {
    let mut properties = vec![prop("VERSION", "2.0"), prop("PRODID", crate::PRODID), prop("CALSCALE", "GREGORIAN")];
    if let Some(name) = feed.name {
        properties.push(prop("X-WR-CALNAME", escape(name)));
    }
    properties
}

/// The `VCALENDAR` of `tasks` (in the order given), as text with CRLF line
/// endings and lines folded at 75 octets.
pub fn calendar(feed: Feed<'_>, tasks: &[Task]) -> String {
    let mut components: Vec<Component<'static>> =
        zone_spans(tasks).into_values().map(|(tz, from, to)| zone::vtimezone(tz, from, to)).collect();
    components.extend(tasks.iter().map(vtodo));
    Calendar { properties: calendar_properties(feed), components }.to_string()
}

/// Writes calendar object resources (RFC 4791 section 4.1): one task per
/// `VCALENDAR`, with the `VTIMEZONE`s its due needs. A CalDAV report can
/// answer with hundreds of them; the zone definitions they share are built
/// once per writer rather than once per task.
#[derive(Default)]
pub struct Resources {
    zones: HashMap<(&'static str, i32, i32), Component<'static>>,
}

impl Resources {
    pub fn new() -> Self {
        Self::default()
    }

    /// The resource of one task, with UIDs as `uid` gives them.
    pub fn write(&mut self, task: &Task, uid: &dyn Fn(TaskId) -> String) -> String {
        let mut components: Vec<Component<'static>> = zone_spans(std::slice::from_ref(task))
            .into_iter()
            .map(|(name, (tz, from, to))| {
                self.zones.entry((name, from, to)).or_insert_with(|| zone::vtimezone(tz, from, to)).clone()
            })
            .collect();
        components.push(vtodo_with(task, uid));
        Calendar { properties: calendar_properties(Feed::default()), components }.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ontask_domain::{Placement, Priority, ProjectId, Recurrence, Tags, TaskDraft, Title, UserId};

    fn task(due: &str) -> Task {
        let draft = TaskDraft {
            title: Some(Title::parse("Pay rent, now; really").unwrap()),
            priority: Priority::High,
            tags: Tags::parse(&["home"]).unwrap(),
            due: Some(Due::parse(due).unwrap()),
            reminders: vec![Reminder::parse("PT15M").unwrap(), Reminder::parse("2026-11-30T08:00:00Z").unwrap()],
            recurrence: Some(Recurrence::parse("FREQ=MONTHLY").unwrap()),
            ..TaskDraft::default()
        };
        Task::create(UserId::new(), Placement::project(ProjectId::new()), draft, Utc::now()).unwrap()
    }

    #[test]
    fn what_is_written_reads_back_the_same() {
        let written = task("2026-12-01T09:00[Europe/Berlin]");
        let text = calendar(Feed { name: Some("Home") }, std::slice::from_ref(&written));
        assert!(text.contains("DUE;TZID=Europe/Berlin:20261201T090000\r\n"), "{text}");
        assert!(text.contains("BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\n"), "{text}");
        assert!(text.contains("SUMMARY:Pay rent\\, now\\; really\r\n"), "{text}");
        let read = crate::read(&text, Tz::UTC).unwrap();
        assert!(read.skipped.is_empty(), "{:?}", read.skipped);
        let back = &read.todos[0];
        assert!(back.unmapped.is_empty(), "{:?}", back.unmapped);
        assert_eq!(back.uid.as_deref(), Some(written.id.to_string().as_str()));
        assert_eq!(back.draft.title, Some(written.title.clone()));
        assert_eq!(back.draft.due, written.due);
        assert_eq!(back.draft.priority, written.priority);
        assert_eq!(back.draft.tags, written.tags);
        assert_eq!(back.draft.recurrence, written.recurrence);
        assert_eq!(back.draft.reminders, written.reminders);
    }

    #[test]
    fn a_resource_is_one_todo_with_its_zone_and_the_uids_given() {
        let mut parent = task("2026-12-01T09:00[Europe/Berlin]");
        let child_of = parent.id;
        parent.parent_id = Some(child_of);
        let uid = |id: TaskId| if id == child_of { "client-uid@example.com".to_owned() } else { id.to_string() };
        let mut writer = Resources::new();
        let text = writer.write(&parent, &uid);
        assert_eq!(text.matches("BEGIN:VTODO").count(), 1);
        assert_eq!(text.matches("BEGIN:VTIMEZONE").count(), 1);
        assert!(text.contains("UID:client-uid@example.com\r\n"), "{text}");
        assert!(text.contains("RELATED-TO;RELTYPE=PARENT:client-uid@example.com\r\n"), "{text}");
        // The zone cached by the first write is the same definition.
        assert_eq!(writer.write(&parent, &uid), text);
    }

    #[test]
    fn whole_day_and_utc_dues_need_no_zone() {
        let text = calendar(Feed::default(), &[task("2026-12-01"), task("2026-12-01T09:00:00Z")]);
        assert!(text.contains("DUE;VALUE=DATE:20261201\r\n") && text.contains("DUE:20261201T090000Z\r\n"), "{text}");
        assert!(!text.contains("VTIMEZONE"));
    }
}
