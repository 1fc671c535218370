//! Todoist's CSV export (its documented template): one file per project,
//! a row per section, task or note.
//!
//! | column | becomes |
//! |---|---|
//! | TYPE | `section` a section, `task` a task, `note` a comment on the task above |
//! | CONTENT | the title; `@label` words become tags |
//! | DESCRIPTION | the description |
//! | PRIORITY | 1 urgent, 2 high, 3 medium, 4 none (1 is the highest in the CSV) |
//! | INDENT | 1 a task, 2 its subtask, ... (up to ontask's depth) |
//! | DATE | the due and recurrence, read like quick add (`every monday`, `every! 3 days`, `tomorrow 9am`, `2027-01-05`) |
//! | TIMEZONE | the zone DATE is read in (UTC when empty) |
//! | AUTHOR, RESPONSIBLE, DATE_LANG, DURATION, ... | not kept (listed in the report when set) |
use std::collections::HashMap;

use chrono::{TimeZone, Utc};
use chrono_tz::Tz;
use ontask_domain::{Description, Due, MAX_SUBTASK_DEPTH, Priority, Recurrence, Tags, TaskDraft, Title};

use super::ImportError;
use super::plan::{Issue, Plan, PlannedComment, PlannedProject, PlannedSection, PlannedTask, digest};

const REQUIRED: [&str; 2] = ["TYPE", "CONTENT"];

/// Whether `text` looks like a Todoist CSV (its header names TYPE and CONTENT).
pub fn looks_like(text: &str) -> bool {
    let header = text.trim_start_matches('\u{feff}').lines().next().unwrap_or_default().to_ascii_uppercase();
    let columns: Vec<&str> = header.split(',').map(|c| c.trim().trim_matches('"')).collect();
    REQUIRED.iter().all(|r| columns.contains(r))
}

fn priority(raw: &str) -> Option<Priority> {
    Some(match raw.trim() {
        "" | "4" => Priority::None,
        "1" => Priority::Urgent,
        "2" => Priority::High,
        "3" => Priority::Medium,
        _ => return None,
    })
}

/// Splits `@label` words off the content: the title and the tags.
fn title_and_labels(content: &str) -> (String, Vec<String>) {
    let mut title = Vec::new();
    let mut labels = Vec::new();
    for word in content.split_whitespace() {
        match word.strip_prefix('@') {
            Some(label) if !label.is_empty() => labels.push(label.to_owned()),
            _ => title.push(word),
        }
    }
    (title.join(" "), labels)
}

/// Reads DATE the way quick add reads text (in `tz`): a due, a recurrence,
/// or why it could not be read.
fn date(raw: &str, tz: Tz) -> Result<(Option<Due>, Option<Recurrence>), String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok((None, None));
    }
    if let Ok(due) = Due::parse(raw) {
        return Ok((Some(due), None));
    }
    // The placeholder is what is left once every date word is taken out.
    const PLACEHOLDER: &str = "x";
    let now = tz.from_utc_datetime(&Utc::now().naive_utc());
    let quick = ontask_domain::quick::parse(&format!("{PLACEHOLDER} {raw}"), now);
    if quick.title.trim() != PLACEHOLDER || (quick.due.is_none() && quick.recurrence.is_none()) {
        return Err(format!("{raw:?} is not a date ontask understands"));
    }
    let due = quick.due.as_deref().map(Due::parse).transpose().map_err(|e| e.to_string())?;
    let recurrence = quick
        .recurrence
        .as_deref()
        .map(|rule| Recurrence::parse(rule)?.repeating_from(quick.repeat_from.unwrap_or_default()))
        .transpose()
        .map_err(|e| e.to_string())?;
    Ok((due, recurrence))
}

/// Line numbers of byte offsets, counted forwards as the reader moves
/// (a record's position is where the reader started on it, which may be the
/// blank lines before it, which the reader skips without counting).
struct Lines<'a> {
    bytes: &'a [u8],
    at: usize,
    line: usize,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        Self { bytes: text.as_bytes(), at: 0, line: 1 }
    }

    /// The 1-based line of the first byte at or after `offset` that starts a row.
    fn of(&mut self, offset: usize) -> usize {
        let mut target = offset.min(self.bytes.len());
        while target < self.bytes.len() && matches!(self.bytes[target], b'\n' | b'\r') {
            target += 1;
        }
        if target >= self.at {
            self.line += self.bytes[self.at..target].iter().filter(|b| **b == b'\n').count();
            self.at = target;
        }
        self.line
    }
}

struct Row<'a> {
    fields: HashMap<&'a str, String>,
}

impl Row<'_> {
    fn get(&self, column: &str) -> &str {
        self.fields.get(column).map(String::as_str).unwrap_or_default().trim()
    }
}

/// Reads a Todoist CSV into one project called `project`.
pub fn read(text: &str, project: &str) -> Result<Plan, ImportError> {
    let text = text.trim_start_matches('\u{feff}');
    if !looks_like(text) {
        return Err(ImportError::NotWhatItClaims(
            "not a Todoist CSV: its first line must name the columns TYPE and CONTENT".into(),
        ));
    }
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| ImportError::NotWhatItClaims(format!("not a Todoist CSV: {e}")))?
        .iter()
        .map(|h| h.trim().to_ascii_uppercase())
        .collect();
    let mut plan = Plan::default();
    let project_key = format!("todoist:project:{}", digest(&[project]));
    let mut out = PlannedProject {
        key: project_key.clone(),
        name: project.to_owned(),
        inbox: false,
        colour: None,
        description: None,
        position: None,
        sections: Vec::new(),
        tasks: Vec::new(),
    };
    let mut section: Option<(String, String)> = None;
    // The open ancestors of the next task, by indent: (key, title path).
    let mut stack: Vec<(String, String)> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut author_noted = false;
    let mut lines = Lines::new(text);
    for record in reader.records() {
        let record = record.map_err(|e| ImportError::NotWhatItClaims(format!("not a valid CSV file: {e}")))?;
        let line = record.position().map_or(0, |p| lines.of(p.byte() as usize));
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let fields = headers.iter().map(String::as_str).zip(record.iter().map(str::to_owned)).collect();
        let row = Row { fields };
        let issue = |what: &str, reason: String| Issue::new(line, what, reason);
        match row.get("TYPE").to_ascii_lowercase().as_str() {
            "section" => {
                let name = row.get("CONTENT").to_owned();
                let key = format!("todoist:section:{}", digest(&[project, &name]));
                out.sections.push(PlannedSection { key: key.clone(), name: name.clone(), position: None });
                section = Some((key, name));
                stack.clear();
            }
            "task" => {
                let indent: usize = row.get("INDENT").parse().unwrap_or(1).max(1);
                let (title, labels) = title_and_labels(row.get("CONTENT"));
                let title = match Title::parse(&title) {
                    Ok(t) => t,
                    Err(e) => {
                        plan.issues.push(issue("CONTENT", format!("the task was not imported: its title {e}")));
                        stack.truncate(indent.saturating_sub(1));
                        continue;
                    }
                };
                let mut draft = TaskDraft { title: Some(title.clone()), ..TaskDraft::default() };
                match Description::parse(row.get("DESCRIPTION")) {
                    Ok(d) => draft.description = d,
                    Err(e) => plan.issues.push(issue("DESCRIPTION", format!("not kept: {e}"))),
                }
                match priority(row.get("PRIORITY")) {
                    Some(p) => draft.priority = p,
                    None => plan.issues.push(issue("PRIORITY", format!("{:?} is not 1 to 4", row.get("PRIORITY")))),
                }
                match Tags::parse(&labels) {
                    Ok(t) => draft.tags = t,
                    Err(e) => plan.issues.push(issue("CONTENT", format!("the labels were not kept: {e}"))),
                }
                let tz = match row.get("TIMEZONE") {
                    "" => Tz::UTC,
                    name => name.parse().unwrap_or_else(|_| {
                        plan.issues
                            .push(issue("TIMEZONE", format!("{name:?} is not a tz database zone; UTC was used")));
                        Tz::UTC
                    }),
                };
                match date(row.get("DATE"), tz) {
                    Ok((due, recurrence)) => {
                        draft.due = due;
                        draft.recurrence = recurrence;
                    }
                    Err(reason) => plan.issues.push(issue("DATE", format!("the due was not kept: {reason}"))),
                }
                for column in ["RESPONSIBLE", "DURATION", "DEADLINE"] {
                    if !row.get(column).is_empty() {
                        plan.issues.push(issue(
                            column,
                            format!("{:?} was not kept: ontask has no such field", row.get(column)),
                        ));
                    }
                }
                if !row.get("AUTHOR").is_empty() && !author_noted {
                    author_noted = true;
                    plan.issues
                        .push(issue("AUTHOR", "authors are not kept: the person importing creates every task".into()));
                }
                let mut depth = indent;
                if indent > MAX_SUBTASK_DEPTH + 1 {
                    plan.issues.push(issue(
                        "INDENT",
                        format!(
                            "{indent} is deeper than subtasks nest ({} levels); placed at the deepest level",
                            MAX_SUBTASK_DEPTH + 1
                        ),
                    ));
                    depth = MAX_SUBTASK_DEPTH + 1;
                }
                if depth > stack.len() + 1 {
                    plan.issues.push(issue(
                        "INDENT",
                        format!("{indent} has no task above it at {}; placed one level below the last", indent - 1),
                    ));
                    depth = stack.len() + 1;
                }
                stack.truncate(depth - 1);
                let parent = stack.last().cloned();
                let section_name = section.as_ref().map(|s| s.1.as_str()).unwrap_or_default();
                let path =
                    format!("{}/{}", parent.as_ref().map(|p| p.1.as_str()).unwrap_or(section_name), title.as_str());
                let count = seen.entry(path.clone()).or_default();
                *count += 1;
                let key = format!("todoist:task:{}", digest(&[project, section_name, &path, &count.to_string()]));
                draft.position = Some(out.tasks.len() as i64);
                out.tasks.push(PlannedTask {
                    key: key.clone(),
                    line,
                    section: section.as_ref().map(|s| s.0.clone()),
                    parent: parent.map(|p| p.0),
                    draft,
                    completed_at: None,
                    recurrence_anchor: None,
                    comments: Vec::new(),
                });
                stack.push((key, path));
            }
            "note" => {
                let body = row.get("CONTENT").to_owned();
                match out.tasks.last_mut() {
                    Some(task) => {
                        let n = task.comments.len().to_string();
                        let key = format!("{}/note:{}", task.key, digest(&[&body, &n]));
                        task.comments.push(PlannedComment { key, line, body });
                    }
                    None => plan
                        .issues
                        .push(issue("TYPE", "a note before any task (a project comment) was not kept".into())),
                }
            }
            other => {
                plan.issues.push(issue("TYPE", format!("{other:?} is not section, task or note; the row was not kept")))
            }
        }
    }
    plan.projects.push(out);
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ontask_domain::RepeatFrom;

    const FILE: &str = "TYPE,CONTENT,DESCRIPTION,PRIORITY,INDENT,AUTHOR,RESPONSIBLE,DATE,DATE_LANG,TIMEZONE,DURATION\n\
section,Kitchen,,,,,,,,,\n\
task,Buy milk @shop,fresh,1,1,Ann (1),,every! 2 weeks,en,Europe/Berlin,\n\
task,Whole,,4,2,Ann (1),,2027-01-05,en,,\n\
note,Semi-skimmed,,,,Ann (1),,,,,\n\
task,Buy milk @shop,,2,1,Ann (1),Bob (2),someday soon,en,,15\n\
task,Too deep,,,3,,,,,,\n\
banner,x,,,,,,,,,\n";

    #[test]
    fn reads_sections_subtasks_notes_and_names_what_it_cannot() {
        let plan = read(FILE, "Home").unwrap();
        let project = &plan.projects[0];
        assert_eq!(project.sections[0].name, "Kitchen");
        let t = &project.tasks;
        assert_eq!(t.len(), 4);
        assert_eq!(t[0].draft.title.as_ref().unwrap().as_str(), "Buy milk");
        assert_eq!(t[0].draft.tags.to_strings(), ["shop"]);
        assert_eq!(t[0].draft.priority, Priority::Urgent);
        let recurrence = t[0].draft.recurrence.as_ref().expect("every! 2 weeks recurs");
        assert_eq!((recurrence.as_str(), recurrence.repeat_from()), ("FREQ=WEEKLY;INTERVAL=2", RepeatFrom::Completion));
        assert_eq!(t[1].parent.as_deref(), Some(t[0].key.as_str()));
        assert_eq!(t[1].draft.due, Some(Due::parse("2027-01-05").unwrap()));
        assert_eq!(t[1].comments[0].body, "Semi-skimmed");
        assert_ne!(t[0].key, t[2].key, "the same title twice is two tasks");
        assert_eq!(t[3].parent.as_deref(), Some(t[2].key.as_str()));
        let issues: Vec<(usize, &str)> = plan.issues.iter().map(|i| (i.line, i.what.as_str())).collect();
        assert_eq!(
            issues,
            [(3, "AUTHOR"), (6, "DATE"), (6, "RESPONSIBLE"), (6, "DURATION"), (7, "INDENT"), (8, "TYPE")],
            "{:?}",
            plan.issues
        );
        let again = read(FILE, "Home").unwrap();
        assert_eq!(again.projects[0].tasks[3].key, t[3].key, "keys are stable");
    }

    #[test]
    fn refuses_a_file_that_is_not_a_todoist_csv() {
        assert!(matches!(read("BEGIN:VCALENDAR\r\n", "x"), Err(ImportError::NotWhatItClaims(_))));
        assert!(matches!(read("a,b\n1,2\n", "x"), Err(ImportError::NotWhatItClaims(_))));
    }
}
